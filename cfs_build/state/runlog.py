"""The run log: one JSON line per generation in .cfs/runs.jsonl, grouped by run."""
from __future__ import annotations

import contextlib

import fcntl
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CfsError, printable
from ..reading.index import INDEX_DIR
from . import dirs as state

RUNS_NAME = "runs.jsonl"
RUNS_FILE = f"{INDEX_DIR}/{RUNS_NAME}"
# The fields cfs writes (GenerationRun.record) and their types: a line with another type
# in one of them is not cfs's (a hand-made or planted one) and is skipped.
_OPTIONAL_TEXT, _NUMBER = (str, type(None)), (int, float, type(None))
_TYPES = {"run": str, "time": str, "node": str, "outcome": str, "backend": _OPTIONAL_TEXT,
          "model": _OPTIONAL_TEXT, "input_tokens": (int, type(None)),
          "output_tokens": (int, type(None)), "cost_usd": _NUMBER, "seconds": _NUMBER,
          "attempts": (int, type(None)), "fresh": (bool, type(None)),
          "prompt": _OPTIONAL_TEXT, "message": _OPTIONAL_TEXT}
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class RunLog:
    """Appends this run's generations; reads everybody's. One per run, held by its BuildState.

    Parallel workers (threads or forked processes) append whole lines under an
    exclusive lock, so lines never interleave.
    """

    def __init__(self, root: Path, run_id: str | None = None):
        self.root = Path(root)
        self.path = self.root / RUNS_FILE
        self.run_id = run_id or new_run_id()

    def check(self) -> None:
        """Refuse (CfsError) when the log is a link or not a regular file: it is history
        the user may want, so cfs neither replaces it nor writes through it."""
        with state.directory(self.root, INDEX_DIR) as fd:
            what = None if fd is None else state.is_link_or_odd(fd, RUNS_NAME)
        if what is not None:
            raise CfsError(f"{RUNS_FILE} is {what}, not the run log's own file; cfs never "
                           "reads or writes through a link. Move it away (cfs starts a new "
                           "log)")

    def record(self, **fields) -> None:
        line = json.dumps({"run": self.run_id, "time": _now(), **fields}, ensure_ascii=False)
        # Accounting must never fail a generation (check() refused a linked log before).
        with contextlib.suppress(OSError, CfsError), \
                state.directory(self.root, INDEX_DIR, create=True) as directory:
            fd = os.open(RUNS_NAME, _APPEND, 0o666, dir_fd=directory)
            with open(fd, "a", encoding="utf-8") as handle:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.write(line + "\n")

    def entries(self) -> list[dict]:
        """Every readable line, oldest first; a torn or foreign line is skipped."""
        self.check()
        data = state.read_state(self.root, RUNS_FILE)
        if data is None:
            return []
        text = data.decode("utf-8", errors="replace")
        out = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):  # (nested past the stack: anyone's)
                continue
            entry = _usable(entry)
            if entry is not None:
                out.append(entry)
        return out

    def mine(self) -> list[dict]:
        return [e for e in self.entries() if e["run"] == self.run_id]


def _usable(entry) -> dict | None:
    """A line as cfs wrote it, its text made printable (a line can be anyone's: an
    escape sequence in it must not reach a terminal); None when it is not cfs's."""
    if not isinstance(entry, dict) or not isinstance(entry.get("run"), str):
        return None
    out = {}
    for key, value in entry.items():
        if key in _TYPES and not isinstance(value, _TYPES[key]):
            return None
        if isinstance(value, str):
            value = printable(value)
        elif not isinstance(value, (int, float, type(None))):
            continue  # a field of another shape, never one cfs writes
        out[printable(key)] = value
    return out


@dataclass(frozen=True)
class RunTotals:
    """One run summed up."""

    run: str
    started: str
    generations: int
    outcomes: dict
    input_tokens: int
    output_tokens: int
    cost_usd: float
    seconds: float
    backends: tuple[str, ...]

    def as_dict(self) -> dict:
        return {**self.__dict__, "backends": list(self.backends)}


def totals(entries: list[dict]) -> list[RunTotals]:
    """Per run, in the order runs started."""
    runs: dict[str, list[dict]] = {}
    for entry in entries:
        runs.setdefault(entry["run"], []).append(entry)
    out = []
    for run, items in runs.items():
        outcomes: dict[str, int] = {}
        for item in items:
            outcomes[item.get("outcome", "?")] = outcomes.get(item.get("outcome", "?"), 0) + 1
        backends = tuple(dict.fromkeys(
            f"{i.get('backend')}" + (f" {i['model']}" if i.get("model") else "") for i in items))
        out.append(RunTotals(run, items[0].get("time", ""), len(items), outcomes,
                             sum(i.get("input_tokens") or 0 for i in items),
                             sum(i.get("output_tokens") or 0 for i in items),
                             sum(i.get("cost_usd") or 0.0 for i in items),
                             sum(i.get("seconds") or 0.0 for i in items), backends))
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
