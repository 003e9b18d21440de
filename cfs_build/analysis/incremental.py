"""Bringing the last analysis up to date: re-read what changed, redo only what depends on it.

A snapshot (snapshot.py) keeps a basis next to its findings and statuses: each node's
summary, the digest of each file a chain or a check read, each node's findings, and
which node claims which output. When some watched paths changed, ``refresh`` re-reads
only those (and new ones) and recomputes the findings and statuses that can depend on
them; everything else is kept. A change of the tree's shape (a node added, removed or
renamed), of a node's references or output, or of whether a node parses, redoes every
derived fact (ranks, cycles, findings, statuses) from the kept summaries and digests:
still without reading any unchanged file. The answer is the full analysis's, always.
"""
from __future__ import annotations

import os
from array import array
from dataclasses import dataclass, replace
from functools import cached_property

from ..errors import Finding
from ..reading.index import Index
from ..reading.ledger import signatures
from ..reading.names import (SPEC, TREE_DIR, byte_order, dotted_node_dir, in_dot_dir,
                             outside_dots, spec_name)
from ..reading.tree import NodeInfo, Tree, assemble_tree, read_nodes
from ..reading.unparsed import PARSE_RULES
from ..reading.walk import (NODE_FILE, LinkInTree, NeedsGuard, listing, mounts_below,
                            walk_below, walk_dots)
from ..state.artifacts import WithPending, current_manifest, pending_entries
from ..state.manifest import MANIFEST, Manifest, ManifestEntry
from .chain import Resolver
from .deps import Deps, deps_of
from ..reading.outputs import Places, clean, output_problem
from .basis import Decoded, NodeRows, updated
from .snapshot import Snapshot
from .status import artifact_status, artifact_statuses, orphans_of, refused_place
from .validate import Context, context, node_findings, validate_parts

_PREFIX = TREE_DIR + "/"
_NODE_SUFFIX = "/" + NODE_FILE
# Places in NodeInfo.to_tuple().
_DEPENDS, _INPUT, _OUTPUT, _PUBLIC, _SUBS, _AGENT, _INTENT, _FINDINGS = 0, 2, 4, 8, 9, 10, 11, 12
_MISSING = object()


@dataclass(frozen=True)
class Update:
    """An analysis brought up to date: the snapshot (its ``paths`` and ``recorded`` the
    signatures as seen), and the indexes of the paths whose signatures are new."""

    snapshot: Snapshot
    fresh: tuple[int, ...]
    absent: frozenset[str]  # the paths found missing (snapshot.save)
    files_read: int  # spec and other files read (not taken from the basis): for tests


class _Known(Resolver):
    """A resolver that takes the digests of unchanged files from the basis.

    Their texts are not known (None): this resolver computes chains and statuses only.
    """

    def __init__(self, tree: Tree, known: dict):
        super().__init__(tree)
        self._known = known
        self.read = 0

    def _file(self, rel: str):
        if rel not in self._files:
            found = self._known.get(rel, _MISSING)
            if found is _MISSING:
                self.read += 1
            else:
                self._files[rel] = None if found is None else (None, found[0], found[1])
        return super()._file(rel)


def output_rels(tree: Tree) -> dict[str, str]:
    """Node -> the clean output path it claims, for nodes whose output validation checks
    (the node parses, the path is acceptable as text); in node order."""
    return {name: clean(info.output) for name, info in tree.nodes.items()
            if info.output is not None and not info.broken and output_problem(info.output) is None}


def basis_of(tree: Tree, resolver: Resolver, parts) -> dict:
    """What a later ``refresh`` needs of this analysis (marshal-able)."""
    head, per_node, tail = parts
    rows = lambda found: [f.row() for f in found]
    base = f"{TREE_DIR}/"
    node_dirs = {info.file[:-len(_NODE_SUFFIX)] for info in tree.nodes.values()}
    below = [d[len(base):] for d in tree.dirs[1:] if d not in node_dirs]
    try:  # the summaries as the scan marshalled them, in node order, when it made them all
        infos = NodeRows({name: tree.rows[name] for name in tree.nodes})
    except KeyError:
        infos = {name: info.to_tuple() for name, info in tree.nodes.items()}
    return {
        "infos": infos,
        "bare": [d for d in below if not in_dot_dir(d)],
        "dots": [d for d in below if in_dot_dir(d)],
        "stray": any(f.rule == "stray_node_md" for f in tree.findings),
        "head": rows(head), "tail": rows(tail),
        "per_node": {name: rows(found) for name, found in per_node.items() if found},
        "files": resolver.digests(),
        "produced": context(tree).produced,
        "rels": output_rels(tree),
    }


def _dotted_node_file(path: str) -> str | None:
    """The node in a dot directory whose _node.md ``path`` is (names.dotted_node_dir)."""
    if not (path.startswith(_PREFIX) and path.endswith(_NODE_SUFFIX)):
        return None
    name = spec_name(path[len(_PREFIX):-len(_NODE_SUFFIX)])
    return name if dotted_node_dir(name) is not None else None


def analyse(tree: Tree, resolver: Resolver, manifest: Manifest, parts=None) -> Snapshot:
    """The whole analysis of ``tree`` (findings, statuses, orphans), with its basis."""
    parts = parts if parts is not None else validate_parts(tree, resolver)
    head, per_node, tail = parts
    findings = (*head, *(f for found in per_node.values() for f in found), *tail)
    statuses, orphans = artifact_statuses(tree, resolver, manifest, deps_of(tree).ranks)
    intents = {s.node: tree.nodes[s.node].intent for s in statuses}
    snap = Snapshot(tuple(findings), tuple(statuses), tuple(orphans), intents,
                    deps_of(tree).producers)
    return snap.with_basis(basis_of(tree, resolver, parts))


def watched_paths(tree: Tree, resolver: Resolver, statuses=()) -> list[str]:
    """Every path whose change can change the analysis (see snapshot.py), given the
    analysis's ``statuses``."""
    read = resolver.files_read()
    return list(dict.fromkeys([*tree.dirs, *(info.file for info in tree.nodes.values()),
                               MANIFEST, *read, *refused_places(statuses),
                               *ways([*read, *output_rels(tree).values()])]))


def ways(rels) -> list[str]:
    """The directories on the way to each of ``rels`` (files read and outputs), outside
    the tree (whose directories are watched anyway). A file's signature is taken through
    them: one moved away and a link to it put in its place leaves the files below their
    signatures, but leads them out of the project."""
    found: dict[str, None] = {}
    for rel in rels:
        at = rel.find("/")
        if at < 0 or rel[:at] == TREE_DIR:
            continue
        while at > 0:
            found[rel[:at]] = None
            at = rel.find("/", at + 1)
    return list(found)


def absent_ways(found: list[str], statuses) -> set[str]:
    """The ways ``found`` (above) that count as found absent when they are not there: below a
    missing directory every file is missing, which is what the analysis found of them
    (a file it read that is gone is never trusted), and an output's place is refused
    the same with it or without it. Those above an output refused for what is on disk
    are not: they were there."""
    return set(found) - set(refused_places(statuses))


def refused_places(statuses) -> list[str]:
    """The outputs refused for what is on disk (status.refused_place), each with the
    directories above it: a file taking the place of a link or a directory there, or a
    link above it replaced by a directory, lifts the refusal, and none of these paths
    is read."""
    places = []
    for status in statuses:
        rel = refused_place(status)
        if rel is not None:
            parts = rel.split("/")
            places += ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return places


def differing(recorded: bytes, current: bytes) -> list[int]:
    """Indexes of the paths whose 32-byte signatures differ."""
    out: list[int] = []
    block = 32 * 256
    for start in range(0, len(current), block):
        if recorded[start:start + block] == current[start:start + block]:
            continue
        for at in range(start, min(start + block, len(current)), 32):
            if recorded[at:at + 32] != current[at:at + 32]:
                out.append(at // 32)
    return out


def refresh(root, previous: Snapshot, current: bytes) -> Update | None:
    """``previous`` brought up to date, given the current signatures of its paths.

    None when it cannot be (no basis, a linked tree, a journaled manifest write):
    then the caller analyses the project in full.
    """
    basis = previous.basis()
    if not basis or len(current) != len(previous.recorded):
        return None
    if pending_entries(root):
        # A write journaled before a crash counts as recorded (artifacts.current_manifest):
        # the manifest the basis saw is not the one to compare with.
        return None
    try:
        return _refresh(root, previous, basis, current)
    except NeedsGuard:
        return None


def _listing(root, rel: str) -> tuple[set[str], bool, set[str]] | None:
    """The subdirectories (project-relative) of a tree directory, whether it holds a
    _node.md, and its dot subdirectories, as the walk lists them (walk.listing); None
    when it cannot be listed. Raises NeedsGuard at a link, the directory itself
    included (the listing would go through it)."""
    if os.path.islink(f"{root}/{rel}"):
        raise NeedsGuard
    try:
        listed = listing(f"{root}/{rel}", rel)
    except LinkInTree:
        raise NeedsGuard from None  # the full analysis reports it (a link fails the scan)
    if listed is None:
        return None
    subdirs, has_node, dotted = listed
    return {f"{rel}/{name}" for name in subdirs}, has_node, {f"{rel}/{name}" for name in dotted}


def _same_shape(root, changed_dirs: list[str], infos: dict, bare: list[str],
                stray: bool, dots: list[str]) -> list[str] | None:
    """Listing the changed directories again finds the same subdirectories and nodes (a
    file saved by renaming a new one over it changes its directory, not the shape): the
    dot directories made or removed there (relative to the tree, to be walked again for
    links: `load_chain` makes code-from-spec/.cache), or None when the shape changed."""
    dirs = {TREE_DIR, *(_PREFIX + b for b in bare),
            *(_PREFIX + name[len(SPEC) + 1:] for name in infos)}
    below: dict[str, set[str]] = {}
    for d in dirs:
        if d != TREE_DIR:
            below.setdefault(d.rpartition("/")[0], set()).add(d)
    dots_below: dict[str, set[str]] = {}
    for d in dots:
        if d.rpartition("/")[2][0] == ".":
            dots_below.setdefault(f"{_PREFIX}{d}".rpartition("/")[0], set()).add(_PREFIX + d)
    moved: list[str] = []
    for d in changed_dirs:
        listing = _listing(root, d)
        if listing is None:
            return None
        subdirs, has_node, dotted = listing
        expected = stray if d == TREE_DIR else spec_name(d[len(_PREFIX):]) in infos
        if subdirs != below.get(d, set()) or has_node != expected:
            return None
        if d != TREE_DIR and not expected:
            return None  # a file came or went: whether v5 sees the directory may change
        moved += sorted(path[len(_PREFIX):] for path in dotted ^ dots_below.get(d, set()))
    return moved


def _summary(name: str, row: tuple) -> NodeInfo:
    return NodeInfo.from_tuple(name, f"{_PREFIX}{name[len(SPEC) + 1:]}{_NODE_SUFFIX}", row)


class _Lookups:
    """Who refers to what (deps.py), from the summaries when first asked."""

    def __init__(self, infos: dict, rels: dict[str, str]):
        self.infos = infos
        self.rels = rels
        self._owners = None

    @cached_property
    def deps(self) -> Deps:
        # The basis's tuples, not NodeInfos: an edit reaches few nodes (see _Summaries).
        return Deps.of_rows(self.infos, _DEPENDS, _INPUT, _OUTPUT)

    def importers(self, node: str) -> set[str]:
        return self.deps.importers(node)

    def consumers(self, node: str) -> set[str]:
        return self.deps.consumers(node)

    def external_readers(self, rel: str) -> set[str]:
        # The chain reads the path, validation opens the text as written.
        return self.deps.readers(rel, as_written=True)

    def dotted_consumers(self) -> set[str]:
        """The nodes with an ARTIFACT/ entry naming the artifact of a node in a dot
        directory (names.dotted_node_dir): which file their chain reads is known only
        from that node, which the basis does not keep."""
        found: set[str] = set()
        for node, readers in self.deps.consumed().items():
            if dotted_node_dir(node) is not None:
                found |= readers
        return found

    def owners(self, rel: str) -> list[str]:
        """The nodes claiming ``rel`` as output, in node order."""
        if self._owners is None:
            self._owners = {}
            for name, claimed in self.rels.items():
                self._owners.setdefault(claimed, []).append(name)
        return self._owners.get(rel, [])


def _relisted_dots(root, dots: list[str], changed: list[str]) -> list[str] | None:
    """The dot directories after listing the ``changed`` ones (and what is below them)
    again; None when a link is there now (the full analysis reports it)."""
    base = f"{root}/{TREE_DIR}"
    kept = [d for d in dots if not any(d == c or d.startswith(c + "/") for c in changed)]
    try:
        found = walk_dots([(rel, f"{base}/{rel}") for rel in changed])
    except LinkInTree:
        return None
    return sorted({*kept, *found})


def _refresh(root, previous: Snapshot, basis: dict, current: bytes) -> Update | None:
    paths = previous.paths
    changed_at = differing(previous.recorded, current)
    changed = {paths[i] for i in changed_at}
    infos: dict[str, tuple] = basis["infos"]
    bare: list[str] = basis["bare"]
    stray: bool = basis["stray"]
    dots: list[str] | None = basis.get("dots")
    if dots is None:
        return None
    known_dots = set(dots)
    dots_moved = False
    changed_dots = [path[len(_PREFIX):] for path in changed
                    if path.startswith(_PREFIX) and path[len(_PREFIX):] in known_dots]
    if any(outside_dots(rel) in bare for rel in changed_dots):
        return None  # a file there may make v5 see the directory above it (FORMAT.md 1)
    if changed_dots:
        # (The content cache lives there: every load_chain writes into it.) Nothing in a
        # dot directory is part of the tree; a link there fails the scan, and a file there
        # only counts for a directory without _node.md above it (above).
        dots = _relisted_dots(root, dots, changed_dots)
        if dots is None:
            return None
        # A directory made or removed below a dot directory: the watched directories
        # change with it (below), nothing else does.
        dots_moved = set(dots) != known_dots
        changed -= {_PREFIX + rel for rel in changed_dots}
    files, outputs = basis["files"], set(basis["rels"].values())
    for way in [path for path in changed if path not in files and path not in outputs
                and path != MANIFEST and path != TREE_DIR and not path.startswith(_PREFIX)]:
        # A directory on the way to files read or outputs (ways): what is below it may lie
        # elsewhere now, with every signature kept (a file that could not be read too).
        below = way + "/"
        changed.update(rel for rel in (*paths[previous.dirs:], *outputs)
                       if rel.startswith(below))
    changed_dirs, changed_nodes, changed_files = [], [], []
    for path in changed:
        if path == TREE_DIR:
            changed_dirs.append(path)
            continue
        tree_path = False
        if path.startswith(_PREFIX):
            rel = path[len(_PREFIX):]
            if path.endswith(_NODE_SUFFIX) and spec_name(rel[:-len(_NODE_SUFFIX)]) in infos:
                changed_nodes.append(rel[:-len(_NODE_SUFFIX)])
                tree_path = True
            elif spec_name(rel) in infos or rel in bare:
                changed_dirs.append(path)
                tree_path = True
        # A spec file can be an EXTERNAL/ input too: then it is both.
        if path != MANIFEST and (not tree_path or path in basis["files"]):
            changed_files.append(path)
    moved = _same_shape(root, changed_dirs, infos, bare, stray, dots) if changed_dirs else []
    shape = moved is None
    if moved:  # only dot directories came or went: walked for links, nothing else redone
        if mounts_below(root / TREE_DIR):
            return None  # the full analysis guards against a mount there (and keeps no snapshot)
        dots = _relisted_dots(root, dots, moved)
        if dots is None:
            return None
        dots_moved = dots_moved or set(dots) != known_dots
    if shape:
        base = root / TREE_DIR
        if os.path.islink(base) or mounts_below(base):
            return None
        try:
            node_dirs, bare, found_dots = walk_below([("", os.fspath(base))])
            dots = walk_dots(found_dots)
        except (LinkInTree, NeedsGuard):
            return None  # the full analysis reports the link (or walks the mount)
        node_dirs.sort(key=byte_order)
        bare.sort(key=byte_order)
        stray = (base / NODE_FILE).is_file()
        to_read = [rel for rel in node_dirs if spec_name(rel) not in infos
                   or f"{_PREFIX}{rel}{_NODE_SUFFIX}" in changed]
    else:
        node_dirs = [name[len(SPEC) + 1:] for name in infos]
        to_read = sorted(changed_nodes)
    index = Index(root) if len(to_read) > 50 else None  # read only: never saved here
    fresh_infos = {info.name: info for info in read_nodes(root, index, to_read)}
    if shape:
        nodes: dict[str, NodeInfo] = {}
        for rel in node_dirs:
            name = spec_name(rel)
            info = fresh_infos.get(name)
            nodes[name] = info if info is not None else _summary(name, infos[name])
    else:
        # A summary is made of the basis's tuple only for a node asked for: making ten
        # thousand costs more than the edit.
        nodes = Decoded(infos, _summary, dict(fresh_infos))
    tree = assemble_tree(root, node_dirs, bare, nodes, stray, dot_dirs=dots)

    manifest_changed = MANIFEST in changed
    manifest = None
    if manifest_changed or shape:
        manifest = current_manifest(root)
        if isinstance(manifest, WithPending):
            return None
    known = {rel: found for rel, found in basis["files"].items() if rel not in changed}
    resolver = _Known(tree, known)

    findings_dirty: set[str] = set()
    chains_dirty: set[str] = set()
    status_dirty: set[str] = set()
    rels: dict[str, str] = basis["rels"]
    lookups = _Lookups(infos, rels)
    full = shape
    for name, info in fresh_infos.items() if not full else ():
        old, new = infos[name], info.to_tuple()
        if old == new:
            continue
        edges = (_DEPENDS, _INPUT, _OUTPUT)
        if any(old[i] != new[i] for i in edges) \
                or (old[_FINDINGS] != new[_FINDINGS] and any(
                    f[0] in PARSE_RULES for f in (*old[_FINDINGS], *new[_FINDINGS]))):
            full = True  # edges, outputs or what parses changed: redo what derives from them
            break
        findings_dirty.add(name)
        if old[_PUBLIC] != new[_PUBLIC] or old[_SUBS] != new[_SUBS]:
            chains_dirty.update(tree.under(name) if tree.children.get(name) else (name,))
            chains_dirty |= lookups.importers(name)
            if [key for key, _ in old[_SUBS]] != [key for key, _ in new[_SUBS]]:
                findings_dirty |= lookups.importers(name)
        if old[_AGENT] != new[_AGENT]:
            chains_dirty.add(name)

    if full:
        if not shape:  # every summary is needed now
            tree = assemble_tree(root, node_dirs, bare, {name: nodes[name] for name in nodes},
                                 stray, dot_dirs=dots)
            resolver = _Known(tree, known)
        if manifest is None:
            manifest = current_manifest(root)
            if isinstance(manifest, WithPending):
                return None
        snap = analyse(tree, resolver, manifest)
    else:
        snap = _patch(previous, basis, tree, resolver, manifest, lookups, changed_files,
                      fresh_infos, findings_dirty, chains_dirty, status_dirty,
                      dots if dots_moved else None)
    changed_set = set(changed_at)
    if full or dots_moved:
        if full:
            watched = watched_paths(tree, resolver, snap.statuses)
            found_ways = ways([*resolver.files_read(), *output_rels(tree).values()])
        else:  # the tree's directories as they are now, then the files watched before
            found_ways = ways(resolver.files_read())
            watched = list(dict.fromkeys([*tree.dirs, *paths[previous.dirs:],
                                          *resolver.files_read(),
                                          *refused_places(snap.statuses), *found_ways]))
        where = {path: i for i, path in enumerate(paths)}
        sigs = array("q")
        fresh, new_at = [], []
        for i, path in enumerate(watched):
            old_at = where.get(path)
            if old_at is None:
                sigs.extend((0, 0, 0, 0))
                new_at.append(i)
                fresh.append(i)
            else:
                sigs.frombytes(current[old_at * 32:old_at * 32 + 32])
                if old_at in changed_set:
                    fresh.append(i)
    else:  # the same tree and references: what was watched still is, and what was read now
        seen = set(paths)
        found_ways = ways(resolver.files_read())  # (the outputs' are watched already)
        extra = list(dict.fromkeys(path for path in (*resolver.files_read(),
                                                     *refused_places(snap.statuses),
                                                     *found_ways)
                                   if path not in seen))
        watched = [*paths, *extra]
        sigs = array("q", current)
        sigs.frombytes(bytes(32 * len(extra)))
        new_at = list(range(len(paths), len(watched)))
        fresh = sorted(changed_set) + new_at
    if new_at:
        looked = signatures(root, [watched[i] for i in new_at])
        for k, i in enumerate(new_at):
            sigs[i * 4:i * 4 + 4] = looked[k * 4:k * 4 + 4]
    # Absent: a path looked at before it was read (a changed one), or one the analysis
    # found missing (a new one: looked at after it was read). Only fresh paths are checked.
    added = set(new_at)
    missing = resolver.files_missing() | absent_ways(found_ways, snap.statuses)
    if manifest is not None and not manifest.existed:
        missing.add(MANIFEST)
    absent = frozenset(watched[i] for i in fresh if sigs[i * 4] < 0 and not sigs[i * 4 + 1]
                       and (i not in added or watched[i] in missing))
    snap = replace(snap, paths=tuple(watched), recorded=sigs.tobytes(), _where={},
                   dirs=len(tree.dirs) if full or dots_moved else previous.dirs)
    return Update(snap, tuple(fresh), absent, len(to_read) + resolver.read)


class _Recorded:
    """The manifest entries as the previous statuses recorded them (only those matter)."""

    def __init__(self, statuses):
        self._by_name = {s.name: s for s in statuses}

    def get(self, name: str) -> ManifestEntry | None:
        status = self._by_name.get(name)
        if status is None or status.recorded_chain is None:
            return None
        return ManifestEntry(name, status.path, status.recorded_checksum, status.recorded_chain)


def _patch(previous: Snapshot, basis: dict, tree: Tree, resolver: Resolver,
           manifest: Manifest | None, lookups: _Lookups, changed_files: list[str],
           fresh_infos: dict[str, NodeInfo], findings_dirty: set[str], chains_dirty: set[str],
           status_dirty: set[str], dots: list[str] | None) -> Snapshot:
    """The previous analysis with only what the changes reach recomputed (same tree shape,
    same references and outputs, same nodes parsing); ``dots``: the directories below dot
    directories when they changed."""
    rels = lookups.rels
    for path in changed_files:
        owners = lookups.owners(path)
        status_dirty.update(owners)
        findings_dirty.update(owners)
        for owner in owners:
            chains_dirty |= lookups.consumers(owner)
        readers = lookups.external_readers(path)
        findings_dirty |= readers
        chains_dirty |= readers
        dotted = _dotted_node_file(path)
        if dotted is not None:
            # A node in a dot directory that chains read by name (names.dotted_node_dir):
            # no part of the tree, so only the chains naming it change.
            chains_dirty |= lookups.importers(dotted) | lookups.consumers(dotted)
        elif not owners and not readers:
            # Perhaps the output of such a node, read through ARTIFACT/.
            chains_dirty |= lookups.dotted_consumers()
    statuses = list(previous.statuses)
    orphans = previous.orphans
    if manifest is not None:  # it changed: every status against its entry, not its chain
        for status in statuses:
            entry = manifest.get(status.name)
            recorded = (entry.chain, entry.checksum) if entry is not None else (None, None)
            if recorded != (status.recorded_chain, status.recorded_checksum):
                status_dirty.add(status.node)
        orphans = tuple(orphans_of(tree, resolver, manifest, [s.node for s in statuses]))
    else:
        manifest = _Recorded(statuses)
    places = Places()
    per_node = dict(basis["per_node"])
    per_node_changes: list[str] = []
    root = str(tree.root)
    for name in sorted(findings_dirty):
        info = tree.nodes.get(name)
        if info is None:
            continue
        rel = rels.get(name)
        # Only a leaf claims its output (validate._output: two leaves writing one file).
        owners = [o for o in lookups.owners(rel) if tree.is_leaf(o)] if rel is not None else []
        shared = Context(basis["produced"], {rel: owners[0]} if owners else {}, root, places)
        rows = [f.row() for f in node_findings(tree, resolver, info, shared)]
        if rows != list(per_node.get(name, ())):
            per_node_changes.append(name)
            if rows:
                per_node[name] = rows
            else:
                del per_node[name]
    redo = chains_dirty | status_dirty
    redone = []
    if redo:
        for at, status in enumerate(statuses):
            if status.node in redo:
                statuses[at] = artifact_status(tree, resolver, manifest, status.node,
                                               status.name, tree.nodes[status.node].output,
                                               status.rank, places)
                redone.append(at)
    if per_node_changes:
        findings = [Finding(*row) for row in basis["head"]]
        for name in tree.nodes:
            rows = per_node.get(name)
            if rows:
                findings += [Finding(*row) for row in rows]
        findings += [Finding(*row) for row in basis["tail"]]
    else:
        findings = previous.findings
    intents = dict(previous.intents)
    changed_infos = {}
    for name, info in fresh_infos.items():
        changed_infos[name] = info.to_tuple()
        if name in intents:
            intents[name] = info.intent
    infos = updated(basis["infos"], changed_infos)  # (not a dict: see basis.NodeRows)
    read = resolver.digests()
    gone = [rel for rel in changed_files if rel not in read]
    files = dict(basis["files"])
    for rel in gone:
        files.pop(rel, None)
    files.update(read)
    new_basis = {**basis, "infos": infos, "files": files, "per_node": per_node}
    snap = replace(previous, findings=tuple(findings), statuses=tuple(statuses),
                   orphans=orphans, intents=intents).with_rows(previous, redone, fresh_infos)
    if dots is not None:  # (a list, not a table a patch changes: the basis is written anew)
        return snap.with_basis({**new_basis, "dots": dots})
    changes = {"infos": (changed_infos, []), "files": (read, gone),
               "per_node": ({name: per_node[name] for name in per_node_changes
                             if name in per_node},
                            [name for name in per_node_changes if name not in per_node])}
    return snap.patched(changes, new_basis)


__all__ = ["Update", "analyse", "refresh", "basis_of", "watched_paths", "refused_places", "ways",
           "absent_ways"]
