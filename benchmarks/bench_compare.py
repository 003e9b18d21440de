"""Compare `cfs status` of this checkout with an earlier revision, side by side in one run.

Both versions run as subprocesses (`python -m cfs_build.cli status`) on copies of one
generated project: the earlier one from `git archive REV` unpacked in a temporary
directory, this one from the working tree. Rounds alternate between the two so that
whatever else the machine does weighs on both alike; the table gives medians and the
ratio of this checkout to the earlier one (below 1.00: faster now).

    python benchmarks/bench_compare.py --rev 6d0387a --leaves 3000 [--runs 5]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_status import byte_compile, floor, project_files  # noqa: E402
from gen_tree import generate  # noqa: E402

HERE = Path(__file__).resolve().parent.parent


def unpack(rev: str, into: Path) -> Path:
    """The package as it was at ``rev``, in ``into`` (nothing in this checkout changes)."""
    data = subprocess.run(["git", "-C", str(HERE), "archive", rev, "cfs_build"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into


def status_seconds(code: Path, root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "status"], cwd=root, env=env,
                          capture_output=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"cfs status failed with {code}: {done.stderr.decode()[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the earlier revision, e.g. a tag or hash")
    parser.add_argument("--leaves", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cfs-compare-") as tmp:
        tmp = Path(tmp)
        versions = {args.rev: unpack(args.rev, tmp / "old"), "this checkout": HERE}
        for code in versions.values():
            byte_compile(code / "cfs_build")
        base = tmp / "tree"
        generate(base, args.leaves)
        roots = {name: tmp / f"tree-{number}" for number, name in enumerate(versions)}
        for root in roots.values():
            shutil.copytree(base, root, symlinks=True)
        files = project_files(base)
        rows: dict[str, dict[str, list[float]]] = {"cold": {}, "repeated": {}}
        floors = []
        for _ in range(args.runs):
            started = time.perf_counter()
            floor(files)
            floors.append(time.perf_counter() - started)
            for name, code in versions.items():
                shutil.rmtree(roots[name] / ".cfs", ignore_errors=True)
                rows["cold"].setdefault(name, []).append(status_seconds(code, roots[name]))
                rows["repeated"].setdefault(name, []).append(status_seconds(code, roots[name]))
    floor_s = statistics.median(floors)
    print(f"{args.leaves:,} leaves, median of {args.runs} alternating rounds, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; subprocess runs "
          f"(start-up included); floor = read + SHA-1 of {len(files):,} files = "
          f"{floor_s:.3f} s\n")
    old, new = versions
    print(f"| `cfs status` | {old} (s) | {new} (s) | {new} / {old} | {new} / floor |")
    print("|---|---:|---:|---:|---:|")
    for row, results in rows.items():
        before, after = (statistics.median(results[name]) for name in versions)
        print(f"| {row} | {before:.3f} | {after:.3f} | {after / before:.2f} | "
              f"{after / floor_s:.2f} |")


if __name__ == "__main__":
    main()
