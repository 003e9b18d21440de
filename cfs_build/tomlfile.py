"""cfs.toml as read: its text, the line that sets a key, and what one key accepts."""
from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import CfsError
from .reading.files import NotRegular, UnreadableFile, kind_of, read_regular

CONFIG_FILE = "cfs.toml"


@dataclass(frozen=True)
class Key:
    """One configuration key: accepted types, its meaning (for messages) and its limits.

    Each generator backend declares its own keys (its class's KEYS); ``strings``: for a
    list, how to say it must be made of strings ("a list of strings"). ``zero_ok``: 0 is
    meaningful; for other numbers it would time out at once or, for a semaphore,
    silently mean "no limit". ``most``: beyond it a value is a typo, not a wish (and the
    OS's own waits overflow).
    """

    types: tuple[type, ...]
    meaning: str
    required: bool = False
    strings: str | None = None
    min_items: int = 0
    zero_ok: bool = False
    most: float | None = None


@dataclass(frozen=True)
class Source:
    """The file a table came from and its text, to name the line of a key in an error."""

    name: str
    text: str

    def error(self, message: str, key: str | None = None) -> CfsError:
        return CfsError(message, file=self.name, line=self.line_of(key) if key else None)

    def line_of(self, path: str) -> int | None:
        """The line that sets ``path`` ("generator.kind", "verify[2].command"), or that
        opens the table ``path`` names ("verify[2]": its ``[[verify]]``), if found."""
        whole = re.fullmatch(r"(.*)\[(\d+)\]", path)
        if whole:
            return self._header_line(whole.group(1), int(whole.group(2)))
        table, _, key = path.rpartition(".")
        indexed = re.fullmatch(r"(.*)\[(\d+)\]", table)
        wanted = int(indexed.group(2)) if indexed else 0
        table = indexed.group(1) if indexed else table
        current, seen = "", 0
        for number, line in enumerate(self.text.split("\n"), start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                current = _bare(stripped.lstrip("[").split("]", 1)[0])
                seen += current == table
                if current == path:
                    return number
                continue
            setting = re.match(r"([^=#\[]+?)\s*=", stripped)
            if setting is None or (wanted and current == table and seen != wanted):
                continue
            full = f"{current}.{_bare(setting.group(1))}" if current else _bare(setting.group(1))
            if full == (f"{table}.{key}" if table else key):
                return number
        return None

    def _header_line(self, table: str, wanted: int) -> int | None:
        seen = 0
        for number, line in enumerate(self.text.split("\n"), start=1):
            stripped = line.strip()
            if stripped.startswith("[["):
                seen += _bare(stripped.lstrip("[").split("]", 1)[0]) == table
                if seen == wanted:
                    return number
        return None


def _bare(key: str) -> str:
    return re.sub(r"""\s*\.\s*""", ".", key.strip()).replace('"', "").replace("'", "")


def _not_regular(name: str, kind: str) -> CfsError:
    return CfsError(f"{NotRegular(name, kind).reason}; cfs reads its settings only "
                    "from a regular file: replace it with one, or remove it", file=name)


def exists(path: Path, name: str) -> bool:
    """Whether the configuration file ``name`` is there: a regular file (any link
    followed). Anything else there (a directory, a FIFO, a device) raises CfsError, never
    opened: opening a FIFO waits for a writer, or wakes one."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise CfsError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(name, kind_of(mode))
    return True


def read_source(path: Path, name: str) -> Source:
    try:
        data = read_regular(os.fspath(path), name)
        if data is None:
            raise FileNotFoundError(2, "No such file or directory")
        # (newlines as open() in text mode reads them, as before)
        return Source(name, data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))
    except NotRegular as exc:
        raise _not_regular(name, exc.kind) from None
    except UnreadableFile as exc:
        raise CfsError(f"cannot read: {exc.reason}", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CfsError(f"cannot read: {exc}", file=name) from None


def parse(src: Source) -> dict:
    try:
        return tomllib.loads(src.text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says where as "(at line 3, column 9)": the line goes in front, like
        # every other error's.
        text = str(exc)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", text)
        line = int(found.group(1)) if found else None
        if found:
            text = f"{text[:found.start()]} (column {found.group(2)})"
        raise CfsError(f"TOML error: {text}; fix the syntax (https://toml.io)",
                       file=src.name, line=line) from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursing
        raise CfsError("TOML error: arrays or tables nested too deep to read; fix the "
                       "syntax (https://toml.io)", file=src.name) from None


def line_of_key(path: Path, key: str) -> int | None:
    """The line of a TOML file that sets ``key`` ("generator.command"), when it can be found."""
    try:
        return read_source(path, path.name).line_of(key)
    except CfsError:
        return None
