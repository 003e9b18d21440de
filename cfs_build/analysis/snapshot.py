"""The last complete analysis of a project, reused while nothing it looked at has changed.

A snapshot holds what `cfs status` and a build need to know (findings, every
artifact's status, orphans, each artifact's intent and producers) together with
the stat signature of everything the analysis read: every directory of the tree,
every _node.md, the manifest, every output, input and EXTERNAL file, and the
directories on the way to them (incremental.ways).

It is trusted only when every one of those paths still has the recorded signature
(modification and change times in nanoseconds, size and inode) and the code that
made it is the code running now. Timestamps have a granularity, so a file changed
twice within one tick can keep its signature; as git does with its index, a file
that recent (changed within MARGIN of the moment the analysis began, on the file
system's own clock; two seconds on a file system that keeps whole seconds) is
recorded with a signature no file has, so the next run looks at it again; so is a
file the analysis read that is gone by then. The change time cannot be set back by
a program, so an edit that restores the old modification time is noticed too.

It also keeps the analysis's basis (incremental.py): each node's summary, each file's
digest, each node's findings; when some watched paths changed, that is what lets the
next run re-read only those and redo only what depends on them. The basis is a file of
its own, read only when something changed, and each node's summary in it is decoded
only when asked for (an edit reaches few nodes). The snapshot names the seal of the
basis it goes with (a basis written by another run is not taken for its own) and
carries the changes made to that basis since it was written, so a small edit rewrites
neither the basis nor its ten thousand summaries. Its own statuses are kept the same
way: the payload's bytes as loaded and the rows an update recomputed (with_rows).
"""
from __future__ import annotations

import functools
import marshal
import os
import re
import time
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import Finding
from ..reading import parallel
from ..reading.files import temp_name
from ..reading.index import INDEX_DIR, code_fingerprint
from ..reading.ledger import FULL as _FULL, Signature, signatures
from ..state import dirs as state
from .basis import PATCH_LIMIT, apply_patch, decode_basis, encode_basis, merge_patches
from .lookahead import (SNAPSHOT_FILE, SNAPSHOT_FORMAT, SNAPSHOT_NAME, Lookahead, cut_at,
                        outside)
from .status import ArtifactStatus, Orphan, status_of_row, status_row

FORMAT = SNAPSHOT_FORMAT
BASIS_NAME = f"basis.v{FORMAT}"
BASIS_FILE = f"{INDEX_DIR}/{BASIS_NAME}"
_SEALED = re.compile(r"(snapshot|basis)\.v[0-9]+")
SECOND = 1_000_000_000
MARGIN = SECOND // 10    # longer than a kernel clock tick on file systems with ns times
COARSE_MARGIN = 2 * SECOND  # FAT keeps two-second times; others keep whole seconds


def now() -> int:
    """The moment an analysis begins, to compare file times with."""
    return time.time_ns()


# What a snapshot's answers never depend on: the verbs and the generator backends.
_NOT_FINGERPRINTED = frozenset({"commands", "generators"})


def _fingerprint() -> bytes:
    """The code this process runs: any edit to the package's own modules (not the
    generator backends), or another Python or parser library, makes a snapshot
    obsolete (index.code_fingerprint)."""
    return code_fingerprint(f"snapshot {FORMAT}", _modules())


@functools.cache  # the modules this process runs: listed once, as code_fingerprint reads them
def _modules() -> tuple[str, ...]:
    package = Path(__file__).parent.parent
    return tuple(sorted(path.relative_to(package).as_posix() for path in package.rglob("*.py")
                        if path.relative_to(package).parts[0] not in _NOT_FINGERPRINTED))


def too_recent(sigs: array, began: int, paths: list[str], absent=frozenset()) -> bool:
    """Some path changed too close to ``began`` to be told apart from a later change.

    ``began`` is on the file system's clock (see file_system_clock). A path that
    cannot be looked at now counts as changed unless the analysis found it ``absent``
    too: it was there when it was read.
    """
    return next(_recent(sigs, began, paths, absent), None) is not None


def _recent(sigs: array, began: int, paths: list[str], absent):
    """The indexes of the paths too_recent is about."""
    for i in range(0, len(sigs), 4):
        mtime, ctime = sigs[i], sigs[i + 1]
        if mtime < 0 and not ctime:  # an error, not times
            if paths[i // 4] not in absent:
                yield i // 4
            continue
        coarse = mtime % SECOND == 0 or ctime % SECOND == 0
        if max(mtime, ctime) >= began - (COARSE_MARGIN if coarse else MARGIN):
            yield i // 4


# The signature recorded for a path too recent to be trusted: no path has it (a size of
# -1), so the next run takes that path as changed and looks at it again, as git does
# with a racily clean index entry. Past this many, the snapshot is not worth recording.
UNSURE = (0, 0, -1, 0)
UNSURE_LIMIT = 2000


def file_system_clock(directory: int | Path) -> int:
    """How far the file system's clock is ahead of this machine's, in nanoseconds.

    File times come from the machine that holds the files (a file server's clock,
    or a host's under a container), ``began`` from this one's: a file made now
    says which way and how far they differ. ``directory``: an open descriptor or a path.
    """
    if not isinstance(directory, int):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return file_system_clock(fd)
        finally:
            os.close(fd)
    probe = temp_name("clock")
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=directory)
    try:
        made = os.fstat(fd).st_mtime_ns
        here = time.time_ns()
    finally:
        os.close(fd)
        os.unlink(probe, dir_fd=directory)
    return made - here


@dataclass(frozen=True)
class Snapshot:
    """One analysis: what the commands show and what a build plans with."""

    findings: tuple[Finding, ...]
    statuses: tuple[ArtifactStatus, ...]
    orphans: tuple[Orphan, ...]
    intents: dict[str, str]  # node -> the first line under its name heading
    producers: dict[str, tuple[str, ...]]  # artifact -> artifacts its chain reads
    # The watched paths and their signatures, as checked when the snapshot was loaded.
    paths: tuple[str, ...] = field(default=(), compare=False, repr=False)
    recorded: bytes = field(default=b"", compare=False, repr=False)
    # How many of ``paths``, at the start, are the tree's directories (Tree.dirs).
    dirs: int = field(default=0, compare=False, repr=False)
    _where: dict = field(default_factory=dict, compare=False, repr=False)
    # The basis (incremental.py): "value", the decoded dict; or "make", what makes it when
    # first asked for (with_basis); or "root", "ref" (the seal of the basis file it goes
    # with) and "patch_data" (the changes made to that basis since, marshalled) of a saved
    # snapshot, "patch" once decoded (see patched).
    _basis: dict = field(default_factory=dict, compare=False, repr=False)
    # The payload as loaded (see with_rows): "data", its marshalled bytes; "patch", the
    # changes made to it since; "made", the parts (_parts) they describe, by identity: a
    # snapshot changed any other way is marshalled anew when saved.
    _rows: dict = field(default_factory=dict, compare=False, repr=False)

    def basis(self) -> dict | None:
        """What the next analysis may reuse (incremental.py), or None when it was not kept."""
        found = self._basis
        if "value" not in found:
            found["value"] = found["make"]() if "make" in found else _read_basis(found)
        return found["value"]

    def with_basis(self, basis: dict | Callable[[], dict]) -> Snapshot:
        """This snapshot carrying ``basis`` (a marshal-able dict, see incremental.py), or
        what makes it when first asked for (by another process, when saved: see save)."""
        return replace(self, _basis={"make": basis} if callable(basis) else {"value": basis})

    def stamp(self, rel: str) -> tuple[int, int, int, int] | None:
        """The ledger.signature of a watched path as the analysis saw it (None: not there).

        Raises KeyError for a path the snapshot does not watch.
        """
        if not self._where:
            self._where.update((path, i) for i, path in enumerate(self.paths))
        i = self._where[rel] * 4
        sig = array("q")
        sig.frombytes(self.recorded[i * 8:(i + 4) * 8])
        mtime, ctime, size, ino = sig
        if mtime < 0 and not ctime:
            return None
        return (mtime, ctime, size, ino + _FULL if ino < 0 else ino)

    def patched(self, changes: dict, basis: dict) -> Snapshot:
        """A snapshot whose basis is this one's with ``changes`` made (``basis``, already
        computed): saved as the same marshalled bytes and the changes, so a small edit
        does not marshal the whole basis again. Many changes are folded in."""
        ref = self._basis.get("ref")
        if not ref:
            return self.with_basis(basis)
        patch = merge_patches(self._basis.get("patch") or {}, changes)
        if sum(len(up) + len(gone) for up, gone in patch.values()) > PATCH_LIMIT:
            return self.with_basis(basis)
        return replace(self, _basis={"value": basis, "ref": ref, "patch": patch})

    def with_rows(self, previous: Snapshot, at, intents=()) -> Snapshot:
        """This snapshot, made from ``previous`` by recomputing the statuses at the indexes
        ``at`` (and perhaps its findings and orphans, and the intents of the nodes
        ``intents``), remembering just that: saved, it writes the payload's bytes as they
        were loaded and these changes, not ten thousand statuses marshalled again."""
        rows = previous._rows
        if (not previous._described() or self.producers is not previous.producers
                or len(self.statuses) != len(previous.statuses)):
            return self
        patch = dict(rows["patch"])
        changed = dict(patch.get("statuses", {}))
        changed.update((i, status_row(self.statuses[i])) for i in at)
        patch["statuses"] = changed
        if self.findings is not previous.findings:
            patch["findings"] = [f.row() for f in self.findings]
        if self.orphans is not previous.orphans:
            patch["orphans"] = [(o.name, o.path) for o in self.orphans]
        if intents:
            patch["intents"] = {**patch.get("intents", {}),
                                **{name: self.intents[name] for name in intents
                                   if name in self.intents}}
        if len(changed) + len(patch.get("intents", ())) > PATCH_LIMIT:
            return self
        return replace(self, _rows={"data": rows["data"], "patch": patch, "made": self._parts()})

    def _parts(self) -> tuple:
        return (self.findings, self.statuses, self.orphans, self.intents, self.producers)

    def _described(self) -> bool:
        """The loaded payload's bytes and patch still say exactly what this snapshot holds."""
        made = self._rows.get("made")
        return made is not None and all(a is b for a, b in zip(made, self._parts()))

    def _stored(self) -> tuple[bytes, bytes]:
        """The payload's bytes and the changes to them, as saved."""
        if self._described():
            patch = self._rows["patch"]
            return self._rows["data"], marshal.dumps(patch) if patch else b""
        return marshal.dumps(self._payload()), b""

    def _payload(self) -> tuple:
        return ([f.row() for f in self.findings],
                [status_row(s) for s in self.statuses],
                [(o.name, o.path) for o in self.orphans],
                self.intents, self.producers)

    @classmethod
    def _from_payload(cls, payload: tuple, patch: dict | None = None) -> Snapshot:
        findings, statuses, orphans, intents, producers = payload
        if patch:
            statuses = list(statuses)
            for i, row in patch.get("statuses", {}).items():
                if type(i) is not int or not 0 <= i < len(statuses):
                    raise IndexError("a changed row that is not one of the statuses")
                statuses[i] = row
            findings = patch.get("findings", findings)
            orphans = patch.get("orphans", orphans)
            intents = {**intents, **patch.get("intents", {})}
        return cls(tuple(Finding(*f) for f in findings),
                   tuple(status_of_row(s) for s in statuses),
                   tuple(Orphan(*o) for o in orphans), intents, producers)


def _read_basis(found: dict) -> dict | None:
    """The basis a loaded snapshot names (found: Snapshot._basis), changes applied; None
    when there is none, or the basis file is another snapshot's or damaged."""
    ref, root, key = found.get("ref"), found.get("root"), found.get("key")
    if not ref or root is None or not key:
        return None
    try:
        sealed = state.read_state(root, BASIS_FILE)
    except OSError:
        return None
    if sealed is None or sealed[:len(ref)] != ref:
        return None  # gone, or replaced by another run's: that run's snapshot goes with it
    data = state.unseal(sealed, key)
    if data is None:
        state.notice(f"discarded {BASIS_FILE}: damaged (its checksum does not match); "
                     "the change is analysed in full")
        return None
    try:
        value = decode_basis(data)
        if found.get("patch_data"):
            found["patch"] = marshal.loads(found["patch_data"])
            value = apply_patch(value, found["patch"])
    except (ValueError, EOFError, TypeError, KeyError, AttributeError):
        return None
    return value




def current_signatures(root: Path, paths: list[str]) -> bytes:
    """signatures() of ``paths`` as bytes (a big project is looked at on two cores)."""
    return signatures_beside(root, paths)[0]


def signatures_beside(root: Path, paths: list[str], meanwhile: Callable[[], object] | None = None,
                      ahead: tuple[Lookahead, bytes] | None = None) -> tuple[bytes, object]:
    """(current_signatures of ``paths``, ``meanwhile()``): this process does ``meanwhile``
    and looks at the first paths while a second process looks at the others: the
    lookahead started with `cfs` (``ahead``: it and the sealed snapshot ``paths`` are
    from), else one forked now (on the last three fifths, or half when there is nothing
    else to do)."""
    def look(a: int, b: int) -> bytes:
        return signatures(root, paths[a:b]).tobytes()

    def here(cut: int) -> tuple[bytes, object]:
        mine = look(0, cut)
        return mine, meanwhile() if meanwhile is not None else None

    count = len(paths)
    if ahead is not None:
        lookahead, sealed = ahead
        cut = cut_at(count)
        mine, done = here(cut)
        rest = lookahead.take(os.fspath(root), sealed, count)
    elif count < parallel.MIN_ITEMS:
        return here(count)
    else:
        cut = count - (count * 3 // 5 if meanwhile is not None else count // 2)
        rest, (mine, done) = parallel.beside(lambda: look(cut, count), lambda: here(cut))
    if not isinstance(rest, bytes) or len(rest) != (count - cut) * 32:
        rest = look(cut, count)
    return mine + rest, done


def load_previous(root: Path, ahead: Lookahead | None = None) -> tuple[Snapshot, bytes] | None:
    """The project's last snapshot, whether or not it still holds, with the current
    signatures of the paths it watched (equal to ``snapshot.recorded``: it holds).
    ``ahead``: the lookahead `cfs` started, which may have taken part of them."""
    # Sealed with this copy's key (a flipped byte, or a file made anywhere else, a
    # repository's own included, discards it) and read without following a link.
    sealed = state.read_state(root, SNAPSHOT_FILE)
    key = state.anchor(root, INDEX_DIR)
    data = state.unseal(sealed, key) if key else None
    if data is None:
        if sealed:
            state.notice(f"discarded {SNAPSHOT_FILE}: damaged or not made in this copy of "
                         "the project (its checksum does not match)")
        return None
    head = _head(data)
    if head is None:
        return None
    paths, recorded, dirs, payload, rows_patch, ref, patch = head

    def decode() -> tuple[Snapshot, dict] | None:  # while another process looks at paths
        try:
            changes = marshal.loads(rows_patch) if rows_patch else {}
            return Snapshot._from_payload(marshal.loads(payload), changes), changes
        except (TypeError, ValueError, EOFError, IndexError, KeyError, AttributeError):
            return None

    try:
        current, decoded = signatures_beside(root, paths, decode,
                                             (ahead, sealed) if ahead is not None else None)
    except OSError:  # e.g. the root cannot be opened: then nothing is known
        return None
    if decoded is None:
        return None
    found, changes = decoded
    basis = {"root": root, "ref": ref, "patch_data": patch, "key": key}
    rows = {"data": payload, "patch": changes, "made": found._parts()}
    return replace(found, paths=tuple(paths), recorded=recorded, dirs=dirs,
                   _basis=basis, _rows=rows), current


def _head(data: bytes) -> tuple | None:
    """The parts of a snapshot's bytes (the payload still marshalled), None when they are
    not this code's."""
    try:
        (version, fingerprint, joined, recorded, dirs, payload, rows_patch, ref,
         patch) = marshal.loads(data)
        paths = joined.split("\0")
    except (ValueError, EOFError, TypeError, AttributeError):
        return None
    if (version != FORMAT or fingerprint != _fingerprint() or outside(joined)
            or type(recorded) is not bytes
            or len(recorded) != len(paths) * 4 * 8 or type(dirs) is not int
            or not 0 <= dirs <= len(paths) or type(payload) is not bytes
            or type(rows_patch) is not bytes
            or type(ref) is not bytes or type(patch) is not bytes):
        return None
    return paths, recorded, dirs, payload, rows_patch, ref, patch


def recorded_directories(root: Path) -> tuple[list[str], bytes, set[str]] | None:
    """The tree's directories as the last snapshot recorded them (whether or not it still
    holds), their signatures then, and every path it watched; None without a snapshot.

    When it was made, no symbolic link was below any of those directories (a tree with
    one is never snapshotted), and a directory whose signature is unchanged has the same
    entries still (see lean.links_below).
    """
    key = state.anchor(root, INDEX_DIR)
    head = _head(key and state.unseal(state.read_state(root, SNAPSHOT_FILE), key) or b"")
    if head is None:
        return None
    paths, recorded, dirs = head[:3]
    return paths[:dirs], recorded[:dirs * 32], set(paths)


def load(root: Path) -> Snapshot | None:
    """The project's snapshot if every path it watched is unchanged, else None."""
    found = load_previous(root)
    if found is None or found[1] != found[0].recorded:
        return None
    return found[0]


def save(root: Path, snapshot: Snapshot, watched: list[str], began: int,
         absent=frozenset(), sigs: bytes | None = None, fresh: list[int] | None = None,
         dirs: int | None = None, known: Mapping[str, Signature | None] | None = None) -> bool:
    """Record ``snapshot`` with the signatures of ``watched`` (project-relative paths).

    ``absent``: the watched paths the analysis found missing. A watched path that
    changed too recently to be told apart from a later change, or is gone although
    the analysis read it, is recorded as UNSURE: the next run looks at it again.
    Nothing is recorded (and an older snapshot is removed) past UNSURE_LIMIT of them.
    ``sigs``: the signatures already taken of ``watched`` (no duplicates then) since
    the analysis began; only those at the indexes ``fresh`` (all when None) can be
    too recent, the others having been checked by an earlier save.
    ``dirs``: how many of ``watched``, at the start, are the tree's directories
    (default: ``snapshot.dirs``). ``known`` (without ``sigs``): the signatures the analysis
    took as it read (ledger.signatures); only the other paths are looked at now.
    Best effort: a read-only project simply gets no snapshot.
    """
    paths = list(dict.fromkeys(watched)) if sigs is None else list(watched)
    kept = snapshot._basis
    try:
        with state.directory(root, INDEX_DIR, create=True) as directory:
            key = state.anchor_at(directory, create=True)
            if key is None:  # nothing can be told apart from a planted snapshot then
                state.remove_at(directory, SNAPSHOT_NAME)
                return False
            def write_basis() -> bytes:
                """The basis written anew (or removed): the seal that names it (b"")."""
                encoded = _encoded(snapshot)
                state.remove_leftovers_at(directory, BASIS_NAME)
                if not encoded:
                    state.remove_at(directory, BASIS_NAME)
                    return b""
                return state.write_sealed_at(directory, BASIS_NAME, encoded, key)

            written = stored = None
            if sigs is None and "make" in kept and len(paths) >= parallel.MIN_ITEMS:
                # A new analysis of a big project: a second process makes, encodes and
                # writes its basis (all it writes: that sealed file of cfs's own, replaced
                # atomically, and what killed writes of it left) while this one looks at
                # every watched path and marshals the rest.
                written, (sigs, stored) = parallel.beside(
                    write_basis,
                    lambda: (signatures(root, paths, known).tobytes(), snapshot._stored()))
            if sigs is None:
                sigs = signatures(root, paths, known).tobytes() if known \
                    else current_signatures(root, paths)
            taken = array("q", sigs)
            began += file_system_clock(directory)
            if fresh is None:
                checked, checked_paths, at = taken, paths, range(len(paths))
            else:
                checked = array("q")
                for i in fresh:
                    checked.extend(taken[i * 4:i * 4 + 4])
                checked_paths, at = [paths[i] for i in fresh], fresh
            unsure = [at[k] for k in _recent(checked, began, checked_paths, absent)]
            if len(unsure) > UNSURE_LIMIT:
                state.remove_at(directory, SNAPSHOT_NAME)
                state.remove_at(directory, BASIS_NAME)
                return False
            for i in unsure:
                taken[i * 4:i * 4 + 4] = array("q", UNSURE)
            if kept.get("ref") and "patch" in kept:
                # The basis file is the one this snapshot was loaded with: only the
                # changes since are written (in the snapshot itself).
                ref, patch = kept["ref"], marshal.dumps(kept["patch"])
            else:
                # Written first: a snapshot never names a basis not yet there.
                ref = written if isinstance(written, bytes) else write_basis()
                patch = b""
            # (lookahead.PATHS_AT says where the paths are: it reads them without this module.)
            data = marshal.dumps((FORMAT, _fingerprint(), "\0".join(paths), taken.tobytes(),
                                  snapshot.dirs if dirs is None else dirs,
                                  *(stored or snapshot._stored()), ref, patch))
            state.remove_leftovers_at(directory, SNAPSHOT_NAME)
            state.write_sealed_at(directory, SNAPSHOT_NAME, data, key)
            for older in state.names_at(directory):
                if _SEALED.fullmatch(older) and older not in (SNAPSHOT_NAME, BASIS_NAME):
                    state.remove_at(directory, older)  # left by an earlier format
    except (OSError, ValueError):
        return False
    return True


def _encoded(snapshot: Snapshot) -> bytes:
    """The snapshot's basis as stored (b"": it has none)."""
    basis = snapshot.basis()
    return encode_basis(basis) if basis else b""


def forget(root: Path) -> None:
    """Remove the project's snapshot and its basis, if any (best effort)."""
    for rel in (SNAPSHOT_FILE, BASIS_FILE):
        try:
            state.remove_state(root, rel)
        except OSError:
            pass
