"""`cfs verify`: build what is stale, run the [[verify]] test commands, name the specs to fix."""
from __future__ import annotations

from ..analysis.project import Project
from ..building.verify import plan, print_results, run_all
from ..config import NO_VERIFY_TABLE, load_config
from ..errors import CfsError, printable

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
        raise CfsError(NO_VERIFY_TABLE, file="cfs.toml")
    the_plan = plan(project, config.verify)
    for warning in the_plan.warnings:
        print(f"warning: {printable(warning)}")
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
