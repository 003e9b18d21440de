"""Python's garbage collector while a big build is loaded.

Turning 10,000 artifacts into doit tasks allocates a few hundred thousand objects
that all live until the run ends, and Python's collector would walk them again and
again looking for garbage: a third of a no-op run. While tasks are loaded and
judged the collector runs rarely; when the first generation starts, or the run
ends, its usual thresholds come back. Should nothing resume it, it still runs,
only less often.
"""
from __future__ import annotations

import gc
import threading

_SAVED_THRESHOLD: tuple[int, ...] | None = None
_LOCK = threading.Lock()  # generations start in several threads at once


def pause_collector() -> None:
    """Collect rarely from now on (call before loading a project and its tasks)."""
    global _SAVED_THRESHOLD
    with _LOCK:
        if _SAVED_THRESHOLD is None:
            _SAVED_THRESHOLD = gc.get_threshold()
            gc.set_threshold(100_000, 50, 100)


def resume_collector() -> None:
    """Collect as usual again; a no-op when not paused."""
    global _SAVED_THRESHOLD
    with _LOCK:
        saved, _SAVED_THRESHOLD = _SAVED_THRESHOLD, None
        if saved is not None:
            gc.set_threshold(*saved)
