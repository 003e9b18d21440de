"""Generator subprocesses: each in a fresh empty directory and a process group of its own."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass

from ..session import Session
from . import GenerationFailed


class TimedOut(GenerationFailed):
    """The program did not finish within its timeout (and was killed)."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_confined(argv: list[str], stdin: bytes, timeout: float,
                 env: dict[str, str] | None = None, *,
                 session: Session | None = None) -> Finished:
    """Run ``argv`` in a new empty temporary directory outside the project, ``stdin`` piped in.

    The directory is removed afterwards, so nothing the program writes there survives.
    ``session`` is the run the process belongs to: stopping the run
    kills it. Without one, the process belongs to a run of its own.
    """
    session = Session() if session is None else session
    with tempfile.TemporaryDirectory(prefix="cfs-gen-") as workdir:
        try:
            # Its own process group, so a timeout or Ctrl-C can stop whatever it started.
            proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=env)
        except OSError as exc:
            raise GenerationFailed(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        session.track(proc)
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
            session.untrack(proc)
            # Whatever it left running in the background goes too: nothing outlives
            # the generation that started it.
            _kill(proc)
    return Finished(proc.returncode, out, err)


def stderr_tail(err: bytes, limit: int = 2000) -> str:
    text = err.decode("utf-8", "replace").strip()
    return f": {text[-limit:]}" if text else ""
