"""Time each Markdown parser: headings per file, and a cold `cfs status` against the floor.

For markdown-it-py and markdown-it-pyrs (chosen with CFS_PARSER): the milliseconds
per _node.md to find its structural headings (the body after the frontmatter, read
once beforehand), and a cold `cfs status` (no `.cfs/`, every spec parsed) in process
as a ratio to the floor of reading and SHA-1-hashing every spec and output file
(see bench_status.py). Rows are measured in interleaved rounds, reported as medians.

    python benchmarks/bench_parser.py --leaves 2000 [--dir DIR] [--runs 5]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_status import cfs_status, drop_index, floor, project_files, timed  # noqa: E402
from gen_tree import add_project_arguments, benchmark_project  # noqa: E402

from cfs_build.reading import parsers  # noqa: E402
from cfs_build.errors import CfsError  # noqa: E402
from cfs_build.reading.headings import structural_headings  # noqa: E402
from cfs_build.state.manifest import read_manifest  # noqa: E402
from cfs_build.reading.names import TREE_DIR  # noqa: E402

PARSERS = (parsers.PY, parsers.RS)


def bodies(root: Path) -> list[tuple[str, list[str]]]:
    """Every spec's body (frontmatter cut off) and its lines, as cfs splits them."""
    out = []
    for path in sorted((root / TREE_DIR).rglob("_node.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---\n"):
            text = text[text.index("\n---\n", 3) + 5:]
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out.append((text, lines))
    return out


def headings_all(specs: list[tuple[str, list[str]]]) -> None:
    for body, lines in specs:
        structural_headings(body, lines)


@contextlib.contextmanager
def parser(name: str):
    saved = os.environ.get(parsers.ENV)
    os.environ[parsers.ENV] = name
    try:
        yield
    finally:
        if saved is None:
            del os.environ[parsers.ENV]
        else:
            os.environ[parsers.ENV] = saved


def measure(root: Path, runs: int) -> dict[str, float]:
    files = project_files(root)
    specs = bodies(root)
    floor(files)
    for name in PARSERS:  # imports everything and fills the page cache; not timed
        with parser(name):
            headings_all(specs)
            drop_index(root)
            cfs_status(root)
    samples: dict[str, list[float]] = {"floor": []}
    for _ in range(runs):
        samples["floor"].append(timed(floor, files))
        for name in PARSERS:
            with parser(name):
                samples.setdefault(f"parse {name}", []).append(timed(headings_all, specs))
                drop_index(root)  # outside the timing
                samples.setdefault(f"cold {name}", []).append(timed(cfs_status, root))
    result = {key: statistics.median(values) for key, values in samples.items()}
    result["files"], result["specs"] = len(files), len(specs)
    return result


def table(result: dict[str, float], leaves: int, runs: int) -> str:
    base = result["floor"]
    lines = [f"{leaves:,} leaves ({result['specs']:,} specs, {result['files']:,} files read by "
             f"the floor), median of {runs} runs, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}", "",
             "| parser | headings, ms per spec | cold `cfs status`, s | ratio to floor |",
             "|---|---:|---:|---:|"]
    for name in PARSERS:
        with parser(name):
            named = parsers.describe()
        per_file = result[f"parse {name}"] / result["specs"] * 1000
        cold = result[f"cold {name}"]
        lines.append(f"| {named} | {per_file:.3f} | {cold:.3f} | {cold / base:.2f} |")
    lines.append(f"| floor: read + SHA-1 every spec and output file | | {base:.3f} | 1.00 |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_project_arguments(arguments, leaves=2000)
    args = arguments.parse_args(argv)
    try:
        parsers.chosen(parsers.RS)
    except CfsError as exc:
        raise SystemExit(f"bench_parser: {exc}") from None
    with benchmark_project(args.dir, args.leaves) as root:
        result = measure(root, args.runs)
        print(table(result, len(read_manifest(root).entries), args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
