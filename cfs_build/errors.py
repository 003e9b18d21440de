"""Findings (what is wrong with a tree) and the one exception users ever see."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is: an error stops a build (exit 2); a warning only says that v5
    reads a spec otherwise than it looks (`cfs check --strict` fails on it)."""

    ERROR = "error"
    WARNING = "warning"


ERROR, WARNING = Severity.ERROR, Severity.WARNING


# What must not reach a terminal as itself: C0 and C1 controls (ESC starts the sequences
# that recolour, move the cursor or retitle the window; CR overwrites the line), DEL,
# the bidirectional overrides that reorder what is shown, and lone surrogates (the bytes
# of a file name that is not UTF-8, which would not even encode).
_UNSAFE = ("\x00-\x08\x0b-\x1f\x7f-\x9f"
           "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff")
_UNSAFE_IN_LINE = re.compile(f"[\t\n{_UNSAFE}]")
_UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every control character written as an escape (\\x1b, \\r, \\u202e).

    For names, paths and details on their way to a terminal: a spec directory named with
    ESC must not drive it. ``lines``: keep newlines and tabs (a multi-line message).
    """
    pattern = _UNSAFE_IN_TEXT if lines else _UNSAFE_IN_LINE
    if pattern.search(text) is None:
        return text
    return pattern.sub(_escape, text)


def printable_json(text: str) -> str:
    """JSON text with those characters as \\u escapes: the same data, safe on a terminal.

    (json.dumps escapes C0 controls itself; C1 controls, bidi overrides and the
    surrogates of non-UTF-8 names it would print as they are, with ensure_ascii off.)
    """
    return _UNSAFE_IN_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 name, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class OutputLost(Exception):
    """Standard output failed (not a closed pipe: a full disk, an I/O error); its one line."""

    def __init__(self, exc: OSError):
        super().__init__(f"cannot write the output: {exc.strerror or exc}")


def to_devnull(stream) -> None:
    """Point ``stream``'s descriptor at /dev/null once writing to it failed: nothing more
    can be shown, and the interpreter's flush at exit would fail on the same bytes. A
    stream with no descriptor (a caller's own) is left alone."""
    try:
        out = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, out)
    finally:
        os.close(devnull)


@dataclass(frozen=True)
class Finding:
    """One problem found in the tree: where it is, which rule, and what is wrong."""

    node: str
    rule: str
    detail: str
    file: str | None = None
    line: int | None = None
    severity: Severity = ERROR
    # The v5 tool's own words for this problem, where they differ from ``detail`` and cfs
    # knows them (a frontmatter's YAML error: goccy/go-yaml's message and excerpt).
    v5: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Stored findings come back with plain words (marshal keeps no str subclass).
        if type(self.severity) is not Severity:
            object.__setattr__(self, "severity", Severity(self.severity))

    def row(self) -> tuple:
        """Its fields as plain values, as the snapshot and a second process carry it
        (marshal keeps no enum): ``Finding(*row)`` makes it again."""
        return (self.node, self.rule, self.detail, self.file, self.line, self.severity.value,
                self.v5)

    def location(self) -> str:
        if self.file is None:
            return self.node
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        tag = "" if self.severity == ERROR else "warning: "
        return f"{printable(self.location())}: {tag}{self.rule}: " \
               f"{printable(self.detail, lines=True)}"

    def as_dict(self) -> dict:
        return {
            "node": self.node,
            "rule": self.rule,
            "detail": self.detail,
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
        }


class CfsError(Exception):
    """A user-facing failure: printed as one line, never as a traceback.

    ``exit_code`` follows the CLI contract: 2 for format problems, 3 for
    usage and I/O problems.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 exit_code: int = 3):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.exit_code = exit_code

    def __str__(self) -> str:
        where = ""
        if self.file:
            file = printable(self.file)
            where = f"{file}:{self.line}: " if self.line else f"{file}: "
        return where + printable(self.message, lines=True)
