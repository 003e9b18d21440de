"""What a person sees during a build: a live rich display on a terminal, plain lines elsewhere."""
from __future__ import annotations

import os
import time

from .errors import printable
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
            self._start_live(outstream)

    def _start_live(self, outstream) -> None:
        from rich.console import Console
        from rich.live import Live
        self.console = Console(file=outstream, highlight=False)
        self.live = Live(get_renderable=self._render, console=self.console,
                         refresh_per_second=4, transient=True)

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

    def write(self, text):
        # Every line of the run passes here: names, paths and failure messages included.
        text = printable(text, lines=True)
        if self.live is not None:
            self.console.print(text, end="", markup=False)
        else:
            super().write(text)

    def execute_task(self, task):
        if TASK_PREFIX in task.name:
            self.running[task.name] = time.monotonic()
        if self.level >= NORMAL and self.live is None:
            super().execute_task(task)

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

    def add_failure(self, task, fail):
        self.running.pop(task.name, None)
        super().add_failure(task, fail)

    def complete_run(self):
        if self.live is not None:
            self.live.stop()
            self.live = None
        super().complete_run()

    # -- the live view -----------------------------------------------------------
    def _render(self):
        from rich.table import Table
        from rich.text import Text
        done = len(self.generated) + len(self.unchanged) + len(self.uptodate) + \
            len(self.failed) + len(self.findings)
        elapsed = time.monotonic() - self.started
        head = Text.assemble(
            ("cfs ", "bold"), f"{done}/{self.total} done  ",
            (f"{len(self.generated) + len(self.unchanged)} generated", "green"), "  ",
            (f"{len(self.failed)} failed", "red" if self.failed else ""), "  ",
            (f"{len(self.findings)} findings", "yellow" if self.findings else ""),
            f"  tokens {self.tokens_in}/{self.tokens_out}  {elapsed:.0f}s")
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for name, since in sorted(self.running.items(), key=lambda item: item[1]):
            table.add_row(Text("running", style="cyan"), printable(name), f"{now - since:.0f}s")
        from rich.console import Group
        return Group(head, table)
