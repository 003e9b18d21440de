"""The `command` generator: any program that reads the document on stdin and prints a reply."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

from ..tomlfile import Key
from . import GenerationFailed, Outcome
from .keys import RUN
from .process import run_confined, stderr_tail
from .program import check_command

__all__ = ["CommandGenerator"]


def _anchor(command: list[str], root: Path | None) -> list[str]:
    # The command runs in an empty directory, so a project path such as "tools/gen.py"
    # (or a bare "gen.py" that is a file at the project root) is passed as an absolute
    # path; everything else, options and program names found on PATH, is passed as written.
    if root is None:
        return command
    anchored = []
    for part in command:
        if part and not part.startswith("-") and not os.path.isabs(part):
            path = root / part
            if ("/" in part or part.startswith(".")) and path.exists() or path.is_file():
                part = str(path.resolve())
        anchored.append(part)
    return anchored


@dataclass
class CommandGenerator:
    """Runs ``command`` in a fresh empty directory outside the project, document on stdin."""

    KEYS: ClassVar[dict[str, Key]] = {
        "command": Key((list,), "the program and its arguments, e.g. [\"python3\", \"gen.py\"]",
                       required=True, strings="a non-empty list of strings", min_items=1),
        **RUN,
    }
    EXCLUSIVE: ClassVar[tuple[tuple[str, str], ...]] = ()

    command: list[str]
    timeout: float = 600.0
    max_concurrency: int | None = None
    kind: str = "command"
    model: str | None = None

    @classmethod
    def from_config(cls, table: dict, root: Path | None = None) -> "CommandGenerator":
        check_command(list(table["command"]), root)
        return cls(_anchor(list(table["command"]), root), float(table.get("timeout", 600)),
                   table.get("max_concurrency"))

    def generate(self, document: str, session=None) -> Outcome:
        started = time.monotonic()
        done = run_confined(self.command, document.encode("utf-8"), self.timeout,
                            session=session)
        if done.returncode != 0:
            raise GenerationFailed(f"{self.command[0]} exited with status {done.returncode}"
                                   f"{stderr_tail(done.stderr)}")
        try:
            reply = done.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise GenerationFailed(f"{self.command[0]} printed bytes that are not UTF-8") from None
        return Outcome(reply, seconds=time.monotonic() - started)
