"""What a person sees during a build: a live rich display on a terminal, plain lines elsewhere."""
from __future__ import annotations

import os
import time

from ..errors import printable
from ..generators.session import INTERRUPTED
from .reporter import CfsReporter
from .tasks import TASK_PREFIX

QUIET, NORMAL, VERBOSE = 0, 1, 2


def wants_live(stream) -> bool:
    """Live display only for a person at a terminal: never in CI or when piped."""
    if os.environ.get("CI") or os.environ.get("CFS_PLAIN") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def verbosity_from_env() -> int:
    if os.environ.get("CFS_QUIET"):
        return QUIET
    return VERBOSE if os.environ.get("CFS_VERBOSE") else NORMAL


class ProgressReporter(CfsReporter):
    """doit reporter: done/total, what runs now and for how long, failures as they happen."""

    desc = "cfs: live progress on a terminal, one line per event otherwise"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.level = options.get("cfs_verbosity", verbosity_from_env())
        self.live = None
        self.running: dict[str, float] = {}
        self.total = 0
        if options.get("cfs_live", wants_live(outstream)):
            self._start_live(outstream, options.get("cfs_console"),
                             options.get("cfs_auto_refresh", True))

    def _start_live(self, outstream, console=None, auto_refresh: bool = True) -> None:
        from rich.console import Console
        from rich.live import Live
        self.console = console or Console(file=outstream, highlight=False, emoji=False)
        # Redrawn at once on every event (see _changed); the timer only ages the clocks.
        self.live = Live(get_renderable=self._render, console=self.console,
                         refresh_per_second=2, transient=True, auto_refresh=auto_refresh)

    def _changed(self) -> None:
        """Redraw now, so the header never lags behind the lines printed above it."""
        if self.live is not None and self.live.is_started:
            self.live.refresh()

    # -- events ------------------------------------------------------------------
    def initialize(self, tasks, selected_tasks):
        super().initialize(tasks, selected_tasks)
        if self.live is None:
            return  # the total is only shown live; walking 10,000 tasks for it is not free
        wanted = set(selected_tasks or tasks)
        stack = list(wanted)
        while stack:
            task = tasks.get(stack.pop())
            for dep in (task.task_dep if task else []):
                if dep not in wanted:
                    wanted.add(dep)
                    stack.append(dep)
        self.total = sum(1 for name in wanted if TASK_PREFIX in name) + len(self.uptodate)
        self.live.start()
        for run in self.runs:
            run.session.says_interrupt_later = True

    def write(self, text):
        # Every line of the run passes here: names, paths and failure messages included.
        text = printable(text, lines=True)
        if self.live is not None:
            self.console.print(text, end="", markup=False, emoji=False)
        else:
            super().write(text)

    def execute_task(self, task):
        if TASK_PREFIX in task.name and not self._will_be_refused(task):
            self.running[task.name] = time.monotonic()
            self._changed()
        if self.level >= NORMAL and self.live is None:
            super().execute_task(task)

    def skip_uptodate(self, task):
        super().skip_uptodate(task)
        self._changed()

    def _said_up_to_date(self, name: str) -> None:
        if self.level >= VERBOSE:
            self.write(f"up to date {name}\n")

    def add_success(self, task):
        self.running.pop(task.name, None)
        if self.level >= NORMAL:
            super().add_success(task)
        else:
            quiet, self.write = self.write, lambda text: None
            try:
                super().add_success(task)
            finally:
                self.write = quiet
        self._changed()

    def add_failure(self, task, fail):
        self.running.pop(task.name, None)
        super().add_failure(task, fail)
        self._changed()

    def complete_run(self):
        if self.live is not None:
            self.live.stop()
            self.live = None
            for run in self.runs:
                run.session.says_interrupt_later = False
            if self.interrupted:  # now that the display is gone, the line stays
                print(INTERRUPTED, file=self.errstream, flush=True)
        super().complete_run()

    # -- the live view -----------------------------------------------------------
    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text
        now = time.monotonic()
        table = Table.grid(padding=(0, 2))
        # "running", two gaps and a clock take 16 columns; the name gets the rest.
        room = max(12, self.console.width - 16)
        for name, since in sorted(self.running.items(), key=lambda item: item[1]):
            table.add_row(Text("running", style="cyan"), Text(fit_name(printable(name), room)),
                          f"{now - since:.0f}s")
        return Group(self._header(now), table)

    def _header(self, now: float):
        """Counts as the summary gives them; the ones that are zero are left out."""
        from rich.text import Text
        done = len(self.generated) + len(self.unchanged) + len(self.uptodate) + \
            len(self.failed) + len(self.refused) + len(self.not_attempted) + len(self.findings)
        parts = [("cfs ", "bold"), f"{done}/{self.total} done",
                 ("  " + f"{len(self.generated)} generated", "green")]
        for count, label, style in ((self.unchanged, "identical", ""),
                                    (self.failed, "failed", "red"),
                                    (self.refused, "refused", "magenta"),
                                    (self.not_attempted, "not attempted", "red"),
                                    (self.findings, "findings", "yellow")):
            if count:
                parts.append((f"  {len(count)} {label}", style))
        if self.tokens_in or self.tokens_out:  # a command generator reports none
            parts.append(f"  tokens {self.tokens_in}/{self.tokens_out}")
        parts.append(f"  {now - self.started:.0f}s")
        return Text.assemble(*parts)


def fit_name(name: str, width: int) -> str:
    """``name`` in ``width`` columns, cut in the middle so the leaf (its last part) stays."""
    if len(name) <= width:
        return name
    head, _, leaf = name.rpartition("/")
    if not head or len(leaf) + 2 > width:
        return "…" + name[-(width - 1):]
    tail = "/" + leaf
    return name[:width - len(tail) - 1] + "…" + tail
