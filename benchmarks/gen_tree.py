"""A deterministic synthetic v5 project for benchmarks: a wide three-level tree, all built.

Shape: 20 roots x 20 intermediates each x ``ceil(leaves / 400)`` leaves each, filled
in order until ``leaves`` leaves exist (10,000 leaves = 20 x 20 x 25, 10,420 nodes).
Every _node.md is about 1.5 KB: a ``# Public`` with three ``##`` subsections (one
holding a fenced code block with ``#`` lines, which are content) and, on leaves, a
``# Agent`` section. 20% of leaves import a qualified subsection of a node in another
root's branch, 5% import the artifact of an earlier leaf. Every leaf's output file is
present and ``code-from-spec/.manifest`` records its current checksum and chain hash,
so ``cfs status`` reports everything up to date.

    python benchmarks/gen_tree.py DIR --leaves 10000
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cfs_build.state.manifest import MANIFEST, ManifestEntry, render_manifest
from cfs_build.reading.names import TREE_DIR
from cfs_build.analysis.project import Project

ROOTS = 20
MIDS = 20
SPEC_IMPORT_SHARE = 0.20
ARTIFACT_IMPORT_SHARE = 0.05
SUBSECTIONS = ("Interface", "Behaviour", "Constraints")

_WORDS = ("amount account balance batch boundary cache caller ledger limit record request "
          "response retry rounding schema session signature snapshot status timeout token "
          "transfer value window must never always returns raises keeps rejects accepts "
          "the a each every one no with without before after under over into from").split()


def _prose(rng: random.Random, words: int) -> str:
    """Sentences wrapped at about 78 columns."""
    out, line = [], []
    for index in range(words):
        word = rng.choice(_WORDS)
        line.append(word.capitalize() if index == 0 else word)
        if len(" ".join(line)) > 70:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\n".join(out).rstrip(".") + "."


def _node_text(rng: random.Random, name: str, frontmatter: list[str], leaf: bool) -> str:
    parts = []
    if frontmatter:
        parts.append("---\n" + "\n".join(frontmatter) + "\n---\n")
    parts.append(f"# {name}\n\n{_prose(rng, 14)}\n\n# Public\n")
    parts.append(f"\n## {SUBSECTIONS[0]}\n\n{_prose(rng, 30)}\n\n```python\n"
                 f"# called once per {rng.choice(_WORDS)}\n"
                 f"def handle_{rng.choice(_WORDS)}(value: int) -> int:\n"
                 "    return value\n```\n")
    parts.append(f"\n## {SUBSECTIONS[1]}\n\n{_prose(rng, 45)}\n\n- {_prose(rng, 10)}\n"
                 f"- {_prose(rng, 10)}\n")
    parts.append(f"\n## {SUBSECTIONS[2]}\n\n{_prose(rng, 40 if leaf else 70)}\n")
    if leaf:
        parts.append(f"\n# Agent\n\n{_prose(rng, 25)}\n\n## Tests\n\n{_prose(rng, 20)}\n")
    else:
        parts.append(f"\n# Private\n\n{_prose(rng, 20)}\n")
    return "".join(parts)


def _output_text(rng: random.Random, name: str) -> str:
    body = "\n".join(f"    # {_prose(rng, 8)}\n    total += {index}" for index in range(12))
    return (f'"""Generated from {name}."""\n\n\ndef run(total: int) -> int:\n{body}\n'
            "    return total\n")


def shape(leaves: int) -> list[tuple[int, int, int]]:
    """(root, intermediate, leaf) indices of every leaf, in generation order."""
    per_mid = max(1, math.ceil(leaves / (ROOTS * MIDS)))
    out = []
    for number in range(leaves):
        mid_number, leaf = divmod(number, per_mid)
        root, mid = divmod(mid_number, MIDS)
        out.append((root, mid, leaf))
    return out


def generate(root: Path | str, leaves: int = 10_000, seed: int = 5) -> dict[str, int]:
    """Write the project into ``root`` (which must not hold a code-from-spec/ yet).

    Returns counts: nodes, leaves, spec_imports, artifact_imports, files.
    """
    root = Path(root)
    if (root / TREE_DIR).exists():
        raise FileExistsError(f"{root / TREE_DIR} already exists")
    rng = random.Random(seed)
    layout = shape(leaves)
    mids = sorted({(r, m) for r, m, _ in layout})
    roots = sorted({r for r, _ in mids})
    leaf_names = [f"SPEC/r{r:02d}/m{m:02d}/l{l:03d}" for r, m, l in layout]
    counts = {"nodes": 0, "leaves": len(layout), "spec_imports": 0, "artifact_imports": 0}

    def write(rel: str, text: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def spec_file(name: str) -> str:
        return f"{TREE_DIR}/{name[len('SPEC/'):]}/_node.md"

    for r in roots:
        name = f"SPEC/r{r:02d}"
        write(spec_file(name), _node_text(rng, name, [], False))
    for r, m in mids:
        name = f"SPEC/r{r:02d}/m{m:02d}"
        write(spec_file(name), _node_text(rng, name, [], False))
    counts["nodes"] = len(roots) + len(mids) + len(layout)
    by_root: dict[int, list[int]] = {}
    for number, (r, _, _) in enumerate(layout):
        by_root.setdefault(r, []).append(number)

    for number, (r, m, _) in enumerate(layout):
        name = leaf_names[number]
        output = f"src/{name[len('SPEC/'):]}.py"
        depends = []
        if rng.random() < SPEC_IMPORT_SHARE and len(roots) > 1:
            other = rng.choice([x for x in roots if x != r])
            # Leaves are written root by root, so a lower root's leaves are all earlier;
            # importing only earlier leaves (or intermediates) can never form a cycle.
            if other < r and rng.random() < 0.5:
                target = leaf_names[rng.choice(by_root[other])]
            else:
                mid = rng.choice([m2 for r2, m2 in mids if r2 == other])
                target = f"SPEC/r{other:02d}/m{mid:02d}"
            depends.append(f"{target}({rng.choice(SUBSECTIONS)})")
            counts["spec_imports"] += 1
        if rng.random() < ARTIFACT_IMPORT_SHARE and number > 0:
            depends.append("ARTIFACT" + leaf_names[rng.randrange(number)][len("SPEC"):])
            counts["artifact_imports"] += 1
        front = [f"output: {output}"]
        if depends:
            front.append("depends_on:")
            front.extend(f"  - {d}" for d in depends)
        write(spec_file(name), _node_text(rng, name, front, True))
        write(output, _output_text(rng, name))

    # Record every artifact as generated from its current chain, as a build would.
    report = Project(root, use_index=False).report()
    entries = {}
    for status in report.artifacts:
        if status.chain is None or status.checksum is None:
            raise RuntimeError(f"{status.name}: {status.flags} {status.reasons}")
        entries[status.name] = ManifestEntry(status.name, status.path, status.checksum,
                                             status.chain)
    write(MANIFEST, render_manifest(entries))
    counts["files"] = counts["nodes"] + counts["leaves"]
    return counts


def add_project_arguments(parser: argparse.ArgumentParser, leaves: int, runs: int = 5) -> None:
    """The options every benchmark on one generated project takes: --leaves, --runs, --dir."""
    parser.add_argument("--leaves", type=int, default=leaves)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--dir", type=Path, default=None,
                        help="project to use (a benchmark may edit it); generated there with "
                             "--leaves when it has no code-from-spec/ yet (default: a "
                             "temporary directory, removed afterwards)")


@contextmanager
def benchmark_project(directory: Path | None, leaves: int) -> Iterator[Path]:
    """``directory`` (generated there when it holds no tree yet), else a temporary one."""
    if directory is not None:
        if not (directory / TREE_DIR).exists():
            generate(directory, leaves)
        yield directory
        return
    with tempfile.TemporaryDirectory(prefix="cfs-bench-") as scratch:
        generate(scratch, leaves)
        yield Path(scratch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--leaves", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    counts = generate(args.directory, args.leaves, args.seed)
    print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
