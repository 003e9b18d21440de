"""Time `cfs status` on a generated project against the floor of reading every file once.

The floor is a plain Python loop that reads and SHA-1-hashes every spec and output
file. `cfs status` is run in-process through ``cfs_build.cli.main`` (stdout
discarded): cold (no ``.cfs/``: no parse index, no snapshot), repeated (the
snapshot of the previous run holds), once more as a subprocess to show interpreter
start-up and import cost, and after one spec file was written again unchanged (the
snapshot is brought up to date: that one file is read again). The rows are measured
in interleaved rounds and reported as medians. The OS page cache is warm for every
row: nothing here drops it.

    python benchmarks/bench_status.py --leaves 10000 [--dir DIR] [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_tree import add_project_arguments, benchmark_project  # noqa: E402

from cfs_build import cli  # noqa: E402
from cfs_build.reading.index import INDEX_DIR  # noqa: E402
from cfs_build.state.manifest import MANIFEST, read_manifest  # noqa: E402
from cfs_build.reading.names import TREE_DIR  # noqa: E402
from cfs_build.analysis.snapshot import BASIS_FILE, SNAPSHOT_FILE  # noqa: E402

COLD_GOAL, WARM_GOAL = 5.0, 1.0


def project_files(root: Path) -> list[str]:
    """Every _node.md and every recorded output, as absolute paths."""
    files = []
    for directory, subdirs, names in os.walk(root / TREE_DIR):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        if "_node.md" in names:
            files.append(os.path.join(directory, "_node.md"))
    files.extend(str(root / entry.path) for entry in read_manifest(root).entries.values())
    return files


def byte_compile(package: Path | None = None) -> None:
    """Write the package's bytecode first, as pip does when it installs a package. A
    checkout's edited modules would otherwise be compiled again by every timed process
    where PYTHONDONTWRITEBYTECODE is set (milliseconds each, charged to cfs)."""
    import compileall
    compileall.compile_dir(package or Path(cli.__file__).parent, quiet=1)


def floor(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as handle:
            hashlib.sha1(handle.read()).digest()


def cfs_status(root: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["-C", str(root), "status"])
    if code != 0:
        raise SystemExit(f"cfs status exited {code}; the generated project must be up to date")


def drop_index(root: Path) -> None:
    """Forget everything earlier runs kept: the parse index and the snapshot."""
    for kept in (*(root / INDEX_DIR).glob("index*"), root / SNAPSHOT_FILE, root / BASIS_FILE):
        kept.unlink(missing_ok=True)


def resave(path: Path) -> None:
    """Write a file again with the bytes it has: its times change, its content does not."""
    path.write_bytes(path.read_bytes())


def subprocess_status(root: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "status"],
                          stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"cfs status (subprocess) exited {done.returncode}")


def timed(action, *args) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def measure(root: Path, runs: int) -> dict[str, float]:
    files = project_files(root)
    floor(files)
    cfs_status(root)  # imports everything and fills the page cache; not timed
    samples: dict[str, list[float]] = {"floor": [], "cold": [], "warm": [], "subprocess": [],
                                       "resaved": []}
    spec = Path(files[len(files) // 4])  # some _node.md (specs come first in files)
    for _ in range(runs):
        samples["floor"].append(timed(floor, files))
        drop_index(root)  # outside the timing: unlinking a big file can take a while
        samples["cold"].append(timed(cfs_status, root))  # leaves index and snapshot behind
        samples["warm"].append(timed(cfs_status, root))
        samples["subprocess"].append(timed(subprocess_status, root))
        resave(spec)  # the snapshot no longer holds: it is brought up to date
        samples["resaved"].append(timed(cfs_status, root))
    result = {key: statistics.median(values) for key, values in samples.items()}
    result["files"] = len(files)
    return result


def table(result: dict[str, float], leaves: int, nodes: int, runs: int) -> str:
    base = result["floor"]
    rows = [
        (f"floor: read + SHA-1 every spec and output file ({result['files']:,} files)",
         "floor"),
        ("`cfs status`, cold (no `.cfs/`: every spec parsed)", "cold"),
        ("`cfs status`, repeated (the snapshot holds)", "warm"),
        ("`cfs status`, repeated, as a subprocess (start-up and imports included)",
         "subprocess"),
        ("`cfs status` after one spec was saved again (the snapshot brought up to date)",
         "resaved"),
    ]
    lines = [f"{leaves:,} leaves ({nodes:,} nodes), median of {runs} runs, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, "
             "OS page cache warm for every row", "",
             "| run | seconds | ratio to floor |", "|---|---:|---:|"]
    for label, key in rows:
        lines.append(f"| {label} | {result[key]:.3f} | {result[key] / base:.2f} |")
    lines.append("")
    lines.append(f"goals: cold <= {COLD_GOAL:g}x floor: "
                 f"{'met' if result['cold'] <= COLD_GOAL * base else 'MISSED'}; "
                 f"repeated <= {WARM_GOAL:g}x floor: "
                 f"{'met' if result['warm'] <= WARM_GOAL * base else 'MISSED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_project_arguments(parser, leaves=10_000)
    args = parser.parse_args(argv)
    byte_compile()
    with benchmark_project(args.dir, args.leaves) as root:
        if not (root / MANIFEST).exists():
            raise SystemExit(f"{root} has no manifest; generate into an empty directory")
        leaves = len(read_manifest(root).entries)
        nodes = sum(1 for _ in (root / TREE_DIR).rglob("_node.md"))
        result = measure(root, args.runs)
        print(table(result, leaves, nodes, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
