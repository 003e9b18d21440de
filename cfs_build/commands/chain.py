"""`cfs chain NAME`: print the document a generator would receive for one leaf."""
from __future__ import annotations

import sys

from ..analysis.cache import Cache
from ..analysis.document import generator_document
from ..analysis.lean import LeanProject, NeedsFull
from ..analysis.project import Project
from ..errors import printable
from ..reading.names import artifact_of

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
    return chain(project, args.name, show_hash=args.hash, fresh=args.fresh)


def chain(project: Project | LeanProject, name: str, *, show_hash: bool = False,
          fresh: bool = False) -> int:
    """The verb: print the generator document of ``name`` (its chain hash and positions
    with ``show_hash``); 0, or with ``show_hash`` 1 waiting / 2 blocked."""
    try:
        return _print(project, name, show_hash, fresh)
    except NeedsFull:  # before anything was printed: every node is looked up first
        return _print(Project(project.root), name, show_hash, fresh)


def _print(project: Project | LeanProject, name: str, show_hash: bool, fresh: bool) -> int:
    found = project.chain(name)
    if show_hash:
        if found.hash is None:
            for reason in found.blocked + found.waiting:
                print(f"{printable(found.node)}: {printable(reason)}", file=sys.stderr)
            return 2 if found.blocked else 1
        print(found.hash)
        for position in found.positions:
            print(f"{printable(position.label)}: {position.content_hash}")
        return 0
    if found.blocked:
        print(f"cfs: cannot assemble the chain of {printable(found.node)}: "
              f"{printable('; '.join(found.blocked))}; fix the spec first (`cfs validate` "
              "names each error with its file and line)", file=sys.stderr)
        return 2
    entry = project.manifest.get(artifact_of(found.node))
    document = generator_document(project.resolver, Cache(project.root), found,
                                  entry.chain if entry else None, fresh=fresh)
    # Exact for a program reading the pipe; on a terminal the specs' escape sequences
    # are shown, not obeyed.
    sys.stdout.write(printable(document, lines=True) if _is_terminal(sys.stdout) else document)
    return 0


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # (a closed or replaced stdout)
        return False
