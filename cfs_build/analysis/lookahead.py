"""Looking at the snapshot's watched paths while `cfs` is still starting.

A quick command on a big project (`cfs status` right after an edit) spends a good part
of its time importing its modules, then takes the signature of every path the last
snapshot watched (snapshot.py). The second needs nothing of the first. So before
anything else is imported a second process is forked: it finds the project, reads the
snapshot's list of paths and takes the signatures of the last SHARE of them, while
this one imports, loads and checks the snapshot and takes the others.

The child's signatures are used only for the very snapshot this process then loaded
(same project, same seal, same size, same number of paths); otherwise they are
dropped and the paths are looked at here, as without it. The child reads only what
the analysis reads (the snapshot, checked against its seal before anything in it is
trusted, never through a link) and writes only to this process; it ends with its
answer, or is stopped when the command did not ask for it.
"""
from __future__ import annotations

import marshal
import os
import signal
import sys
import time

from ..reading.ledger import signatures
from ..reading.parallel import can_fork, fork, interruptible
from ..state import SEAL_SIZE, STATE_DIR

SNAPSHOT_FORMAT = 4  # bump when the layout of the snapshot file changes (snapshot.py)
SNAPSHOT_NAME = f"snapshot.v{SNAPSHOT_FORMAT}"
SNAPSHOT_FILE = f"{STATE_DIR}/{SNAPSHOT_NAME}"
PATHS_AT = 2  # where the \0-joined watched paths are in the snapshot's tuple

# The part of the paths the child looks at: this process meanwhile imports its modules
# (~35 ms), checks and decodes the snapshot (~40 ms at 10,000 leaves), then takes the rest.
SHARE = 0.7
# Below this many paths the whole pass takes a few milliseconds: no second process.
MIN_PATHS = 2000


def cut_at(count: int) -> int:
    """The index of the first of ``count`` paths the child looks at."""
    return count - int(count * SHARE)


class Lookahead:
    """A child process taking signatures (see start)."""

    def __init__(self, pid: int, fd: int, began: int):
        self.pid, self.fd = pid, fd
        # The moment before anything was looked at: an analysis begins then.
        self.began = began

    def take(self, root: str, sealed: bytes, count: int) -> bytes | None:
        """The signatures of the last paths (from cut_at(count)) of the snapshot ``sealed``
        of the project ``root``, as the child took them; None when the child looked at
        another snapshot or project, or could not look."""
        if self.fd is None:
            return None
        with os.fdopen(self.fd, "rb") as pipe:
            self.fd = None
            data = pipe.read()
        self._reap()
        try:
            where, seal, size, seen, sigs = marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            return None
        if (where != root or seal != sealed[:SEAL_SIZE] or len(seal) != SEAL_SIZE
                or size != len(sealed) or seen != count or type(sigs) is not bytes
                or len(sigs) != (count - cut_at(count)) * 32):
            return None
        return sigs

    def close(self) -> None:
        """Stop the child if its answer was not taken (nothing waits on it)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self._reap()

    def _reap(self) -> None:
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def start(directory: str) -> Lookahead | None:
    """The child looking at the snapshot's paths of the project at or above
    ``directory``; None where a second process is not worth it or cannot be had."""
    if not can_fork():
        return None
    began = time.time_ns()
    try:
        read_end, write_end = _pipe()
    except OSError:
        return None
    try:
        pid = fork()
    except OSError:  # a limit on processes (ulimit -u, pids.max): the command runs alone
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        status = 1
        try:
            interruptible()
            os.close(read_end)
            _quiet()
            answer = _look(directory)
            if answer is not None:
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(marshal.dumps(answer))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    ahead = Lookahead(pid, read_end, began)
    try:
        interruptible()
    except KeyboardInterrupt:
        ahead.close()  # (the child stopped, not left to end alone)
        raise
    return ahead


def _pipe() -> tuple[int, int]:
    """os.pipe(), both ends above the standard streams. Where the caller closed some
    (`cfs status >&- 2>&-`) they would else be made there, and the child, pointing its
    own streams at /dev/null (_quiet), would lose the end it answers through."""
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
    """The child's standard streams go nowhere: it never prints, and a reader of this
    process's output sees its end when this process ends."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = None


def _look(directory: str) -> tuple | None:
    # Imported here, in the child only: the reading of a sealed state file.
    from ..reading.names import nearest_root
    from ..state import dirs as state

    root = nearest_root(directory)
    if root is None:
        return None
    key = state.anchor(root, STATE_DIR)
    sealed = state.read_state(root, SNAPSHOT_FILE)
    data = state.unseal(sealed, key) if key else None
    if data is None:
        return None
    joined = marshal.loads(data)[PATHS_AT]
    if type(joined) is not str:
        return None
    paths = joined.split("\0")
    if len(paths) < MIN_PATHS or outside(joined):
        return None
    cut = cut_at(len(paths))
    return (root, sealed[:SEAL_SIZE], len(sealed), len(paths),
            signatures(root, paths[cut:]).tobytes())


def outside(joined: str) -> bool:
    """Some of the \0-joined paths is absolute or climbs with '..': not one an analysis
    watched (they are project-relative), so the snapshot is not this code's."""
    if joined[:1] == "/" or "\0/" in joined:
        return True
    return ".." in joined and any(".." in path.split("/") for path in joined.split("\0"))
