"""Why an artifact is not up to date: its chain now against the cached chain that made it."""
from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, replace

from ..reading.files import safe_relpath
from ..reading.names import node_of_entry
from ..state.manifest import MANIFEST
from .cache import CACHE, Cache
from .project import Project, Report
from .status import (INVALID, MISSING, MODIFIED, ORPHAN, STALE, UNTRACKED, ArtifactStatus, Flag,
                     Orphan)

CHANGED, ADDED, REMOVED = "changed", "added", "removed"
NO_HISTORY = (f"what changed is unknown: the chain it was made from is not in {CACHE}/ "
              "(every generation keeps its chain there, `cfs accept` does not, as in v5; "
              "`cfs cache reconstruct` records the current chains, to compare with after the "
              "next edit)")


@dataclass(frozen=True)
class EntryChange:
    """One chain entry (a position, by its label) that differs from when the file was made."""

    label: str
    change: str  # changed | added | removed
    old_hash: str | None
    new_hash: str | None
    diff: str = ""  # unified diff of the entry's text, filled in by `explain`

    def line(self) -> str:
        return f"{self.label} {self.change}"

    def as_dict(self) -> dict:
        return {"label": self.label, "change": self.change, "old_hash": self.old_hash,
                "new_hash": self.new_hash, "diff": self.diff}


@dataclass(frozen=True)
class Explanation:
    """Everything known about why one artifact is where it stands."""

    name: str
    node: str | None  # None: an orphan entry whose name is no ARTIFACT/ name
    path: str
    flags: tuple[Flag, ...]
    reasons: tuple[str, ...]
    changes: tuple[EntryChange, ...] = ()
    history: bool | None = None  # None: no chain to compare; False: the old one is not cached

    def as_dict(self) -> dict:
        return {"name": self.name, "node": self.node, "path": self.path,
                "status": list(self.flags), "reasons": list(self.reasons),
                "changes": [c.as_dict() for c in self.changes], "history": self.history}


def _compares_chains(status: ArtifactStatus) -> bool:
    return STALE in status.flags and status.chain is not None and \
        status.recorded_chain is not None and status.chain != status.recorded_chain


def chain_changes(project: Project, cache: Cache,
                  status: ArtifactStatus) -> tuple[EntryChange, ...] | None:
    """The entries of the current chain that differ from the recorded one's, in chain order
    (then the removed ones); None when the cache does not hold the recorded chain."""
    cached = cache.load_chain(status.recorded_chain)
    if cached is None:
        return None
    old = dict(cached.entries)
    chain = project.resolver.chain(status.node)
    now = {position.label: position.content_hash for position in chain.positions}
    found = []
    for label, content in now.items():
        if label not in old:
            found.append(EntryChange(label, ADDED, None, content))
        elif old[label] != content:
            found.append(EntryChange(label, CHANGED, old[label], content))
    found += [EntryChange(label, REMOVED, content, None)
              for label, content in cached.entries if label not in now]
    return tuple(found)


def reasons(project: Project, status: ArtifactStatus, cache: Cache | None = None,
            changes: tuple[EntryChange, ...] | None = None) -> tuple[str, ...]:
    """One line per reason the artifact is not up to date (none when it is)."""
    found = list(status.reasons)
    if _compares_chains(status):
        if changes is None:
            changes = chain_changes(project, cache or Cache(project.root), status)
        if changes is None:
            found.append(NO_HISTORY)
        elif changes:
            found += [change.line() for change in changes]
        else:
            found.append("no entry changed, but the chain did (an `input` was declared or "
                         "removed)")
    if MISSING in status.flags:
        found.append(f"{status.path} does not exist")
    if MODIFIED in status.flags:
        found.append(f"{status.path} is not the file cfs wrote (its checksum differs from the "
                     "manifest's)")
    if UNTRACKED in status.flags:
        found.append(f"{status.path} exists, but cfs has no record of writing it")
    if INVALID in status.flags and not status.reasons:
        found.append("the node has format errors: see `cfs validate`")
    return tuple(dict.fromkeys(found))


def with_reasons(project: Project, report: Report) -> Report:
    """The report with every artifact that is not up to date given its reasons."""
    cache = Cache(project.root)
    artifacts = tuple(status if status.up_to_date else
                      replace(status, reasons=reasons(project, status, cache))
                      for status in report.artifacts)
    return replace(report, artifacts=artifacts)


def orphan_reasons(project: Project, report: Report, orphan: Orphan) -> tuple[str, ...]:
    """Why no node accounts for a manifest entry, and what to do.

    Never "delete the file": the node may still mean to produce it (a misspelt key, a
    moved directory), and a file that is gone cannot be accepted back.
    """
    node, path = node_of_entry(orphan.name), safe_relpath(orphan.path)
    # Quoted: a hand-written name may be empty or hold a space, and the advice is run as is.
    forget = (f"`cfs forget {shlex.quote(orphan.name)}` drops the entry and leaves "
              f"{orphan.path} as it is")
    if node is None:
        # (A line v5 reads whatever its first field is: written by hand, not by a tool.)
        return (f"{orphan.name!r} names no artifact (an entry's name is ARTIFACT/<node>)",
                f"fix the name in {MANIFEST}, or {forget}")
    heir = None if path is None else next(  # (None: not a project path, so no file's)
        (s for s in report.artifacts if safe_relpath(s.path) == path), None)
    if heir is not None:
        adopt = f" (`cfs accept {heir.name}` records the file for it)" \
            if UNTRACKED in heir.flags else ""
        return (f"{orphan.path} is now the output of {heir.name}{adopt}; {forget}",)
    if node in project.node_names():
        typos = [f"{f.location()}: {f.detail}" for f in report.findings
                 if f.node == node and f.rule == "frontmatter_key"]
        if typos:
            return (f"{node} still exists but declares no output: " + "; ".join(typos),
                    f"fix its frontmatter and the entry is its own again; if it should produce "
                    f"nothing, {forget}")
        return (f"{node} still exists but declares no output",
                f"if it should still produce {orphan.path}, give it `output: {orphan.path}` "
                f"again; if not, {forget}")
    return (f"{node} no longer exists (deleted, renamed or moved)",
            f"if another node should produce {orphan.path}, give it `output: {orphan.path}`; "
            f"if none should, {forget}")


def explain(project: Project, reference: str) -> Explanation:
    """Why ``reference`` (SPEC/x, ARTIFACT/x or an output path) stands where it does,
    with a unified diff of every chain entry that changed since its file was made."""
    orphan = _orphan(project, reference)
    if orphan is not None:
        return Explanation(orphan.name, node_of_entry(orphan.name), orphan.path, (ORPHAN,),
                           orphan_reasons(project, project.report(), orphan))
    status = project.status_of(reference)
    cache = Cache(project.root)
    changes: tuple[EntryChange, ...] | None = None
    history = None
    if _compares_chains(status):
        changes = chain_changes(project, cache, status)
        history = changes is not None
        if changes:
            changes = tuple(replace(c, diff=_diff(project, cache, status, c)) for c in changes)
    return Explanation(status.name, status.node, status.path, status.flags,
                       reasons(project, status, cache, changes), changes or (), history)


def _diff(project: Project, cache: Cache, status: ArtifactStatus, change: EntryChange) -> str:
    old = cache.content(change.old_hash) if change.old_hash else ""
    new = ""
    if change.new_hash:
        chain = project.resolver.chain(status.node)
        position = next(p for p in chain.positions if p.label == change.label)
        new = project.resolver.position_text(chain, position)
    if old is None:
        return f"(the old text of {change.label} is not in {CACHE}/.content)\n"
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"{change.label} (when {status.path} was made)",
                                 f"{change.label} (now)")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of text\n"
                   for line in lines)


def _orphan(project: Project, reference: str) -> Orphan | None:
    """The orphan ``reference`` names (ARTIFACT/x, SPEC/x or its recorded path), if any."""
    ref, report = reference.rstrip("/"), project.report()
    path = safe_relpath(ref)
    if path is not None and any(safe_relpath(s.path) == path for s in report.artifacts):
        return None  # the path of a current artifact: that one is meant
    for orphan in report.orphans:
        if reference == orphan.name:  # (a hand-written name may end in '/' or be empty)
            return orphan
    for orphan in report.orphans:
        if ref in (orphan.name, node_of_entry(orphan.name)) \
                or path is not None and path == safe_relpath(orphan.path):
            return orphan
    return None
