"""Python's garbage collector while a big build is loaded.

Turning 10,000 artifacts into doit tasks allocates a few hundred thousand objects
that all live until the run ends, and Python's collector would walk them again and
again looking for garbage: a third of a no-op run. While tasks are loaded the
collector runs rarely; when work starts (or the run ends) what exists is frozen out
of its sight and the usual thresholds come back. Should nothing resume it, it still
runs, only less often.
"""
from __future__ import annotations

import gc

_SAVED_THRESHOLD: tuple[int, ...] | None = None


def pause_collector() -> None:
    """Collect rarely from now on (call before loading a project and its tasks)."""
    global _SAVED_THRESHOLD
    if _SAVED_THRESHOLD is None:
        _SAVED_THRESHOLD = gc.get_threshold()
        gc.set_threshold(100_000, 50, 100)


def resume_collector() -> None:
    """Freeze what exists and collect as usual again; a no-op when not paused."""
    global _SAVED_THRESHOLD
    if _SAVED_THRESHOLD is not None:
        gc.freeze()
        gc.set_threshold(*_SAVED_THRESHOLD)
        _SAVED_THRESHOLD = None
