"""Artifact statuses (flags against the manifest) and orphans; ranks come from deps.py."""
from __future__ import annotations

from dataclasses import dataclass

from .chain import Resolver
from .files import UnreadableFile
from .hashing import b64, checksums_match
from .manifest import Manifest
from .names import artifact_of, spec_of
from .outputs import output_problem, output_rel, place_problem
from .tree import Tree

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


def artifact_statuses(tree: Tree, resolver: Resolver, manifest: Manifest,
                      rank_of: dict[str, int | None]) -> tuple[list[ArtifactStatus], list[Orphan]]:
    """Every node that parses and declares a non-empty output, leaf or not (v5 lists an
    inner node's output too), and the manifest entries no such node accounts for."""
    statuses = []
    declared = set()
    real_dirs: dict[str, bool] = {}
    for node, info in tree.nodes.items():
        if not info.output or resolver.parse_failure(node) is not None:
            continue
        name = artifact_of(node)
        declared.add(name)
        statuses.append(artifact_status(tree, resolver, manifest, node, name, info.output,
                                        rank_of.get(node), real_dirs))
    orphans = [Orphan(name, entry.path) for name, entry in sorted(manifest.entries.items())
               if name not in declared and not _unparsed_owner(tree, resolver, name)]
    return statuses, orphans


def _unparsed_owner(tree: Tree, resolver: Resolver, name: str) -> bool:
    # A node that failed to parse still exists: its entry is not an orphan (X4), and
    # removing it would lose the record once the file is fixed.
    node = spec_of(name)
    return node in tree.nodes and resolver.parse_failure(node) is not None


def artifact_status(tree, resolver, manifest, node, name, output, rank,
                    real_dirs: dict[str, bool] | None = None) -> ArtifactStatus:
    """Status of one artifact: its chain and file against its manifest entry (FORMAT.md 7.4).

    The path the manifest records is not looked at: the node's output is the file.
    """
    entry = manifest.get(name)
    recorded_chain = entry.chain if entry else None
    recorded_checksum = entry.checksum if entry else None
    chain = resolver.chain(node)
    rel = output_rel(output)
    problem = output_problem(output) or place_problem(str(tree.root), rel, real_dirs)
    if problem:
        # X8: never opened; only the chain is compared with the record.
        flags = (INVALID, STALE) if entry is None or entry.chain != chain.hash else (INVALID,)
        return ArtifactStatus(name, node, output, flags, chain.hash, recorded_chain, None,
                              recorded_checksum, rank, (f"output path is invalid: {problem}",))
    reasons: list[str] = []
    flags: set[str] = set()
    if chain.blocked:
        flags.add(INVALID)
        reasons.extend(chain.blocked)
    if chain.waiting:
        reasons.extend(f"waiting for {w}" for w in chain.waiting)
    checksum = None
    try:
        digest = resolver.file_checksum(rel)
        checksum = b64(digest) if digest is not None else None
    except UnreadableFile as exc:
        reasons.append(f"{rel}: {exc.reason}")  # v5: the file cannot be opened: missing
    if entry is None:
        flags.add(STALE)
        reasons.append("no manifest entry")
    elif chain.hash is None:
        if not chain.blocked:
            flags.add(STALE)
    elif chain.hash != entry.chain:
        flags.add(STALE)
    if checksum is None:
        flags.add(MISSING)
    elif entry is None:
        flags.add(UNTRACKED)
    elif not checksums_match(checksum, entry.checksum):
        flags.add(MODIFIED)
    ordered = tuple(flag for flag in FLAG_ORDER if flag in flags) or (UP_TO_DATE,)
    return ArtifactStatus(name, node, output, ordered, chain.hash, recorded_chain, checksum,
                          recorded_checksum, rank, tuple(reasons))
