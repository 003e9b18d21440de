"""`cfs build`: run the project's generations through doit, without a dodo.py."""
from __future__ import annotations

import sys

from ..analysis.project import Project
from ..config import DEFAULT_JOBS

HELP = "regenerate every stale artifact (or only TARGETs), several at once"
EXAMPLE = ("cfs build                         # everything stale\n"
           "  cfs build -j 8 SPEC/payments/fees   # one subtree, 8 generations at once\n"
           "  cfs build src/fees.py               # one artifact, by its output path\n"
           "  cfs build --fresh SPEC/payments     # without the existing files in the documents")


def add_arguments(parser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=DEFAULT_JOBS, metavar="N",
                        help=f"generations at once (default {DEFAULT_JOBS})")
    parser.add_argument("--stop", action="store_true",
                        help="stop at the first failure (default: go on with independent work)")
    parser.add_argument("--fresh", action="store_true",
                        help="generate from the chain alone, without showing the generator the "
                             "existing file (as `fresh = true` in cfs.toml)")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true",
                      help="print only failures and the summary")
    loud.add_argument("-v", "--verbose", action="store_true",
                      help="also list what was up to date")
    parser.add_argument("--no-wait", action="store_true",
                        help="when another build of this project is running, exit at once "
                             "(default: wait for it)")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="SPEC/x (a whole subtree), ARTIFACT/x, or an output path")


def build(project: Project, targets: list[str] = (), *, jobs: int = DEFAULT_JOBS,
          stop: bool = False, fresh: bool = False, quiet: bool = False,
          verbose: bool = False, wait: bool = True, collector=None) -> int:
    """The verb: build, print as it goes, return the exit status. ``collector``: see
    run.run_build."""
    # Imported here: every other command builds this parser, and needs none of it.
    from ..building.run import InvalidTree, default_reporter, run_build

    reporter = default_reporter(quiet=quiet, verbose=verbose)
    try:
        result = run_build(project, list(targets), jobs=jobs, keep_going=not stop,
                           fresh=fresh, wait=wait, collector=collector, reporter=reporter)
    except InvalidTree as exc:
        for finding in exc.findings:
            print(finding.render(), file=sys.stderr)
        raise
    if isinstance(reporter.output_error, BrokenPipeError):
        raise reporter.output_error  # the reader went away: the CLI's quiet 141
    if reporter.output_error is not None:
        return 3  # (its line is said: CfsReporter.write)
    return result.exit_code


def run(args, project: Project) -> int:
    return build(project, args.targets, jobs=args.jobs, stop=args.stop, fresh=args.fresh,
                 quiet=args.quiet, verbose=args.verbose, wait=not args.no_wait,
                 collector=getattr(args, "collector", None))
