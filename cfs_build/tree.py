"""Discovering the spec tree: which directories are nodes, their summaries, parents, leaves."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ERROR, WARNING, Finding
from .files import UnreadableFile, decode, normalize_text
from .hashing import content_digest
from .index import Index, content_key
from .names import TREE_DIR, parent_of, spec_name
from .node import BREAKING_RULES, NodeDoc, parse_node

NODE_FILE = "_node.md"


@dataclass(frozen=True)
class NodeInfo:
    """What the tree keeps of one node: its frontmatter, block digests and findings.

    Texts are not kept; ``Tree.doc`` re-parses a file when its text is needed.
    A digest is None when that block is empty (an empty position is not hashed).
    """

    name: str
    file: str
    depends_on: tuple[str, ...] = ()
    dep_lines: tuple[int, ...] = ()
    input: str | None = None
    input_line: int | None = None
    output: str | None = None
    output_line: int | None = None
    has_agent: bool = False
    agent_line: int | None = None
    public_digest: bytes | None = None
    sub_digests: tuple[tuple[str, bytes], ...] = ()
    agent_digest: bytes | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def broken(self) -> bool:
        return any(f.rule in BREAKING_RULES for f in self.findings)

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
                self.sub_digests,
                self.agent_digest,
                tuple((f.rule, f.detail, f.line, f.severity) for f in self.findings))

    @classmethod
    def from_tuple(cls, name: str, file: str, data: tuple) -> NodeInfo:
        *head, findings = data
        return cls(name, file, *head,
                   findings=tuple(Finding(name, r, d, file, ln, s) for r, d, ln, s in findings))


def summarize(doc: NodeDoc) -> NodeInfo:
    subs: list[tuple[str, bytes]] = []
    seen = set()
    for sub in doc.public:
        if sub.key not in seen:
            seen.add(sub.key)
            subs.append((sub.key, content_digest(sub.text)))
    public = doc.public_text
    return NodeInfo(
        doc.name, doc.file, doc.depends_on, doc.dep_lines, doc.input, doc.input_line,
        doc.output, doc.output_line, doc.has_agent, doc.agent_line,
        content_digest(public) if public else None, tuple(subs),
        content_digest(doc.agent) if doc.agent else None, doc.findings,
    )


@dataclass
class Tree:
    """The nodes of one project, in name order, with the problems found while reading."""

    root: Path
    nodes: dict[str, NodeInfo]
    children: dict[str, list[str]]
    findings: list[Finding] = field(default_factory=list)
    _docs: dict[str, NodeDoc] = field(default_factory=dict, repr=False)

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
            doc = _read_doc(self.root, info.name, info.file)[0]
            self._docs[name] = doc
        return doc


def _read_doc(root: Path, name: str, rel: str) -> tuple[NodeDoc, bytes | None]:
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        finding = Finding(name, "unreadable", f"cannot read: {exc.strerror or exc}", rel, None)
        return NodeDoc(name, rel, findings=(finding,)), None
    try:
        text = normalize_text(decode(data, rel))
    except UnreadableFile as exc:
        return NodeDoc(name, rel, findings=(Finding(name, "encoding", exc.reason, rel, None),)), data
    return parse_node(name, rel, text), data


def _walk(base: Path) -> tuple[list[str], list[str]]:
    """Relative directories below ``base`` with and without a _node.md (dot dirs skipped)."""
    with_node, without = [], []
    seen: set[tuple[int, int]] = set()
    stack = [("", base)]
    while stack:
        rel, path = stack.pop()
        try:
            stat = path.stat()
            entries = list(os.scandir(path))
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                child = f"{rel}/{entry.name}" if rel else entry.name
                target = with_node if os.path.isfile(os.path.join(entry.path, NODE_FILE)) else without
                target.append(child)
                stack.append((child, Path(entry.path)))
    return sorted(with_node), sorted(without)


def load_tree(root: Path, index: Index | None = None) -> Tree:
    """Read every node below ``root/code-from-spec``, using ``index`` to skip re-parsing."""
    base = root / TREE_DIR
    node_dirs, bare_dirs = _walk(base)
    findings: list[Finding] = []
    for rel in bare_dirs:
        findings.append(Finding(spec_name(rel), "missing_node_md", "subdirectory has no "
                                "_node.md; add one (every directory in the tree is a node) or "
                                "rename it to start with '.'", f"{TREE_DIR}/{rel}", None))
    if (base / NODE_FILE).is_file():
        findings.append(Finding("SPEC", "stray_node_md", f"{TREE_DIR}/ itself is not a node; "
                                "its _node.md is ignored", f"{TREE_DIR}/{NODE_FILE}", None,
                                WARNING))
    nodes: dict[str, NodeInfo] = {}
    docs: dict[str, NodeDoc] = {}
    for rel in node_dirs:
        name = spec_name(rel)
        file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
        info = None
        try:
            data = (root / file).read_bytes()
        except OSError:
            data = None
        if data is not None and index is not None:
            key = content_key(data)
            cached = index.get(file, key)
            if cached is not None:
                info = NodeInfo.from_tuple(name, file, cached)
        if info is None:
            doc, data = _read_doc(root, name, file)
            docs[name] = doc
            info = summarize(doc)
            if data is not None and index is not None:
                index.put(file, content_key(data), info.to_tuple())
        nodes[name] = info
    children: dict[str, list[str]] = {}
    for name in nodes:
        parent = parent_of(name)
        if parent is not None:
            children.setdefault(parent, []).append(name)
    return Tree(root, nodes, children, findings, docs)


__all__ = ["NodeInfo", "Tree", "load_tree", "summarize", "ERROR"]
