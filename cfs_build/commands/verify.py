"""`cfs verify`: build what is stale, run the [[verify]] test commands, name the specs to fix."""
from __future__ import annotations

from pathlib import Path

from ..config import load_config
from ..errors import CfsError
from ..project import Project
from ..verify import plan, record, run_entry

HELP = "build stale artifacts, run the project's tests, and tie failures to spec nodes"
EXAMPLE = "cfs verify          # with [[verify]] command/outputs tables in cfs.toml"


def add_arguments(parser) -> None:
    parser.add_argument("--no-build", action="store_true",
                        help="run the tests on the files as they are")


def run(args, project: Project) -> int:
    return verify(project, build_first=not args.no_build,
                  collector=getattr(args, "collector", None))


def verify(project: Project, *, build_first: bool = True, collector=None) -> int:
    """The verb: build what the tests cover, run them, name the specs; the exit status."""
    from .build import build
    config = load_config(project.root)
    if not config.verify:
        raise CfsError("no [[verify]] table: add one to cfs.toml, e.g.\n  [[verify]]\n  "
                       "command = [\"python3\", \"-m\", \"pytest\", \"-q\"]\n  "
                       "outputs = [\"tests/**/*.py\"]", file="cfs.toml")
    the_plan = plan(project, config.verify)
    for warning in the_plan.warnings:
        print(f"warning: {warning}")
    targets = the_plan.build_targets()
    if build_first and targets:
        code = build(project, targets, collector=collector)
        if code != 0:
            print("cfs verify: the build failed; tests were not run")
            return code
        project = Project(project.root)
    results = run_all(project, config)
    print_results(results)
    return 0 if all(r.passed for r in results) else 1


def run_all(project: Project, config) -> list:
    """Run every [[verify]] entry on the files as they are, and record the outcome."""
    the_plan = plan(project, config.verify)
    results = [run_entry(project, entry, the_plan.covered[entry.name], the_plan.exercised)
               for entry in config.verify]
    record(project, results)
    return results


def print_results(results) -> None:
    for result in results:
        counted = f", {result.tests} tests" if result.tests is not None else ""
        state = "passed" if result.passed else "FAILED"
        print(f"verify {result.name!r}: {state}{counted}")
        for failure in result.failures:
            print(f"  {failure.test}")
            if failure.test_node:
                print(f"    test spec: {failure.test_node}")
                if failure.exercises:
                    print(f"    exercises: {', '.join(failure.exercises)}")
            else:
                print("    not a generated test file: no spec to point at")
            for line in failure.message.splitlines()[:6]:
                print(f"    | {line}")
        if result.problem:
            print(f"  {result.problem}")
            if result.output_tail:
                print("  " + result.output_tail.replace("\n", "\n  "))


def verify_task(root, prefix: str = "", gen_task=None, project=None) -> dict | None:
    """The doit task `verify`: after every generation it covers, run the tests.

    Up to date when the last verification passed on exactly the current artifacts.
    ``project`` (a callable giving the Project) spares reading the project again.
    """
    from doit.exceptions import TaskFailed

    from ..verify import VERIFIED, verification
    config = load_config(Path(root).resolve())
    if not config.verify:
        return None  # nothing to read the project for
    project = project() if project is not None else Project(root)
    targets = plan(project, config.verify).build_targets()

    def action():
        fresh = Project(project.root)
        results = run_all(fresh, config)
        print_results(results)
        if not all(r.passed for r in results):
            return TaskFailed("tests failed; the specs named above are where to look")
        return None

    return {
        "basename": f"{prefix}verify",
        "doc": "run the tests of the generated code ([[verify]] in cfs.toml)",
        "actions": [action],
        "task_dep": [gen_task(t) for t in targets] if gen_task else [],
        "uptodate": [lambda: verification(Project(project.root))["state"] == VERIFIED],
        "verbosity": 2,
    }
