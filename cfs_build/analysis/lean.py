"""One chain without the whole tree: the nodes it names are found one path at a time.

A chain needs only its target, the target's ancestors, the nodes it imports, the
files it names, the output, the manifest and the cache. ``LeanProject`` offers the
part of Project those answers use (root, tree, resolver, manifest, chain), with a
tree whose nodes are looked up on demand: each lookup lists the directories on the
way down exactly as the whole-tree walk does (walk.list_dir), so a node is found
exactly when the walk would find it, and it is read and parsed as the walk reads it.

Where the walk's answer depends on more than that path, the lean reading stops with
NeedsFull and the caller asks a whole Project instead: a symbolic link in a listed
directory or a mount below the tree (the walk then guards against reaching a
directory twice), and any question about the tree as a whole (iterating its nodes).
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from ..errors import CfsError
from ..reading.files import UnreadableFile, read_all
from ..reading.names import TREE_DIR, in_dot_dir, spec_name, tree_node_dir
from ..reading.node import NodeDoc
from ..reading.tree import NodeInfo, Tree, _read_nodes, parse_bytes, summarize
from ..reading.walk import NODE_FILE, LinkInTree, listing, mounts_below
from ..state.artifacts import current_manifest
from ..state.manifest import Manifest, ParseMemo
from .chain import Resolver
from .project import Project
from .snapshot import current_signatures, recorded_directories


class NeedsFull(Exception):
    """The lean reading cannot be sure of the whole-tree answer: analyse the project."""


class _Listings:
    """The directories of code-from-spec/ listed so far, as the walk lists them."""

    def __init__(self, root: Path):
        self.base = os.fspath(root / TREE_DIR)
        self._seen: dict[str, tuple[frozenset[str], bool] | None] = {}
        self._reached: dict[str, bool] = {}
        self._checked = False

    def entries(self, rel: str) -> tuple[frozenset[str], bool] | None:
        """A directory of the tree's subdirectories and whether it holds a _node.md
        (walk.listing; None: it cannot be listed)."""
        if not self._checked:
            # The walk guards itself (and may then see other directories) in these cases.
            if os.path.islink(self.base) or mounts_below(Path(self.base)):
                raise NeedsFull("the tree has a link or a mount point")
            self._checked = True
        if rel in self._seen:
            return self._seen[rel]
        try:
            listed = listing(f"{self.base}/{rel}" if rel else self.base, rel)
        except LinkInTree as link:
            raise NeedsFull(f"{TREE_DIR}/{link.rel} is a symbolic link") from None
        found = self._seen[rel] = None if listed is None else (frozenset(listed[0]), listed[1])
        return found

    def subdirs(self, rel: str) -> frozenset[str]:
        listed = self.entries(rel)
        return frozenset() if listed is None else listed[0]

    def reached(self, rel: str) -> bool:
        """The walk reaches this directory below code-from-spec/ (``rel`` clean, non-empty)."""
        # Asked for a node and each of its ancestors in turn: what is known is kept, and
        # the rest is looked at from the root side down, without recursion (a tree may be
        # deeper than Python recurses).
        pending, here = [], rel
        while here and here not in self._reached:
            pending.append(here)
            here = here.rpartition("/")[0]
        found = self._reached[here] if here else True
        for here in reversed(pending):
            parent, _, name = here.rpartition("/")
            found = self._reached[here] = found and name in self.subdirs(parent)
        return found

    def has_node(self, rel: str) -> bool:
        """The walk takes this reached directory for a node (walk.list_dir's test)."""
        listed = self.entries(rel)
        if listed is None:
            return os.path.isfile(f"{self.base}/{rel}/{NODE_FILE}")
        return listed[1]


class LeanMemo:
    """Parses a long-running server keeps between answers, each keyed by the exact bytes
    it was made from: a file is read again every time, and parsed again when it differs."""

    NODES = 4096  # parses kept: a generation run asks for every leaf in turn

    def __init__(self):
        self.manifest = ParseMemo()
        self._nodes: OrderedDict[str, tuple[bytes, NodeInfo, NodeDoc]] = OrderedDict()
        self._lock = threading.Lock()  # answers are given in several threads at once
        # Directory -> (stat stamp, subdirectories, holds a _node.md) of its last
        # listing (links_below).
        self.listed: dict[str, tuple[tuple, tuple[str, ...]]] = {}
        self.listing = threading.Lock()

    def parsed(self, name: str, file: str, data: bytes) -> tuple[NodeInfo, NodeDoc]:
        """The summary and parse of ``file`` holding ``data`` (tree.summarize's)."""
        with self._lock:
            found = self._nodes.get(file)
            if found is not None and found[0] == data:
                self._nodes.move_to_end(file)
                return found[1], found[2]
        doc = parse_bytes(name, file, data)
        info = summarize(doc)
        with self._lock:
            self._nodes[file] = (data, info, doc)
            self._nodes.move_to_end(file)
            while len(self._nodes) > self.NODES:
                self._nodes.popitem(last=False)
        return info, doc


class _Nodes:
    """Tree.nodes looked up on demand; a question about every node needs the full walk."""

    def __init__(self, root: Path, listings: _Listings, docs: dict[str, NodeDoc],
                 kept: dict[str, bytes], memo: LeanMemo | None):
        self._root, self._listings, self._docs, self._kept = root, listings, docs, kept
        self._memo = memo
        self._found: dict[str, NodeInfo | None] = {}

    def get(self, name: str, default=None):
        if name not in self._found:
            self._found[name] = self._lookup(name)
        found = self._found[name]
        return default if found is None else found

    def _lookup(self, name: str) -> NodeInfo | None:
        rel = tree_node_dir(name)
        if rel is None or not self._listings.reached(rel) or not self._listings.has_node(rel):
            return None
        if self._memo is not None:
            file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
            try:
                # (as the walk reads it)
                data = read_all(f"{self._root}/{file}", os.fspath(self._root))
            except (OSError, UnreadableFile):
                data = None  # unreadable: _read_nodes below words it as the walk does
            if data is not None:
                info, self._docs[name] = self._memo.parsed(name, file, data)
                self._kept[name] = data
                return info
        # Read and parsed exactly as the walk does (no parse index: a handful of files).
        return _read_nodes(self._root, None, self._docs, self._kept, [rel], True)[0]

    def __getitem__(self, name: str) -> NodeInfo:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self):
        raise NeedsFull("a question about every node")

    def items(self):
        raise NeedsFull("a question about every node")

    def __len__(self):
        raise NeedsFull("a question about every node")


class _Children:
    """Tree.children on demand: the nearest nodes below a node, as the walk finds them."""

    def __init__(self, nodes: _Nodes, listings: _Listings):
        self._nodes, self._listings = nodes, listings

    def get(self, name: str, default=None):
        if self._nodes.get(name) is None:
            return default
        return self._below(tree_node_dir(name)) or default

    def _below(self, rel: str) -> list[str]:
        """The nearest nodes below ``rel``: through a directory without _node.md too, as
        the full tree counts them (tree.assemble_tree)."""
        found = []
        for child in sorted(self._listings.subdirs(rel)):
            if child.startswith("."):
                continue  # a dot directory is no part of the tree
            below = f"{rel}/{child}"
            found.extend([spec_name(below)] if self._listings.has_node(below)
                         else self._below(below))
        return found

    def __iter__(self):
        raise NeedsFull("a question about every node")


def lean_tree(root: Path, memo: LeanMemo | None = None) -> Tree:
    """A Tree whose nodes are found and read only when asked for."""
    listings = _Listings(root)
    docs: dict[str, NodeDoc] = {}
    kept: dict[str, bytes] = {}
    nodes = _Nodes(root, listings, docs, kept, memo)
    return Tree(root, nodes, _Children(nodes, listings), [], docs, kept)  # type: ignore[arg-type]


# A listing younger than this is not reused: a link made within the same clock tick as
# the listing would leave the directory's times unchanged.
_SETTLED_NS = 100_000_000


def links_below(root: Path, listed: dict | None) -> tuple[bool, bool]:
    """Whether a symbolic link lies anywhere under code-from-spec/, dot directories
    included, or the tree itself is a link; and whether any node is there. In either
    case v5's scan fails as a whole (no node: `scan: no nodes found`).

    Only directories are listed, never a file read. ``listed``: directory -> (stamp,
    subdirectories, holds a _node.md) from earlier calls; a directory whose stamp is
    unchanged (and was settled when listed) is not listed again, only stat-ed.
    """
    base = os.fspath(root / TREE_DIR)
    if os.path.islink(base):
        return True, False
    if listed is None:
        found = _links_since_snapshot(root)
        if found is not None:
            return found
    stack = [base]
    nodes = False
    now = time.time_ns()
    while stack:
        path = stack.pop()
        try:
            st = os.lstat(path)
        except OSError:
            continue
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
        known = listed.get(path) if listed is not None else None
        if known is not None and known[0] == stamp:
            stack.extend(known[1])
            nodes = nodes or known[2]
            continue
        subdirs, here = [], False
        dotted = in_dot_dir(path[len(base) + 1:])
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        return True, nodes
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.path)
                    elif entry.name == NODE_FILE and path != base and not dotted:
                        here = entry.is_file(follow_symlinks=False)
        except OSError:
            continue
        if listed is not None and now - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS:
            listed[path] = (stamp, tuple(subdirs), here)
        nodes = nodes or here
        stack.extend(subdirs)
    return False, nodes


def _links_since_snapshot(root: Path) -> tuple[bool, bool] | None:
    """links_below's answer from the last snapshot's record of the tree's directories
    (None: no snapshot): only the directories whose stat signature changed since, and
    the new directories found in them, are listed.

    No link was below any recorded directory then (snapshot.recorded_directories), and
    making, removing or replacing an entry changes its directory's times, which cannot
    be set back (the change time); the snapshot was recorded only once they were older
    than the clock's granularity. So a link now is in a directory that changed.
    """
    known = recorded_directories(root)
    if known is None:
        return None
    dirs, recorded, watched = known
    if not dirs or dirs[0] != TREE_DIR:
        return None
    current = current_signatures(root, dirs)
    recorded_set = set(dirs)
    stack: list[str] = []
    nodes = False
    for i, rel in enumerate(dirs):
        if current[i * 32:i * 32 + 32] != recorded[i * 32:i * 32 + 32]:
            stack.append(rel)
        elif not nodes and rel != TREE_DIR and not in_dot_dir(_below_tree(rel)):
            # Unchanged: the _node.md the walk found here is here still (a file cannot
            # become a directory in place, and replacing it changes the directory).
            file = f"{rel}/{NODE_FILE}"
            nodes = file in watched and file not in recorded_set
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(f"{root}/{rel}") as entries:
                found = list(entries)
        except OSError:
            continue  # gone: its parent changed too, and is listed
        for entry in found:
            try:
                if entry.is_symlink():
                    return True, nodes
                if entry.is_dir(follow_symlinks=False):
                    sub = f"{rel}/{entry.name}"
                    if sub not in recorded_set:
                        stack.append(sub)  # new: nothing below it is recorded
                elif entry.name == NODE_FILE and rel != TREE_DIR and not in_dot_dir(_below_tree(rel)):
                    nodes = nodes or entry.is_file(follow_symlinks=False)
            except OSError:
                continue
    return False, nodes


def _below_tree(rel: str) -> str:
    """The part below code-from-spec/ of ``rel``, one of the tree's directories below it."""
    return rel[len(TREE_DIR) + 1:]


class LeanProject:
    """What one chain's answers need of a Project, read without walking the tree."""

    def __init__(self, root: Path | str, memo: LeanMemo | None = None,
                 links: tuple[bool, bool] | None = None):
        """``links``: links_below's answer when the caller knows it still holds (a server
        told of every change in the tree, warm.py)."""
        self.root = Path(root).resolve()
        if not (self.root / TREE_DIR).is_dir():
            raise CfsError(f"{self.root} has no {TREE_DIR}/ directory")
        self._memo = memo
        if links is not None:
            linked, nodes = links
        elif memo is None:
            linked, nodes = links_below(self.root, None)
        else:
            with memo.listing:
                linked, nodes = links_below(self.root, memo.listed)
        if linked or not nodes:
            raise NeedsFull  # v5's scan fails as a whole: the full analysis says so
        self.tree = lean_tree(self.root, memo)

    @cached_property
    def resolver(self) -> Resolver:
        return Resolver(self.tree)

    @cached_property
    def manifest(self) -> Manifest:
        return current_manifest(self.root, self._memo.manifest if self._memo else None)

    # Project's own answers, word for word: with no snapshot they ask only the tree, and
    # the lean tree answers for the names it is given (an output path iterates the nodes:
    # NeedsFull).
    snapshot = None
    node_name = Project.node_name

    def require_scan(self) -> None:
        """Nothing to refuse: a lean reading is made only of a tree without links and with
        a node (links_below)."""
    chain = Project.chain
