"""`cfs forget NAME`: remove orphaned manifest entries (under the lock, never by hand)."""
from __future__ import annotations

from ..analysis.project import Project
from ..errors import CfsError, printable
from ..reading.names import SPEC, artifact_of
from ..state.artifacts import settle_pending
from ..state.manifest import update_manifest

HELP = "remove the manifest entry of an artifact no node produces any more (an orphan)"
EXAMPLE = "cfs forget ARTIFACT/gone/node     # or: cfs forget --orphans"


def add_arguments(parser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="ARTIFACT/x of an orphan")
    parser.add_argument("--orphans", action="store_true", help="every orphan at once")


def run(args, project: Project) -> int:
    return forget(project, args.names, orphans=args.orphans)


def forget(project: Project, names: list[str] | tuple[str, ...] = (), *,
           orphans: bool = False) -> int:
    """The verb: drop the entries of the orphans ``names`` (every orphan with ``orphans``)."""
    known = {o.name: o for o in project.report().orphans}
    wanted = list(known) if orphans else []
    for raw in names:
        name = artifact_of(raw) if raw.startswith(SPEC + "/") else raw
        if name not in known:
            if name in project.manifest.entries:
                raise CfsError(f"{name} is not an orphan: its node still declares an output "
                               "(delete the file and rebuild to regenerate it instead)")
            raise CfsError(f"{name} has no manifest entry: nothing to forget (`cfs status` "
                           "lists the orphans, the entries cfs forget drops)")
        wanted.append(name)
    if not wanted and orphans and not names:
        print("no orphans")
        return 0
    if not wanted:
        raise CfsError("nothing to forget: name an orphan or pass --orphans", exit_code=3)
    settle_pending(project.root)  # a crash's finished writes are recorded first
    with update_manifest(project.root) as entries:
        for name in wanted:
            entries.pop(name, None)
    for name in wanted:
        # (A manifest can come from anyone: its names and paths are escaped.)
        print(f"forgot {printable(name)} (the file {printable(known[name].path)} was left "
              "as it is)")
    return 0
