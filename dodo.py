"""Build every example project in examples/ with doit: `doit` checks them, `doit list` shows them."""
from pathlib import Path

from cfs_build.tasks import STATE_FILE, doit_config, project_tasks

Path(STATE_FILE).parent.mkdir(exist_ok=True)
DOIT_CONFIG = doit_config()
EXAMPLES = sorted(p for p in Path("examples").iterdir() if (p / "code-from-spec").is_dir())


def task_gen():
    """Generate every stale artifact of every example project."""
    for example in EXAMPLES:
        yield from project_tasks(example, prefix=f"{example.name}:")
