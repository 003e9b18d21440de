"""The verification record: what the last `cfs verify` ran on and how it went, and whether
the artifacts are still those (read by every `cfs status`, so it imports little)."""
from __future__ import annotations

import json
import time

from ..reading.index import INDEX_DIR
from ..state import dirs as state
from .project import Project

RECORD = f"{INDEX_DIR}/verify.json"
VERIFIED, FAILING, UNVERIFIED, NEVER = "verified", "tests failing", "unverified", "never verified"


def write_record(project: Project, passed: bool, results: list[dict]) -> None:
    """Remember which chain hashes and files were verified, and how it went."""
    statuses = project.report().artifacts
    # This copy's key (dirs.anchor): a record a repository carries is not taken for one.
    key = state.anchor(project.root, INDEX_DIR, create=True)
    data = {"time": time.time(), "copy": key and key.decode(), "passed": passed,
            "artifacts": {s.name: [s.chain, s.checksum] for s in statuses},
            "results": results}
    state.write_state(project.root, RECORD, json.dumps(data, indent=1).encode("utf-8"))


def _recorded_checksum(pair) -> str | None:
    # [chain hash, file checksum], as `record` writes it
    return pair[1] if isinstance(pair, list) and len(pair) == 2 else None


def verification(project: Project, statuses=None) -> dict:
    """Whether the current artifacts are the ones the last verification ran on."""
    try:
        data = json.loads(state.read_state(project.root, RECORD) or b"")
        recorded = data["artifacts"]
        # (Only names: the key keeps out a checkout's record, not another local user's.)
        failing = sorted({f["test_node"] for r in data["results"]
                          for f in r["failures"] if isinstance(f.get("test_node"), str)
                          and f["test_node"]})
        if not isinstance(recorded, dict):
            raise TypeError("artifacts is not a mapping")
        key = state.anchor(project.root, INDEX_DIR)
        if key is None or data.get("copy") != key.decode():
            raise ValueError("recorded in another copy of the project")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        # Missing or not a record this version wrote: as good as never verified.
        return {"state": NEVER}
    statuses = statuses if statuses is not None else project.report().artifacts
    # The files the tests ran on, not the chains: a spec edit, or a regeneration that
    # wrote the same bytes, leaves the verified files as they were.
    now = {s.name: s.checksum for s in statuses}
    changed = sorted(name for name, checksum in now.items()
                     if _recorded_checksum(recorded.get(name)) != checksum)
    if changed:
        return {"state": UNVERIFIED, "changed_since": changed, "time": data.get("time")}
    return {"state": VERIFIED if data.get("passed") else FAILING, "failing": failing,
            "time": data.get("time")}
