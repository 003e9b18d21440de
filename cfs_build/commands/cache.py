"""`cfs cache reconstruct|prune`: maintain the v5 content cache under code-from-spec/.cache."""
from __future__ import annotations

from ..analysis.cache import Cache
from ..analysis.project import Project
from ..errors import CfsError
from ..reading.names import node_of_entry

HELP = "fill the chain cache from the manifest, or prune what no entry names"
EXAMPLE = "cfs cache reconstruct && cfs cache prune"


def add_arguments(parser) -> None:
    parser.add_argument("action", choices=("reconstruct", "prune"),
                        help="reconstruct: cache the chain of each manifest entry still current; "
                             "prune: delete what no entry names")


def run(args, project: Project) -> int:
    return cache(project, args.action)


def cache(project: Project, action: str) -> int:
    """The verb: ``action`` "reconstruct" (cache every current chain) or "prune"."""
    if action not in ("reconstruct", "prune"):
        raise CfsError(f"cfs cache {action}: the action is reconstruct or prune")
    store = Cache(project.root)
    entries = project.manifest.entries
    if action == "prune":
        chains, contents = store.prune({entry.chain for entry in entries.values()})
        print(f"removed {chains} chain(s) and {contents} content file(s)")
        return 0
    stored = skipped = 0
    for name, entry in sorted(entries.items()):
        node = node_of_entry(name)
        if node is None or node not in project.nodes or not project.tree.is_leaf(node):
            skipped += 1
            continue
        chain = project.resolver.chain(node)
        if chain.hash != entry.chain:
            skipped += 1  # the recorded chain is gone from the specs: nothing to rebuild from
            continue
        store.store(project.resolver, chain)
        stored += 1
    print(f"cached {stored} chain(s); {skipped} entr{'y' if skipped == 1 else 'ies'} not "
          "current (only current chains can be rebuilt)")
    return 0
