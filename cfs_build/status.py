"""Artifact statuses (flags against the manifest), orphans, and v5 ranks."""
from __future__ import annotations

import graphlib

from dataclasses import dataclass

from .chain import Resolver, safe_relpath
from .files import UnreadableFile
from .hashing import b64
from .manifest import Manifest
from .names import artifact_of, spec_of
from .tree import Tree
from .validate import cycles, dependency_edges, output_problem

STALE, MISSING, MODIFIED, UNTRACKED, INVALID, UP_TO_DATE, ORPHAN = (
    "stale", "missing", "modified", "untracked", "invalid", "up-to-date", "orphan")
FLAG_ORDER = (INVALID, STALE, MISSING, MODIFIED, UNTRACKED)


@dataclass(frozen=True)
class ArtifactStatus:
    """Where one artifact stands: ``flags`` is ("up-to-date",) when nothing is wrong."""

    name: str
    node: str
    path: str
    flags: tuple[str, ...]
    chain: str | None
    recorded_chain: str | None
    checksum: str | None
    recorded_checksum: str | None
    rank: int | None
    reasons: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        return self.flags == (UP_TO_DATE,)

    def as_dict(self) -> dict:
        return {"name": self.name, "node": self.node, "path": self.path,
                "status": list(self.flags), "chain": self.chain,
                "recorded_chain": self.recorded_chain, "checksum": self.checksum,
                "recorded_checksum": self.recorded_checksum, "rank": self.rank,
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Orphan:
    """A manifest entry whose node is gone or no longer declares an output."""

    name: str
    path: str

    def as_dict(self) -> dict:
        return {"name": self.name, "path": self.path}


def ranks(tree: Tree) -> dict[str, int | None]:
    """v5 ranks: 0 with no edges, else 1 + the largest rank it needs.

    Edges go to the parent, SPEC imports and SPEC inputs (rank + 1) and to ARTIFACT
    imports and inputs (the artifact ranks one above its node, so + 2); EXTERNAL files
    do not count. Nodes on or behind a cycle have no rank.
    """
    edges = dependency_edges(tree)
    cyclic: set[str] = set().union(*cycles(tree))
    if cyclic:
        needed_by: dict[str, list[str]] = {}
        for name, targets in edges.items():
            for target in targets:
                needed_by.setdefault(target, []).append(name)
        stack = list(cyclic)
        while stack:
            for name in needed_by.get(stack.pop(), ()):
                if name not in cyclic:
                    cyclic.add(name)
                    stack.append(name)
    result: dict[str, int | None] = dict.fromkeys(cyclic)
    if cyclic:
        acyclic = {name: targets for name, targets in edges.items() if name not in cyclic}
        order = graphlib.TopologicalSorter(acyclic).static_order()
    else:
        order = tree._memo["order"]  # the whole tree's, sorted while looking for cycles
    # Predecessors come first in the sorter's order, so every target is ranked in time.
    for name in order:
        targets = edges.get(name, {})
        result[name] = max((result[target] + (2 if kind == "ARTIFACT" else 1)
                            for target, kind in targets.items()), default=0)
    return result


def artifact_statuses(tree: Tree, resolver: Resolver, manifest: Manifest,
                      rank_of: dict[str, int | None]) -> tuple[list[ArtifactStatus], list[Orphan]]:
    statuses = []
    declared = set()
    for node in tree.leaves():
        info = tree.nodes[node]
        if info.output is None or info.broken:
            continue
        name = artifact_of(node)
        declared.add(name)
        statuses.append(artifact_status(tree, resolver, manifest, node, name, info.output,
                             rank_of.get(node)))
    orphans = [Orphan(name, entry.path) for name, entry in sorted(manifest.entries.items())
               if name not in declared and not _broken_owner(tree, name)]
    return statuses, orphans


def _broken_owner(tree: Tree, name: str) -> bool:
    # A node that failed to parse still exists: its entry is not an orphan, and
    # removing it would lose the record once the file is fixed.
    info = tree.nodes.get(spec_of(name))
    return info is not None and info.broken


def artifact_status(tree, resolver, manifest, node, name, output, rank) -> ArtifactStatus:
    """Status of one artifact: its chain and file against its manifest entry."""
    entry = manifest.get(name)
    recorded_chain = entry.chain if entry else None
    recorded_checksum = entry.checksum if entry else None
    reasons: list[str] = []
    flags: set[str] = set()
    rel = None if output_problem(output) else safe_relpath(output)
    if rel is None:
        return ArtifactStatus(name, node, output, (INVALID,), None, recorded_chain, None,
                              recorded_checksum, rank, ("output path is invalid",))
    chain = resolver.chain(node)
    if chain.blocked:
        flags.add(INVALID)
        reasons.extend(chain.blocked)
    if chain.waiting:
        reasons.extend(f"waiting for {w}" for w in chain.waiting)
    exists, checksum, readable = True, None, True
    try:
        digest = resolver.file_digest(rel)
        exists = digest is not None
        checksum = b64(digest) if digest is not None else None
    except UnreadableFile as exc:
        # Not a hand edit to accept: a directory, or bytes v5 cannot read as text.
        flags.add(INVALID)
        readable = False
        reasons.append(f"{rel}: {exc.reason}")
    same_file = entry is not None and safe_relpath(entry.path) == rel
    if entry is None:
        flags.add(STALE)
        reasons.append("no manifest entry")
    elif not same_file:
        flags.add(STALE)
        reasons.append(f"manifest records {entry.path}, the spec now says {output}")
    elif chain.hash is None:
        if not chain.blocked:
            flags.add(STALE)
    elif chain.hash != entry.chain:
        flags.add(STALE)
    if not exists:
        flags.add(MISSING)
    elif not readable:
        pass
    elif not same_file:
        flags.add(UNTRACKED)
    elif checksum != entry.checksum:
        flags.add(MODIFIED)
    ordered = tuple(flag for flag in FLAG_ORDER if flag in flags) or (UP_TO_DATE,)
    return ArtifactStatus(name, node, output, ordered, chain.hash, recorded_chain, checksum,
                          recorded_checksum, rank, tuple(reasons))
