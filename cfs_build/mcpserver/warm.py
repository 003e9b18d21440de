"""A project kept analysed between the requests of a long-running server, checked before each.

The kept Project is one whose analysis came from a snapshot (snapshot.py): the
snapshot records the stat signature of everything the analysis looked at, and
that record is exactly what a fresh process would check before trusting it.

Where the kernel tells changes (watch.py), every directory holding a watched path
is watched, and the watches are in place before the analysis is trusted: once
they are added, the signatures are taken once more and must equal the recorded
ones, none of them too recent to tell a later change apart (the snapshot's own
margin). From then on an empty event queue means the kept analysis stands, with no
file looked at; events name the paths that changed, and only those are handed to
the incremental machinery (incremental.refresh), forced to count as changed even
when their signature came out equal (two writes within one clock tick).

Without change notification (another platform, a watch limit reached, the queue
overflowed, CFS_NO_WATCH set) the same signatures are taken again before each
answer; while every one is equal, a fresh process would have loaded the same
snapshot and given the same answer. When any differs, or when there is no snapshot
to prove the analysis (none could be recorded: a link in the tree, a journaled write
pending), the answer comes from a new Project, exactly as a fresh process would make
it; that one is kept in turn once it was loaded from a snapshot, and reused on
signatures alone only if none of what it read was too recent to trust (_settled).

A whole analysis of a big tree (APART_DIRS directories or more) is made by a child
`cfs status`, which records it as a snapshot the server then loads: the server's
memory holds what the analysis keeps, never the height a cold analysis reaches on
the way (the answers are the same: the server loads the snapshot a fresh process
would). When no snapshot comes of it, the server analyses the project itself.

One chain's answers (load_chain, dump_chain, write_file, accept) do not need the
project at all: they are read lean (lean.py), with parses kept between requests;
while the watches hold, whether the tree has a link or a node is known without
listing it again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..analysis import incremental
from ..analysis.lean import LeanMemo, LeanProject, NeedsFull, links_below
from ..analysis.project import Project
from ..analysis.snapshot import MARGIN, file_system_clock, too_recent
from ..analysis.verified import RECORD
from ..reading.index import INDEX_DIR
from ..reading.ledger import signatures
from ..reading.names import TREE_DIR, in_dot_dir
from ..reading.walk import NODE_FILE
from .watch import Event, WatchFailed, Watcher

T = TypeVar("T")

_TREE = TREE_DIR + "/"
_FULL = "\0"  # among the changed paths: the whole analysis is needed
# The directory holding the cfs_build package: the child analysis starts there.
_PACKAGE_HOME = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APART_DIRS = 2000  # from about this many tree directories a cold analysis costs memory


def _big(root: Path, limit: int) -> bool:
    """The tree has at least ``limit`` directories (counted until that many are seen;
    links are not followed: the analysis reports them)."""
    seen, stack = 0, [root / TREE_DIR]
    while stack and seen < limit:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        seen += 1
                        stack.append(Path(entry.path))
        except OSError:
            continue
    return seen >= limit


def still_holds(project: Project) -> bool:
    """The snapshot ``project`` was loaded from would be loaded again now."""
    snap = project.snapshot
    if snap is None:
        return False
    try:
        return signatures(project.root, list(snap.paths)).tobytes() == snap.recorded
    except OSError:  # the root itself cannot be opened: nothing is known
        return False


def _in_tree(rel: str) -> bool:
    return rel == TREE_DIR or rel.startswith(_TREE)


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]


class Warm:
    """The server's view of one project: a kept Project, its answers, and lean reads.

    ``watch``: use change notification where the platform has it (None: unless the
    environment's CFS_NO_WATCH is set); False keeps to re-taking signatures.
    """

    def __init__(self, root: Path | str, *, watch: bool | None = None,
                 apart_dirs: int = APART_DIRS):
        self.root = Path(root).resolve()
        self._apart_dirs = apart_dirs
        self.apart = 0  # whole analyses made by a child process
        self.memo = LeanMemo()
        self._lock = threading.Lock()  # one answer at a time uses the kept project
        self._kept: Project | None = None
        # Whether the kept analysis was settled when it was made (see _settled): one that
        # was not may be reused only while the kernel tells of every change since.
        self._kept_settled = True
        self._answers: dict[tuple, object] = {}
        self.fresh = 0  # how many Projects were made: what a test can tell reuse by
        self.refreshed = 0  # how many were brought up to date from told changes
        self._watching = watch
        # Guarded by _events: the watcher, whether it covers the kept analysis, the
        # paths told changed since, and what is known while nothing relevant changes.
        self._events = threading.Lock()
        self._watcher: Watcher | None = None
        self._armed = False
        self._pending: set[str] = set()
        self._links: tuple[bool, bool] | None = None
        self._generation = 0  # moves on every change an answer can depend on
        self._watched: frozenset[str] = frozenset()  # the kept snapshot's paths
        self._awaited: frozenset[str] = frozenset()  # missing directories on their way

    def close(self) -> None:
        """Give the watches back (the server is done)."""
        with self._events:
            self._disarm()

    def __del__(self):
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.close()

    @property
    def watching(self) -> bool:
        """Changes are being told by the kernel (not looked for by stat)."""
        return self._armed

    # -- the kept project -----------------------------------------------------------

    @contextmanager
    def project(self) -> Iterator[Project]:
        """The project as a fresh process would read it now, held for one answer."""
        with self._lock:
            yield self._current()

    def _current(self) -> Project:
        with self._events:
            self._drain()
            armed, pending = self._armed, self._pending
            self._pending = set()
        if armed and self._kept is not None and _FULL not in pending:
            if not pending:
                return self._kept  # nothing changed: not a file looked at
            project = self._told(self._kept, pending)
            if project is not None:
                return project
        elif (self._kept is not None and not armed and self._kept_settled
              and still_holds(self._kept)):
            self._arm(self._kept, read_after=False)
            return self._kept
        self._keep(None)
        project = self._made()  # read after the watches were added, when armed
        self.fresh += 1
        if project.snapshot is not None:
            self._keep(project)
            self._arm(project, read_after=armed)
        return project

    def _made(self) -> Project:
        """A new Project: the snapshot on disk, brought up to date where it can be; else,
        for a big tree, the snapshot a child's whole analysis records. The tree is read
        here only when neither is there, and then only when an answer asks for it."""
        project = Project(self.root, read_tree=False)
        if project.snapshot is None and self._analyse_apart():
            project = Project(self.root, read_tree=False)  # the child's snapshot, if any
        return project

    def _analyse_apart(self) -> bool:
        """A whole analysis by a child `cfs status` (recorded as a snapshot), for a big
        tree; False for a small one, or when the child could not be run."""
        if not _big(self.root, self._apart_dirs):
            return False
        command = [sys.executable, "-m", "cfs_build.cli", "-C", str(self.root), "status"]
        try:
            # `-m` puts the working directory first on the child's import path: started in
            # the project (as an editor starts `cfs mcp`), a checkout's own yaml.py or
            # xxhash.py would run. The directory this cfs_build came from adds nothing.
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, cwd=_PACKAGE_HOME)
        except OSError:
            return False
        self.apart += 1
        return True

    def _keep(self, project: Project | None) -> None:
        if project is not None and project.snapshot is not None:
            # Its basis is read now, while it is the one on disk: another process may
            # replace that file later, and the next change is brought in from this one.
            project.snapshot.basis()
        self._kept = project
        # (Judged now: later the same signatures look settled, though a rewrite within
        # the clock tick of the read could hide behind them.)
        self._kept_settled = project is None or self._settled(project)
        self._answers = {}
        with self._events:
            self._watched = frozenset(project.snapshot.paths) if project else frozenset()

    def _told(self, kept: Project, changed: set[str]) -> Project | None:
        """The kept analysis brought up to date with the paths the kernel told changed."""
        snap = kept.snapshot
        where = [i for i, path in enumerate(snap.paths) if path in changed]
        current = array("q", snap.recorded)
        try:
            now = signatures(self.root, [snap.paths[i] for i in where])
        except OSError:
            return None
        for k, i in enumerate(where):
            sig = now[k * 4:k * 4 + 4]
            if sig == current[i * 4:i * 4 + 4]:
                # Changed within one clock tick of the last look: counted changed anyway.
                sig[0] -= 1
            current[i * 4:i * 4 + 4] = sig
        if where:
            update = incremental.refresh(self.root, snap, current.tobytes())
        else:
            update = None
        if update is None and where:
            return None  # the whole analysis is needed: a fresh process's
        if update is None:
            return kept  # told of nothing the analysis looked at
        project = Project(self.root, update=update)
        self.refreshed += 1
        self._keep(project)
        if self._cover(project) is not False:
            # New directories to watch (or none possible): their paths were read before
            # their watches; stat until they hold again.
            with self._events:
                self._disarm()
        return project

    # -- change notification ----------------------------------------------------------

    def _arm(self, project: Project, *, read_after: bool) -> None:
        """Watch what ``project``'s analysis looked at and make sure it still holds.

        ``read_after``: the analysis was read with the watches already in place; then
        only directories watched from now on need their paths checked.
        """
        if self._watching is False:
            return
        with self._events:
            if self._watcher is None:
                read_after = False
                self._watcher = Watcher.open(os.fspath(self.root), (TREE_DIR,),
                                             enabled=self._watching)
                if self._watcher is None:
                    self._watching = False  # not here: stat from now on
                    return
                try:
                    self._watcher.watch_below(TREE_DIR)
                except WatchFailed:
                    self._disarm()
                    self._watching = False
                    return
        added = self._cover(project)
        with self._events:
            if added is None:
                self._disarm()
                return
            if read_after and not added and self._armed:
                return
            # Changes queued so far happened before the look below, which sees them.
            if self._watcher.drain() is None:
                self._disarm()
                return
        # The watches are in place: what the analysis read is what is there now, unless a
        # signature moved (or is too recent to tell a later change by).
        holds = still_holds(project) and self._settled(project)
        with self._events:
            if holds and self._watcher is not None:
                self._armed = True
                self._pending = set()
                self._links = None
                self._generation += 1
            else:
                self._disarm()

    def _cover(self, project: Project) -> bool | None:
        """Watches on every directory holding a path ``project``'s analysis looked at:
        whether any had to be added (None: not possible)."""
        with self._events:
            watcher = self._watcher
            if watcher is None:
                return None
            awaited, added = set(), False
            try:
                for directory in {"", INDEX_DIR, *(_parent(p) for p in project.snapshot.paths
                                                  if not _in_tree(p))}:
                    here = directory
                    while True:
                        if watcher.watched(here):
                            break
                        if watcher.watch(here):
                            added = True
                            break
                        awaited.add(here)
                        if not here:
                            return None
                        here = _parent(here)
            except WatchFailed:
                self._watching = False
                return None
            self._awaited = frozenset(awaited)
            return added

    def _settled(self, project: Project) -> bool:
        """No path the analysis looked at changed too recently to tell a later change by
        its signature (a snapshot read from disk was recorded so: snapshot.save)."""
        update = project.update
        if update is None:
            return True
        snap = project.snapshot
        sigs = array("q", snap.recorded)
        checked, paths = array("q"), []
        for i in update.fresh:
            checked.extend(sigs[i * 4:i * 4 + 4])
            paths.append(snap.paths[i])
        try:
            began = time.time_ns() + file_system_clock(self.root / INDEX_DIR)
        except OSError:
            return False
        return not too_recent(checked, began - MARGIN, paths, update.absent)

    def _disarm(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self._watcher = None
        self._armed = False
        self._pending = set()
        self._links = None
        self._generation += 1

    def _drain(self) -> None:
        """Take the queued changes into account (under ``_events``)."""
        if not self._armed:
            return
        events = self._watcher.drain()
        if events is None:
            self._disarm()  # the queue overflowed: stat again until re-armed
            return
        for event in events:
            if not self._note(event):
                self._disarm()
                return

    def _note(self, event: Event) -> bool:
        """Record what ``event`` changes; False when it cannot be followed by events."""
        path, here = event.path, event.directory
        entry = event.created or event.removed
        if not _in_tree(here):
            if path in self._watched:
                self._pending.add(path)
                self._generation += 1
            elif path == RECORD:  # what status's verification reads
                self._generation += 1
            elif path == TREE_DIR or (entry and path in self._awaited):
                return False  # the tree itself, or a directory a watched path needs
            return True
        self._generation += 1  # the content cache, a spec: status may say otherwise now
        if path in self._watched:
            self._pending.add(path)
        link = event.links or (event.created and not event.is_dir
                               and os.path.islink(f"{self.root}/{path}"))
        # Below a dot directory only a link matters.
        dotted = in_dot_dir(here[len(_TREE):] if here != TREE_DIR else "") or \
            event.name.startswith(".")
        if link:
            self._pending.add(_FULL)  # the scan fails now: the whole analysis says so
            self._links = None
        elif not dotted and entry and (event.is_dir or event.name == NODE_FILE):
            self._pending.add(here)  # the tree's shape may have changed
            self._links = None
        elif not dotted and entry and here in self._watched:
            # A file came or went: a directory without a _node.md is a finding only
            # while a file is below it (FORMAT.md 1).
            self._pending.add(here)
        if event.removed and self._links is not None and self._links[0]:
            self._links = None  # perhaps the link that failed the scan
        return True

    # -- answers ----------------------------------------------------------------------

    def answer(self, key: tuple, compute: Callable[[Project], T]) -> T:
        """``compute(project)``, remembered while the kept project holds.

        Only for answers that depend on nothing but the analysis (not on the cache,
        the run log or the clock).
        """
        with self.project() as project:
            if project is not self._kept:
                return compute(project)
            if key not in self._answers:
                self._answers[key] = compute(project)
            return self._answers[key]

    def told_answer(self, key: tuple, compute: Callable[[Project], T]) -> T:
        """``compute(project)``, remembered while the kernel tells of no change in the
        tree (the content cache included), the kept analysis's paths or the verification
        record: for answers that also read those (status)."""
        with self.project() as project:
            with self._events:
                self._drain()
                generation = self._generation if self._armed else None
                pending = bool(self._pending)
            if project is not self._kept or generation is None or pending:
                return compute(project)
            found = self._answers.get(key)
            if found is not None and found[0] == generation:
                return found[1]
            value = compute(project)
            self._answers[key] = (generation, value)
            return value

    def lean(self) -> LeanProject:
        """A lean reading of one chain (lean.py), with this server's parses."""
        return LeanProject(self.root, self.memo, links=self._known_links())

    def _known_links(self) -> tuple[bool, bool] | None:
        """links_below's answer while the watches tell it cannot have changed."""
        with self._events:
            self._drain()
            if not self._armed:
                return None
            if self._links is None:
                # Listed after the watches were added: a link made since is told.
                with self.memo.listing:
                    self._links = links_below(self.root, self.memo.listed)
            return self._links

    def lean_first(self, compute: Callable[[LeanProject | Project], T]) -> T:
        """``compute`` on a lean reading, or on the project when that cannot be sure."""
        try:
            return compute(self.lean())
        except NeedsFull:
            with self.project() as project:
                return compute(project)
