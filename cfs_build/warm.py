"""A project kept analysed between the requests of a long-running server, checked before each.

The kept Project is one whose analysis came from a snapshot (snapshot.py): the
snapshot records the stat signature of everything the analysis looked at, and
that record is exactly what a fresh process would check before trusting it. So
before each answer the same signatures are taken again; while every one is equal,
a fresh process would have loaded the same snapshot and given the same answer, and
the kept project (with whatever it has read since: the tree, chains, texts) is
used. When any differs, or when there is no snapshot to prove the analysis (none
could be recorded: a file changed too recently, a link in the tree, a journaled
write pending), the answer comes from a new Project, exactly as a fresh process
would make it; that one is kept in turn once it was loaded from a snapshot.

One chain's answers (load_chain, dump_chain, write_file, accept) do not need the
project at all: they are read lean (lean.py), with parses kept between requests.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .lean import LeanMemo, LeanProject, NeedsFull
from .project import Project
from .snapshot import signatures

T = TypeVar("T")


def still_holds(project: Project) -> bool:
    """The snapshot ``project`` was loaded from would be loaded again now."""
    snap = project.snapshot
    if snap is None:
        return False
    try:
        return signatures(project.root, list(snap.paths)).tobytes() == snap.recorded
    except OSError:  # the root itself cannot be opened: nothing is known
        return False


class Warm:
    """The server's view of one project: a kept Project, its answers, and lean reads."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.memo = LeanMemo()
        self._lock = threading.Lock()  # one answer at a time uses the kept project
        self._kept: Project | None = None
        self._answers: dict[tuple, object] = {}
        self.fresh = 0  # how many Projects were made: what a test can tell reuse by

    @contextmanager
    def project(self) -> Iterator[Project]:
        """The project as a fresh process would read it now, held for one answer."""
        with self._lock:
            yield self._current()

    def _current(self) -> Project:
        if self._kept is not None and still_holds(self._kept):
            return self._kept
        self._kept = None
        self._answers = {}
        project = Project(self.root)
        self.fresh += 1
        if project.snapshot is not None:
            self._kept = project
        return project

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

    def lean(self) -> LeanProject:
        """A lean reading of one chain (lean.py), with this server's parses."""
        return LeanProject(self.root, self.memo)

    def lean_first(self, compute: Callable[[LeanProject | Project], T]) -> T:
        """``compute`` on a lean reading, or on the project when that cannot be sure."""
        try:
            return compute(self.lean())
        except NeedsFull:
            with self.project() as project:
                return compute(project)
