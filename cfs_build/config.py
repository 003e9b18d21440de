"""Project configuration: `cfs.toml`, or `[tool.cfs]` in pyproject.toml, checked key by key."""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import CfsError
from .tomlfile import CONFIG_FILE, Key, Source, exists, parse, read_source

# `cfs verify` and `doit verify` alike, in a project without tests to run.
NO_VERIFY_TABLE = ("no [[verify]] table: add one to cfs.toml, e.g.\n  [[verify]]\n  "
                   "command = [\"python3\", \"-m\", \"pytest\", \"-q\"]\n  "
                   "outputs = [\"tests/**/*.py\"]")

DEFAULT_JOBS = 4  # generations at once: they wait on a model, not on this machine's CPUs

COMMON_KEYS = {
    "kind": Key((str,), "which generator to use"),
    "fresh": Key((bool,), "generate from the chain alone, without the existing file"),
}


VERIFY_KEYS = {
    "name": Key((str,), "a short name for this test run"),
    "command": Key((list,), "the test command, e.g. [\"python3\", \"-m\", \"pytest\", \"-q\"]"),
    "outputs": Key((list,), "globs of the generated test files it runs, e.g. [\"tests/**/*.py\"]"),
    "timeout": Key((int, float), "seconds the run may take", most=7 * 24 * 3600),
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


def _unknown(where: str, key: str, known, src: Source) -> CfsError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return src.error(f"unknown key {where}{key}: {hint}known keys are "
                     f"{', '.join(sorted(known))}; fix or remove it", where + key)


def _check(table: dict, allowed: dict[str, Key], where: str, src: Source) -> None:
    for name, value in table.items():
        if name not in allowed:
            raise _unknown(f"{where}.", name, allowed, src)
        key = allowed[name]
        if (isinstance(value, bool) and bool not in key.types) or \
                not isinstance(value, key.types):
            raise src.error(f"{where}.{name} must be {_kind(key)}; got "
                            f"{_TOML_TYPES.get(type(value), 'a ' + type(value).__name__)}",
                            f"{where}.{name}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(f"{where}.{name}", key, value, src)
        if key.strings is not None and (len(value) < key.min_items or
                                        not all(isinstance(part, str) for part in value)):
            raise src.error(f"{where}.{name} must be {key.strings}", f"{where}.{name}")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and "\0" in text:
                # No program argument, path or name can hold one; the OS would refuse it
                # at the first generation instead of here.
                raise src.error(f"{where}.{name} contains a NUL character (\\u0000); remove "
                                "it", f"{where}.{name}")


# What a TOML value is, in the words of the TOML spec (not Python's type names).
_TOML_TYPES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
               list: "an array", dict: "a table"}
_KINDS = {(bool,): "true or false", (int,): "a whole number", (int, float): "a number",
          (str,): "a string", (list,): "an array"}


def _kind(key: Key) -> str:
    """What a key takes, e.g. "a whole number (generations this backend runs at once)"."""
    kind = _KINDS.get(tuple(key.types))
    return f"{kind} ({key.meaning})" if kind else key.meaning


def _check_number(name: str, key: Key, value: int | float, src: Source) -> None:
    bound = "not below 0" if key.zero_ok else "above 0"
    if key.most is not None:
        bound += f" and at most {key.most:g}"
    if not math.isfinite(value) or value < 0 or (value == 0 and not key.zero_ok) \
            or (key.most is not None and value > key.most):
        raise src.error(f"{name} must be {key.meaning}, a number {bound}; got {value}", name)


def load_config(root: Path) -> Config:
    path, table = root / CONFIG_FILE, None
    if exists(path, CONFIG_FILE):
        src = read_source(path, CONFIG_FILE)
        table = parse(src)
    else:
        pyproject = root / "pyproject.toml"
        if exists(pyproject, "pyproject.toml"):
            src = read_source(pyproject, "pyproject.toml")
            tool = parse(src).get("tool", {})
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


def _generator(table: dict, where: str, src: Source) -> dict:
    from .generators import BACKENDS, backend_class  # backends declare their own keys

    generator = table["generator"]
    prefix = f"{where}.generator" if where else "generator"
    if not isinstance(generator, dict):
        raise src.error(f"{prefix} must be a table: [generator]", prefix)
    kind = generator.get("kind")
    if kind is None:
        raise src.error(f"{prefix}.kind is missing (one of: {', '.join(BACKENDS)})", prefix)
    if not isinstance(kind, str) or kind not in BACKENDS:
        raise src.error(f"{prefix}.kind = {kind!r} is not a known generator (known: "
                        f"{', '.join(BACKENDS)})", f"{prefix}.kind")
    backend = backend_class(kind)
    _check(generator, {**COMMON_KEYS, **backend.KEYS}, prefix, src)
    for name, key in backend.KEYS.items():
        if key.required and name not in generator:
            raise src.error(f"{prefix}.{name} is missing (the {kind} generator needs it)",
                            prefix)
    for first, second in backend.EXCLUSIVE:
        if first in generator and second in generator:
            raise src.error(f"{prefix}: set {first} or {second}, not both",
                            f"{prefix}.{second}")
    if isinstance(generator.get("base_url"), str):
        _check_url(f"{prefix}.base_url", generator["base_url"], src)
    return dict(generator)


def _check_url(name: str, url: str, src: Source) -> None:
    """An API's address: said here, with its line, rather than by the SDK at the first
    generation (an internal error for a bad port or bracket)."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and \
            (parts.port is None or parts.port > 0)  # (.port raises past 65535)
    except ValueError:
        usable = False
    if not usable:
        raise src.error(f"{name} = {url!r} is not an http(s) URL with a host and a valid "
                        "port; write it e.g. http://127.0.0.1:11434/v1", name)


_VERIFY_EXAMPLES = {"command": '["python3", "-m", "pytest", "-q"]',
                    "outputs": '["tests/**/*.py"]'}


def _verify(entries, where: str, src: Source) -> tuple[VerifyEntry, ...]:
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
            if key not in entry:
                example = _VERIFY_EXAMPLES[key]
                raise src.error(f"{here} has no {key}: add one, a non-empty list of strings "
                                f"({key} = {example})", here)
            if not value or not all(isinstance(part, str) for part in value):
                raise src.error(f"{here}.{key} must be a non-empty list of strings",
                                f"{here}.{key}")
        name = entry.get("name") or " ".join(entry["command"])
        out.append(VerifyEntry(name, tuple(entry["command"]), tuple(entry["outputs"]),
                               float(entry.get("timeout", 1800))))
    return tuple(out)


def config_error(root: Path) -> CfsError | None:
    """What is wrong with the project's configuration, if anything (for check and validate)."""
    try:
        load_config(root)
    except CfsError as exc:
        return exc
    return None
