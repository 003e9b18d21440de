"""Chains: the ordered positions a leaf's generation sees, and the v5 chain hash over them."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path

from ..reading.files import NotRegular, Outside, UnreadableFile, normalize_bytes, read_inside
from ..reading.hashing import INPUT_MARKER, b64, chain_hash
from ..reading.ledger import Ledger
from ..reading.names import (ARTIFACT, EXTERNAL, SPEC, TREE_DIR, Name, dotted_node_dir, node_file,
                             normalize, parent_of, spec_of)
from ..reading.node import NodeDoc
from ..reading.tree import NodeInfo, Tree, parse_bytes, summarize
from ..reading.walk import NODE_FILE
from ..reading.unparsed import (go_quote, name_heading_text, parse_error_text, parse_finding,
                                unreadable_text)
from ..reading.outputs import (NOT_A_FILE, Places, clean, external_rel, output_rel,
                               place_problem, v5_path_problem)

ANCESTOR, DEPENDENCY, PUBLIC, AGENT, INPUT = "ancestor", "dependency", "public", "agent", "input"


# What v5's parser stops at before it compares the name heading with the name asked for
# (reading the file, its frontmatter, text before the first heading).
_BEFORE_THE_NAME = frozenset({"unreadable", "encoding", "malformed_frontmatter",
                              "text_before_name_heading"})


@dataclass(frozen=True)
class Position:
    """One non-empty entry of a chain: its label, role, content digest and source."""

    label: str
    role: str
    digest: bytes
    source: Name | None = None  # what to read for the text; None for the target's own blocks
    file: str | None = None  # the project file an ARTIFACT/ or EXTERNAL/ position reads

    @property
    def content_hash(self) -> str:
        return b64(self.digest)


@dataclass(frozen=True)
class Chain:
    """A node's chain. ``hash`` is None when it cannot be computed.

    ``blocked`` lists format problems that make it uncomputable; ``waiting`` lists
    ARTIFACT inputs that are not generated yet (the chain is known once they are).
    ``failure`` is what the v5 tool answers then (FORMAT.md 9.4, steps 5 and 6).
    """

    node: str
    positions: tuple[Position, ...] = ()
    has_input: bool = False
    hash: str | None = None
    blocked: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    failure: str | None = None


class BadReference(ValueError):
    """A depends_on or input entry v5 cannot resolve; the message is v5's detail."""


class UnknownPrefix(BadReference):
    """An entry that starts with none of SPEC/, ARTIFACT/ and EXTERNAL/."""


def chain_reference(raw: str) -> Name:
    """A reference as a chain reads it (FORMAT.md 2): ARTIFACT/ and EXTERNAL/ lose their
    qualifier (`EXTERNAL/notes(v1).txt` reads `notes`); raises BadReference."""
    text, qualifier, trailing = raw, None, ""
    open_at = text.find("(")
    if open_at >= 0:
        close_at = text.find(")", open_at + 1)
        if close_at >= 0:
            qualifier, trailing, text = text[open_at + 1:close_at], text[close_at + 1:], \
                text[:open_at]
    prefix, slash, path = text.partition("/")
    if not slash or prefix not in (SPEC, ARTIFACT, EXTERNAL):
        raise UnknownPrefix(f"unrecognized prefix: {go_quote(raw)}")
    # v5 refuses a SPEC/ name ending with '/' but only an empty EXTERNAL/ one: the file
    # path is cleaned on its way to the disk. A trailing '/' on ARTIFACT/ fails as the
    # SPEC/ name of its node, which v5 looks up before any file is read.
    if not path or (path.endswith("/") and prefix == SPEC):
        raise BadReference(f"invalid name: {go_quote(raw)}")
    if path.endswith("/") and prefix == ARTIFACT:
        raise BadReference(f"resolving artifact {go_quote(raw)}: not a SPEC/ reference: "
                           f"invalid name: {go_quote(f'{SPEC}/{path}')}")
    if prefix != SPEC:
        qualifier, trailing = None, ""
    return Name(raw=raw, prefix=prefix, path=path, qualifier=qualifier, trailing=trailing)


def order_dependencies(names: list[Name]) -> list[Name]:
    """Sort by name, unqualified first, then RAW qualifier; drop what is covered (M1).

    `SPEC/x(Interface)` and `SPEC/x(interface)` stay two positions.
    """
    ordered = sorted(names, key=lambda n: (n.base, n.qualifier is not None, n.qualifier or ""))
    kept: list[Name] = []
    by_base: dict[str, list[Name]] = {}
    for name in ordered:
        earlier = by_base.setdefault(name.base, [])
        # A file (ARTIFACT/, EXTERNAL/) is the same file whatever followed its name.
        if any(k.qualifier is None or k.qualifier == name.qualifier
               or name.prefix != SPEC for k in earlier):
            continue
        earlier.append(name)
        kept.append(name)
    return kept


class Unresolved(Exception):
    """A chain input that cannot be read; ``v5`` is the v5 tool's words for it."""

    def __init__(self, message: str, v5: str, stage: str = "hash"):
        super().__init__(message)
        self.v5 = v5
        self.stage = stage  # "resolve" (FORMAT.md 9.4 step 5) or "hash" (step 6)


class Waiting(Unresolved):
    """An ARTIFACT input whose file has not been generated yet (not a format error)."""


_NO_LINE = "read line: error reading file: file I/O error"  # (what v5 says of a directory)


class _FileProblem(Exception):
    """A file that is there but cannot be opened or read as lines (``v5_failure``)."""

    def __init__(self, cause: UnreadableFile):
        super().__init__(cause.reason)
        self.reason = cause.reason
        self.cause = cause  # what read_inside raised (Outside, NotRegular, ...)

    def v5_failure(self, opening: str) -> str:
        """v5's words after `failed to ` for this file, ``opening`` its words for a file it
        cannot open: a path leading out of the project is refused before anything is
        opened, and a directory opens but yields no line."""
        if isinstance(self.cause, Outside):
            return "open file: path resolves outside project root"
        if isinstance(self.cause, NotRegular) and self.cause.kind == "directory":
            return _NO_LINE
        return opening


# A file as read: its normalized bytes (decoded when its text is asked for: most files
# read are outputs whose checksum is all a status needs), their SHA-1, and whether the
# file was empty.
_Read = tuple[bytes, bytes, bool]
_EMPTY_CHECKSUM = sha1(b"").digest()

# Positions, cfs problems, the positions' digests joined, and v5's failure text,
# that a node passes down.
_Inherited = tuple[tuple[Position, ...], tuple[str, ...], bytes, str | None]


class Resolver:
    """Computes digests and chains for one tree, each at most once per run."""

    def __init__(self, tree: Tree, ledger: Ledger | None = None):
        self.tree = tree
        self.root: Path = tree.root
        self._real_root = os.path.realpath(tree.root)  # files are read only inside it
        self._files: dict[str, _Read | None | _FileProblem] = {}
        self._written: tuple[str, _Read] | None = None  # see chain_after_write
        # Each file's signature as it was read (None: not there, or not a file), for
        # whoever must notice a later change: the project's, when it has one.
        self.ledger = ledger if ledger is not None else Ledger(self.root)
        self._chains: dict[str, Chain] = {}
        self._failures: dict[str, str | None] = {}
        self._places = Places()  # what outputs.place_problem learnt
        # What every node passes down to the chains below it, from its root down:
        # siblings share it, so each ancestor is looked at once however many leaves it has.
        self._inherited: dict[str | None, _Inherited] = {None: ((), (), b"", None)}
        # The nodes in dot directories a chain named (dotted_node_dir), as read: their
        # summary and parse, or the reason they could not be read (None: no such file).
        self._dotted: dict[str, tuple[NodeInfo, NodeDoc] | UnreadableFile | None] = {}

    # -- files -------------------------------------------------------------
    def file_text(self, rel: str) -> str | None:
        """Normalized text of a project file (None if absent); raises UnreadableFile.

        Bytes that are not UTF-8 come back as lone surrogates (surrogateescape): the
        text encodes back to exactly the bytes that were hashed.
        """
        found = self._read(rel)
        if found is None or found[0] is None:  # (None: a digest taken from elsewhere)
            return None
        return found[0].decode("utf-8", "surrogateescape")

    def file_digest(self, rel: str) -> bytes | None:
        """SHA-1 of the normalized read (what a chain position hashes); None if absent."""
        found = self._read(rel)
        return None if found is None else found[1]

    def file_checksum(self, rel: str) -> bytes | None:
        """The manifest checksum's digest (FORMAT.md 7.3): as file_digest, except that a
        0-byte file hashes as the empty byte string."""
        found = self._read(rel)
        if found is None:
            return None
        return _EMPTY_CHECKSUM if found[2] else found[1]

    def _read(self, rel: str) -> _Read | None:
        try:
            found = self._file(rel)
        except _FileProblem as exc:
            raise exc.cause from None
        return found

    def _file(self, rel: str) -> _Read | None:
        if self._written is not None and self.same_file(rel, self._written[0]):
            return self._written[1]  # (chain_after_write: the output as it will be)
        cached = self._files.get(rel, self)
        if cached is self:
            # Absent, or not a regular file, until the read records what it opened.
            self.ledger.record(rel, None)
            try:
                data = read_inside(self._real_root, rel, self.ledger)
                if data is None:
                    cached = None
                else:
                    normalized = normalize_bytes(data)
                    cached = (normalized, sha1(normalized).digest(), not data)
            except UnreadableFile as exc:
                cached = _FileProblem(exc)
            self._files[rel] = cached
        if isinstance(cached, _FileProblem):
            raise cached
        return cached

    def files_read(self) -> list[str]:
        """Every project file looked at so far (present or not), project-relative."""
        return list(self._files)

    def files_missing(self) -> set[str]:
        """The files looked at so far that did not exist."""
        return {rel for rel, found in self._files.items() if found is None}

    def digests(self) -> dict[str, tuple[bytes, bool] | None]:
        """Each file read so far that could be read: (digest, 0-byte) or None (absent)."""
        return {rel: None if found is None else (found[1], found[2])
                for rel, found in self._files.items() if not isinstance(found, _FileProblem)}

    def reads(self, skip: int = 0) -> list[tuple] | None:
        """The files read after the first ``skip``, as (path, what was read, its signature),
        marshal-able; None when one of them could not be read (that is not carried)."""
        out = []
        for rel, found in list(self._files.items())[skip:]:
            if isinstance(found, _FileProblem) or rel not in self.ledger:
                return None
            out.append((rel, found, self.ledger.seen(rel)))
        return out

    def adopt(self, reads: list[tuple]) -> bool:
        """Take files another process read (``reads`` as ``reads`` gives them) as read
        here, with the signatures they were read with. False when a file read here too
        was not the same file then: what the other process made of it does not hold, and
        nothing is taken."""
        for rel, found, seen in reads:
            if rel in self._files and (rel not in self.ledger or self.ledger.seen(rel) != seen):
                return False  # (checked for all before any is taken)
        for rel, found, seen in reads:
            if rel not in self._files:
                self._files[rel] = found
                self.ledger.record_signature(rel, seen)
        return True

    def forget(self, rel: str) -> None:
        """Drop what is known of a file (after it was rewritten)."""
        self._files.pop(rel, None)
        self.ledger.forget(rel)
        self._chains.clear()

    def chain_after_write(self, node: str, rel: str | None, data: bytes) -> Chain:
        """The chain of ``node`` once its output ``rel`` holds ``data``: v5's write_file
        writes first and then computes the chain it records (FORMAT.md 7.6, 11), which
        differs when the chain reads that very file (`EXTERNAL/<its output>`). What is
        known of ``rel`` is dropped again afterwards: nothing has been written yet."""
        if rel is None:  # (an output cfs never writes: refused before any write)
            return self.chain(node)
        self.forget(rel)
        # Every path that leads to the output reads it so (`EXTERNAL/alias/a.txt`, alias
        # a link to its directory inside the project), as v5 reads the disk after writing.
        self._written = (rel, (normalize_bytes(data), sha1(normalize_bytes(data)).digest(),
                               not data))
        try:
            return self.chain(node)
        finally:
            self._written = None
            self._chains.clear()

    def same_file(self, rel: str | None, output: str | None) -> bool:
        """``rel`` is the output ``output`` itself: the same path, or one that leads to it
        through a link inside the project (both project-relative)."""
        if rel is None or output is None:
            return False
        if rel == output:
            return True
        return (os.path.realpath(f"{self._real_root}/{rel}")
                == os.path.realpath(f"{self._real_root}/{output}"))

    # -- nodes ---------------------------------------------------------------
    def node_info(self, node: str) -> NodeInfo | None:
        """The summary of a node a chain names: one of the tree, or one in a dot
        directory (dotted_node_dir); None when there is none that can be read."""
        info = self.tree.nodes.get(node)
        if info is None and dotted_node_dir(node) is not None:
            found = self._dotted_node(node)
            if isinstance(found, tuple):
                return found[0]
        return info

    def node_doc(self, node: str) -> NodeDoc:
        """The parse (with texts) of a node node_info found."""
        if node in self.tree.nodes:
            return self.tree.doc(node)
        found = self._dotted_node(node)
        if not isinstance(found, tuple):
            raise KeyError(node)
        return found[1]

    def _dotted_node(self, node: str) -> tuple[NodeInfo, NodeDoc] | UnreadableFile | None:
        """Read the _node.md of a node in a dot directory, as the tree reads its own (the
        same reader, inside the project only), once per run. Its path is recorded with
        the files read, so a later edit of it is noticed (snapshot, incremental)."""
        if node in self._dotted:
            return self._dotted[node]
        rel = dotted_node_dir(node)
        file = f"{TREE_DIR}/{rel}/{NODE_FILE}"
        found: tuple[NodeInfo, NodeDoc] | UnreadableFile | None
        self.ledger.record(file, None)
        try:
            _no_link_below(str(self.root), file)
            data = read_inside(self._real_root, file, self.ledger)
        except UnreadableFile as exc:
            found = exc
            self._files[file] = _FileProblem(exc)
        else:
            if data is None:
                found = self._files[file] = None
            else:
                doc = parse_bytes(node, file, data)
                found = (summarize(doc), doc)
                normalized = normalize_bytes(data)
                self._files[file] = (normalized, sha1(normalized).digest(), not data)
        self._dotted[node] = found
        return found

    def _absence(self, node: str) -> str:
        """Why there is no node ``node`` to read, in words for a user."""
        found = self._dotted.get(node)
        if isinstance(found, UnreadableFile):
            return f"{found.path} {found.reason}"
        return f"{node} does not exist"

    def parse_failure(self, node: str) -> str | None:
        """v5's parse error for a node (None when it parses); a missing _node.md included."""
        if node in self._failures:
            return self._failures[node]
        info = self.node_info(node)
        if info is None:
            text = self._read_as_another(node)
        else:
            finding = parse_finding(info.findings)
            text = None if finding is None else parse_error_text(self.root, node, finding)
        self._failures[node] = text
        return text

    def _read_as_another(self, node: str) -> str:
        """v5's parse error for a name that is no node's own but whose _node.md path, once
        the OS has read `//`, `.` and `..` in it (`SPEC/a//b`, `SPEC/./a/b`), is the file
        of a node of the tree: v5 opens that file and reads it as far as its name heading,
        which does not match the name asked for. Unreadable, as v5 says, otherwise."""
        where = node_file(node)
        cleaned = clean(where)
        if cleaned == where or not cleaned.startswith(TREE_DIR + "/") \
                or not cleaned.endswith("/" + NODE_FILE):
            return unreadable_text(self.root, node)
        other = SPEC + "/" + cleaned[len(TREE_DIR) + 1:-len(NODE_FILE) - 1]
        info = self.tree.nodes.get(other)
        if info is None:
            # The path v5 names is the one it opened: joined to the root, so cleaned.
            return unreadable_text(self.root, node, cleaned)
        finding = parse_finding(info.findings)
        if finding is not None and finding.rule in _BEFORE_THE_NAME:
            return parse_error_text(self.root, other, finding)
        got = normalize(other)  # the heading matched its own name, unless it is the finding
        if finding is not None and finding.rule == "name_heading":
            got = name_heading_text(finding)
            if got is None:
                return parse_error_text(self.root, other, finding)
        return f"node name does not match: got {go_quote(got)}, want {go_quote(normalize(node))}"

    def content_failure(self, node: str) -> str | None:
        """parse_failure for what others read of ``node`` (its # Public, inherited or
        imported): none when v5 parses it, an output it takes as text included (X4)."""
        info = self.node_info(node)
        if info is not None and info.readable:
            return None
        return self.parse_failure(node)

    # -- references ----------------------------------------------------------
    def reference_digest(self, name: Name, in_input: bool = False) -> bytes | None:
        """Digest of what ``name`` delivers, None when that is empty; raises Unresolved."""
        lead = "" if in_input else "unresolvable artifact: "
        if name.prefix == SPEC:
            info = self.node_info(name.base)
            failure = self.content_failure(name.base)
            if failure is not None:
                why = self._absence(name.base) if info is None else \
                    f"{name.base} has format errors"
                raise Unresolved(why, f"parse failure: {name.base}: {failure}")
            if name.qualifier is None:
                return info.public_digest
            return info.sub_digest(normalize(name.qualifier))
        if name.prefix == ARTIFACT:
            node = spec_of(name.base)
            failure = self.parse_failure(node)
            if failure is not None:
                # v5 quotes the name as written, qualifier included.
                info = self.node_info(node)
                why = self._absence(node) if info is None else \
                    f"the output of {node} is no string; quote it in its frontmatter" \
                    if info.readable else f"{node} cannot be parsed"
                raise Unresolved(f"{name.base}: {why}",
                                 f"{lead}resolving artifact {go_quote(name.raw)}: {failure}",
                                 "resolve")
            info = self.node_info(node)
            if info.output is None:
                raise Unresolved(f"{name.base} is not the artifact of any node with an output",
                                 f"{lead}no output declared: {go_quote(name.raw)}", "resolve")
            if not info.output:
                # v5 resolves the name (x declares an output) and fails opening the path ''.
                raise Unresolved(f"{name.base}: {node} declares an empty output",
                                 "reading file : failed to open file: path is empty")
            rel = output_rel(info.output)
            problem = rel and place_problem(str(self.root), rel, self._places)
            if problem:
                # (only a refused file, not a refused way to it: then its directory is
                # known to be inside the project, and the lstat follows no link)
                if problem == NOT_A_FILE and _plain_directory(f"{self.root}/{rel}"):
                    # X8 keeps cfs from opening it; v5 opens it and reads no line.
                    raise Unresolved(f"{name.base}: {rel} is a directory, not a file (move it "
                                     f"away to have {name.base} generated there)",
                                     f"reading file {info.output}: failed to {_NO_LINE}")
                rel = None  # X8: an output cfs never opens
            return self._required_file(info.output, rel, name.base, Waiting)
        return self._required_file(name.path, external_rel(name.path), name.raw, Unresolved)

    def _required_file(self, path: str, rel: str | None, label: str,
                       absent: type[Unresolved]) -> bytes:
        # v5 names the file it joined to the root (so cleaned) as Go's %q writes it.
        where = go_quote(f"{self.root}/{rel or path.lstrip('/')}")
        opening = f"open file: cannot open file {where} for reading: file unreadable"
        if rel is None:
            problem = v5_path_problem(path)
            if problem is not None:
                raise Unresolved(f"{label}: {path!r} is not a project path v5 reads ({problem})",
                                 f"reading file {path}: failed to open file: {problem}")
            if clean(path) == ".":  # the project root: v5 opens it, and reads no line
                raise Unresolved(f"{label}: {path} is the project directory, not a file",
                                 f"reading file {path}: failed to {_NO_LINE}")
            raise Unresolved(f"{label}: {path} is not a file cfs may read",
                             f"reading file {path}: failed to {opening}")
        try:
            found = self._file(rel)
        except _FileProblem as exc:
            raise Unresolved(f"{label}: {rel} {exc.reason}",
                             f"reading file {path}: failed to {exc.v5_failure(opening)}") from None
        if found is None:
            raise absent(f"{label}: {rel} does not exist",
                         f"reading file {path}: failed to {opening}")
        return found[1]

    # -- chains --------------------------------------------------------------
    def chain(self, node: str) -> Chain:
        found = self._chains.get(node)
        if found is None:
            found = self._build(node)
            self._chains[node] = found
        return found

    def _build(self, node: str) -> Chain:
        info = self.node_info(node)
        if info is None:
            raise KeyError(node)
        inherited, problems, inherited_parts, failure = self._inherit(parent_of(node))
        if info.broken:
            problems += (f"{node} has format errors",)
        if not (info.depends_on or info.input is not None or problems):
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
        blocked: list[str] = list(problems)
        waiting: list[str] = []
        failures: list[Unresolved] = []
        if failure is not None:
            failures.append(Unresolved("", failure))
        parsed: list[Name] = []
        # (place of the entry in depends_on, failure): v5 resolves the entries in the order
        # they are written, so of two it cannot resolve it names the one written first.
        met: list[tuple[int, Unresolved]] = []
        for place, raw in enumerate(info.depends_on):
            try:
                parsed.append(chain_reference(raw))
            except BadReference as exc:
                blocked.append(f"depends_on {raw!r} cannot be resolved: {exc}")
                met.append((place, Unresolved("", f"unresolvable artifact: {exc}", "resolve")))
        places = {raw: place for place, raw in reversed(list(enumerate(info.depends_on)))}
        for name in order_dependencies(parsed):
            before = len(failures)
            self._add(positions, blocked, waiting, failures, name, name.label, DEPENDENCY)
            met += [(places[name.raw], failure) for failure in failures[before:]]
            del failures[before:]
        failures += [f for _, f in sorted((m for m in met if m[1].stage == "resolve"),
                                          key=lambda m: m[0])]
        failures += [f for _, f in met if f.stage != "resolve"]
        if info.public_digest is not None:
            positions.append(Position(node, PUBLIC, info.public_digest))
        if info.agent_digest is not None:
            positions.append(Position(f"AGENT[{node}]", AGENT, info.agent_digest))
        if info.input is not None:
            try:
                name = chain_reference(info.input)
            except BadReference as exc:
                blocked.append(f"input {info.input!r} cannot be resolved: {exc}")
                failures.append(Unresolved("", str(exc), "resolve"))
            else:
                self._add(positions, blocked, waiting, failures, name, f"INPUT[{name.label}]",
                          INPUT)
        if blocked or waiting:
            # v5 resolves every name before it hashes anything (FORMAT.md 9.4, 5 then 6).
            first = next((f for f in failures if f.stage == "resolve"),
                         failures[0] if failures else None)
            v5 = None
            if first is not None:
                v5 = ("resolving chain: " if first.stage == "resolve" else
                      "computing chain hash: ") + first.v5
            return Chain(node, tuple(positions), info.input is not None, None, tuple(blocked),
                         tuple(waiting), v5)
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
        positions, blocked, parts, failure = self._inherited[ancestor]
        for name in reversed(missing):  # root side first
            info = self.node_info(name)
            problem = self.content_failure(name)
            if problem is not None:
                blocked += (f"{name} has no _node.md" if info is None else
                            f"{name} has format errors",)
                if failure is None:
                    failure = f"parse failure: ancestor {name}: {problem}"
            elif info.public_digest is not None:
                positions += (Position(name, ANCESTOR, info.public_digest,
                                       Name(name, SPEC, name[len(SPEC) + 1:])),)
                parts += info.public_digest
            self._inherited[name] = (positions, blocked, parts, failure)
        return positions, blocked, parts, failure

    def _add(self, positions, blocked, waiting, failures, name: Name, label: str,
             role: str) -> None:
        try:
            digest = self.reference_digest(name, role == INPUT)
        except Waiting as exc:
            waiting.append(str(exc))
            failures.append(exc)
            return
        except Unresolved as exc:
            blocked.append(str(exc))
            failures.append(exc)
            return
        if digest is None:
            return
        file = None
        if name.prefix == ARTIFACT:
            file = output_rel(self.node_info(spec_of(name.base)).output)
        elif name.prefix == EXTERNAL:
            file = external_rel(name.path)
        positions.append(Position(label, role, digest, name, file))

    # -- texts ---------------------------------------------------------------
    def position_text(self, chain: Chain, position: Position) -> str:
        """The text a position delivers (what its digest was taken over).

        Invalid UTF-8 of a file stays as lone surrogates: ``.encode("utf-8",
        "surrogateescape")`` gives the hashed bytes back.
        """
        doc = self.node_doc(chain.node)
        if position.role == PUBLIC:
            return doc.public_text
        if position.role == AGENT:
            return doc.agent
        if position.file is not None:
            return self.file_text(position.file) or ""
        name = position.source
        source = self.node_doc(name.base)
        if name.qualifier is None:
            return source.public_text
        sub = source.subsection(name.qualifier)
        return sub.text if sub else ""


def _no_link_below(root: str, file: str) -> None:
    """Raise UnreadableFile when a directory on the way from code-from-spec/ to ``file``
    (or the file) is a symbolic link: cfs never reads the spec tree through one (a link
    there also fails v5's scan as a whole)."""
    parts = file.split("/")
    for depth in range(1, len(parts) + 1):
        path = "/".join(parts[:depth])
        if os.path.islink(f"{root}/{path}"):
            raise UnreadableFile(file, f"is reached through the symbolic link {path}; cfs "
                                 "never follows one in the spec tree")


def _plain_directory(path: str) -> bool:
    """Whether ``path`` is a directory itself, not a link (lstat: nothing is followed)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
