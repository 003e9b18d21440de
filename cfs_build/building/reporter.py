"""What a run tells as it goes: one line per event, assumptions under their task, a summary."""
from __future__ import annotations

import json
import os
import sys
import time

from doit.exceptions import UnmetDependency
from doit.reporter import ConsoleReporter

from ..errors import OutputLost, to_devnull
from .collector import restore
from .tasks import TASK_PREFIX, FindingsFailed, GenerationFailed, GenerationRefused, run_of


def _summary(task) -> dict:
    """What a generation task returned (Result.summary), or nothing."""
    try:
        found = json.loads(task.result) if isinstance(task.result, str) else None
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {}


class CfsReporter(ConsoleReporter):
    """Line-per-event output and an end-of-run summary (generated, failed, tokens, time).

    The runs it reports on (BuildStates) come with the tasks (tasks.RunLink); with
    several projects in one dodo.py each gets a summary line with its own tokens and cost.
    """

    desc = "cfs: one line per generation and a summary"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.started = time.monotonic()
        self.generated, self.unchanged, self.uptodate = [], [], []
        self.failed, self.findings, self.not_attempted, self.refused = [], [], [], []
        self.tokens_in = self.tokens_out = 0
        self.cost = 0.0
        self.runs: list = []
        self._run_of: dict[str, object] = {}
        self.output_error: OSError | None = None  # see write
        # Taken now: doit swaps sys.stderr for a capture while an action runs.
        self.errstream = sys.stderr

    def write(self, text):
        """doit's write, until the stream fails: a reader gone (`cfs build | head -1`) or
        a full disk must not end the run half-way with a traceback from inside doit.
        The generations go on and are recorded; the output goes to /dev/null, and a
        failure other than a closed pipe is said once on stderr."""
        if self.output_error is not None:
            return
        try:
            super().write(text)
        except OSError as exc:
            self.output_error = exc
            try:
                to_devnull(self.outstream)
            except OSError:
                pass
            if not isinstance(exc, BrokenPipeError):
                print(f"cfs: {OutputLost(exc)}", file=self.errstream)

    def watch(self, state) -> None:
        """Report on ``state`` (a BuildState) even if none of its tasks reaches doit."""
        if all(run is not state for run in self.runs):
            self.runs.append(state)

    def known_up_to_date(self, names: list[str]) -> None:
        """Tasks found up to date before doit started (and so never handed to it)."""
        for name in names:
            self.uptodate.append(name)
            self._said_up_to_date(name)

    @property
    def interrupted(self) -> bool:
        return any(run.session.stopped for run in self.runs)

    def _said_up_to_date(self, name: str) -> None:
        """Tell of one up-to-date task: silent here; ProgressReporter does so with -v."""

    @staticmethod
    def _is_generation(task) -> bool:
        return TASK_PREFIX in task.name

    @staticmethod
    def _will_be_refused(task) -> bool:
        """A hand-edited or foreign file (tasks.make_tasks): refused, never generated."""
        return bool((task.meta or {}).get("refused"))

    # -- doit's events -------------------------------------------------------------
    def initialize(self, tasks, selected_tasks):
        run_of_task = self._run_of
        for name, task in tasks.items():
            if task.meta:
                state = run_of(task)
                if state is not None:
                    run_of_task[name] = state
                    self.watch(state)

    def execute_task(self, task):
        if task.actions and not self.interrupted and not self._will_be_refused(task):
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
            text = f"generated {task.name} ({values.get('seconds', 0):.1f} s)\n"
        else:
            self.unchanged.append(task.name)
            text = f"regenerated {task.name}: identical, file untouched\n"
        if values.get("note"):
            text += f"  {values['note']}\n"
        # One write per event: with doit's threads another task's line could come between.
        self.write(text + self._assumptions(values.get("assumptions")))

    def add_failure(self, task, fail):
        if self.interrupted:
            return  # one line says so (session.stop_on_sigint); no failure per task
        message = fail.message.strip() if isinstance(fail, GenerationFailed) else \
            fail.get_msg().strip() if hasattr(fail, "get_msg") else str(fail)
        if isinstance(fail, UnmetDependency):
            self.not_attempted.append((task.name, f"{fail.message.strip()} failed"))
            text = f"SKIPPED {task.name}: not attempted, what it needs failed\n"
        elif isinstance(fail, GenerationRefused):
            self.refused.append((task.name, message))
            text = f"REFUSED {task.name}\n"
        elif isinstance(fail, FindingsFailed):
            self.findings.append((task.name, message))
            text = f"FINDINGS {task.name}\n"
        else:
            self.failed.append((task.name, message))
            text = f"FAILED {task.name}\n"
        if isinstance(fail, GenerationFailed):
            text += self._assumptions(fail.assumptions)
        self.write(text)

    @staticmethod
    def _assumptions(lines) -> str:
        return "".join(f"  assumes: {line}\n" for line in lines or ())

    # -- the end -------------------------------------------------------------------
    def spent(self, runs) -> tuple[int, int, float]:
        """Tokens and cost from the run log of ``runs`` (this run's records only): failed
        generations are paid for too, and generations in worker processes are only there."""
        entries = [entry for run in runs for entry in run.runlog.mine()]
        if not entries:
            if len(runs) == len(self.runs):
                return self.tokens_in, self.tokens_out, self.cost
            return 0, 0, 0.0
        return (sum(e.get("input_tokens") or 0 for e in entries),
                sum(e.get("output_tokens") or 0 for e in entries),
                sum(e.get("cost_usd") or 0.0 for e in entries))

    def _line(self, runs, keep) -> tuple[str, str]:
        """The counts of the tasks ``keep`` accepts, and the tokens and cost of ``runs``."""
        def count(items):
            return sum(1 for item in items if keep(item if isinstance(item, str) else item[0]))
        parts = [f"{count(self.generated)} generated"]
        if count(self.unchanged):
            parts.append(f"{count(self.unchanged)} regenerated identical")
        parts += [f"{count(self.uptodate)} up to date", f"{count(self.failed)} failed"]
        if count(self.refused):
            parts.append(f"{count(self.refused)} refused")
        if count(self.not_attempted):
            parts.append(f"{count(self.not_attempted)} not attempted")
        parts.append(f"{count(self.findings)} with findings")
        tokens_in, tokens_out, spent = self.spent(runs)
        tokens = f", tokens {tokens_in} in / {tokens_out} out" if tokens_in or tokens_out else ""
        cost = f", ${spent:.4f}" if spent else ""
        return ", ".join(parts), tokens + cost

    def complete_run(self):
        for run in self.runs:
            restore(run.collector)
        if self.interrupted:
            return  # the one line was printed when it happened
        seconds = time.monotonic() - self.started
        for title, items in (("failed", self.failed), ("refused", self.refused),
                             ("findings", self.findings), ("not attempted", self.not_attempted)):
            for name, message in items:
                self.write(f"\n{title}: {name}\n")
                for line in message.splitlines():
                    self.write(f"  {line}\n")
        if len(self.runs) > 1:
            for run in self.runs:
                counts, spent = self._line([run], lambda name, run=run:
                                           self._run_of.get(name) is run)
                self.write(f"cfs {_label(run.root)}: {counts}{spent}\n")
        counts, spent = self._line(self.runs, lambda name: True)
        self.write(f"cfs: {counts} in {seconds:.1f} s{spent}\n")
        if self.runtime_errors:
            self.write("doit: " + "\n".join(self.runtime_errors) + "\n")


def _label(root) -> str:
    try:
        return os.path.relpath(root)
    except ValueError:
        return str(root)
