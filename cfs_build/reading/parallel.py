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


def beside(there: Callable[[], object], here: Callable[[], object]) -> tuple[object, object]:
    """``(there(), here())`` with ``there`` computed in a forked child meanwhile.

    ``there`` must give a marshal-able result and leave nothing half done should it
    fail or be stopped: it reads, or replaces a file atomically (a state file of cfs's
    own); ``here`` may do anything. The first item is None when no child could be used
    or it failed in any way: the caller then does that work itself.
    """
    if not can_fork():
        return None, here()
    read_end, write_end = os.pipe()
    try:
        pid = fork()
    except OSError:  # a limit on processes (ulimit -u, pids.max): all of it here then
        os.close(read_end)
        os.close(write_end)
        return None, here()
    if pid == 0:  # the child: compute, send, and leave without any cleanup of the parent's
        status = 1
        try:
            interruptible()
            os.close(read_end)
            payload = marshal.dumps(there())
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    payload = b""
    try:
        interruptible()
        mine = here()
        with os.fdopen(read_end, "rb") as pipe:
            read_end = None
            payload = pipe.read()
    finally:
        if read_end is not None:
            os.close(read_end)  # a child blocked writing gets EPIPE and exits
        _, status = os.waitpid(pid, 0)
    if status == 0 and payload:
        try:
            return marshal.loads(payload), mine
        except (ValueError, EOFError, TypeError):
            pass
    return None, mine
