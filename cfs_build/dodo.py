"""What a project's one-line dodo.py imports: `from cfs_build.dodo import *`."""
from __future__ import annotations

import os
from pathlib import Path

from .buildlock import hold_build_lock
from .collector import pause_collector
from .project import find_root
from .tasks import STATE_FILE, doit_config, project_tasks

__all__ = ["DOIT_CONFIG", "task_gen", "task_verify"]

# doit opens its state file before it asks for tasks; its directory must exist first.
Path(STATE_FILE).parent.mkdir(exist_ok=True)
DOIT_CONFIG = doit_config()
pause_collector()  # until the run starts: see collector.py


def task_gen():
    """Generate every stale artifact of the spec tree."""
    # Here, in doit's main process and before any status is judged: see buildlock.py.
    root = find_root(Path(os.getcwd()))
    hold_build_lock(root)
    yield from project_tasks(root)


def task_verify():
    """Run the project's tests ([[verify]] in cfs.toml) after building what they cover."""
    from .commands.verify import verify_task
    from .names import spec_of
    from .tasks import task_name
    from .tasks import state_for
    here = Path(os.getcwd())
    task = verify_task(here, gen_task=lambda a: task_name(spec_of(a)),
                       project=lambda: state_for(find_root(here)).project)
    if task is None:
        # Listed so `doit verify` says what is missing instead of "unknown task".
        task = {"basename": "verify", "actions": None, "uptodate": [True],
                "doc": "no [[verify]] in cfs.toml: no tests to run"}
    yield task
