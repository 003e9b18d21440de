"""The run log: one JSON line per generation in .cfs/runs.jsonl, grouped by run."""
from __future__ import annotations

import contextlib

import fcntl
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .index import INDEX_DIR

RUNS_FILE = f"{INDEX_DIR}/runs.jsonl"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class RunLog:
    """Appends this run's generations; reads everybody's. One per run, held by its BuildState.

    Parallel workers (threads or forked processes) append whole lines under an
    exclusive lock, so lines never interleave.
    """

    def __init__(self, root: Path, run_id: str | None = None):
        self.path = Path(root) / RUNS_FILE
        self.run_id = run_id or new_run_id()

    def record(self, **fields) -> None:
        line = json.dumps({"run": self.run_id, "time": _now(), **fields}, ensure_ascii=False)
        # Accounting must never fail a generation.
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.write(line + "\n")

    def entries(self) -> list[dict]:
        """Every readable line, oldest first; a torn or foreign line is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("run"), str):
                out.append(entry)
        return out

    def mine(self) -> list[dict]:
        return [e for e in self.entries() if e["run"] == self.run_id]


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
