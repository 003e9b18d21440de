"""doit tasks: one per artifact, with uptodate callables, and the reporter that sums a run up."""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from doit.exceptions import InvalidDodoFile, TaskFailed
from doit.reporter import ConsoleReporter

from . import state
from .build import FINDINGS, GENERATED, BuildState
from .collector import resume_collector
from .index import INDEX_DIR
from .names import SPEC, spec_of
from .project import find_root
from .runlog import current_run

STATE_FILE = ".cfs/doit-state"
BACKEND = "json"  # measured a little faster than sqlite3 and dbm here (README, Speed)
TASK_PREFIX = "gen:"


def task_name(node: str, prefix: str = "") -> str:
    return f"{prefix}{TASK_PREFIX}{node[len(SPEC) + 1:]}"


def _run(state: BuildState, node: str):
    resume_collector()
    result = state.generate(node)
    if result.outcome == GENERATED:
        return result.summary()
    tag = "[findings] " if result.outcome == FINDINGS else ""
    return TaskFailed(f"{tag}{node}: {result.message}")


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
            # No `targets`: doit would stat each output again, a tenth of a no-op run
            # at 10,000 artifacts; the uptodate check already covers a missing file.
        })
    return tasks


def _summary(task) -> dict:
    """What a generation task returned (Result.summary), or nothing."""
    try:
        found = json.loads(task.result) if isinstance(task.result, str) else None
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {}


class CfsReporter(ConsoleReporter):
    """Line-per-event output and an end-of-run summary (generated, failed, tokens, time)."""

    desc = "cfs: one line per generation and a summary"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.started = time.monotonic()
        self.generated, self.unchanged, self.uptodate = [], [], []
        self.failed, self.findings = [], []
        self.tokens_in = self.tokens_out = 0
        self.cost = 0.0

    def known_up_to_date(self, names: list[str]) -> None:
        """Tasks found up to date before doit started (and so never handed to it)."""
        for name in names:
            self.uptodate.append(name)
            self._said_up_to_date(name)

    def _said_up_to_date(self, name: str) -> None:
        """Tell of one up-to-date task: silent here; ProgressReporter does so with -v."""

    @staticmethod
    def _is_generation(task) -> bool:
        return TASK_PREFIX in task.name

    def execute_task(self, task):
        if task.actions:
            verb = "generating" if self._is_generation(task) else "running"
            self.write(f"{verb} {task.name}\n")

    def skip_uptodate(self, task):
        if self._is_generation(task):
            self.uptodate.append(task.name)
            self._said_up_to_date(task.name)

    def add_success(self, task):
        if not self._is_generation(task):
            return
        values = _summary(task)
        self.tokens_in += values.get("input_tokens") or 0
        self.tokens_out += values.get("output_tokens") or 0
        self.cost += values.get("cost_usd") or 0.0
        if values.get("changed", True):
            self.generated.append(task.name)
            self.write(f"generated {task.name} ({values.get('seconds', 0):.1f} s)\n")
        else:
            self.unchanged.append(task.name)
            self.write(f"regenerated {task.name}: identical, file untouched\n")

    def add_failure(self, task, fail):
        message = fail.get_msg().strip() if hasattr(fail, "get_msg") else str(fail)
        if type(fail).__name__ == "UnmetDependency":
            self.failed.append((task.name, "not attempted: " + message))
            self.write(f"SKIPPED {task.name}: what it needs failed\n")
        elif message.startswith("[findings] "):
            self.findings.append((task.name, message[len("[findings] "):]))
            self.write(f"FINDINGS {task.name}\n")
        else:
            self.failed.append((task.name, message))
            self.write(f"FAILED {task.name}\n")

    def _spent(self) -> tuple[int, int, float]:
        """This run's tokens and cost from the run log: failed generations are paid for too,
        and generations in worker processes are only there."""
        log = current_run()
        entries = log.mine() if log else []
        if not entries:
            return self.tokens_in, self.tokens_out, self.cost
        return (sum(e.get("input_tokens") or 0 for e in entries),
                sum(e.get("output_tokens") or 0 for e in entries),
                sum(e.get("cost_usd") or 0.0 for e in entries))

    def complete_run(self):
        resume_collector()
        seconds = time.monotonic() - self.started
        for title, items in (("failed", self.failed), ("findings", self.findings)):
            for name, message in items:
                self.write(f"\n{title}: {name}\n")
                for line in message.splitlines():
                    self.write(f"  {line}\n")
        parts = [f"{len(self.generated)} generated"]
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} regenerated identical")
        parts += [f"{len(self.uptodate)} up to date", f"{len(self.failed)} failed",
                  f"{len(self.findings)} with findings"]
        tokens_in, tokens_out, spent = self._spent()
        tokens = f", tokens {tokens_in} in / {tokens_out} out" if tokens_in or tokens_out else ""
        cost = f", ${spent:.4f}" if spent else ""
        self.write(f"cfs: {', '.join(parts)} in {seconds:.1f} s{tokens}{cost}\n")
        if self.runtime_errors:
            self.write("doit: " + "\n".join(self.runtime_errors) + "\n")


def usable_state_file(root: Path) -> str:
    """The file doit keeps its state in: .cfs/doit-state when it is cfs's own, whole and
    writable; else that is said in one line and the run carries on.

    doit reads the file whole (a damaged one stops every later run) and writes it by
    opening its path (through a link, if one is put there). The manifest is the only
    record cfs relies on, so a damaged, linked or odd state file is removed, and one
    that cannot be replaced is left alone while doit keeps this run's state elsewhere.
    A linked .cfs is refused (CfsError).
    """
    with state.directory(root, INDEX_DIR, create=True) as fd:
        name = STATE_FILE.rsplit("/", 1)[1]
        problem = state.is_link_or_odd(fd, name)
        if problem is None:
            data = state.read_at(fd, name)
            if data is not None and not _whole(data):
                problem = "empty" if not data.strip() else \
                    "not whole JSON (cut short by a kill, or damaged)"
            elif data is not None and not os.access(name, os.W_OK, dir_fd=fd):
                problem = "not writable"
        if problem is None and os.access(".", os.W_OK, dir_fd=fd):
            return STATE_FILE
        if problem is not None and state.remove_at(fd, name):
            state.notice(f"discarded {STATE_FILE}: it was {problem}; "
                         "doit starts a new one (the manifest is cfs's only record)")
            return STATE_FILE
    elsewhere = tempfile.mkdtemp(prefix="cfs-doit-")
    atexit.register(shutil.rmtree, elsewhere, True)
    state.notice(f"cannot use {STATE_FILE} ({problem or 'its directory is not writable'}); "
                 "doit keeps this run's state in a temporary file")
    return os.path.join(elsewhere, "doit-state")


def _whole(data: bytes) -> bool:
    """The state file parses as doit's JSON backend wrote it (a dict)."""
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


def doit_config(extra: dict | None = None, root: Path | None = None) -> dict:
    """doit's settings for a project (``root``, default the current directory, where doit
    runs): state file (usable_state_file), backend and reporter."""
    from .progress import ProgressReporter
    dep_file = usable_state_file(Path.cwd() if root is None else root)
    config = {"dep_file": dep_file, "backend": BACKEND, "reporter": ProgressReporter,
              "verbosity": 0}
    config.update(extra or {})
    return config


_STATES: dict[Path, BuildState] = {}


def state_for(root: Path, project=None) -> BuildState:
    """One BuildState per project root per process (doit may ask for tasks more than once).

    ``project``, when the caller has already read it, is used instead of reading again.
    """
    root = Path(root).resolve()
    known = _STATES.get(root)
    if known is None or (project is not None and known.project is not project):
        # A project read anew (another cfs build in this process) gets its own state.
        _STATES[root] = BuildState(root, project=project)
    return _STATES[root]


def project_tasks(start: Path | str = ".", prefix: str = "") -> list[dict]:
    return make_tasks(state_for(find_root(Path(start))), prefix)

