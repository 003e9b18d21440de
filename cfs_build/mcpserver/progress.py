"""A build's events as MCP progress: one notification per start and per end of a generation."""
from __future__ import annotations

import threading
from collections.abc import Callable

from ..building.reporter import CfsReporter
from ..building.tasks import TASK_PREFIX
from ..errors import printable

# tell(progress, total, message): called from doit's threads, one call at a time.
Tell = Callable[[float, float | None, str], None]


class ProgressTeller(CfsReporter):
    """doit reporter: the lines `cfs build` prints, each sent as a progress notification.

    Every generation to run counts two steps (it starts, it ends), so the progress value
    grows with each notification, as MCP requires, and reaches the total at the end.
    """

    desc = "cfs: MCP progress notifications"

    def __init__(self, tell: Tell):
        super().__init__(None, {})
        self._tell = tell
        self._lock = threading.Lock()
        self._lines: list[str] | None = None
        self._started: set[str] = set()
        self.step = 0
        self.total: int | None = None

    def write(self, text):
        if self._lines is not None:
            # A person reads these as the CLI's lines: a model's assumption may hold escapes.
            self._lines.append(printable(text, lines=True))

    def _event(self, name: str, starts: bool, call, *args) -> None:
        if TASK_PREFIX not in name:
            call(*args)
            return
        with self._lock:  # doit's threads report at once; the steps go out in order
            self._lines = []
            try:
                call(*args)
            finally:
                lines, self._lines = self._lines, None
            if starts:
                self._started.add(name)
                self.step += 1
            else:
                self.step += 1 if name in self._started else 2
            message = "".join(lines).strip()
            if message and not self.interrupted:
                self._tell(self.step, self.total, message)

    def initialize(self, tasks, selected_tasks):
        super().initialize(tasks, selected_tasks)
        self.total = 2 * sum(1 for name in tasks if TASK_PREFIX in name)

    def execute_task(self, task):
        self._event(task.name, True, super().execute_task, task)

    def skip_uptodate(self, task):
        # Found up to date only now (what it reads was regenerated the same): say so.
        self._event(task.name, False, self._up_to_date, task)

    def _up_to_date(self, task):
        super().skip_uptodate(task)
        self.write(f"up to date {task.name}\n")

    def add_success(self, task):
        self._event(task.name, False, super().add_success, task)

    def add_failure(self, task, fail):
        self._event(task.name, False, super().add_failure, task, fail)

    def complete_run(self):
        """Nothing is printed at the end: the run's summary is the tool's result."""
