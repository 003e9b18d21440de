"""`cfs validate`: check every format rule and print one line per problem."""
from __future__ import annotations

import sys

from ..project import Project

HELP = "check the spec tree against every v5 format rule"
EXAMPLE = "cfs validate            # exit 0 when valid, 2 with format errors"


def add_arguments(parser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")


def run(args, project: Project) -> int:
    errors = 0
    for finding in project.findings:
        print(finding.render(), file=sys.stdout)
        errors += finding.severity == "error"
    if errors:
        print(f"{errors} format error{'s' if errors != 1 else ''} in "
              f"{len(project.node_names())} nodes", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"valid: {len(project.node_names())} nodes, {len(project.leaf_names())} leaves")
    return 0
