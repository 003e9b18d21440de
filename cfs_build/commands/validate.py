"""`cfs validate`: check every format rule and print one line per problem."""
from __future__ import annotations

import sys

from ..analysis.project import Project
from ..config import config_error
from ..errors import ERROR

HELP = "check the spec tree against every v5 format rule"
EXAMPLE = "cfs validate            # exit 0 when valid, 2 with format errors"


def add_arguments(parser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")


def run(args, project: Project) -> int:
    return validate(project, quiet=args.quiet)


def validate(project: Project, *, quiet: bool = False) -> int:
    """The verb: one line per finding; 0 valid, 2 format errors, 3 a broken cfs.toml."""
    errors = 0
    broken = config_error(project.root)
    if broken:
        print(broken, file=sys.stdout)
    for finding in project.findings:
        print(finding.render(), file=sys.stdout)
        errors += finding.severity == ERROR
    if errors:
        print(f"{errors} format error{'s' if errors != 1 else ''} in "
              f"{len(project.node_names())} nodes", file=sys.stderr)
        return 2
    if broken:
        print(f"{broken.file} is not valid: build, verify and make would stop there",
              file=sys.stderr)
        return broken.exit_code
    if not quiet:
        print(f"valid: {len(project.node_names())} nodes, {len(project.leaf_names())} leaves")
    return 0
