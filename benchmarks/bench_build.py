"""Build speed: the no-op build at 10,000 up-to-date leaves, and parallel generations.

Measured side by side in one run and printed as a markdown table:

- no-op: `cfs build` and plain `doit` (one-line dodo.py) as subprocesses, on the
  project from gen_tree.py, against the floor (reading and SHA-1-hashing every spec and
  output file once in a plain Python loop, in process) — goals 2x and 3x;
- doit's state backend for that no-op (json, sqlite3, dbm);
- parallel: 16 independent generations of 1 s each at -j 8 (ideal 2 s), and 4 chains
  of 4 dependent generations at -j 4 (ideal 4 s), through `cfs build` and `doit` —
  goal under 1.3x the ideal. The stand-in generator is a shell that sleeps (see
  ``sleeper``), so the overhead shown is cfs's and doit's.

Every row is the median of --runs rounds; the no-op rows are interleaved with the
floor round by round, so a busy moment on the machine touches all of them alike.

    python benchmarks/bench_build.py [--leaves 10000] [--runs 3] [--sleep 1.0]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_status import byte_compile, floor, project_files  # noqa: E402
from gen_tree import generate  # noqa: E402

from cfs_build.reading.names import TREE_DIR  # noqa: E402

DODO = "from cfs_build.dodo import *\n"


def run(argv: list[str], cwd: Path, noop: bool = False) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    if noop and "cfs: 0 generated" not in done.stdout:
        raise SystemExit(f"{' '.join(argv)} was to do nothing:\n{done.stdout[-2000:]}")
    return elapsed


def full_doit_state(root: Path, path: Path) -> None:
    """doit's json state as a build through doit leaves it: one entry per task run
    (what doit keeps of a task whose action returned a text: a digest of it)."""
    state = {}
    for directory, _, names in os.walk(root / TREE_DIR):
        if "_node.md" in names:
            rel = os.path.relpath(directory, root / TREE_DIR)
            if rel.count(os.sep) == 2:  # the benchmark's leaves
                digest = hashlib.md5(rel.encode()).hexdigest()
                state[f"gen:{rel}"] = {"_values_:": {}, "result:": digest,
                                       "checker:": "MD5Checker", "deps:": []}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def noop(root: Path, runs: int) -> dict[str, float]:
    """Medians of interleaved rounds: the floor, `cfs build`, and doit on each backend."""
    (root / "dodo.py").write_text(DODO)
    files = project_files(root)
    doit = [sys.executable, "-m", "doit"]
    commands = {"cfs build": [sys.executable, "-m", "cfs_build.cli", "build"]}
    for backend in ("json", "sqlite3", "dbm"):
        state = root / ".cfs" / f"doit-state-{backend}"
        commands[f"doit ({backend})"] = doit + ["--backend", backend, "--db-file", str(state)]
    full = root / ".cfs" / "doit-state-full"
    full_doit_state(root, full)
    commands["doit (json), full state"] = doit + ["--backend", "json", "--db-file", str(full)]
    for argv in commands.values():
        run(argv, root, noop=True)  # warms the page cache, .cfs/ and doit's state; not timed
    times: dict[str, list[float]] = {"floor": [], **{key: [] for key in commands}}
    for _ in range(runs):
        times["floor"].append(_timed_floor(files))
        for key, argv in commands.items():
            times[key].append(run(argv, root, noop=True))
    result = {key: statistics.median(values) for key, values in times.items()}
    result["files"] = len(files)
    return result


def _timed_floor(files) -> float:
    start = time.perf_counter()
    floor(files)
    return time.perf_counter() - start


def sleeper(seconds: float) -> list[str]:
    """A stand-in generator that spends its time waiting, as one waiting on a model does.

    A shell reads the document, sleeps, and answers with a one-line file naming its
    process: no interpreter to start, so the rows measure cfs and doit, not it.
    """
    script = 'cat >/dev/null; sleep "$0"; printf "<artifact>\\n%s\\n</artifact>\\n" "$$"'
    return ["sh", "-c", script, f"{seconds:g}"]


def parallel_project(root: Path, sleep: float, chains: int, length: int) -> None:
    """``chains`` chains of ``length`` leaves; each leaf imports the previous one's artifact."""
    (root / "code-from-spec").mkdir(parents=True)
    for chain in range(chains):
        for step in range(length):
            node = root / "code-from-spec" / f"c{chain}s{step}"
            node.mkdir()
            front = [f"output: out/c{chain}s{step}.txt"]
            if step:
                front.insert(0, f"depends_on:\n  - ARTIFACT/c{chain}s{step - 1}")
            node.joinpath("_node.md").write_text(
                "---\n" + "\n".join(front) + f"\n---\n# SPEC/c{chain}s{step}\n\n# Agent\n\n"
                f"Step {step} of chain {chain}.\n")
    (root / "cfs.toml").write_text(
        f'[generator]\nkind = "command"\ncommand = {json.dumps(sleeper(sleep))}\ntimeout = 60\n')
    (root / "dodo.py").write_text(DODO)


def parallel(base: Path, sleep: float, runs: int) -> list[tuple[str, float, float]]:
    """Median wall time of each case, a fresh project per run."""
    rows = []
    cases = [("16 independent, -j 8", 16, 1, 8), ("4 chains of 4, -j 4", 4, 4, 4)]
    for label, chains, length, jobs in cases:
        ideal = sleep * (chains * length / jobs if length == 1 else length)
        for tool in ("cfs build", "doit"):
            argv = [sys.executable, "-m", "cfs_build.cli", "build", "-j", str(jobs)] \
                if tool == "cfs build" else \
                [sys.executable, "-m", "doit", "-n", str(jobs), "-P", "thread"]
            times = []
            for number in range(runs):
                root = base / f"{label}-{tool}-{number}".replace(" ", "_").replace(",", "")
                parallel_project(root, sleep, chains, length)
                times.append(run(argv, root))
            rows.append((f"{label} via {tool}", statistics.median(times), ideal))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=1.0)
    args = parser.parse_args(argv)
    byte_compile()
    base = Path(tempfile.mkdtemp(prefix="cfs-bench-build-"))
    try:
        project = base / "tree"
        generate(project, args.leaves)
        result = noop(project, args.runs)
        rows = parallel(base, args.sleep, args.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    base_time = result["floor"]
    print(f"No-op build at {args.leaves:,} up-to-date leaves ({result['files']:,} files), "
          f"median of {args.runs} interleaved rounds; cfs and doit run as subprocesses "
          "(interpreter start included), the floor in process:\n")
    print("| what | seconds | x floor | goal |")
    print("|---|---:|---:|---:|")
    print(f"| floor: read + SHA-1 every spec and output file | {base_time:.3f} | 1.00 | |")
    for key, goal in (("cfs build", "2x"), ("doit (json)", "3x"), ("doit (sqlite3)", ""),
                      ("doit (dbm)", "")):
        print(f"| `{key}` no-op | {result[key]:.3f} | {result[key] / base_time:.2f} | {goal} |")
    key = "doit (json), full state"
    print(f"| `doit (json)` no-op after a build through doit (a state entry per task) "
          f"| {result[key]:.3f} | {result[key] / base_time:.2f} | 3x |")
    print(f"\nParallel generations, each sleeping {args.sleep:g} s in a shell, median of "
          f"{args.runs}:\n")
    print("| what | seconds | ideal | x ideal | goal |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, ideal in rows:
        print(f"| {label} | {seconds:.2f} | {ideal:.2f} | {seconds / ideal:.2f} | < 1.3 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
