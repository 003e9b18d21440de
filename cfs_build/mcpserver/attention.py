"""The MCP `status` tool's default answer: what needs attention, small enough for a model.

The whole `cfs status --json` document of ten thousand artifacts is megabytes: past
what an MCP client hands its model (Claude Code cuts a result at 25,000 tokens unless
MAX_MCP_OUTPUT_TOKENS says otherwise), and most of it says "up-to-date". Like `cfs
status` without `--all`, this answer lists only what is not up to date, with the same
fields per entry as the document, and says how many entries it left out and where the
rest is. Its lists are cut, too, so that even a tree where everything is missing gives
an answer a model can read.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from ..reading.names import byte_order

LIST_CAP = 50  # entries per list at most
# Characters of listed entries (compact JSON) in all: with the indentation the answer
# stays near 25,000 characters, under 10,000 tokens of hashes, names and reasons (where
# Claude Code starts warning about a result's size).
BUDGET = 20_000
ANSWER_CHARS = "25,000"  # what the descriptions promise

HOW = ("Listed: format errors, the artifacts that are not up to date (in rank order, the "
       f"order to generate them in), and orphans; at most {LIST_CAP} entries of each list "
       f"and about {ANSWER_CHARS} characters in all, the rest counted here. Every artifact, up to "
       "date or not: call status with all: true (large), or run `cfs status --json` in a "
       "shell; one artifact and what changed: explain; one line per artifact: "
       "validate_specs.")

_compact = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def attention_document(report, verified: dict, orphans: list[dict]) -> dict:
    """The document's keys, in its order, with only what is not up to date listed, plus
    ``left_out``: how many entries each list did not show, and how to see them."""
    budget = [BUDGET]
    left: dict = {"up_to_date": sum(1 for s in report.artifacts if s.up_to_date)}
    errors = _first((f.as_dict() for f in report.findings), len(report.findings),
                    "errors", left, budget)
    waiting = sorted((s for s in report.artifacts if not s.up_to_date),
                     key=lambda s: (s.rank or 0, byte_order(s.node)))  # v5's order (validate_specs)
    artifacts = _first((s.as_dict() for s in waiting), len(waiting), "artifacts", left,
                       budget)
    orphans = _first(orphans, len(orphans), "orphans", left, budget)
    verified = dict(verified)
    for key in ("changed_since", "failing"):
        names = verified.get(key)
        if isinstance(names, list) and len(names) > LIST_CAP:
            verified[key] = _first(names, len(names), key, left, budget)
    left["how"] = HOW
    return {"root": str(report.root), "errors": errors, "artifacts": artifacts,
            "orphans": orphans, "summary": report.summary(), "verification": verified,
            "left_out": left}


def _first(items: Iterable, count: int, key: str, left: dict, budget: list[int]) -> list:
    """The first of ``items`` that fit the cap and what is left of ``budget`` (at least
    one, so that every list that has entries shows what they look like)."""
    kept: list = []
    for item in items:
        size = len(_compact(item))
        if len(kept) == LIST_CAP or (kept and size > budget[0]):
            break
        kept.append(item)
        budget[0] -= size
    left[key] = count - len(kept)
    return kept
