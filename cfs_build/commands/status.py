"""`cfs status`: where every artifact stands against the manifest, grouped for people."""
from __future__ import annotations

import json

from ..analysis.project import Project, Report
from ..analysis.status import Flag
from ..errors import printable, printable_json
from ..reading.names import byte_order

# Grouped by what blocks progress first: a stale file that was also edited by hand
# needs `cfs accept` (or deleting) before any build will touch it.
GROUP_ORDER = (Flag.INVALID, Flag.MODIFIED, Flag.UNTRACKED, Flag.STALE, Flag.MISSING)

HELP = "show stale, missing, modified, untracked and orphaned artifacts"
EXAMPLE = "cfs status --json | jq '.summary'"

ADVICE = {
    Flag.INVALID: "fix the format errors above, and what is named below each",
    Flag.STALE: "regenerate: cfs build",
    Flag.MISSING: "generate: cfs build",
    Flag.MODIFIED: "edited by hand: keep the edit with `cfs accept NAME`, or delete the file "
                   "to regenerate",
    Flag.UNTRACKED: "not written by cfs: adopt it with `cfs accept NAME`, or delete it",
    Flag.ORPHAN: "the manifest records these, but no node declares them now: fix the spec, "
                 "or drop the entry with `cfs forget NAME` (the file is left as it is)",
    Flag.UP_TO_DATE: "",
}
# Invalid with no format error listed: an input that is a directory or too big to read,
# a chain blocked by it; each artifact's reasons say which.
INVALID_NO_ERRORS = "cannot be generated: fix what is named below each"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the machine-readable report")
    parser.add_argument("-a", "--all", action="store_true",
                        help="list up-to-date artifacts too")


def status_document(project: Project) -> tuple[Report, dict]:
    """The report and the `cfs status --json` document (also the MCP `status` tool's)."""
    report, verified, orphans = status_parts(project)
    document = {**report.as_dict(), "verification": verified}
    document["orphans"] = orphans
    return report, document


def status_parts(project: Project) -> tuple[Report, dict, list[dict]]:
    """The report with reasons, the verification and the orphans with their reasons (what
    the document is made of; the MCP `status` tool lists only part of it)."""
    from ..analysis.verified import verification
    from ..analysis.explain import orphan_reasons, with_reasons
    report = project.report()
    stale = sum(Flag.STALE in status.flags for status in report.artifacts)
    # What changed, for each stale artifact: its chain now against the cached one.
    report = with_reasons(_FewChains(project) if stale <= FEW else project, report)
    verified = verification(project, report.artifacts)
    orphans = [{**orphan.as_dict(), "reasons": list(orphan_reasons(project, report, orphan))}
               for orphan in report.orphans]
    return report, verified, orphans


FEW = 32  # stale artifacts whose chains are read one by one rather than with the tree


class _FewChains:
    """The project, except that while it has not read its tree (its answer came from
    the snapshot) a chain is read lean (lean.py): the node, its ancestors and imports,
    not ten thousand files for the one leaf just edited. Whatever the lean reading
    cannot be sure of is asked of the project (tests/analysis/test_lean.py: the same chains)."""

    def __init__(self, project: Project):
        self._project = project
        self._lean = None

    def __getattr__(self, name):
        return getattr(self._project, name)

    @property
    def resolver(self):
        return self

    def chain(self, node: str):
        from ..analysis.lean import NeedsFull, lean_tree
        from ..analysis.chain import Resolver
        if "tree" not in vars(self._project):  # (Project.tree: a cached property)
            try:
                if self._lean is None:
                    self._lean = Resolver(lean_tree(self._project.root))
                return self._lean.chain(node)
            except NeedsFull:
                pass
        return self._project.resolver.chain(node)


def status(project: Project, *, as_json: bool = False, show_all: bool = False) -> int:
    """The verb: print where every artifact stands; 0 all up to date, 1 something to
    do, 2 format errors."""
    if as_json:
        report, document = status_document(project)
        print(printable_json(json.dumps(document, indent=2, ensure_ascii=False)))
    else:  # (no document of ten thousand dicts to print a few lines)
        report, verified, orphans = status_parts(project)
        print_human(report, show_all=show_all, orphans=orphans)
        print(printable(verification_line(verified)))
    return report.exit_code


def run(args, project: Project) -> int:
    return status(project, as_json=args.json, show_all=args.all)


def verification_line(verified: dict) -> str:
    state = verified["state"]
    if state == "tests failing":
        return f"tests: failing ({', '.join(verified['failing']) or 'see cfs verify'})"
    if state == "unverified":
        changed = verified["changed_since"]
        more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        return f"tests: not run since {', '.join(changed[:3])}{more} changed; run cfs verify"
    return f"tests: {state}"


def summary_line(report: Report) -> str:
    counts = report.summary()
    keys = (Flag.UP_TO_DATE, Flag.STALE, Flag.MISSING, Flag.MODIFIED, Flag.UNTRACKED,
            Flag.INVALID, Flag.ORPHAN, "errors")
    return ", ".join(f"{counts[k]} {k}" for k in keys)


def print_human(report: Report, show_all: bool = False, orphans: list[dict] = ()) -> None:
    """The grouped text of `cfs status`; ``orphans``: the JSON orphans, with their reasons."""
    errors = report.errors
    if report.findings:
        warnings = len(report.findings) - len(errors)
        print(f"Format problems ({len(errors)} errors"
              + (f", {warnings} warnings):" if warnings else "):"))
        for finding in report.findings:
            print("  " + finding.render())
        print()
    groups: dict[str, list] = {}
    fine = groups.setdefault(Flag.UP_TO_DATE, [])
    waiting = []
    for status in report.artifacts:
        if status.up_to_date:
            fine.append(status)
            if status.chain is None:
                # No flag (FORMAT.md 7.4: its chain waits for an artifact not made yet),
                # but not to be taken for done: listed with what it waits for.
                waiting.append(status)
            continue
        lead = next(flag for flag in GROUP_ORDER if flag in status.flags)
        groups.setdefault(lead, []).append(status)
    for flag in (*GROUP_ORDER, Flag.UP_TO_DATE):
        members = groups.get(flag, [])
        if not members or (flag is Flag.UP_TO_DATE and not show_all):
            continue
        advice = INVALID_NO_ERRORS if flag is Flag.INVALID and not errors else ADVICE[flag]
        print(f"{flag} ({len(members)}){':  ' + advice if advice else ':'}")
        members.sort(key=lambda s: (s.rank if s.rank is not None else -1, byte_order(s.name)))
        for status in members:
            extra = [f for f in status.flags if f != flag]
            rank = "-" if status.rank is None else status.rank
            tail = f"  (also {', '.join(extra)})" if extra else ""
            print(f"  [rank {rank}] {printable(status.name)}  {printable(status.path)}{tail}")
            for reason in status.reasons:
                if reason != "no manifest entry":
                    print(f"      {printable(reason)}")
        print()
    if waiting:
        print(f"waiting ({len(waiting)}):  recorded, but their chains read artifacts not made "
              "yet: cfs build makes those, then judges these again")
        for status in sorted(waiting, key=lambda s: (s.rank if s.rank is not None else -1,
                                                     byte_order(s.name))):
            print(f"  {printable(status.name)}  {printable(status.path)}")
            for reason in status.reasons:
                print(f"      {printable(reason)}")
        print()
    if report.orphans:
        print(f"{Flag.ORPHAN} ({len(report.orphans)}):  {ADVICE[Flag.ORPHAN]}")
        reasons = {o["name"]: o.get("reasons", ()) for o in orphans}
        for orphan in report.orphans:
            print(f"  {printable(orphan.name)}  {printable(orphan.path)}")
            for reason in reasons.get(orphan.name, ()):
                print(f"      {printable(reason)}")
        print()
    print(summary_line(report))
