"""`cfs accept NAME`: adopt a hand-edited or untracked artifact into the manifest."""
from __future__ import annotations

from ..cache import Cache
from ..chain import safe_relpath
from ..errors import CfsError
from ..files import UnreadableFile, read_text_inside
from ..hashing import checksum
from ..manifest import ManifestEntry, update_manifest
from ..project import Project
from ..status import MODIFIED, UNTRACKED

HELP = "record a modified or untracked artifact's current content in the manifest"
EXAMPLE = "cfs accept ARTIFACT/payments/fees/rounding"


def add_arguments(parser) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="SPEC/x, ARTIFACT/x or an output path")


def accept(project: Project, reference: str) -> str:
    """Record one artifact's file; returns a line saying what was done."""
    status = project.status_of(reference)
    if MODIFIED not in status.flags and UNTRACKED not in status.flags:
        raise CfsError(f"{status.name} is {', '.join(status.flags)}: only a modified or "
                       "untracked artifact can be accepted", exit_code=1)
    rel = safe_relpath(status.path)
    with update_manifest(project.root) as entries:
        try:
            text = read_text_inside(project.root, rel)  # never through a link out
        except UnreadableFile as exc:
            raise CfsError(exc.reason, file=rel) from None
        if text is None:
            raise CfsError("the file disappeared before it could be accepted", file=rel)
        entry = entries.get(status.name)
        chain = entry.chain if entry is not None and safe_relpath(entry.path) == rel \
            else status.chain
        if chain is None:
            raise CfsError(f"{status.name} has no chain hash to record (" +
                           "; ".join(status.reasons) + ")", exit_code=2)
        entries[status.name] = ManifestEntry(status.name, status.path, checksum(text), chain)
    current = project.resolver.chain(status.node)
    if current.hash == chain:
        # Cached now, the next regeneration can tell the generator what changed since.
        Cache(project.root).store(project.resolver, current)
    return f"accepted {status.name} ({status.path})"


def run(args, project: Project) -> int:
    for name in args.names:
        print(accept(project, name))
    return 0
