"""Logical names (SPEC/, ARTIFACT/, EXTERNAL/), qualifiers and heading normalization."""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

SPEC = "SPEC"
ARTIFACT = "ARTIFACT"
EXTERNAL = "EXTERNAL"
PREFIXES = (SPEC, ARTIFACT, EXTERNAL)
TREE_DIR = "code-from-spec"

_BLANKS = re.compile(r"[ \t]+")


def nearest_root(start: str) -> str | None:
    """The nearest directory at or above ``start`` (its real path) that holds
    code-from-spec/, or None. A link there (even a dangling one) counts: it is this
    project's tree, which the scan reports; passing over it would make cfs work on an
    enclosing project instead."""
    here = os.path.realpath(start)
    while True:
        tree = os.path.join(here, TREE_DIR)
        if os.path.isdir(tree) or os.path.islink(tree):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def byte_order(text: str) -> bytes:
    """Sort key: ``text`` compared as v5 (Go) compares strings, byte by byte. The same as
    Python's order for UTF-8 text, but a byte that is no UTF-8 (read as a lone surrogate,
    U+DC80..U+DCFF) sorts by its value: after 'é', before '😀' for 0x80; last for 0xff."""
    return text.encode("utf-8", "surrogateescape")


def normalize(text: str) -> str:
    """Heading normalization: trim and collapse spaces/tabs only, then case-fold."""
    text = text.strip(" \t")
    if "\t" in text or "  " in text:  # else every run of blanks is one space already
        text = _BLANKS.sub(" ", text)
    return text.casefold()


@dataclass(frozen=True)
class Name:
    """A parsed reference such as ``SPEC/a/b(Interface)`` or ``EXTERNAL/proto/x.proto``."""

    raw: str
    prefix: str
    path: str
    qualifier: str | None = None
    trailing: str = ""

    @property
    def base(self) -> str:
        """The name without its qualifier."""
        return f"{self.prefix}/{self.path}"

    @property
    def norm_qualifier(self) -> str | None:
        return None if self.qualifier is None else normalize(self.qualifier)

    @property
    def label(self) -> str:
        """How the name is shown in chains: the qualifier as it was written; a file
        (ARTIFACT/, EXTERNAL/) is the same file whatever follows its name."""
        if self.qualifier is None or self.prefix != SPEC:
            return self.base
        return f"{self.base}({self.qualifier})"


class BadName(ValueError):
    """A reference that does not parse; the message says why."""


def parse_name(raw: str) -> Name:
    """Split a reference into prefix, path and qualifier, or raise BadName."""
    text = raw
    qualifier = None
    trailing = ""
    open_at = text.find("(")
    if open_at >= 0:
        close_at = text.find(")", open_at + 1)
        if close_at >= 0:
            qualifier = text[open_at + 1:close_at]
            trailing = text[close_at + 1:]
            text = text[:open_at]
    prefix, slash, path = text.partition("/")
    if not slash or not path:
        raise BadName(f"{raw!r} is not PREFIX/path (expected SPEC/, ARTIFACT/ or EXTERNAL/)")
    if prefix not in PREFIXES:
        raise BadName(f"unknown prefix {prefix + '/'!r} in {raw!r} (expected SPEC/, ARTIFACT/ or EXTERNAL/)")
    if prefix == SPEC and path.endswith("/"):
        raise BadName(f"{raw!r} is an invalid name: a SPEC/ name does not end with '/'")
    # FORMAT.md's rule applies to every name: ARTIFACT/p(q) is read as ARTIFACT/p, and
    # EXTERNAL/a(1).txt names the file "a" (validation says so).
    return Name(raw=raw, prefix=prefix, path=path, qualifier=qualifier, trailing=trailing)


def spec_name(node_dir: str) -> str:
    """Logical name of the node whose directory below code-from-spec/ is ``node_dir``."""
    return f"{SPEC}/{node_dir}"


def artifact_of(spec: str) -> str:
    return ARTIFACT + spec[len(SPEC):]


def spec_of(artifact: str) -> str:
    return SPEC + artifact[len(ARTIFACT):]


def names_read_as_utf8() -> bool:
    """This Python decodes file names as UTF-8, as v5 reads every name (not so under
    LC_ALL=C with PYTHONUTF8=0, or a Latin-1 locale: `zürich/` would not match its
    heading)."""
    return sys.getfilesystemencoding().lower() in ("utf-8", "utf8")


def node_of_entry(name: str) -> str | None:
    """The node a manifest entry's name is the artifact of, or None: the name is read as it
    was written (FORMAT.md 7.2), and only ARTIFACT/x belongs to SPEC/x."""
    return spec_of(name) if name.startswith(ARTIFACT + "/") and name != ARTIFACT + "/" else None


def parent_of(spec: str) -> str | None:
    head, _, _ = spec.rpartition("/")
    return None if head == SPEC else head


def in_dot_dir(rel: str) -> bool:
    """``rel``, a path below code-from-spec/, is a dot directory or lies below one (one of
    its segments starts with '.'): no part of the tree (FORMAT.md 1), walked only for links."""
    return rel.startswith(".") or "/." in rel


def outside_dots(rel: str) -> str:
    """The part of ``rel`` (a path below code-from-spec/) before its first dot segment:
    ``rel`` itself when not in_dot_dir(rel), "" when its first segment is one."""
    if rel.startswith("."):
        return ""
    at = rel.find("/.")
    return rel if at < 0 else rel[:at]


def below_tree(path: str) -> str | None:
    """The part below code-from-spec/ of the project-relative ``path``; None when ``path``
    is not below it."""
    return path[len(TREE_DIR) + 1:] if path.startswith(TREE_DIR + "/") else None


def _plain_spec_dir(name: str) -> str | None:
    """The directory below code-from-spec/ a `SPEC/` name spells when each of its segments
    names a directory of its own (not empty, `.` or `..`, no NUL); None otherwise."""
    if not name.startswith(SPEC + "/"):
        return None
    rel = name[len(SPEC) + 1:]
    if "\0" in rel or any(part in ("", ".", "..") for part in rel.split("/")):
        return None
    return rel


def tree_node_dir(name: str) -> str | None:
    """The directory below code-from-spec/ a walk of the tree would name ``name`` after,
    None when no walk names a node so (not a `SPEC/` name of plain segments, or one in a
    dot directory)."""
    rel = _plain_spec_dir(name)
    return rel if rel is not None and not in_dot_dir(rel) else None


def dotted_node_dir(name: str) -> str | None:
    """The directory below code-from-spec/ of a `SPEC/` name inside a dot directory
    (`SPEC/.shared/x` -> `.shared/x`), None for any other name.

    Such a node is no part of the tree (FORMAT.md 1), yet v5 reads it by its path when a
    chain names it (as an import, an input, or the node of an `ARTIFACT/`): its chain
    hash and document hold that node's text. Only plain directory names count: an empty,
    `.` or `..` segment names no directory of its own.
    """
    rel = _plain_spec_dir(name)
    return rel if rel is not None and in_dot_dir(rel) else None


def node_file(spec: str) -> str:
    """Project-relative path of a node's _node.md."""
    return f"{TREE_DIR}/{spec[len(SPEC) + 1:]}/_node.md"


def is_within(spec: str, ancestor: str) -> bool:
    """True when ``spec`` is ``ancestor`` or lies below it."""
    return spec == ancestor or spec.startswith(ancestor + "/")


def references(depends_on: tuple[str, ...], input_: str | None):
    """(raw text, "depends_on" or "input", parsed Name) for each reference that parses.

    Validation reports the ones that do not; graph builders simply skip them.
    """
    refs = [(raw, "depends_on") for raw in depends_on]
    if input_ is not None:
        refs.append((input_, "input"))
    for raw, via in refs:
        try:
            yield raw, via, parse_name(raw)
        except BadName:
            continue
