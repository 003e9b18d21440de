"""Project configuration: `cfs.toml`, or `[tool.cfs]` in pyproject.toml, checked key by key."""
from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CfsError

CONFIG_FILE = "cfs.toml"

# key -> (python types accepted, description); each generator kind declares its own keys.
_RUN = {
    "timeout": ((int, float), "seconds one generation (one attempt) may take"),
    "max_concurrency": ((int,), "generations this backend runs at once"),
}
_RETRY = {
    "max_attempts": ((int,), "how often one generation is tried on overload, rate limit, "
                             "5xx or timeout"),
    "retry_delay": ((int, float), "seconds to wait before the first retry (doubles each time)"),
}
_API = {
    "model": ((str,), "the model name, e.g. \"claude-sonnet-4-5\""),
    "base_url": ((str,), "the API's address, e.g. \"http://127.0.0.1:8000/v1\""),
    "api_key_env": ((str,), "the environment variable holding the API key"),
    "temperature": ((int, float), "the sampling temperature"),
    "input_usd_per_mtok": ((int, float), "US dollars per million input tokens"),
    "output_usd_per_mtok": ((int, float), "US dollars per million output tokens"),
    **_RUN, **_RETRY,
}
GENERATOR_KEYS: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "command": {
        "command": ((list,), "the program and its arguments, e.g. [\"python3\", \"gen.py\"]"),
        **_RUN,
    },
    "claude-code": {
        "executable": ((str,), "the Claude Code program (default: claude on PATH)"),
        "model": ((str,), "the model, e.g. \"sonnet\" or a full model name"),
        "extra_args": ((list,), "more arguments for claude, e.g. [\"--fallback-model\", "
                                "\"haiku\"]"),
        "bare": ((bool,), "pass --bare (default: when ANTHROPIC_API_KEY is set)"),
        **_RUN, **_RETRY,
    },
    "anthropic": {
        "max_tokens": ((int,), "the most tokens one reply may have"),
        **_API,
    },
    "openai": {
        "max_tokens": ((int,), "the most tokens one reply may have (sent as max_tokens)"),
        "max_completion_tokens": ((int,), "the most tokens one reply may have (sent as "
                                          "max_completion_tokens)"),
        **_API,
    },
}
COMMON_KEYS = {"kind": ((str,), "which generator to use"),
               "fresh": ((bool,), "generate from the chain alone, without the existing file")}
REQUIRED = {"command": ("command",), "anthropic": ("model",), "openai": ("model",)}
LISTS_OF_STRINGS = {"command": "a non-empty list of strings", "extra_args": "a list of strings"}
# Zero is meaningful for these; for every other number it would time out at once or,
# for a semaphore, silently mean "no limit".
ZERO_ALLOWED = {"temperature", "retry_delay", "input_usd_per_mtok", "output_usd_per_mtok"}
# Beyond these a value is a typo, not a wish (and the OS's own waits overflow).
MAXIMUM = {"timeout": 7 * 24 * 3600, "retry_delay": 3600, "max_attempts": 100,
           "max_concurrency": 10_000}


VERIFY_KEYS = {
    "name": ((str,), "a short name for this test run"),
    "command": ((list,), "the test command, e.g. [\"python3\", \"-m\", \"pytest\", \"-q\"]"),
    "outputs": ((list,), "globs of the generated test files it runs, e.g. [\"tests/**/*.py\"]"),
    "timeout": ((int, float), "seconds the run may take"),
}


@dataclass(frozen=True)
class VerifyEntry:
    """One [[verify]] table: a test command and the generated test files it covers."""

    name: str
    command: tuple[str, ...]
    outputs: tuple[str, ...]
    timeout: float = 1800.0


@dataclass(frozen=True)
class Config:
    """What a project asks of cfs: which generator, and its settings."""

    source: str | None = None
    generator: dict = field(default_factory=dict)
    root: Path | None = None
    verify: tuple["VerifyEntry", ...] = ()


@dataclass(frozen=True)
class _Source:
    """The file a table came from and its text, to name the line of a key in an error."""

    name: str
    text: str

    def error(self, message: str, key: str | None = None) -> CfsError:
        return CfsError(message, file=self.name, line=self.line_of(key) if key else None)

    def line_of(self, path: str) -> int | None:
        """The line that sets ``path`` ("generator.kind", "verify[2].command"), if found."""
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


def _bare(key: str) -> str:
    return re.sub(r"""\s*\.\s*""", ".", key.strip()).replace('"', "").replace("'", "")


def _unknown(where: str, key: str, known, src: _Source) -> CfsError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return src.error(f"unknown key {where}{key}: {hint}known keys are "
                     f"{', '.join(sorted(known))}; fix or remove it", where + key)


def _check(table: dict, allowed: dict, where: str, src: _Source) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise _unknown(f"{where}.", key, allowed, src)
        types, meaning = allowed[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise src.error(f"{where}.{key} must be {meaning}; got {type(value).__name__}",
                            f"{where}.{key}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(f"{where}.{key}", key, value, meaning, src)
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and "\0" in text:
                # No program argument, path or name can hold one; the OS would refuse it
                # at the first generation instead of here.
                raise src.error(f"{where}.{key} contains a NUL character (\\u0000); remove "
                                "it", f"{where}.{key}")


def _check_number(name: str, key: str, value: int | float, meaning: str,
                  src: _Source) -> None:
    bound = "not below 0" if key in ZERO_ALLOWED else "above 0"
    most = MAXIMUM.get(key)
    if most is not None:
        bound += f" and at most {most:g}"
    if not math.isfinite(value) or value < 0 or (value == 0 and key not in ZERO_ALLOWED) \
            or (most is not None and value > most):
        raise src.error(f"{name} must be {meaning}, a number {bound}; got {value}", name)


def load_config(root: Path) -> Config:
    path, table = root / CONFIG_FILE, None
    if path.is_file():
        src = _read(path, CONFIG_FILE)
        table = _parse(src)
    else:
        pyproject = root / "pyproject.toml"
        if pyproject.is_file():
            src = _read(pyproject, "pyproject.toml")
            tool = _parse(src).get("tool", {})
            table = tool.get("cfs") if isinstance(tool, dict) else None
            if table is not None and not isinstance(table, dict):
                raise src.error("tool.cfs must be a table: [tool.cfs]", "tool.cfs")
    if table is None:
        return Config(root=root)
    where = "tool.cfs" if src.name == "pyproject.toml" else ""
    for key in table:
        if key not in ("generator", "verify"):
            raise _unknown(where + "." if where else "", key, ("generator", "verify"), src)
    generator = _generator(table, where, src) if "generator" in table else {}
    verify = _verify(table.get("verify", []), where, src)
    return Config(src.name, generator, root, verify)


def _generator(table: dict, where: str, src: _Source) -> dict:
    generator = table["generator"]
    prefix = f"{where}.generator" if where else "generator"
    if not isinstance(generator, dict):
        raise src.error(f"{prefix} must be a table: [generator]", prefix)
    kind = generator.get("kind")
    if kind is None:
        raise src.error(f"{prefix}.kind is missing (one of: {', '.join(GENERATOR_KEYS)})",
                        prefix)
    if not isinstance(kind, str) or kind not in GENERATOR_KEYS:
        raise src.error(f"{prefix}.kind = {kind!r} is not a known generator (known: "
                        f"{', '.join(GENERATOR_KEYS)})", f"{prefix}.kind")
    _check(generator, {**COMMON_KEYS, **GENERATOR_KEYS[kind]}, prefix, src)
    for key in REQUIRED.get(kind, ()):
        if key not in generator:
            raise src.error(f"{prefix}.{key} is missing (the {kind} generator needs it)",
                            prefix)
    for key, meaning in LISTS_OF_STRINGS.items():
        value = generator.get(key)
        if value is not None and (not all(isinstance(part, str) for part in value)
                                  or (key == "command" and not value)):
            raise src.error(f"{prefix}.{key} must be {meaning}", f"{prefix}.{key}")
    if "max_tokens" in generator and "max_completion_tokens" in generator:
        raise src.error(f"{prefix}: set max_tokens or max_completion_tokens, not both",
                        f"{prefix}.max_completion_tokens")
    return dict(generator)


def _verify(entries, where: str, src: _Source) -> tuple[VerifyEntry, ...]:
    prefix = f"{where}.verify" if where else "verify"
    if not isinstance(entries, list):
        raise src.error(f"{prefix} must be an array of tables: [[verify]]", prefix)
    out = []
    for number, entry in enumerate(entries, start=1):
        here = f"{prefix}[{number}]"
        if not isinstance(entry, dict):
            raise src.error(f"{here} must be a table", prefix)
        _check(entry, VERIFY_KEYS, here, src)
        for key in ("command", "outputs"):
            value = entry.get(key)
            if not value or not all(isinstance(part, str) for part in value):
                raise src.error(f"{here}.{key} must be a non-empty list of strings",
                                f"{here}.{key}" if key in entry else here)
        name = entry.get("name") or " ".join(entry["command"])
        out.append(VerifyEntry(name, tuple(entry["command"]), tuple(entry["outputs"]),
                               float(entry.get("timeout", 1800))))
    return tuple(out)


def _read(path: Path, name: str) -> _Source:
    try:
        return _Source(name, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CfsError(f"cannot read: {exc}", file=name) from None


def _parse(src: _Source) -> dict:
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


def line_of_key(path: Path, key: str) -> int | None:
    """The line of a TOML file that sets ``key`` ("generator.command"), when it can be found."""
    try:
        return _read(path, path.name).line_of(key)
    except CfsError:
        return None


def config_error(root: Path) -> CfsError | None:
    """What is wrong with the project's configuration, if anything (for check and validate)."""
    try:
        load_config(root)
    except CfsError as exc:
        return exc
    return None
