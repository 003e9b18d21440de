"""`cfs accept NAME`: record an artifact's file and its current chain in the manifest."""
from __future__ import annotations

from ..analysis.project import Project
from ..building.v5tools import ALREADY, NO_OUTPUT, UNOPENED, Refusal
from ..building.v5tools import accept as accept_node
from ..errors import ERROR, CfsError, Finding, printable
from ..reading.files import safe_relpath
from ..reading.names import artifact_of

HELP = "record a modified, untracked or stale artifact's file with its current chain"
EXAMPLE = "cfs accept ARTIFACT/payments/fees/calculation"


def add_arguments(parser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="SPEC/x, ARTIFACT/x or an output path")


def accept(project: Project, reference: str) -> str:
    """Record one artifact's file (FORMAT.md 7.5); returns a line saying what was done."""
    node = project.node_name(reference)
    name = artifact_of(node)
    problems = _errors_of(project, node)
    if problems:
        more = f" (and {len(problems) - 1} more: see `cfs validate`)" if len(problems) > 1 else ""
        raise CfsError(f"cannot accept {name} while the spec is in error: "
                       f"{problems[0].render()}{more}; fix the spec first", exit_code=2)
    try:
        accept_node(project, node)
    except Refusal as refusal:
        if refusal.kind == ALREADY:
            raise CfsError(f"{name} is up to date: the manifest already records this file "
                           "and the current chain; nothing to accept", exit_code=1) from None
        if refusal.kind == NO_OUTPUT:
            raise CfsError(f"{node} declares no output: there is no artifact to accept") \
                from None
        output = project.tree.nodes[node].output
        rel = safe_relpath(output) if output else None
        if refusal.kind == UNOPENED and rel is not None and not (project.root / rel).exists():
            # v5's words name the file "unreadable"; here the plain fact, and the way on.
            raise CfsError(f"cannot accept {name}: {printable(rel)}: no such file; generate "
                           "it (cfs build) or write it first", exit_code=refusal.exit_code) \
                from None
        raise CfsError(f"cannot accept {name}: {refusal.message}",
                       exit_code=refusal.exit_code) from None
    # Nothing goes to the cache (FORMAT.md 8): the next document is the one v5 serves
    # after its accept, with history only when the recorded chain was cached before.
    return f"accepted {name} ({project.tree.nodes[node].output})"


def _errors_of(project: Project, node: str) -> list[Finding]:
    """The format errors that make recording this node's file wrong: its own, and another
    leaf's claim on the same output (that finding sits on the other node)."""
    info = project.tree.nodes.get(node)
    output = safe_relpath(info.output) if info is not None and info.output else None
    rivals = {other for other, i in project.tree.nodes.items()
              if output is not None and i.output and safe_relpath(i.output) == output}
    return [f for f in project.report().findings if f.severity == ERROR and
            (f.node == node or f.rule == "output_paths" and f.node in rivals)]


def run(args, project: Project) -> int:
    return accept_all(project, args.names)


def accept_all(project: Project, names: list[str] | tuple[str, ...]) -> int:
    """The verb: accept each of ``names`` in turn, a line for each; the first refusal
    stops it (CfsError)."""
    for name in names:
        print(printable(accept(project, name)))
    return 0
