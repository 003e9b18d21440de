"""One build, whichever front end asks: plan it, run its doit tasks, and say how it went;
for a dodo.py, the same tasks and settings handed to doit itself."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..analysis.project import Project, find_root
from ..config import DEFAULT_JOBS, NO_VERIFY_TABLE
from ..errors import ERROR, CfsError, Finding
from ..generators.session import Interrupted, Session, sigint_stops, stop_on_sigint
from ..reading.names import names_read_as_utf8, spec_of
from ..state.artifacts import settle_pending
from ..state.buildlock import build_lock, hold_build_lock
from .collector import Relaxed
from .generate import BuildState
from .plan import needs_generator, plan_build



class InvalidTree(CfsError):
    """The tree has format errors, so nothing is built; ``findings`` says which."""

    def __init__(self, findings: list[Finding]):
        super().__init__(f"{len(findings)} format error(s); nothing was built", exit_code=2)
        self.findings = findings


@dataclass(frozen=True)
class BuildResult:
    """How a build went: doit task names per outcome, what it cost, and the exit status."""

    exit_code: int  # 0 all done, 1 something failed, 130 interrupted
    generated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()  # regenerated to the same bytes
    up_to_date: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (task, why)
    findings: tuple[tuple[str, str], ...] = ()
    not_attempted: tuple[tuple[str, str], ...] = ()  # (task, what it needs that failed)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    # (task, why): a hand-edited or foreign file a generation would have replaced
    refused: tuple[tuple[str, str], ...] = ()

    @property
    def interrupted(self) -> bool:
        return self.exit_code == 130


def run_build(project: Project, targets: list[str] | tuple[str, ...] = (), *,
              jobs: int = DEFAULT_JOBS, keep_going: bool = True, fresh: bool = False,
              wait: bool = True, reporter=None, session: Session | None = None,
              collector: Relaxed | None = None) -> BuildResult:
    """Regenerate what is stale among ``targets`` (every artifact when none) and return how
    it went; never exits. ``reporter``: a reporter.CfsReporter (default: the progress
    display on stdout). Ctrl-C while it runs stops it (exit_code 130, every generator
    process of the run killed, no generation started after it, and the run winds down
    so that no thread of it is left behind; a second Ctrl-C raises Interrupted). Raises
    CfsError for what stops a build before it starts: format errors (InvalidTree), unknown targets, no usable generator, and (``wait``
    false) another build of the project holding the build lock. ``collector``: the
    collector slowed down while the project was read, given back when the first
    generation starts (collector.py).
    """
    # One build of a project at a time, taken before anything is judged stale: a second
    # build waits, then finds what the first made up to date instead of making it again.
    if isinstance(targets, str):  # one target, not its characters one by one
        targets = [targets]
    with build_lock(project.root, wait=wait):
        return _run_locked(project, list(targets), jobs, keep_going, fresh, reporter, session,
                           collector)


def _run_locked(project: Project, targets: list[str], jobs: int, keep_going: bool,
                fresh: bool, reporter, session: Session | None,
                collector: Relaxed | None) -> BuildResult:
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from .tasks import make_tasks, state_file, task_name

    if jobs < 1:
        raise CfsError("-j must be at least 1")
    errors = [f for f in project.findings if f.severity == ERROR]
    if errors:
        raise InvalidTree(errors)
    settle_pending(project.root)  # a build writes: a crash's journaled writes go first
    state = BuildState(project.root, project=project, session=session, collector=collector)
    state.fresh = state.fresh or fresh
    plan = plan_build(state, targets)
    if not plan.to_run:
        project.keep_report()  # nothing will change it: worth keeping for next time
    try:
        _ = state.generator  # said once, up front, instead of once per artifact
    except CfsError:
        if needs_generator(state, plan):
            raise
    reporter = reporter if reporter is not None else default_reporter()
    reporter.watch(state)
    reporter.known_up_to_date([task_name(spec_of(a)) for a in plan.up_to_date])
    tasks = make_tasks(state, only=set(plan.to_run), changing=set(plan.changing))

    def task_gen():
        yield from tasks

    task_gen.__doc__ = "generate stale artifacts"
    dep_file, give_back = state_file(project.root)
    config = doit_config({"reporter": reporter}, root=project.root, dep_file=dep_file)
    argv = ["run", "-n", str(jobs), "-P", "thread",
            "--continue" if keep_going else "--no-continue"]
    # doit swaps sys.stdout and sys.stderr around each action it runs; with several
    # actions in threads the swaps interleave and can leave one of its capture objects
    # in place. Whatever ran, this process prints to its own streams afterwards.
    streams = sys.stdout, sys.stderr
    try:
        with sigint_stops(state.session):
            # config_filenames=(): doit would read [tool.doit] from a pyproject.toml in
            # the working directory, and fail on a broken one; cfs.toml is the settings.
            code = DoitMain(ModuleTaskLoader({"DOIT_CONFIG": config, "task_gen": task_gen}),
                            config_filenames=()).run(argv)
    except Interrupted:
        code = 130
    finally:
        sys.stdout, sys.stderr = streams
        state.session.kill_all()
        give_back()
    if state.session.stopped:
        code = 130
    # doit: 1 = a task failed, 2 = a task errored (e.g. what it needs failed), 3 = usage.
    return result_of(reporter, {0: 0, 1: 1, 2: 1, 130: 130}.get(code, 3))


def default_reporter(*, quiet: bool = False, verbose: bool = False, out=None):
    """The progress display: live on a terminal, one line per event elsewhere."""
    from .progress import NORMAL, QUIET, VERBOSE, ProgressReporter, wants_live
    out = out if out is not None else sys.stdout
    level = QUIET if quiet else VERBOSE if verbose else NORMAL
    return ProgressReporter(out, {"cfs_verbosity": level, "cfs_live": wants_live(out)})


def result_of(reporter, exit_code: int) -> BuildResult:
    tokens_in, tokens_out, cost = reporter.spent(reporter.runs)
    return BuildResult(exit_code, tuple(reporter.generated), tuple(reporter.unchanged),
                       tuple(reporter.uptodate), tuple(reporter.failed),
                       tuple(reporter.findings), tuple(reporter.not_attempted),
                       tokens_in, tokens_out, cost, tuple(reporter.refused))


def doit_config(extra: dict | None = None, root: Path | None = None,
                dep_file: str | None = None) -> dict:
    """doit's settings for a project (``root``, default the current directory, where doit
    runs): state file (``dep_file``, default usable_state_file), backend, cfs's reporter,
    and independent work goes on after a failure."""
    from .progress import ProgressReporter
    from .tasks import BACKEND, usable_state_file
    if dep_file is None:
        dep_file = usable_state_file(Path.cwd() if root is None else root)
    config = {"dep_file": dep_file, "backend": BACKEND, "reporter": ProgressReporter,
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
    generators (session.stop_on_sigint). The collector runs rarely until the run's
    first generation starts or its report ends (collector.py).
    """
    from doit.exceptions import InvalidDodoFile

    from .tasks import make_tasks, task_name
    from .verify import verify_task
    relaxed = Relaxed()
    try:
        _refuse_other_file_name_encodings()
        root = find_root(Path(start))
        # Here, in doit's main process and before any status is judged: see buildlock.py.
        hold_build_lock(root)
        state = BuildState(root, collector=relaxed)
        tasks = make_tasks(state, prefix)
        if verify:
            tasks.append(verify_task(state.root, prefix,
                                     lambda a: task_name(spec_of(a), prefix),
                                     lambda: state.project) or _no_verify(prefix))
    except CfsError as exc:
        relaxed.restore()
        raise InvalidDodoFile(str(exc)) from None
    stop_on_sigint(state.session)
    return tasks


def _no_verify(prefix: str) -> dict:
    """The `verify` task of a project without [[verify]]: listed so that `doit verify`
    says what is missing, and fails as `cfs verify` does, instead of passing without a
    test run (a CI step would take that for green). A plain `doit` runs every task:
    this one is up to date unless named on the command line, and passes unless named
    under `doit -a` too (which runs every task, up to date or not)."""
    from doit.exceptions import TaskFailed
    name = f"{prefix}verify"

    def refuse():
        return TaskFailed(f"cfs.toml: {NO_VERIFY_TABLE}") if name in sys.argv[1:] else None

    return {"basename": name, "verbosity": 2, "actions": [refuse],
            "uptodate": [lambda: name not in sys.argv[1:]],
            "doc": "no [[verify]] in cfs.toml: no tests to run"}


def _refuse_other_file_name_encodings() -> None:
    """Refuse a Python that decodes file names otherwise than as UTF-8 (LC_ALL=C with
    PYTHONUTF8=0): `zürich/` would not match its heading. `cfs` runs itself again in
    UTF-8 mode (cli.py); a dodo.py is imported by doit's own interpreter."""
    if not names_read_as_utf8():
        raise CfsError(f"this Python reads file names as {sys.getfilesystemencoding()}, and "
                       "Code from Spec names "
                       "are UTF-8: run doit as `PYTHONUTF8=1 doit` (or set a UTF-8 locale)")
