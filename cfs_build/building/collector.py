"""Python's garbage collector while a big build is loaded.

Turning 10,000 artifacts into doit tasks allocates a few hundred thousand objects
that all live until the run ends, and Python's collector would walk them again and
again looking for garbage: a third of a no-op run. While tasks are loaded and
judged the collector runs rarely; when the first generation starts, or the run
ends, its usual thresholds come back. Should nothing resume it, it still runs,
only less often.

The thresholds are the process's; what they were before is held by the Relaxed
object that changed them (no module keeps it), handed to whatever gives them back.
"""
from __future__ import annotations

import gc
import threading

RELAXED = (100_000, 50, 100)


class Relaxed:
    """The collector slowed down from creation until ``restore()`` (or the ``with`` ends).

    Made while the collector is already relaxed (by another Relaxed), it changes and
    restores nothing: the first one keeps the thresholds to give back. ``restore`` may
    be called any number of times, from several threads at once (generations start in
    parallel); only the first call does anything.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        current = gc.get_threshold()
        self._saved: tuple[int, ...] | None = None if current == RELAXED else current
        if self._saved is not None:
            gc.set_threshold(*RELAXED)

    @property
    def active(self) -> bool:
        """Still holding thresholds to give back."""
        return self._saved is not None

    def restore(self) -> None:
        """Collect as usual again; a no-op once done (or when this one changed nothing)."""
        with self._lock:
            saved, self._saved = self._saved, None
        if saved is not None:
            gc.set_threshold(*saved)

    def __enter__(self) -> "Relaxed":
        return self

    def __exit__(self, *exc_info) -> None:
        self.restore()


def restore(relaxed: Relaxed | None) -> None:
    """``relaxed.restore()``, when there is one (a run started without relaxing has none)."""
    if relaxed is not None:
        relaxed.restore()
