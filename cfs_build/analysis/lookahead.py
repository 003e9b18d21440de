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
import time

from ..reading import parallel
from ..reading.ledger import signatures
from ..reading.parallel import Forked
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
# Paths looked at between two checks that the process that started the child is still
# there (a few milliseconds' worth): once it is gone, nothing waits for the rest.
CHUNK = 1024


def cut_at(count: int) -> int:
    """The index of the first of ``count`` paths the child looks at."""
    return count - int(count * SHARE)


class Lookahead:
    """A child process taking signatures (see start)."""

    def __init__(self, child: Forked, began: int):
        self.child = child
        # The moment before anything was looked at: an analysis begins then.
        self.began = began

    @property
    def pid(self) -> int:
        """The child's process id (0 once it has ended and been waited for)."""
        return self.child.pid

    def take(self, root: str, sealed: bytes, count: int) -> bytes | None:
        """The signatures of the last paths (from cut_at(count)) of the snapshot ``sealed``
        of the project ``root``, as the child took them; None when the child looked at
        another snapshot or project, or could not look."""
        try:
            where, seal, size, seen, sigs = self.child.answer()
        except (TypeError, ValueError):  # (None: no answer)
            return None
        if (where != root or seal != sealed[:SEAL_SIZE] or len(seal) != SEAL_SIZE
                or size != len(sealed) or seen != count or type(sigs) is not bytes
                or len(sigs) != (count - cut_at(count)) * 32):
            return None
        return sigs

    def close(self) -> None:
        """Stop the child if its answer was not taken."""
        self.child.stop()


def start(directory: str) -> Lookahead | None:
    """The child looking at the snapshot's paths of the project at or above
    ``directory``; None where a second process is not worth it or cannot be had."""
    began = time.time_ns()
    parent = os.getpid()
    child = parallel.start(lambda: _look(directory, parent), quiet=True)
    return None if child is None else Lookahead(child, began)


def _look(directory: str, parent: int) -> tuple | None:
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
    chunks = []
    for at in range(cut_at(len(paths)), len(paths), CHUNK):
        if os.getppid() != parent:  # killed (a SIGKILL runs no cleanup): stop now too
            return None
        chunks.append(signatures(root, paths[at:at + CHUNK]).tobytes())
    return root, sealed[:SEAL_SIZE], len(sealed), len(paths), b"".join(chunks)


def outside(joined: str) -> bool:
    """Some of the \0-joined paths is absolute or climbs with '..': not one an analysis
    watched (they are project-relative), so the snapshot is not this code's."""
    if joined[:1] == "/" or "\0/" in joined:
        return True
    return ".." in joined and any(".." in path.split("/") for path in joined.split("\0"))
