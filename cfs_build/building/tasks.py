"""doit tasks: one per artifact, with uptodate callables; failures as doit failure types."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from doit.exceptions import InvalidDodoFile, TaskFailed

from ..analysis.status import Need
from ..errors import ERROR, CfsError, printable
from ..reading.index import INDEX_DIR
from ..reading.names import SPEC, spec_of
from ..state import dirs as state
from .collector import restore
from .generate import BuildState, Outcome

STATE_FILE = ".cfs/doit-state"
BACKEND = "json"  # measured a little faster than sqlite3 and dbm here (README, Speed)
TASK_PREFIX = "gen:"


def task_name(node: str, prefix: str = "") -> str:
    """The doit task of a node: doit prints it as it is (`doit list`), so a directory's
    control characters and bidi overrides are written as escapes, as cfs shows them, and
    a backslash as two: a directory named with an escape's text (`a\\x9b`) is then no
    other directory's task (`a` and the C1 control U+009B)."""
    rest = node[len(SPEC) + 1:].replace("\\", "\\\\")
    return f"{prefix}{TASK_PREFIX}{printable(rest)}"


class GenerationFailed(TaskFailed):
    """A generation that failed: refused, the backend failed, or the reply was unusable."""

    def __init__(self, node: str, message: str, assumptions: list[str] | None = None):
        super().__init__(f"{node}: {message}")
        self.node = node
        self.assumptions = list(assumptions or ())


class FindingsFailed(GenerationFailed):
    """The model found the spec not enough to write the file: nothing was written."""


class GenerationRefused(GenerationFailed):
    """A file edited by hand or not made by cfs: kept as it is, nothing was generated."""

    def __init__(self, node: str, message: str):
        super().__init__(node, message)
        self.message = message  # it names the file already


class RunLink:
    """A task's link to its run (task ``meta``), so a reporter finds the runs it reports on.

    doit's worker processes get an empty link: a run holds locks and threads, and
    only the main process reports.
    """

    def __init__(self, state: BuildState | None):
        self.state = state

    def __reduce__(self):
        return (RunLink, (None,))

    def __repr__(self) -> str:  # (`doit info TASK` prints the task's meta)
        return "<cfs build>" if self.state is None else f"<cfs build of {self.state.root}>"


def run_of(task) -> BuildState | None:
    link = (task.meta or {}).get("cfs")
    return link.state if isinstance(link, RunLink) else None


def _run(state: BuildState, node: str):
    restore(state.collector)
    result = state.generate(node)
    if result.outcome == Outcome.GENERATED:
        return result.summary()
    if result.outcome == Outcome.REFUSED:
        return GenerationRefused(node, result.message)
    failure = FindingsFailed if result.outcome == Outcome.FINDINGS else GenerationFailed
    return failure(node, result.message, result.assumption_lines())


def make_tasks(state: BuildState, prefix: str = "", only: set[str] | None = None,
               changing: set[str] | None = None) -> list[dict]:
    """One doit task dict per artifact; ARTIFACT imports become task dependencies.

    ``only``: the artifacts to make tasks for (a dependency on any other is left out;
    the caller knows those need no work). ``changing``: ``state.may_run()`` when the
    caller has just taken it.
    """
    errors = [f for f in state.project.findings if f.severity == ERROR]
    if errors:
        lines = "\n".join(f.render() for f in errors)
        raise InvalidDodoFile(f"the spec tree has {len(errors)} format error(s); fix them "
                              f"first (cfs validate):\n{lines}")
    now = state.statuses()
    if changing is None:
        changing = state.may_run(now)
    if changing:
        # Something will be generated: read the tree now, before doit starts threads or
        # forks workers, rather than once in each of them.
        _ = state.project.tree
    else:
        state.project.keep_report()  # nothing will change it: worth keeping for next time
    link = {"cfs": RunLink(state)}
    refused_link = {**link, "refused": True}
    tasks = []
    for artifact in state.artifacts:
        if only is not None and artifact not in only:
            continue
        node = spec_of(artifact)
        producers = state.producers.get(artifact, ())
        tasks.append({
            "basename": task_name(node, prefix),
            # The intent is a line of the checkout's text: doit prints it as it is.
            "doc": printable(state.project.intent(node)),
            "actions": [(_run, [state, node])],
            # Only the answer of a consumer of something that may be regenerated first
            # can change during the run; every other task's is known now, and a plain
            # value spares doit inspecting one callable per task.
            "uptodate": [(state.is_up_to_date, [node])]
            if any(p in changing for p in producers) else [now[artifact].up_to_date],
            "task_dep": [task_name(spec_of(p), prefix) for p in producers
                         if only is None or p in only],
            # A hand-edited or foreign file is refused, never generated: the reporter
            # then does not announce a generation.
            "meta": refused_link if now[artifact].need is Need.REFUSE else link,
            # No `targets`: doit would stat each output again, a tenth of a no-op run
            # at 10,000 artifacts; the uptodate check already covers a missing file.
        })
    return tasks


def usable_state_file(root: Path) -> str:
    """The file doit keeps its state in for a run, given back to .cfs/doit-state when the
    process ends (state_file: for a dodo.py, where nothing else runs after doit)."""
    path, give_back = state_file(root)
    atexit.register(give_back)
    return path


def state_file(root: Path) -> tuple[str, Callable[[], None]]:
    """A private copy of .cfs/doit-state for doit to use, and what gives it back.

    doit opens its state file by its path when it saves it, at the end of the run,
    so a link put at .cfs/doit-state during the build (minutes after any check) would
    have it write over whatever the link names, outside the project too. It gets a
    copy in a directory of this process's own; ``give_back`` (call it once doit is
    done) puts the copy in place the way cfs writes its state, never through a link.

    A damaged, linked or odd state file is dropped (the manifest is the only record
    cfs relies on), in one line; one that cannot be replaced is left alone and this
    run's state is not kept.
    """
    try:
        data, problem = _state_file_in(root)
    except CfsError as exc:
        data, problem = None, str(exc)
    private = tempfile.mkdtemp(prefix="cfs-doit-")
    path = os.path.join(private, "doit-state")
    if data is not None:
        with open(path, "wb") as handle:
            handle.write(data)
    if problem is not None:
        state.notice(f"cannot use {STATE_FILE} ({problem}); "
                     "doit keeps this run's state in a temporary file")
    given = []

    def give_back() -> None:
        if given:
            return
        given.append(True)
        try:
            if problem is None:
                _put_back(root, path)
        finally:
            shutil.rmtree(private, True)

    return path, give_back


def _put_back(root: Path, path: str) -> None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return  # doit saved nothing
    try:
        with state.directory(root, INDEX_DIR, create=True) as fd:
            state.replace_at(fd, STATE_FILE.rsplit("/", 1)[1], data, durable=False)
    except (CfsError, OSError) as exc:
        state.notice(f"cannot save {STATE_FILE} ({getattr(exc, 'strerror', None) or exc}); "
                     "the next run starts doit's state again (the manifest is cfs's only "
                     "record)")


def _state_file_in(root: Path) -> tuple[bytes | None, str | None]:
    """The bytes of .cfs/doit-state (None: no file, or one dropped), and why it cannot
    be used (None: it can). Raises CfsError when .cfs is a link."""
    with state.directory(root, INDEX_DIR, create=True) as fd:
        name = STATE_FILE.rsplit("/", 1)[1]
        problem = state.is_link_or_odd(fd, name)
        data = None
        if problem is None:
            data = state.read_at(fd, name)
            if data is not None and not _whole(data):
                problem = "empty" if not data.strip() else \
                    "not whole JSON (cut short by a kill, or damaged)"
            elif data is not None and not os.access(name, os.W_OK, dir_fd=fd):
                problem = "not writable"
        if problem is None and os.access(".", os.W_OK, dir_fd=fd):
            return data, None
        if problem is not None and state.remove_at(fd, name):
            state.notice(f"discarded {STATE_FILE}: it was {problem}; "
                         "doit starts a new one (the manifest is cfs's only record)")
            return None, None
    return None, problem or "its directory is not writable"


def _whole(data: bytes) -> bool:
    """The state file parses as doit's JSON backend wrote it (a dict)."""
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):  # (a checkout's, nested past the stack)
        return False
