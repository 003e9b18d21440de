"""How `cfs status` scales: floor, cold, repeated and after-one-edit runs at several sizes.

For each size a project is generated (gen_tree.py) and these are measured side by side
in interleaved rounds, medians reported, each as seconds and as a ratio to that size's
floor (read + SHA-1 of every spec and output file once, in the same run):

- no-op build: `cfs build` as a subprocess when everything is up to date;
- cold: `cfs status` as a subprocess with no ``.cfs/`` (no parse index, no snapshot);
- repeated: `cfs status` as a subprocess right after another (the snapshot holds);
- after one edit: `cfs status` as a subprocess after one leaf's ``# Agent`` text was
  edited (the snapshot is brought up to date: incremental.py), and the same in-process
  (without interpreter start-up and imports);
- `cfs chain NAME` of one leaf as a subprocess (start-up included) while the snapshot
  holds: the tree's directories are only stat-ed against the snapshot's record.

The OS page cache is warm for every row.

    python benchmarks/bench_scaling.py [--sizes 1000 10000] [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_status import byte_compile, cfs_status, drop_index, floor, project_files, timed  # noqa: E402
from gen_tree import generate  # noqa: E402

SETTLE = 0.15  # longer than the snapshot's margin (0.1 s): an edited file is trusted


def status_subprocess(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "status"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_subprocess(root: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "build"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"the no-op build failed: {done.stderr.decode()[-400:]}")


def chain_subprocess(root: Path, name: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "chain",
                           name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"cfs chain failed: {done.stderr.decode()[-400:]}")


def quiet_status(root: Path) -> None:
    try:
        cfs_status(root)
    except SystemExit:
        pass  # after an edit the project is stale: exit code 1 is expected


def edit_agent(path: Path, round_: int) -> None:
    """Change one leaf's # Agent text (a different text each time)."""
    text = path.read_text()
    head, marker, _ = text.partition("\n# Agent\n")
    path.write_text(f"{head}{marker}Edited for round {round_} at {time.time_ns()}.\n")


def measure(root: Path, runs: int) -> dict[str, float]:
    files = project_files(root)
    leaves = sorted((root / "code-from-spec").glob("*/*/*/_node.md"))
    leaf = leaves[len(leaves) // 3]
    original = leaf.read_text()
    floor(files)
    status_subprocess(root)  # fills the page cache; not timed
    samples: dict[str, list[float]] = {k: [] for k in
                                       ("floor", "cold", "repeated", "noop_build", "edited",
                                        "edited_in", "chain")}
    name = "SPEC/" + leaf.parent.relative_to(root / "code-from-spec").as_posix()
    for round_ in range(runs):
        samples["floor"].append(timed(floor, files))
        drop_index(root)
        samples["cold"].append(timed(status_subprocess, root))
        status_subprocess(root)  # (a cold run may not keep its snapshot: files too recent)
        samples["repeated"].append(timed(status_subprocess, root))
        samples["noop_build"].append(timed(build_subprocess, root))
        samples["chain"].append(timed(chain_subprocess, root, name))
        edit_agent(leaf, 2 * round_)
        time.sleep(SETTLE)
        samples["edited"].append(timed(status_subprocess, root))
        edit_agent(leaf, 2 * round_ + 1)
        time.sleep(SETTLE)
        samples["edited_in"].append(timed(quiet_status, root))
        leaf.write_text(original)  # up to date again: the next round's build has nothing to do
        time.sleep(SETTLE)
    result = {key: statistics.median(values) for key, values in samples.items()}
    result["files"] = len(files)
    return result


ROWS = (("floor", "floor: read + SHA-1 of every spec and output"),
        ("cold", "`cfs status`, cold (no `.cfs/`)"),
        ("repeated", "`cfs status`, repeated"),
        ("noop_build", "`cfs build` with nothing to do"),
        ("edited", "`cfs status` after one leaf's `# Agent` was edited"),
        ("edited_in", "the same, in-process (no start-up or imports)"),
        ("chain", "`cfs chain NAME` of one leaf"))


def table(results: dict[int, dict[str, float]], runs: int) -> str:
    sizes = sorted(results)
    lines = [f"median of {runs} rounds, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, `cfs status` as a subprocess unless said", "",
             "| run | " + " | ".join(f"{n:,} leaves" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for key, label in ROWS:
        cells = []
        for n in sizes:
            value, base = results[n][key], results[n]["floor"]
            cells.append(f"{value:.3f} s" if key == "floor" else f"{value:.3f} s ({value / base:.2f}x)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    byte_compile()
    results = {}
    for leaves in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            generate(root, leaves)
            time.sleep(SETTLE)
            results[leaves] = measure(root, args.runs)
        print(f"{leaves:,} leaves measured", file=sys.stderr)
    print(table(results, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
