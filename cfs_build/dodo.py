"""What a project's one-line dodo.py imports: `from cfs_build.dodo import *`."""
from __future__ import annotations

from pathlib import Path

from .building.run import doit_config, project_tasks

__all__ = ["DOIT_CONFIG", "task_gen"]

# doit opens its state file before it asks for tasks: doit_config makes its directory
# (never through a link) and sets a damaged state file aside.
DOIT_CONFIG = doit_config()


def task_gen():
    """Generate every stale artifact of the spec tree; `verify` runs its tests after."""
    yield from project_tasks(Path.cwd(), verify=True)
