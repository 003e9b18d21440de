"""doit tasks: one per artifact, with uptodate callables; failures as doit failure types."""
from __future__ import annotations

from pathlib import Path

from doit.exceptions import InvalidDodoFile, TaskFailed

from .build import FINDINGS, GENERATED, REFUSED, BuildState
from .buildlock import hold_build_lock
from .collector import resume_collector
from .errors import CfsError
from .names import SPEC, spec_of
from .project import find_root
from .session import stop_on_sigint
from .status import MODIFIED, UNTRACKED

STATE_FILE = ".cfs/doit-state"
BACKEND = "json"  # measured a little faster than sqlite3 and dbm here (README, Speed)
TASK_PREFIX = "gen:"
REFUSED_TAG = "[refused] "


def task_name(node: str, prefix: str = "") -> str:
    return f"{prefix}{TASK_PREFIX}{node[len(SPEC) + 1:]}"


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


def run_of(task) -> BuildState | None:
    link = (task.meta or {}).get("cfs")
    return link.state if isinstance(link, RunLink) else None


def _run(state: BuildState, node: str):
    resume_collector()
    result = state.generate(node)
    if result.outcome == GENERATED:
        return result.summary()
    if result.outcome == REFUSED:
        return GenerationRefused(node, result.message)
    failure = FindingsFailed if result.outcome == FINDINGS else GenerationFailed
    return failure(node, result.message, result.assumption_lines())


def make_tasks(state: BuildState, prefix: str = "", only: set[str] | None = None,
               changing: set[str] | None = None) -> list[dict]:
    """One doit task dict per artifact; ARTIFACT imports become task dependencies.

    ``only``: the artifacts to make tasks for (a dependency on any other is left out;
    the caller knows those need no work). ``changing``: ``state.may_run()`` when the
    caller has just taken it.
    """
    errors = [f for f in state.project.findings if f.severity == "error"]
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
            "doc": state.project.intent(node),
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
            "meta": refused_link if _refused(now[artifact]) else link,
            # No `targets`: doit would stat each output again, a tenth of a no-op run
            # at 10,000 artifacts; the uptodate check already covers a missing file.
        })
    return tasks


def _refused(status) -> bool:
    return MODIFIED in status.flags or UNTRACKED in status.flags


def doit_config(extra: dict | None = None) -> dict:
    """DOIT_CONFIG for cfs tasks: cfs's reporter, and independent work goes on after a failure."""
    from .progress import ProgressReporter
    config = {"dep_file": STATE_FILE, "backend": BACKEND, "reporter": ProgressReporter,
              "verbosity": 0, "continue": True}
    config.update(extra or {})
    return config


def project_tasks(start: Path | str = ".", prefix: str = "", *,
                  verify: bool = False) -> list[dict]:
    """The tasks of the project at or above ``start``, as one new run (for a dodo.py).

    Each call is a run of its own: its state travels with its tasks, never through a
    module, so several projects in one dodo.py keep their own accounting. ``verify``:
    add the `verify` task ([[verify]] in cfs.toml). A cfs.toml mistake is doit's
    one-line "ERROR:" (exit 3), not a traceback. From now on Ctrl-C stops this run's
    generators (session.stop_on_sigint).
    """
    from .commands.verify import verify_task
    try:
        root = find_root(Path(start))
        # Here, in doit's main process and before any status is judged: see buildlock.py.
        hold_build_lock(root)
        state = BuildState(root)
        tasks = make_tasks(state, prefix)
        if verify:
            tasks.append(verify_task(state.root, prefix,
                                     lambda a: task_name(spec_of(a), prefix),
                                     lambda: state.project) or {
                # Listed so `doit verify` says what is missing instead of "unknown task".
                "basename": f"{prefix}verify", "actions": None, "uptodate": [True],
                "doc": "no [[verify]] in cfs.toml: no tests to run"})
    except CfsError as exc:
        raise InvalidDodoFile(str(exc)) from None
    stop_on_sigint(state.session)
    return tasks
