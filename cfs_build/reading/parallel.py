"""Splitting pure, file-reading work over two processes, so a big tree is read on two cores.

Threads do not help: every file costs a few short system calls, and handing the
interpreter lock back and forth between them costs more than the calls. A forked
child shares the parent's memory for free and sends back only its results.
"""
from __future__ import annotations

import marshal
import math
import os
import signal
import sys
import threading
from collections.abc import Callable

# Below this many files to read a second process costs more (about 5 ms) than it saves;
# callers compare their own size against it.
MIN_ITEMS = 2000


def can_fork() -> bool:
    """Only where forking is cheap and safe: Linux, two CPUs, no other Python thread."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if os.environ.get("CFS_NO_FORK"):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return False
    return cpus >= 2 and threading.active_count() == 1


# What a Ctrl-C sends: held back across a fork (see fork).
_INTERRUPT = {signal.SIGINT}


def fork() -> int:
    """os.fork() with a Ctrl-C held back in both processes until each calls
    interruptible(): in the child a KeyboardInterrupt raised before it is inside the
    code that ends it (os._exit) would run the parent's handlers and cleanups as its
    own (a second "interrupted", a second exit). A Ctrl-C meanwhile is not lost: it
    arrives at interruptible(). Raises OSError (nothing is held back then)."""
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPT)  # (may raise one already come)
        return os.fork()
    except BaseException:
        interruptible()
        raise


def interruptible() -> None:
    """Let a Ctrl-C held back by fork() arrive (as KeyboardInterrupt, here)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPT)


def in_two(work: Callable[[list, bool], list], items: list, share: float = 0.5) -> list:
    """``work(items, kept)`` with the last ``share`` of ``items`` done in a forked child.

    ``work`` returns one result per item, reads but never writes, and must give
    marshal-able results when ``kept`` is false (the child's part, sent back over
    a pipe); the parent's part is computed with ``kept`` true and may hold anything
    (a ``share`` above a half evens out keeping more than the child sends).
    If the child fails in any way its part is simply done again here.
    """
    if len(items) < 2:
        return work(items, True)
    half = min(max(len(items) - math.ceil(len(items) * share), 1), len(items) - 1)
    rest, first = beside(lambda: work(items[half:], False), lambda: work(items[:half], True))
    if isinstance(rest, list) and len(rest) == len(items) - half:
        return first + rest
    return first + work(items[half:], True)


class Forked:
    """A forked child computing one marshal-able value (see start)."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd

    def answer(self) -> object:
        """The child's value once it has ended; None when it failed in any way, was
        stopped, or was already answered."""
        if self.fd is None:
            self._reap()
            return None
        try:
            with os.fdopen(self.fd, "rb") as pipe:
                self.fd = None
                payload = pipe.read()
        finally:
            status = self._reap()
        if status == 0 and payload:
            try:
                return marshal.loads(payload)
            except (ValueError, EOFError, TypeError):
                pass
        return None

    def stop(self) -> None:
        """End the child now if its answer was not asked for (nothing waits on it)."""
        if self.fd is not None:
            os.close(self.fd)  # (a child then blocked writing gets EPIPE)
            self.fd = None
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self._reap()

    def _reap(self) -> int | None:
        status = None
        if self.pid:
            try:
                status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:
                pass
            self.pid = 0
        return status


def start(there: Callable[[], object], quiet: bool = False) -> Forked | None:
    """A forked child computing ``there()`` (None where no child can be had).

    ``there`` must give a marshal-able result and leave nothing half done should it
    fail or be stopped: it reads, or replaces a file atomically (a state file of cfs's
    own). ``quiet``: the child's standard streams go nowhere, so that a reader of this
    process's output sees its end when this process ends, whatever the child does.
    """
    if not can_fork():
        return None
    try:
        read_end, write_end = _pipe()
    except OSError:
        return None
    try:
        pid = fork()
    except OSError:  # a limit on processes (ulimit -u, pids.max): all of it here then
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: compute, send, and leave without any cleanup of the parent's
        status = 1
        try:
            interruptible()
            os.close(read_end)
            if quiet:
                _quiet()
            payload = marshal.dumps(there())
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    child = Forked(pid, read_end)
    try:
        interruptible()
    except KeyboardInterrupt:
        child.stop()  # (not left to end alone)
        raise
    return child


def beside(there: Callable[[], object], here: Callable[[], object]) -> tuple[object, object]:
    """``(there(), here())`` with ``there`` computed in a forked child meanwhile (see
    start). The first item is None when no child could be used or it failed in any
    way: the caller then does that work itself."""
    child = start(there)
    if child is None:
        return None, here()
    try:
        mine = here()
    except BaseException:
        child.stop()
        raise
    return child.answer(), mine


def _pipe() -> tuple[int, int]:
    """os.pipe(), both ends above the standard streams. Where the caller closed some
    (`cfs status >&- 2>&-`) they would else be made there, and a quiet child, pointing
    its own streams at /dev/null (_quiet), would lose the end it answers through."""
    ends = os.pipe()
    if min(ends) > 2:
        return ends
    import fcntl  # (only then)
    try:
        return tuple(fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 3) for end in ends)
    finally:
        for end in ends:
            os.close(end)


def _quiet() -> None:
    """This process's standard streams go nowhere (see start)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = None
