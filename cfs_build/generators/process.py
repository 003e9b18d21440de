"""Generator subprocesses: each in a fresh empty directory and a process group of its own."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from . import MAX_ANSWER, GenerationFailed
from .session import Session

# Seconds a generator's background children get, after it exited, to close its pipes.
GRACE = 1.0
# The most a generator may print (the bound on every answer, HTTP ones too). Of stderr,
# only the end is kept (messages quote its tail).
MAX_STDOUT = MAX_ANSWER
STDERR_KEPT = 64 * 1024


class TooLong(GenerationFailed):
    """The program printed more than its ``limit`` of bytes (and was killed)."""

    def __init__(self, message: str, limit: int):
        super().__init__(message)
        self.limit = limit


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
                 env: dict[str, str] | None = None, *, grace: float = GRACE,
                 session: Session | None = None, limit: int = MAX_STDOUT) -> Finished:
    """Run ``argv`` in a new empty temporary directory outside the project, ``stdin`` piped in.

    The directory is removed afterwards, so nothing the program writes there survives.
    The timeout holds even against descendants that keep the output pipes open; once the
    program itself has exited, they get ``grace`` seconds to close them, and then what
    the program printed is its reply. ``session`` is the run the process belongs to:
    stopping the run kills it. Without one, the process belongs to a run of its own.
    A program printing more than ``limit`` bytes is killed (TooLong).
    """
    session = Session() if session is None else session
    with tempfile.TemporaryDirectory(prefix="cfs-gen-") as workdir:
        try:
            # Its own process group, so a timeout or Ctrl-C can stop whatever it started.
            proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=env)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in an argument
            reason = getattr(exc, "strerror", None) or exc
            raise GenerationFailed(f"cannot run {argv[0]!r}: {reason}") from None
        session.track(proc)
        pipes = {os.fstat(pipe.fileno()).st_ino for pipe in (proc.stdout, proc.stderr)}
        held = True  # until both pipes are seen to end
        try:
            out, err, held = _exchange(proc, stdin, time.monotonic() + timeout, grace, limit)
        finally:
            session.untrack(proc)
            # Whatever it left running in the background goes too: nothing outlives
            # the generation that started it, and nothing keeps its pipes open.
            timed_out = proc.poll() is None
            _kill(proc)
            proc.kill()  # in case it left its own process group
            if held:
                _kill_writers(pipes)
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    pipe.close()
                except OSError:
                    pass
            proc.wait()
        if out is None:
            raise TooLong(f"{os.path.basename(argv[0])} printed more than {limit:,} bytes; "
                          "a reply is one file: it was stopped; make the command print the file's "
                          "content and nothing else", limit)
        if timed_out:
            raise TimedOut(f"timed out after {timeout:g} s")
        if proc.returncode != 0 and session.stopped:
            # Killed because the run was stopped: the run log says so, not "status -9".
            raise GenerationFailed("interrupted")
    return Finished(proc.returncode, out, err)


def _exchange(proc: subprocess.Popen, stdin: bytes, deadline: float, grace: float,
              most: int) -> tuple[bytes | None, bytes, bool]:
    """Write ``stdin`` and read stdout and stderr until both end and the program exited,
    or the deadline, or ``grace`` seconds after the program exited, whichever comes first.

    Returns what was read from each (stdout None once it passed ``most`` bytes, which
    ends the exchange; of stderr its last STDERR_KEPT bytes), and whether a pipe is still
    held open by someone.

    Unlike ``communicate``, this never waits for the end of a pipe past the deadline: a
    background child that holds the pipe open must not hold the build.
    """
    out, err = proc.stdout.fileno(), proc.stderr.fileno()
    chunks: list[bytes] = []  # of stdout; stderr keeps only its tail
    printed, tail = 0, bytearray()
    try:
        exit_fd = os.pidfd_open(proc.pid)  # readable once the program exits (Linux)
    except (AttributeError, OSError):
        exit_fd = None
    with selectors.DefaultSelector() as selector:
        for fd in (out, err):
            selector.register(fd, selectors.EVENT_READ)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ)
        writing, sent, view = proc.stdin.fileno(), 0, memoryview(stdin)
        if stdin:
            os.set_blocking(writing, False)
            selector.register(writing, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        reading, exited_at = {out, err}, None
        try:
            while reading or exited_at is None:
                now = time.monotonic()
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                    if not reading:
                        break
                limit = deadline if exited_at is None else min(deadline, exited_at + grace)
                if now >= limit:
                    break
                wait = limit - now
                if exit_fd is None and exited_at is None:
                    wait = min(wait, 0.05)  # no exit notice to wait on: look again soon
                for key, _ in selector.select(wait):
                    if key.fd == exit_fd:
                        selector.unregister(exit_fd)
                    elif key.fd == writing:
                        try:
                            sent += os.write(writing, view[sent:sent + 65536])
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            sent = len(stdin)  # it stopped reading: what it does next decides
                        if sent >= len(stdin):
                            selector.unregister(writing)
                            proc.stdin.close()
                    else:
                        data = os.read(key.fd, 65536)
                        if data and key.fd == out:
                            printed += len(data)
                            if printed > most:
                                return None, bytes(tail), bool(reading)
                            chunks.append(data)
                        elif data:
                            tail += data
                            del tail[:-STDERR_KEPT]
                        else:
                            selector.unregister(key.fd)
                            reading.discard(key.fd)
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
    return b"".join(chunks), bytes(tail), bool(reading)


def _kill_writers(pipes: set[int]) -> None:
    """Kill every process still holding the write end of one of these pipes (by inode).

    Such a process descends from the generator (the pipes were made for it alone) but may
    have left its process group with setsid. Linux shows who holds what in /proc; where
    there is no /proc, the process group is all that can be reached.
    """
    links = {f"pipe:[{inode}]" for inode in pipes}
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone, or not ours to look at (and so not ours to kill)
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") not in links:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as info:
                    flags = next(line for line in info if line.startswith("flags:"))
            except (OSError, StopIteration):
                continue
            # Only a writer: a process that merely forked while holding our read end (a
            # sibling generator starting in another thread) is left alone.
            if int(flags.split()[1], 8) & os.O_ACCMODE == os.O_WRONLY:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                break


def stderr_tail(err: bytes, limit: int = 2000) -> str:
    text = err.decode("utf-8", "replace").strip()
    return f": {text[-limit:]}" if text else ""
