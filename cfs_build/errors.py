"""Findings (what is wrong with a tree) and the one exception users ever see."""
from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem found in the tree: where it is, which rule, and what is wrong."""

    node: str
    rule: str
    detail: str
    file: str | None = None
    line: int | None = None
    severity: str = ERROR

    def location(self) -> str:
        if self.file is None:
            return self.node
        return f"{self.file}:{self.line}" if self.line else self.file

    def render(self) -> str:
        tag = "" if self.severity == ERROR else "warning: "
        return f"{self.location()}: {tag}{self.rule}: {self.detail}"

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
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return where + self.message
