"""One build run's live side: the generator processes it started and whether it was stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import GenerationFailed

INTERRUPTED = ("cfs: interrupted; running generations were stopped, nothing half-written "
               "was recorded")


class Session:
    """The generator processes of one run and its stop flag, shared by that run's threads.

    Every front end makes one per run and hands it to what starts processes or waits;
    nothing about a run lives in a module, so two runs in one process never meet.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._live: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        # Set while a live display owns the terminal: a line printed under it would be
        # wiped when it clears itself, so the display says it once it has stopped.
        self.says_interrupt_later = False

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True at once when the run is stopped meanwhile."""
        return self._stop.wait(seconds)

    def track(self, proc: subprocess.Popen) -> None:
        """Count ``proc`` (leader of its own process group) as running for this run.

        A process started after the run was stopped is killed at once: a generation
        that was already past its last check must not outlive the run.
        """
        with self._lock:
            if not self._stop.is_set():
                self._live.add(proc)
                return
        kill_group(proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        raise GenerationFailed("interrupted")

    def untrack(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._live.discard(proc)

    def interrupt(self) -> None:
        """Stop: end every wait between retries and kill every running generator."""
        with self._lock:
            self._stop.set()
            procs = list(self._live)
        for proc in procs:
            kill_group(proc)

    def kill_all(self) -> None:
        """Kill whatever generator is still running (the run ends, normally or not)."""
        with self._lock:
            procs = list(self._live)
        for proc in procs:
            kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group ``proc`` leads (its own session: see process.py)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Interrupted(SystemExit):
    """Ctrl-C during a run: exit status 130, and no traceback wherever it ends up.

    A SystemExit, so that doit (which turns every Exception of its own into a
    traceback) lets it through, and plain `doit` exits with 130.
    """

    def __init__(self, *_ignored) -> None:
        super().__init__(130)


def stop_on_sigint(session: Session, say=None, *, wind_down: bool = False):
    """From now on Ctrl-C stops ``session``, prints one line and raises Interrupted.

    ``wind_down``: do not raise at the first Ctrl-C; the run's generations then fail at
    once and the run ends by itself (so the caller's process keeps no thread of it);
    a second Ctrl-C raises. Handlers chain: with several runs in one process (two
    projects in one dodo.py) one Ctrl-C stops them all and the line is printed once.
    Returns the handler it replaced, or None where no handler can be installed (not
    the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if wind_down and not session.stopped:
            session.interrupt()
            if not session.says_interrupt_later:
                print(INTERRUPTED, file=say or sys.__stderr__, flush=True)
            return
        session.interrupt()
        if getattr(previous, "stops_a_session", False):
            previous(signum, frame)  # the run installed before this one: it says and raises
        if not wind_down and not session.says_interrupt_later:
            print(INTERRUPTED, file=say or sys.__stderr__, flush=True)
        raise Interrupted()

    handler.stops_a_session = True
    signal.signal(signal.SIGINT, handler)
    return previous


@contextmanager
def sigint_stops(session: Session, say=None) -> Iterator[None]:
    """While the block runs, Ctrl-C stops ``session`` and lets the run wind down (see
    stop_on_sigint); then Ctrl-C does what it did before."""
    previous = stop_on_sigint(session, say, wind_down=True)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
