"""Generator subprocesses: each in a fresh empty directory and a process group of its own."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from . import GenerationFailed

_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
# Set when a build is interrupted: waits between retries end at once instead of sleeping on.
STOP = threading.Event()


class TimedOut(GenerationFailed):
    """The program did not finish within its timeout (and was killed)."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


def interrupt() -> None:
    """Ctrl-C: end every wait between retries and stop every generator process."""
    STOP.set()
    kill_all()


def kill_all() -> None:
    """Stop every generator process still running (Ctrl-C, or the build ending early)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_confined(argv: list[str], stdin: bytes, timeout: float,
                 env: dict[str, str] | None = None) -> Finished:
    """Run ``argv`` in a new empty temporary directory outside the project, ``stdin`` piped in.

    The directory is removed afterwards, so nothing the program writes there survives.
    """
    with tempfile.TemporaryDirectory(prefix="cfs-gen-") as workdir:
        try:
            # Its own process group, so a timeout or Ctrl-C can stop whatever it started.
            proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=env)
        except OSError as exc:
            raise GenerationFailed(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            raise TimedOut(f"timed out after {timeout:g} s") from None
        except BaseException:
            _kill(proc)
            proc.communicate()
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
            # Whatever it left running in the background goes too: nothing outlives
            # the generation that started it.
            _kill(proc)
    return Finished(proc.returncode, out, err)


def stderr_tail(err: bytes, limit: int = 2000) -> str:
    text = err.decode("utf-8", "replace").strip()
    return f": {text[-limit:]}" if text else ""
