"""The last complete analysis of a project, reused while nothing it looked at has changed.

A snapshot holds what `cfs status` and a build need to know (findings, every
artifact's status, orphans, each artifact's intent and producers) together with
the stat signature of everything the analysis read: every directory of the tree,
every _node.md, the manifest, and every output, input and EXTERNAL file.

It is trusted only when every one of those paths still has the recorded signature
(modification and change times in nanoseconds, size and inode) and the code that
made it is the code running now. Timestamps have a granularity, so a file changed
twice within one tick can keep its signature; as git does with its index, a
snapshot is never written while any of its files is that recent (changed within
MARGIN of the moment the analysis began), and a file system that keeps whole
seconds only gets a margin of two seconds. The change time cannot be set back by
a program, so an edit that restores the old modification time is noticed too.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import Finding
from .files import atomic_write
from .index import INDEX_DIR
from .status import ArtifactStatus, Orphan

FORMAT = 1
SNAPSHOT_FILE = f"{INDEX_DIR}/snapshot.v{FORMAT}"
SECOND = 1_000_000_000
MARGIN = SECOND // 10    # longer than a kernel clock tick on file systems with ns times
COARSE_MARGIN = 2 * SECOND  # FAT keeps two-second times; others keep whole seconds


def now() -> int:
    """The moment an analysis begins, to compare file times with."""
    return time.time_ns()


def _fingerprint() -> bytes:
    # The analysis is only as good as the code that made it: any edit to the package's
    # own modules (not the generator backends) makes every snapshot obsolete.
    digest = hashlib.sha1(str(FORMAT).encode())
    here = Path(__file__).parent
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def signature(rel: str, root_fd: int | None) -> tuple:
    """What must stay equal for a path to count as unchanged; gone or unreadable included."""
    try:
        st = os.stat(rel, dir_fd=root_fd)
    except OSError as exc:
        return (exc.errno,)
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _signatures(root: Path, paths: list[str]):
    """The signature of each path, in order (a generator: the caller may stop early)."""
    if os.stat not in os.supports_dir_fd:
        prefix = f"{root}{os.sep}"
        for rel in paths:
            yield signature(prefix + rel, None)
        return
    # Relative to an open descriptor of the root: shorter paths for the kernel to walk.
    root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for rel in paths:
            yield signature(rel, root_fd)
    finally:
        os.close(root_fd)


def too_recent(sig: tuple, began: int) -> bool:
    """Changed so close to ``began`` that another change in the same tick could hide."""
    if len(sig) == 1:
        return False  # an error, not times: it is compared as it is
    mtime, ctime = sig[0], sig[1]
    coarse = mtime % SECOND == 0 or ctime % SECOND == 0
    return max(mtime, ctime) >= began - (COARSE_MARGIN if coarse else MARGIN)


@dataclass(frozen=True)
class Snapshot:
    """One analysis: what the commands show and what a build plans with."""

    findings: tuple[Finding, ...]
    statuses: tuple[ArtifactStatus, ...]
    orphans: tuple[Orphan, ...]
    intents: dict[str, str]  # node -> the first line under its name heading
    producers: dict[str, tuple[str, ...]]  # artifact -> artifacts its chain reads

    def _payload(self) -> tuple:
        return (
            [(f.node, f.rule, f.detail, f.file, f.line, f.severity) for f in self.findings],
            [(s.name, s.node, s.path, s.flags, s.chain, s.recorded_chain, s.checksum,
              s.recorded_checksum, s.rank, s.reasons) for s in self.statuses],
            [(o.name, o.path) for o in self.orphans],
            self.intents, self.producers,
        )

    @classmethod
    def _from_payload(cls, payload: tuple) -> Snapshot:
        findings, statuses, orphans, intents, producers = payload
        return cls(tuple(Finding(*f) for f in findings),
                   tuple(_restore(ArtifactStatus, _STATUS_FIELDS, s) for s in statuses),
                   tuple(Orphan(*o) for o in orphans), intents, producers)


def _restore(cls, names: tuple[str, ...], values):
    # As unpickling does: a frozen dataclass's __init__ sets each field through
    # object.__setattr__, a real cost for ten thousand statuses on every run.
    item = object.__new__(cls)
    item.__dict__.update(zip(names, values))
    return item


_STATUS_FIELDS = tuple(f.name for f in fields(ArtifactStatus))


def load(root: Path) -> Snapshot | None:
    """The project's snapshot if every path it watched is unchanged, else None."""
    try:
        stored = marshal.loads((root / SNAPSHOT_FILE).read_bytes())
        version, fingerprint, paths, sigs, payload = stored
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if version != FORMAT or fingerprint != _fingerprint() or len(paths) != len(sigs):
        return None
    try:
        for current, sig in zip(_signatures(root, paths), sigs):
            if current != sig:
                return None
    except OSError:
        return None
    try:
        return Snapshot._from_payload(payload)
    except (TypeError, ValueError):
        return None


def save(root: Path, snapshot: Snapshot, watched: list[str], began: int) -> bool:
    """Record ``snapshot`` with the signatures of ``watched`` (project-relative paths).

    Nothing is recorded (and an older snapshot is removed) when a watched path changed
    too recently to be told apart from a later change. Best effort: a read-only
    project simply gets no snapshot.
    """
    path = root / SNAPSHOT_FILE
    paths = list(dict.fromkeys(watched))
    try:
        sigs = list(_signatures(root, paths))
        if any(too_recent(sig, began) for sig in sigs):
            path.unlink(missing_ok=True)
            return False
        data = marshal.dumps((FORMAT, _fingerprint(), paths, sigs, snapshot._payload()))
        atomic_write(path, data)
    except (OSError, ValueError):
        return False
    return True


def discard(root: Path) -> None:
    """Forget the snapshot (something this process wrote made it obsolete)."""
    try:
        (root / SNAPSHOT_FILE).unlink()
    except OSError:
        pass
