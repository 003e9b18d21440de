"""`cfs chain NAME`: print the document a generator would receive for one leaf."""
from __future__ import annotations

import sys

from ..document import render_document
from ..project import Project

HELP = "print the generator document (constraints, instructions, input) of one leaf"
EXAMPLE = "cfs chain SPEC/payments/fees/calculation"


def add_arguments(parser) -> None:
    parser.add_argument("name", help="SPEC/x, ARTIFACT/x or the output path of a leaf")
    parser.add_argument("--hash", action="store_true",
                        help="print the chain hash and its positions instead")


def run(args, project: Project) -> int:
    chain = project.chain(args.name)
    if args.hash:
        if chain.hash is None:
            for reason in chain.blocked + chain.waiting:
                print(f"{chain.node}: {reason}", file=sys.stderr)
            return 2 if chain.blocked else 1
        print(chain.hash)
        for position in chain.positions:
            print(f"{position.label}: {position.content_hash}")
        return 0
    sys.stdout.write(render_document(project.resolver, chain))
    return 0
