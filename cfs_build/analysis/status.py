"""Artifact statuses (flags against the manifest) and orphans; ranks come from deps.py."""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from types import MappingProxyType

from ..reading.files import UnreadableFile
from ..reading.hashing import b64, checksums_match
from ..reading.names import artifact_of, byte_order, node_of_entry
from ..reading.tree import Tree
from ..state.manifest import Manifest, ManifestEntry
from .chain import Resolver
from ..reading.outputs import Places, output_problem, output_rel, place_problem


class Flag(StrEnum):
    """One word of an artifact's status, as v5 and `cfs status --json` write it (7.4)."""

    INVALID = "invalid"      # the node or its output path has format errors
    STALE = "stale"          # the chain is not the one the manifest records
    MISSING = "missing"      # no file at the output
    MODIFIED = "modified"    # the file is not the one the manifest records
    UNTRACKED = "untracked"  # a file the manifest has no entry for
    UP_TO_DATE = "up-to-date"
    ORPHAN = "orphan"        # a manifest entry no node accounts for (never an artifact's)


STALE, MISSING, MODIFIED, UNTRACKED = Flag.STALE, Flag.MISSING, Flag.MODIFIED, Flag.UNTRACKED
INVALID, UP_TO_DATE, ORPHAN = Flag.INVALID, Flag.UP_TO_DATE, Flag.ORPHAN
FLAG_ORDER = (INVALID, STALE, MISSING, MODIFIED, UNTRACKED)


class Need(StrEnum):
    """What a build does about an artifact. `cfs status`, the build plan, doit's uptodate
    check and the refusal of hand-edited files all take it from ``need_of``."""

    NOTHING = "nothing"    # up to date
    GENERATE = "generate"  # stale or missing: the generator is asked
    REFUSE = "refuse"      # modified or untracked: the file is kept, never overwritten
    FIX = "fix"            # invalid: the spec must be fixed before anything is generated


def _judge(flags: tuple[Flag, ...]) -> Need:
    if flags == (UP_TO_DATE,):
        return Need.NOTHING
    # A hand-edited file is refused before anything else is looked at: whatever else
    # holds, the build must not overwrite it.
    if MODIFIED in flags or UNTRACKED in flags:
        return Need.REFUSE
    return Need.FIX if INVALID in flags else Need.GENERATE


def _flag_sets() -> list[tuple[Flag, ...]]:
    """Every flags tuple artifact_status can give: a subset of FLAG_ORDER, in its order."""
    found = [(UP_TO_DATE,)]
    for bits in range(1, 1 << len(FLAG_ORDER)):
        found.append(tuple(flag for i, flag in enumerate(FLAG_ORDER) if bits >> i & 1))
    return found


# Read-only tables, looked up by value: a flags tuple of plain strings (as the snapshot
# stores them) finds the same entries as one of Flags, so a status costs one lookup.
_NEEDS = MappingProxyType({flags: _judge(flags) for flags in _flag_sets()})
_AS_FLAGS = MappingProxyType({tuple(map(str, flags)): flags for flags in _flag_sets()})
_AS_PLAIN = MappingProxyType({flags: tuple(map(str, flags)) for flags in _flag_sets()})
_NOTHING = Need.NOTHING


def need_of(flags: tuple[str, ...]) -> Need:
    """The one answer to "does this artifact need generating?" (see Need)."""
    found = _NEEDS.get(flags)
    return found if found is not None else _judge(as_flags(flags))


def as_flags(plain: tuple[str, ...]) -> tuple[Flag, ...]:
    """Flags back from their plain words (marshal, which keeps the snapshot, cannot
    store a str subclass)."""
    found = _AS_FLAGS.get(plain)
    return found if found is not None else tuple(Flag(word) for word in plain)


def plain_flags(flags: tuple[Flag, ...]) -> tuple[str, ...]:
    """The flags as plain strings, for marshal (see as_flags)."""
    found = _AS_PLAIN.get(flags)
    return found if found is not None else tuple(str(flag) for flag in flags)


def file_flag(checksum: str | None, entry: ManifestEntry | None) -> Flag | None:
    """What the file at an output (``checksum``, None when there is none) says against its
    manifest entry: MISSING, UNTRACKED (no entry), MODIFIED (not the file recorded), or
    None when it is the file recorded. An UNTRACKED or MODIFIED file is never overwritten."""
    if checksum is None:
        return MISSING
    if entry is None:
        return UNTRACKED
    return None if checksums_match(checksum, entry.checksum) else MODIFIED


@dataclass(frozen=True)
class ArtifactStatus:
    """Where one artifact stands: ``flags`` is (UP_TO_DATE,) when nothing is wrong."""

    name: str
    node: str
    path: str
    flags: tuple[Flag, ...]
    chain: str | None
    recorded_chain: str | None
    checksum: str | None
    recorded_checksum: str | None
    rank: int | None
    reasons: tuple[str, ...] = ()

    @property
    def need(self) -> Need:
        return need_of(self.flags)

    @property
    def up_to_date(self) -> bool:
        # need_of without the call: asked of every artifact by every command.
        return _NEEDS.get(self.flags) is _NOTHING

    def as_dict(self) -> dict:
        return {"name": self.name, "node": self.node, "path": self.path,
                "status": list(self.flags), "chain": self.chain,
                "recorded_chain": self.recorded_chain, "checksum": self.checksum,
                "recorded_checksum": self.recorded_checksum, "rank": self.rank,
                "reasons": list(self.reasons)}


_STATUS_FIELDS = tuple(f.name for f in fields(ArtifactStatus))


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
    nodes = artifact_nodes(tree, resolver)
    return (statuses_of(tree, resolver, manifest, rank_of, nodes),
            orphans_of(tree, resolver, manifest, nodes))


def artifact_nodes(tree: Tree, resolver: Resolver) -> list[str]:
    """The nodes that have a status (see artifact_statuses), in node order."""
    return [node for node, info in tree.nodes.items()
            if info.output and resolver.parse_failure(node) is None]


def statuses_of(tree: Tree, resolver: Resolver, manifest: Manifest,
                rank_of: dict[str, int | None], nodes: list[str]) -> list[ArtifactStatus]:
    """The statuses of ``nodes`` (some of artifact_nodes), in their order."""
    places = Places()
    infos = tree.nodes
    return [artifact_status(tree, resolver, manifest, node, artifact_of(node),
                            infos[node].output, rank_of.get(node), places)
            for node in nodes]


def orphans_of(tree: Tree, resolver: Resolver, manifest: Manifest,
               nodes: list[str]) -> list[Orphan]:
    """The manifest entries none of ``nodes`` (artifact_nodes) accounts for."""
    declared = {artifact_of(node) for node in nodes}
    entries = sorted(manifest.entries.items(), key=lambda item: byte_order(item[0]))
    return [Orphan(name, entry.path) for name, entry in entries
            if name not in declared and not _unparsed_owner(tree, resolver, name)]


def status_row(status: ArtifactStatus) -> tuple:
    """The status as plain values (marshal-able); status_of_row undoes it."""
    return (status.name, status.node, status.path, plain_flags(status.flags), status.chain,
            status.recorded_chain, status.checksum, status.recorded_checksum, status.rank,
            status.reasons)


def status_of_row(row: tuple) -> ArtifactStatus:
    status = _made(row)
    fields = status.__dict__
    fields["flags"] = as_flags(fields["flags"])  # stored as plain words: plain_flags
    return status


def _made(values: tuple) -> ArtifactStatus:
    """The status of these field values. As unpickling does: a frozen dataclass's
    __init__ sets each field through object.__setattr__, a real cost for the ten
    thousand statuses a cold run makes and a snapshot holds."""
    status = object.__new__(ArtifactStatus)
    status.__dict__.update(zip(_STATUS_FIELDS, values))
    return status


def _unparsed_owner(tree: Tree, resolver: Resolver, name: str) -> bool:
    # A node that failed to parse still exists: its entry is not an orphan (X4), and
    # removing it would lose the record once the file is fixed.
    node = node_of_entry(name)
    return node is not None and node in tree.nodes and resolver.parse_failure(node) is not None


INVALID_PATH = "output path is invalid: "  # (the reason of a refused output path)


def refused_place(status: ArtifactStatus) -> str | None:
    """The output path of a status refused for what is on disk (place_problem: a link out
    of the project or into a place cfs never writes, something other than a regular
    file), else None. Such a path is never opened (X8), so no read of it tells a later
    run to look at it again."""
    if INVALID in status.flags and len(status.reasons) == 1 \
            and status.reasons[0].startswith(INVALID_PATH):
        return output_rel(status.path)  # (None when the text alone was refused)
    return None


def artifact_status(tree, resolver, manifest, node, name, output, rank,
                    places: Places | None = None) -> ArtifactStatus:
    """Status of one artifact: its chain and file against its manifest entry (FORMAT.md 7.4).

    The path the manifest records is not looked at: the node's output is the file.
    """
    entry = manifest.get(name)
    recorded_chain = entry.chain if entry else None
    recorded_checksum = entry.checksum if entry else None
    chain = resolver.chain(node)
    rel = output_rel(output)
    problem = output_problem(output) or place_problem(str(tree.root), rel, places)
    if problem:
        # X8: never opened; only the chain is compared with the record.
        flags = (INVALID, STALE) if entry is None or entry.chain != chain.hash else (INVALID,)
        return _made((name, node, output, flags, chain.hash, recorded_chain, None,
                      recorded_checksum, rank, (INVALID_PATH + problem,)))
    reasons: list[str] = []
    flags: set[Flag] = set()
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
    elif chain.hash is not None and chain.hash != entry.chain:
        # A chain not known yet (blocked, or waiting for an imported artifact) is not
        # stale against its entry: 7.4 maps it to `stale` only without one, and the file
        # alone speaks. A wait ends when that artifact is made, and the build judges
        # this one again then (it is downstream of one that is not up to date).
        flags.add(STALE)
    found = file_flag(checksum, entry)
    if found is not None:
        flags.add(found)
    ordered = tuple(flag for flag in FLAG_ORDER if flag in flags) or (UP_TO_DATE,)
    return _made((name, node, output, ordered, chain.hash, recorded_chain, checksum,
                  recorded_checksum, rank, tuple(reasons)))
