"""Chains: the ordered positions a leaf's generation sees, and the v5 chain hash over them."""
from __future__ import annotations

import os
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path, PurePosixPath

from .files import UnreadableFile, decode, normalize_text, read_inside
from .hashing import INPUT_MARKER, b64, chain_hash, content_digest
from .names import ARTIFACT, SPEC, BadName, Name, parent_of, parse_name, spec_of
from .tree import Tree

ANCESTOR, DEPENDENCY, PUBLIC, AGENT, INPUT = "ancestor", "dependency", "public", "agent", "input"


@dataclass(frozen=True)
class Position:
    """One non-empty entry of a chain: its label, role, content digest and source."""

    label: str
    role: str
    digest: bytes
    source: Name | None = None  # what to read for the text; None for the target's own blocks

    @property
    def content_hash(self) -> str:
        return b64(self.digest)


@dataclass(frozen=True)
class Chain:
    """A leaf's chain. ``hash`` is None when it cannot be computed.

    ``blocked`` lists format problems that make it uncomputable; ``waiting`` lists
    ARTIFACT inputs that are not generated yet (the chain is known once they are).
    """

    node: str
    positions: tuple[Position, ...] = ()
    has_input: bool = False
    hash: str | None = None
    blocked: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


def order_dependencies(names: list[Name]) -> list[Name]:
    """Sort by name, unqualified first, then normalized qualifier; drop what is covered."""
    ordered = sorted(names, key=lambda n: (n.base, n.qualifier is not None, n.norm_qualifier or ""))
    kept: list[Name] = []
    by_base: dict[str, list[Name]] = {}
    for name in ordered:
        earlier = by_base.setdefault(name.base, [])
        # A file (ARTIFACT/, EXTERNAL/) is the same file whatever follows its name.
        if any(k.qualifier is None or k.norm_qualifier == name.norm_qualifier
               or name.prefix != SPEC for k in earlier):
            continue
        earlier.append(name)
        kept.append(name)
    return kept


def safe_relpath(path: str) -> str | None:
    """The path as a clean project-relative POSIX path, or None if it could leave the root."""
    if not path or "\\" in path or path.startswith("/") or "\0" in path:
        return None
    pieces = path.split("/")
    if "" not in pieces and "." not in pieces and ".." not in pieces:
        return path  # already clean: the common case, without building a PurePosixPath
    parts = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) if parts else None


class Unresolved(Exception):
    """A chain input that cannot be read; the message says which and why."""


class Waiting(Unresolved):
    """An ARTIFACT input whose file has not been generated yet (not a format error)."""


# Positions, problems, and the positions' digests joined, that a node passes down.
_Inherited = tuple[tuple[Position, ...], tuple[str, ...], bytes]


class Resolver:
    """Computes digests and chains for one tree, each at most once per run."""

    def __init__(self, tree: Tree):
        self.tree = tree
        self.root: Path = tree.root
        self._real_root = os.path.realpath(tree.root)  # files are read only inside it
        self._files: dict[str, tuple[str | None, bytes | None] | UnreadableFile] = {}
        # Each file's stamp as it was read (None: not there), for whoever must notice
        # a later change (files.stamp).
        self.stamps: dict[str, tuple | None] = {}
        self._chains: dict[str, Chain] = {}
        # What every node passes down to the chains below it (positions, problems and
        # their digests joined), from its root down: siblings share it, so each
        # ancestor is looked at once however many leaves it has.
        self._inherited: dict[str | None, _Inherited] = {None: ((), (), b"")}

    # -- files -------------------------------------------------------------
    def file_text(self, rel: str) -> str | None:
        """Normalized text of a project file (None if absent); raises UnreadableFile."""
        return self._file(rel)[0]

    def file_digest(self, rel: str) -> bytes | None:
        return self._file(rel)[1]

    def _file(self, rel: str) -> tuple[str | None, bytes | None]:
        cached = self._files.get(rel)
        if cached is None:
            seen: list = []
            try:
                data = read_inside(self._real_root, rel, seen)
                if data is None:
                    cached = (None, None)
                else:
                    text = decode(data, rel)
                    if "\r" not in text and text.endswith("\n"):
                        # Already normalized: the bytes read are exactly its UTF-8.
                        cached = (text, sha1(data).digest())
                    else:
                        text = normalize_text(text)
                        cached = (text, content_digest(text))
            except UnreadableFile as exc:
                cached = exc
            self._files[rel] = cached
            self.stamps[rel] = seen[0] if seen else None
        if isinstance(cached, UnreadableFile):
            raise cached
        return cached

    def files_read(self) -> list[str]:
        """Every project file looked at so far (present or not), project-relative."""
        return list(self._files)

    def files_missing(self) -> set[str]:
        """The files looked at so far that did not exist."""
        return {rel for rel, found in self._files.items() if found == (None, None)}

    def forget(self, rel: str) -> None:
        """Drop what is known of a file (after it was rewritten)."""
        self._files.pop(rel, None)
        self.stamps.pop(rel, None)
        self._chains.clear()

    # -- references ----------------------------------------------------------
    def reference_digest(self, name: Name) -> bytes | None:
        """Digest of what ``name`` delivers, None when that is empty; raises Unresolved."""
        tree = self.tree
        if name.prefix == SPEC:
            info = tree.nodes.get(name.base)
            if info is None:
                raise Unresolved(f"{name.base} does not exist")
            if info.broken:
                raise Unresolved(f"{name.base} has format errors")
            if name.qualifier is None:
                return info.public_digest
            return info.sub_digest(name.norm_qualifier)
        if name.prefix == ARTIFACT:
            info = tree.nodes.get(spec_of(name.base))
            if info is None or info.output is None or not tree.is_leaf(info.name):
                raise Unresolved(f"{name.base} is not an artifact of any leaf")
            rel = safe_relpath(info.output)
            if rel is None:
                raise Unresolved(f"{name.base} has an invalid output path")
            return self._required_file(rel, name.base, Waiting)
        rel = safe_relpath(name.path)
        if rel is None:
            raise Unresolved(f"{name.raw} is not a path inside the project")
        return self._required_file(rel, name.raw, Unresolved)

    def _required_file(self, rel: str, label: str, absent: type[Unresolved]) -> bytes:
        try:
            digest = self.file_digest(rel)
        except UnreadableFile as exc:
            raise Unresolved(f"{label}: {rel} {exc.reason}") from None
        if digest is None:
            raise absent(f"{label}: {rel} does not exist")
        return digest

    # -- chains --------------------------------------------------------------
    def chain(self, node: str) -> Chain:
        found = self._chains.get(node)
        if found is None:
            found = self._build(node)
            self._chains[node] = found
        return found

    def _build(self, node: str) -> Chain:
        info = self.tree.nodes[node]
        inherited, problems, inherited_parts = self._inherit(parent_of(node))
        if not (info.depends_on or info.input is not None or problems or info.broken):
            # Most leaves: the inherited positions, then their own public and agent.
            positions, parts = inherited, [inherited_parts]
            if info.public_digest is not None:
                positions += (Position(node, PUBLIC, info.public_digest),)
                parts.append(info.public_digest)
            if info.agent_digest is not None:
                positions += (Position(f"AGENT[{node}]", AGENT, info.agent_digest),)
                parts.append(info.agent_digest)
            return Chain(node, positions, False, chain_hash(parts))
        positions: list[Position] = list(inherited)
        blocked: list[str] = []
        waiting: list[str] = []
        if info.broken:
            blocked.append(f"{node} has format errors")
        blocked.extend(problems)
        parsed: list[Name] = []
        for raw in info.depends_on:
            try:
                parsed.append(parse_name(raw))
            except BadName as exc:
                blocked.append(str(exc))
        for name in order_dependencies(parsed):
            self._add(positions, blocked, waiting, name, name.label, DEPENDENCY)
        if info.public_digest is not None:
            positions.append(Position(node, PUBLIC, info.public_digest))
        if info.agent_digest is not None:
            positions.append(Position(f"AGENT[{node}]", AGENT, info.agent_digest))
        if info.input is not None:
            try:
                name = parse_name(info.input)
            except BadName as exc:
                blocked.append(str(exc))
            else:
                self._add(positions, blocked, waiting, name, f"INPUT[{info.input}]", INPUT)
        if blocked or waiting:
            return Chain(node, tuple(positions), info.input is not None, None, tuple(blocked),
                         tuple(waiting))
        parts = []
        for position in positions:
            if position.role == INPUT:
                parts.append(INPUT_MARKER)
            parts.append(position.digest)
        if info.input is not None and not any(p.role == INPUT for p in positions):
            parts.append(INPUT_MARKER)
        return Chain(node, tuple(positions), info.input is not None, chain_hash(parts))

    def _inherit(self, ancestor: str | None) -> _Inherited:
        """What a node inherits from ``ancestor`` and everything above it."""
        missing = []
        while ancestor not in self._inherited:
            missing.append(ancestor)
            ancestor = parent_of(ancestor)
        positions, blocked, parts = self._inherited[ancestor]
        for name in reversed(missing):  # root side first
            info = self.tree.nodes.get(name)
            if info is None:
                blocked += (f"{name} has no _node.md",)
            elif info.broken:
                blocked += (f"{name} has format errors",)
            elif info.public_digest is not None:
                positions += (Position(name, ANCESTOR, info.public_digest,
                                       Name(name, SPEC, name[len(SPEC) + 1:])),)
                parts += info.public_digest
            self._inherited[name] = (positions, blocked, parts)
        return positions, blocked, parts

    def _add(self, positions, blocked, waiting, name: Name, label: str, role: str) -> None:
        try:
            digest = self.reference_digest(name)
        except Waiting as exc:
            waiting.append(str(exc))
            return
        except Unresolved as exc:
            blocked.append(str(exc))
            return
        if digest is not None:
            positions.append(Position(label, role, digest, name))

    # -- texts ---------------------------------------------------------------
    def position_text(self, chain: Chain, position: Position) -> str:
        """The text a position delivers (what its digest was taken over)."""
        doc = self.tree.doc(chain.node)
        if position.role == PUBLIC:
            return doc.public_text
        if position.role == AGENT:
            return doc.agent
        name = position.source
        if name.prefix == SPEC:
            source = self.tree.doc(name.base)
            if name.qualifier is None:
                return source.public_text
            sub = source.subsection(name.qualifier)
            return sub.text if sub else ""
        if name.prefix == ARTIFACT:
            rel = safe_relpath(self.tree.nodes[spec_of(name.base)].output)
        else:
            rel = safe_relpath(name.path)
        return self.file_text(rel) or ""
