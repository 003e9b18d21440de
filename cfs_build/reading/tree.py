"""Discovering the spec tree: which directories are nodes, their summaries, parents, leaves."""
from __future__ import annotations

import marshal
import os
import stat
from collections import deque
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path

from ..errors import ERROR, WARNING, Finding
from . import parallel
from .files import (NotRegular, UnreadableFile, kind_of, normalize_text, read_all,
                    read_inside)
from .hashing import content_digest
from .index import Index, content_key
from .names import TREE_DIR, byte_order, outside_dots, parent_of, spec_name
from .node import Declared, NodeDoc, parse_node
from .parallel import in_two
from .walk import (NODE_FILE, LinkInTree, NeedsGuard, list_dir, mounts_below, walk_below,
                   walk_dots, walk_guarded)

# v5's words when its scan of code-from-spec/ fails as a whole (FORMAT.md section 1);
# validation then reports that alone.
LINKS_V5 = "listing files: symlinks are not allowed in the spec tree"
NO_NODES_V5 = "no nodes found"
NOT_FOUND_V5 = f"listing files: directory not found: {TREE_DIR}/"
UNLISTED_V5 = "listing files: cannot list "


@dataclass(frozen=True)
class NodeInfo(Declared):
    """What the tree keeps of one node: its frontmatter, block digests and findings.

    Texts are not kept; ``Tree.doc`` re-parses a file when its text is needed.
    A digest is None when that block is empty (an empty position is not hashed).
    """

    public_digest: bytes | None = None
    sub_digests: tuple[tuple[str, bytes], ...] = ()
    agent_digest: bytes | None = None
    intent: str = ""  # the first line under the name heading (doit list shows it)
    findings: tuple[Finding, ...] = ()

    def sub_digest(self, key: str) -> bytes | None:
        for sub_key, digest in self.sub_digests:
            if sub_key == key:
                return digest
        return None

    def has_subsection(self, key: str) -> bool:
        return any(sub_key == key for sub_key, _ in self.sub_digests)

    def to_tuple(self) -> tuple:
        return (self.depends_on, self.dep_lines, self.input, self.input_line, self.output,
                self.output_line, self.has_agent, self.agent_line, self.public_digest,
                self.sub_digests, self.agent_digest, self.intent, _finding_rows(self.findings))

    def row(self) -> bytes:
        """to_tuple() marshalled: a summary as the index stores it and a basis keeps it
        (Tree.rows); from_row undoes it."""
        return marshal.dumps(self.to_tuple())

    @classmethod
    def from_row(cls, name: str, file: str, row: bytes) -> NodeInfo:
        return cls.from_tuple(name, file, marshal.loads(row))

    @classmethod
    def from_tuple(cls, name: str, file: str, data: tuple) -> NodeInfo:
        findings = data[-1]
        if findings:
            findings = tuple(Finding(name, r, d, file, ln, s, v5) for r, d, ln, s, v5 in findings)
        # Filling __dict__ directly, as unpickling does: the frozen __init__ sets 15
        # fields one object.__setattr__ at a time, a real cost on every warm run.
        info = object.__new__(cls)
        info.__dict__.update(zip(_FIELDS, (name, file, *data[:-1], findings)))
        return info


_FIELDS = tuple(f.name for f in fields(NodeInfo))


def summarize(doc: NodeDoc) -> NodeInfo:
    info = object.__new__(NodeInfo)  # as NodeInfo.from_tuple does, for the same reason
    info.__dict__.update(zip(_FIELDS, (doc.name, doc.file, *_summary(doc), doc.findings)))
    return info


def summary_tuple(doc: NodeDoc) -> tuple:
    """``summarize(doc).to_tuple()``, without making the NodeInfo."""
    return (*_summary(doc), _finding_rows(doc.findings))


def _finding_rows(findings: tuple[Finding, ...]) -> tuple:
    """A node's findings as a summary keeps them: plain values, which marshal takes (a
    Severity it does not); NodeInfo.from_tuple makes them findings again."""
    return tuple((f.rule, f.detail, f.line, f.severity.value, f.v5) for f in findings)


def _summary(doc: NodeDoc) -> tuple:
    """The NodeInfo fields between ``file`` and ``findings``, in order."""
    subs: list[tuple[str, bytes]] = []
    seen = set()
    for sub in doc.public:
        if sub.key not in seen:
            seen.add(sub.key)
            subs.append((sub.key, content_digest(sub.text)))
    public = doc.public_text
    return (doc.depends_on, doc.dep_lines, doc.input, doc.input_line, doc.output,
            doc.output_line, doc.has_agent, doc.agent_line,
            content_digest(public) if public else None, tuple(subs),
            content_digest(doc.agent) if doc.agent else None, doc.intent)


@dataclass
class Tree:
    """The nodes of one project, in name order, with the problems found while reading."""

    root: Path
    nodes: dict[str, NodeInfo]
    # Each node's nearest nodes below it (across a directory without _node.md too).
    children: dict[str, list[str]]
    findings: list[Finding] = field(default_factory=list)
    _docs: dict[str, NodeDoc] = field(default_factory=dict, repr=False)
    # The bytes each summary was made from, so a text needed later is parsed from
    # exactly what was hashed and no file is read twice.
    _data: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Every directory the walk listed below code-from-spec/ (project-relative, the base
    # first, dot directories last), and whether it met a mount point (then the walk
    # guards against reaching a directory twice, and no snapshot is kept).
    dirs: tuple[str, ...] = ()
    guarded: bool = False
    # Each node's summary marshalled (NodeInfo.row), as the index stores it and a
    # snapshot's basis keeps it: made once, in the process that read the node.
    rows: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Set when the scan failed as a whole (a symbolic link in the tree): the tree is
    # then empty and this is the one finding validation reports.
    scan_error: Finding | None = None
    # What the analysis derives from these nodes and keeps as long as they are (its
    # dependency graph: analysis.deps.deps_of), keyed by the kind of thing derived.
    derived: dict = field(default_factory=dict, repr=False)

    def is_leaf(self, name: str) -> bool:
        return name in self.nodes and not self.children.get(name)

    def ancestors(self, name: str) -> list[str]:
        """Names of every ancestor, root first (including ones with no _node.md)."""
        chain = []
        parent = parent_of(name)
        while parent is not None:
            chain.append(parent)
            parent = parent_of(parent)
        chain.reverse()
        return chain

    def leaves(self) -> list[str]:
        return [name for name in self.nodes if not self.children.get(name)]

    def under(self, name: str) -> list[str]:
        """Every node at or below ``name``."""
        prefix = name + "/"
        return [n for n in self.nodes if n == name or n.startswith(prefix)]

    def doc(self, name: str) -> NodeDoc:
        """The full parse (with texts) of one node, read once per tree."""
        doc = self._docs.get(name)
        if doc is None:
            info = self.nodes[name]
            data = self._data.get(name)
            if data is None:
                doc = _read_doc(self.root, info.name, info.file)[0]
            else:
                doc = parse_bytes(info.name, info.file, data)
            self._docs[name] = doc
        return doc


def _read_doc(root: Path, name: str, rel: str) -> tuple[NodeDoc, bytes | None]:
    try:
        data = read_inside(os.path.realpath(root), rel)
        if data is None:
            raise FileNotFoundError(2, "No such file or directory")
    except UnreadableFile as exc:
        finding = Finding(name, "unreadable", f"cannot read: {exc.reason}", rel, None)
        return NodeDoc(name, rel, findings=(finding,)), None
    except OSError as exc:
        finding = Finding(name, "unreadable", f"cannot read: {exc.strerror or exc}", rel, None)
        return NodeDoc(name, rel, findings=(finding,)), None
    return parse_bytes(name, rel, data), data


def parse_bytes(name: str, rel: str, data: bytes) -> NodeDoc:
    """The parse of the bytes ``data`` of the _node.md ``rel`` (the node ``name``), as the
    tree parses each of its own: bytes that are no UTF-8 kept, with a warning."""
    try:
        return parse_node(name, rel, normalize_text(data.decode("utf-8")))
    except UnicodeDecodeError as exc:
        # v5 does not decode (FORMAT.md 3): it parses the node and hashes the bytes as they
        # are. Lone surrogates keep them (hashing encodes with surrogateescape).
        doc = parse_node(name, rel, normalize_text(data.decode("utf-8", "surrogateescape")))
        line = data.count(b"\n", 0, exc.start) + 1
        warning = Finding(name, "not_utf8", f"not valid UTF-8 (byte {exc.start}): v5 hashes "
                          "the bytes as they are, and a generator is shown U+FFFD for them; "
                          "save the file as UTF-8", rel, line, WARNING)
        return replace(doc, findings=(*doc.findings, warning))


def _read_nodes(root: Path, index: Index | None, docs: dict[str, NodeDoc],
                kept: dict[str, bytes], rels: list[str], here: bool,
                real_root: str | None = None, rows: dict[str, bytes] | None = None) -> list:
    """For each node directory, what its _node.md yields, from the index or parsed.

    In this process (``here``) that is the NodeInfo itself, with the bytes and any
    parse kept in ``kept`` and ``docs`` and the summary marshalled in ``rows`` (when
    given). In a child process it is the marshal-able (key, marshalled summary,
    unreadable reason); an index hit sends no summary: the parent finds it in its own
    copy of the index.
    ``real_root``: when the walk met a link, each file is read only if it resolves
    inside this (files.read_inside); otherwise the walk has proved there is none.
    """
    out: list = []
    for rel in rels:
        name = spec_name(rel)
        file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
        try:
            if real_root is None:
                data = read_all(f"{root}/{file}", os.fspath(root))
            else:
                data = read_inside(real_root, file)
                if data is None:
                    raise FileNotFoundError(2, "No such file or directory")
        except (OSError, UnreadableFile) as exc:
            reason = f"cannot read: {getattr(exc, 'reason', None) or exc.strerror or exc}"
            if here:
                doc = docs[name] = NodeDoc(name, file, findings=(Finding(
                    name, "unreadable", reason, file, None),))
                info = summarize(doc)
                if rows is not None:
                    rows[name] = info.row()
                out.append(info)
            else:
                out.append((None, None, reason))
            continue
        key = None
        if index is not None:
            key = content_key(data)
            cached = index.get(file, key)
            if cached is not None:
                if here:
                    kept[name] = data
                    if rows is not None:
                        rows[name] = cached
                    out.append(NodeInfo.from_row(name, file, cached))
                else:
                    out.append((key, None, None))
                continue
        doc = parse_bytes(name, file, data)
        if here:
            info = summarize(doc)
            docs[name], kept[name] = doc, data
            row = info.row()
            if rows is not None:
                rows[name] = row
            if index is not None:
                index.put(file, key, row)
            out.append(info)
        else:
            out.append((key, marshal.dumps(summary_tuple(doc)), None))  # (its NodeInfo's row())
    return out


def _walk_and_read(root: Path, index: Index | None, docs: dict[str, NodeDoc],
                   kept: dict[str, bytes], rows: dict[str, bytes],
                   dirs: list[tuple[str, str]], here: bool) -> list:
    """Per (rel, path) of ``dirs``: the directories below it and what their _node.md yield."""
    out = []
    for start in dirs:
        with_node, without, dots = walk_below([start])
        out.append((with_node, without, dots,
                    _read_nodes(root, index, docs, kept, with_node, here, rows=rows)))
    return out


CHILD_SHARE = 0.56


def _scan(root: Path, index: Index | None, docs: dict[str, NodeDoc], kept: dict[str, bytes],
          rows: dict[str, bytes]
          ) -> tuple[list[str], list[str], list[tuple[str, str]], dict[str, object]]:
    """Node directories, bare directories, dot directories met (rel, path), and what each
    _node.md yields (see _read_nodes), the summaries of the nodes read here in ``rows``.
    Raises LinkInTree on a link, NeedsGuard on a mount.

    The first directories are walked breadth first here; once the tree proves big,
    the subtrees still to walk are split with a second process (parallel.in_two).
    """
    base = root / TREE_DIR
    if mounts_below(base):
        raise NeedsGuard
    with_node: list[str] = []
    without: list[str] = []
    dots: list[tuple[str, str]] = []
    pending = deque([("", os.fspath(base))])
    listed = 0
    # The top, then on until the tree is known to be big or has been listed a good way
    # without proving it.
    while pending and (not listed or listed + len(pending) < parallel.MIN_ITEMS
                       and listed < parallel.MIN_ITEMS // 4):
        list_dir(*pending.popleft(), pending.append, with_node, without, dots)
        listed += 1
    results = dict(zip(with_node, _read_nodes(root, index, docs, kept, with_node, True,
                                              rows=rows)))
    work = partial(_walk_and_read, root, index, docs, kept, rows)
    # Neighbours in breadth-first order are alike in size: alternate them between halves.
    rest = list(pending)[0::2] + list(pending)[1::2]
    big = listed + len(rest) >= parallel.MIN_ITEMS
    # This process keeps each node's whole parse and its bytes, and lists the top of
    # the tree alone: the other takes a little more than half of the rest (measured at
    # 10,000 leaves: the two then end together).
    for more, bare, dotted, read in in_two(work, rest, CHILD_SHARE) if big else work(rest, True):
        with_node += more
        without += bare
        dots += (tuple(dot) for dot in dotted)
        results.update(zip(more, read))
    return sorted(with_node, key=byte_order), sorted(without, key=byte_order), dots, results


def load_tree(root: Path, index: Index | None = None) -> Tree:
    """Read every node below ``root/code-from-spec``, using ``index`` to skip re-parsing."""
    base = root / TREE_DIR
    nodes: dict[str, NodeInfo] = {}
    docs: dict[str, NodeDoc] = {}
    kept: dict[str, bytes] = {}
    rows: dict[str, bytes] = {}
    guarded = False
    try:
        if os.path.islink(base):
            raise LinkInTree("")
        try:
            node_dirs, bare_dirs, dots, results = _scan(root, index, docs, kept, rows)
        except NeedsGuard:
            guarded = True
            docs.clear()
            kept.clear()
            rows.clear()
            node_dirs, bare_dirs, dots = walk_guarded(base)
            results = dict(zip(node_dirs, _read_nodes(root, index, docs, kept, node_dirs, True,
                                                      os.path.realpath(root), rows=rows)))
        dot_dirs = walk_dots(dots, guarded)
    except LinkInTree as link:
        return Tree(root, {}, {}, scan_error=link_finding(link.rel,
                                                          getattr(link, "reason", None)))
    for rel in node_dirs:
        result = results[rel]
        name = spec_name(rel)
        if type(result) is NodeInfo:  # read in this process: nothing more to do
            nodes[name] = result
            continue
        file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
        key, row, unreadable = result
        if unreadable is not None:
            doc = docs[name] = NodeDoc(name, file, findings=(Finding(
                name, "unreadable", unreadable, file, None),))
            info = nodes[name] = summarize(doc)
            rows[name] = info.row()
            continue
        if row is None:  # an index hit in the child process: same index, same entry
            row = index.get(file, key)
        elif index is not None:
            index.put(file, key, row)
        rows[name] = row
        nodes[name] = NodeInfo.from_row(name, file, row)
    tree = assemble_tree(root, node_dirs, bare_dirs, nodes, (base / NODE_FILE).is_file(),
                         guarded, docs, kept, dot_dirs)
    tree.rows = rows
    return tree


def assemble_tree(root: Path, node_dirs: list[str], bare_dirs: list[str],
                  nodes: dict[str, NodeInfo], stray: bool, guarded: bool = False,
                  docs: dict | None = None, kept: dict | None = None,
                  dot_dirs: tuple[str, ...] | list[str] = ()) -> Tree:
    """The Tree of these directories (sorted) and their nodes; ``stray``: the tree's
    top holds a _node.md of its own; ``dot_dirs``: the directories below dot directories
    (watched for a link appearing there, see walk.walk_dots)."""
    findings: list[Finding] = []
    for rel in _seen_bare(root, node_dirs, bare_dirs, dot_dirs) if bare_dirs else ():
        findings.append(Finding(spec_name(rel), "missing_node_md", _bare_detail(root, rel),
                                f"{TREE_DIR}/{rel}", None))
    if stray:
        findings.append(Finding("SPEC", "stray_node_md", f"{TREE_DIR}/ itself is not a node; "
                                "its _node.md is ignored", f"{TREE_DIR}/{NODE_FILE}", None,
                                WARNING))
    children: dict[str, list[str]] = {}
    for name in nodes:
        # A node below a directory without _node.md still belongs to the nearest node
        # above it: v5 calls a leaf only a node that no other node's name extends.
        parent = parent_of(name)
        while parent is not None and parent not in nodes:
            parent = parent_of(parent)
        if parent is not None:
            children.setdefault(parent, []).append(name)
    dirs = (TREE_DIR, *(f"{TREE_DIR}/{rel}" for rel in (*node_dirs, *bare_dirs, *dot_dirs)))
    return Tree(root, nodes, children, findings, docs if docs is not None else {},
                kept if kept is not None else {}, dirs=dirs, guarded=guarded)


def _bare_detail(root: Path, rel: str) -> str:
    """Why the directory ``rel`` is no node: it has no _node.md, or one that is no regular
    file (the walk knew that from its listing; looked at again only here, for a directory
    already found bare)."""
    file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
    try:
        mode = os.lstat(f"{root}/{file}").st_mode
    except OSError:
        mode = None
    if mode is None or stat.S_ISREG(mode):
        return ("subdirectory has no _node.md; add one (every directory in the tree is a "
                "node) or rename it to start with '.'")
    kind = kind_of(mode)
    never = "" if kind == "directory" else " (cfs never opens it)"
    return (f"{file} {NotRegular(file, kind).reason}, so this directory is no node{never}; "
            "make it a regular file (every directory in the tree is a node) or rename the "
            "directory to start with '.'")


def _seen_bare(root: Path, node_dirs: list[str], bare_dirs: list[str],
               dot_dirs: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The directories without a _node.md that v5 sees (FORMAT.md 1): those with a file
    somewhere below them, inside a dot directory too (v5 lists every file of the tree and
    leaves out only the directories whose own path has a dot segment). A directory
    holding only empty directories is no finding. A directory that cannot be listed
    stays a finding."""
    bare = set(bare_dirs)
    seen: set[str] = set()

    def mark(rel: str) -> None:
        while rel and rel in bare and rel not in seen:
            seen.add(rel)
            rel = rel.rpartition("/")[0]

    for rel in node_dirs:
        mark(rel.rpartition("/")[0])
    for rel in bare_dirs:
        if rel not in seen and _holds_file(root, rel):
            mark(rel)
    for rel in dot_dirs:
        above = outside_dots(rel)
        if above in bare and above not in seen and _holds_file(root, rel):
            mark(above)
    return [rel for rel in bare_dirs if rel in seen]


def _holds_file(root: Path, rel: str) -> bool:
    """The directory ``rel`` below the tree holds something other than a directory (or
    cannot be listed)."""
    try:
        with os.scandir(f"{root}/{TREE_DIR}/{rel}") as entries:
            return any(not entry.is_dir(follow_symlinks=False) for entry in entries)
    except OSError:
        return True


def read_nodes(root: Path, index: Index | None, node_dirs: list[str]) -> list[NodeInfo]:
    """What the _node.md of each node directory (relative to the tree) yields."""
    return _read_nodes(root, index, {}, {}, node_dirs, True)


def link_finding(rel: str, unlisted: str | None = None) -> Finding:
    """The one finding of a scan that met a symbolic link at ``rel`` below code-from-spec/,
    or (``unlisted``: why) a directory there it could not list."""
    where = f"{TREE_DIR}/{rel}" if rel else TREE_DIR
    if unlisted is not None:
        return Finding("", "scan", f"this directory of the spec tree cannot be listed "
                       f"({unlisted}), so the nodes below it are unknown and no node was "
                       "read; make it readable, or rename it to start with '.'",
                       where, None, ERROR, f"{UNLISTED_V5}{where}: {unlisted}")
    return Finding("", "scan", "symbolic links are not allowed in the spec tree, dot "
                   "directories included (v5 refuses to scan it), and cfs never follows one, "
                   "so no node was read; replace this link with a real directory or file",
                   where, None, ERROR, LINKS_V5)


__all__ = ["NodeInfo", "Tree", "load_tree", "summarize", "link_finding",
           "parse_bytes", "ERROR", "LINKS_V5", "NO_NODES_V5", "NOT_FOUND_V5", "UNLISTED_V5"]
