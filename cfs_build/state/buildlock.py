"""The project build lock: one build of a project at a time; a second one waits or leaves."""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import CfsError
from ..reading.files import odd_entry
from . import STATE_DIR

LOCK_DIR = STATE_DIR
LOCK_NAME = "build.lock"
LOCK_FILE = f"{LOCK_DIR}/{LOCK_NAME}"


class BuildLockHeld(CfsError):
    """Another process holds the build lock and the caller would not wait; ``holder`` is
    its pid when it wrote one (front ends word their own advice from it)."""

    def __init__(self, message: str, holder: int | None):
        super().__init__(message, file=LOCK_FILE)
        self.holder = holder


@contextmanager
def build_lock(root: Path, *, wait: bool = True, stream=None) -> Iterator[None]:
    """Hold the build lock of the project at ``root`` for the ``with`` block.

    Another build holding it: say so on ``stream`` (stderr) and wait for it, or, with
    ``wait=False``, raise a CfsError naming its process. Reading commands (status,
    check) never take it: they only look, and a build leaves every file whole.
    """
    fd = _acquire(root, wait, stream)
    if fd is None:  # this process holds it already (a build within a build)
        yield
        return
    try:
        yield
    finally:
        try:
            os.ftruncate(fd, 0)  # no pid of a finished build left to name
        except OSError:
            pass
        os.close(fd)  # closing the only descriptor releases the flock


def hold_build_lock(root: Path, *, stream=None) -> None:
    """Take the build lock for the rest of this process (doit's dodo.py front end).

    Taken where doit loads the tasks, in its main process, before any status is
    judged: the workers of ``doit -n N`` (threads, or processes forked from this one)
    share the one lock. Asking again in the same process is a no-op.
    """
    _acquire(root, True, stream)
    # The descriptor stays open on purpose: the lock ends with the process.


def _acquire(root: Path, wait: bool, stream) -> int | None:
    """A descriptor holding the lock; None when this process holds it already."""
    fd = _open(Path(root))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if holder == os.getpid():
                os.close(fd)  # another descriptor of this process holds it, and keeps it
                return None
            who = f"pid {holder}" if holder else "another process"
            if not wait:
                raise BuildLockHeld(f"another build of this project is running ({who}); "
                                    "nothing was built. Run again when it is done, or "
                                    "without --no-wait to wait for it", holder) from None
            print(f"cfs: waiting for the build lock held by {who} ({LOCK_FILE})...",
                  file=stream or sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open(root: Path) -> int:
    """The lock file's descriptor, never reached through a symlink (of .cfs or the file)."""
    try:
        os.mkdir(root / LOCK_DIR)
    except FileExistsError:
        pass
    except OSError as exc:
        raise CfsError(f"cannot create {LOCK_DIR}/: {exc.strerror}", file=LOCK_DIR) from None
    try:
        directory = os.open(root / LOCK_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise _refusal(LOCK_DIR, exc, "a directory") from None
    try:
        if odd_entry(directory, LOCK_NAME) is not None:  # (never opened: a FIFO, a device)
            raise CfsError(f"{LOCK_FILE} is not a regular file; cfs keeps its build lock "
                           "there. Remove it and run again", file=LOCK_FILE)
        fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o644, dir_fd=directory)
    except OSError as exc:
        raise _refusal(LOCK_FILE, exc, "a regular file") from None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CfsError(f"{LOCK_FILE} is not a regular file; cfs keeps its build lock there. "
                       "Remove it and run again", file=LOCK_FILE)
    return fd


def _refusal(rel: str, exc: OSError, kind: str) -> CfsError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EISDIR, errno.ENXIO):
        return CfsError(f"{rel} is not {kind} (a symlink or something else); cfs never goes "
                        "through it. Remove it and run again", file=rel)
    return CfsError(f"cannot open: {exc.strerror}", file=rel)


def _holder(fd: int) -> int | None:
    """The pid the holder wrote into the lock file, when it has done so yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
