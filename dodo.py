"""Build every example project in examples/ with doit: `doit` checks them, `doit list` shows them."""
from pathlib import Path

from cfs_build.building.run import doit_config, project_tasks
from cfs_build.building.tasks import STATE_FILE

Path(STATE_FILE).parent.mkdir(exist_ok=True)
DOIT_CONFIG = doit_config()
EXAMPLES = sorted(p for p in Path("examples").iterdir() if (p / "code-from-spec").is_dir())


def task_gen():
    """Generate every stale artifact of every example project."""
    for example in EXAMPLES:
        yield from project_tasks(example, prefix=f"{example.name}:")


def task_verify():
    """Run every example's tests after building what they cover."""
    from cfs_build.building.verify import verify_task
    from cfs_build.reading.names import spec_of
    from cfs_build.building.tasks import task_name
    names = []
    for example in EXAMPLES:
        prefix = f"{example.name}:"
        task = verify_task(example, prefix, lambda a, p=prefix: task_name(spec_of(a), p))
        if task is not None:
            names.append(task["basename"])
            yield task
    yield {"basename": "verify", "actions": None, "task_dep": names,
           "doc": "run the tests of every example"}
