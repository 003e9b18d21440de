"""`cfs chain NAME`: print the document a generator would receive for one leaf."""
from __future__ import annotations

import sys

from ..cache import Cache
from ..document import generator_document
from ..lean import LeanProject, NeedsFull
from ..names import artifact_of
from ..project import Project

HELP = "print the document a generation of one leaf sends (constraints, instructions, input)"
EXAMPLE = "cfs chain SPEC/payments/fees/calculation"


def add_arguments(parser) -> None:
    parser.add_argument("name", help="SPEC/x, ARTIFACT/x or the output path of a leaf")
    parser.add_argument("--hash", action="store_true",
                        help="print the chain hash and its positions instead")
    parser.add_argument("--fresh", action="store_true",
                        help="as `cfs build --fresh` would send it: without the existing file")


def open_project(root) -> LeanProject | Project:
    """What run() is given: one chain needs its own files only, not the whole tree
    (the whole project when the lean reading cannot be sure, e.g. a link in the tree)."""
    try:
        return LeanProject(root)
    except NeedsFull:
        return Project(root)


def run(args, project: Project | LeanProject) -> int:
    try:
        return _print(args, project)
    except NeedsFull:  # before anything was printed: every node is looked up first
        return _print(args, Project(project.root))


def _print(args, project: Project | LeanProject) -> int:
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
    entry = project.manifest.get(artifact_of(chain.node))
    sys.stdout.write(generator_document(project.resolver, Cache(project.root), chain,
                                        entry.chain if entry else None, fresh=args.fresh))
    return 0
