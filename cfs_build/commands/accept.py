"""`cfs accept NAME`: record an artifact's file and its current chain in the manifest."""
from __future__ import annotations

from ..cache import Cache
from ..errors import CfsError
from ..names import artifact_of
from ..project import Project
from ..v5tools import UP_TO_DATE_ALREADY, Refusal
from ..v5tools import accept as accept_node

HELP = "record a modified, untracked or stale artifact's file with its current chain"
EXAMPLE = "cfs accept ARTIFACT/payments/fees/calculation"


def add_arguments(parser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="SPEC/x, ARTIFACT/x or an output path")


def accept(project: Project, reference: str) -> str:
    """Record one artifact's file (FORMAT.md 7.5); returns a line saying what was done."""
    node = project.node_name(reference)
    name = artifact_of(node)
    try:
        accept_node(project, node)
    except Refusal as refusal:
        if refusal.message == UP_TO_DATE_ALREADY:
            raise CfsError(f"{name} is up to date: the manifest already records this file "
                           "and the current chain; nothing to accept", exit_code=1) from None
        if refusal.message == "node has no output field":
            raise CfsError(f"{node} declares no output: there is no artifact to accept") \
                from None
        raise CfsError(f"cannot accept {name}: {refusal.message}",
                       exit_code=refusal.exit_code) from None
    chain = project.resolver.chain(node)
    # Cached now, the next regeneration can tell the generator what changed since.
    Cache(project.root).store(project.resolver, chain)
    return f"accepted {name} ({project.tree.nodes[node].output})"


def run(args, project: Project) -> int:
    for name in args.names:
        print(accept(project, name))
    return 0
