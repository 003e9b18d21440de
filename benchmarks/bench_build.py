"""Build speed: the no-op build at 10,000 up-to-date leaves, and parallel generations.

Measured side by side in one run and printed as a markdown table:

- no-op: `cfs build` and plain `doit` (one-line dodo.py) as subprocesses, on the
  project from gen_tree.py, against the floor (reading and SHA-1-hashing every spec and
  output file once in a plain Python loop, in process) — goals 2x and 3x;
- doit's state backend for that no-op (json, sqlite3, dbm);
- parallel: 16 independent generations of 1 s each at -j 8 (ideal 2 s), and 4 chains
  of 4 dependent generations at -j 4 (ideal 4 s), through `cfs build` and `doit` —
  goal under 1.3x the ideal.

    python benchmarks/bench_build.py [--leaves 10000] [--runs 3] [--sleep 1.0]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_status import floor, project_files  # noqa: E402
from gen_tree import generate  # noqa: E402

DODO = "from cfs_build.dodo import *\n"


def run(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    if "0 generated" not in done.stdout and "generated" in done.stdout and "no-op" in argv:
        raise SystemExit("the no-op build generated something")
    return elapsed


def median(action, runs: int) -> float:
    return statistics.median(action() for _ in range(runs))


def noop(root: Path, runs: int) -> dict[str, float]:
    (root / "dodo.py").write_text(DODO)
    files = project_files(root)
    floor(files)
    cfs = [sys.executable, "-m", "cfs_build.cli", "build"]
    doit = [sys.executable, "-m", "doit"]
    run(cfs, root)  # warms the index and the page cache; not timed
    result = {"floor": median(lambda: _timed_floor(files), runs),
              "cfs build": median(lambda: run(cfs, root), runs)}
    for backend in ("sqlite3", "json", "dbm"):
        state = root / ".cfs" / f"doit-state-{backend}"
        argv = doit + ["--backend", backend, "--db-file", str(state)]
        run(argv, root)
        result[f"doit ({backend})"] = median(lambda: run(argv, root), runs)
    result["files"] = len(files)
    return result


def _timed_floor(files) -> float:
    start = time.perf_counter()
    floor(files)
    return time.perf_counter() - start


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
    command = [sys.executable, str(HERE / "sleep_gen.py"), str(sleep)]
    (root / "cfs.toml").write_text(
        f'[generator]\nkind = "command"\ncommand = {command!r}\ntimeout = 60\n'.replace("'", '"'))
    (root / "dodo.py").write_text(DODO)


def parallel(base: Path, sleep: float) -> list[tuple[str, float, float]]:
    rows = []
    cases = [("16 independent, -j 8", 16, 1, 8), ("4 chains of 4, -j 4", 4, 4, 4)]
    for label, chains, length, jobs in cases:
        ideal = sleep * (chains * length / jobs if length == 1 else length)
        for tool in ("cfs build", "doit"):
            root = base / f"{label}-{tool}".replace(" ", "_").replace(",", "")
            parallel_project(root, sleep, chains, length)
            argv = [sys.executable, "-m", "cfs_build.cli", "build", "-j", str(jobs)] \
                if tool == "cfs build" else \
                [sys.executable, "-m", "doit", "-n", str(jobs), "-P", "thread"]
            rows.append((f"{label} via {tool}", run(argv, root), ideal))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=1.0)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="cfs-bench-build-"))
    try:
        project = base / "tree"
        generate(project, args.leaves)
        result = noop(project, args.runs)
        rows = parallel(base, args.sleep)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    base_time = result["floor"]
    print(f"No-op build at {args.leaves:,} up-to-date leaves ({result['files']:,} files), "
          f"median of {args.runs}; cfs and doit run as subprocesses (interpreter start "
          "included), the floor in process:\n")
    print("| what | seconds | x floor | goal |")
    print("|---|---:|---:|---:|")
    print(f"| floor: read + SHA-1 every spec and output file | {base_time:.3f} | 1.00 | |")
    for key, goal in (("cfs build", "2x"), ("doit (json)", "3x"), ("doit (sqlite3)", ""),
                      ("doit (dbm)", "")):
        print(f"| `{key}` no-op | {result[key]:.3f} | {result[key] / base_time:.2f} | {goal} |")
    print(f"\nParallel generations, each sleeping {args.sleep:g} s:\n")
    print("| what | seconds | ideal | x ideal | goal |")
    print("|---|---:|---:|---:|---:|")
    for label, seconds, ideal in rows:
        print(f"| {label} | {seconds:.2f} | {ideal:.2f} | {seconds / ideal:.2f} | < 1.3 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
