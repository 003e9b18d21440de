"""Writing an artifact into the project safely, and recording it so a crash loses nothing.

Before a file is replaced, the intended manifest entry is journaled under
`.cfs/pending/`. If the process dies between writing the file and recording it,
the next run finds the journal, sees the file has exactly the intended checksum,
and records it: the artifact never looks hand-edited because of a crash.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from pathlib import Path

from ..errors import CfsError
from . import dirs as state
from ..reading.outputs import (LEADS_OUTSIDE, Places, directory_problem, forbidden_place,
                               leads_into, unwritable)
from ..reading.files import (NotRegular, Outside, UnreadableFile, is_inside, is_temp_of,
                             normalize_bytes, read_inside, real_path, remove_leftovers,
                             replace_at, safe_relpath)
from ..reading.hashing import b64, written_checksum
from ..reading.index import INDEX_DIR
from ..reading.names import TREE_DIR
from .manifest import (MANIFEST_NAME, Manifest, ManifestEntry, ParseMemo, read_manifest,
                       update_manifest)

PENDING = f"{INDEX_DIR}/pending"


def output_path(root: Path, output: str) -> tuple[str, Path]:
    """The project-relative and absolute path of an output, refusing any way out of root
    (or into the places cfs never writes) through a link on the way."""
    rel = safe_relpath(output) if "\0" not in output else output
    if rel is None:
        raise CfsError(f"output path {output!r} is not inside the project", exit_code=2)
    why = unwritable(os.fspath(root), rel)
    if why is not None:
        raise CfsError(f"output path {output!r} {why}; nothing was written. Change the "
                       "output", exit_code=2)
    problem = directory_problem(os.fspath(root), rel.rpartition("/")[0], Places())
    if problem is not None:
        raise CfsError(_refused(problem), file=rel)
    # A file where a directory of the way should be: said before a model is asked for a
    # file that could not be written (the write checks again, directory by directory).
    parts = rel.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        here = "/".join(parts[:end])
        try:
            mode = os.stat(root / here).st_mode
        except FileNotFoundError:
            break
        except OSError:
            raise CfsError(_not_directory(here), file=rel) from None
        if not stat.S_ISDIR(mode):
            raise CfsError(_not_directory(here), file=rel)
    target = root / rel
    if target.is_symlink():
        raise CfsError("the output is a symlink; cfs writes only regular files in the "
                       "project: remove it", file=rel)
    return rel, target


def _refused(problem: str) -> str:
    return f"{problem}; nothing was written. Remove the link or change the output path"


def _not_directory(where: str) -> str:
    return (f"{where} is in the way: it is not a directory; nothing was written. Remove or "
            "rename it, or change the output path")


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@contextlib.contextmanager
def output_directory(real_root: str, rel: str, *, create: bool = True):
    """A descriptor of the directory the output ``rel`` is written in (None when it does
    not exist and not ``create``), its missing directories made.

    Each directory is opened relative to the one before and checked where it really is
    before anything is made in it or written: a directory swapped for a link after
    output_path looked cannot lead a write out of the project or into code-from-spec/,
    .git/ or .cfs/ (CfsError).
    """
    places = Places(real_root=real_root)
    fd = os.open(real_root, _DIRECTORY)
    here = real_root
    try:
        for part in rel.split("/")[:-1]:
            here = f"{here}/{part}"
            try:
                found = os.open(part, _DIRECTORY, dir_fd=fd)
            except NotADirectoryError:
                raise CfsError(_not_directory(here[len(real_root) + 1:]), file=rel) from None
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                try:
                    found = os.open(part, _DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:  # e.g. a link to nowhere, put there meanwhile
                    raise CfsError(_not_directory(here[len(real_root) + 1:]),
                                   file=rel) from None
            os.close(fd)
            fd = found
            real = real_path(fd, here)
            if not is_inside(real, real_root):
                raise CfsError(_refused(LEADS_OUTSIDE), file=rel)
            top = forbidden_place(real_root, real, places)
            if top is not None:
                raise CfsError(_refused(leads_into(top)), file=rel)
        yield fd
    finally:
        os.close(fd)


_JOURNAL = re.compile(r"[0-9a-f]{40}\.json")
_JOURNAL_TEMP = re.compile(r"\.[0-9a-f]{40}\.json\.[a-z0-9_]{8}\.tmp")  # files.temp_name


def _journal_name(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest() + ".json"


def _journal(root: Path, name: str) -> Path:
    return root / PENDING / _journal_name(name)


def _current(root: Path, rel: str) -> bytes | None:
    """The output's bytes now, read only inside the project and only if a regular file."""
    try:
        return read_inside(root, rel)
    except (Outside, NotRegular) as exc:
        raise CfsError(f"{exc.reason}; cfs writes only regular files inside the project: "
                       "remove it", file=rel) from None
    except UnreadableFile as exc:
        raise CfsError(f"cannot read before writing: {exc.reason}", file=rel) from None


def write_artifact(root: Path, name: str, output: str, content: str, chain: str,
                   expected: str | None) -> tuple[bool, ManifestEntry]:
    """Write ``content`` to the output and record it; returns (file changed, entry).

    ``expected`` is the checksum the file had when generation started (None when
    there was no file): if someone edited it meanwhile, nothing is written.
    An identical file is left untouched (no diff, same mtime).
    """
    rel, target = output_path(root, output)
    # Bytes exactly as given (CRLF kept); the checksum over them with CRLF made LF (M10).
    data = content.encode("utf-8", "surrogateescape")
    entry = ManifestEntry(name, output, written_checksum(data), chain)
    entry.check()  # an entry that cannot be recorded must not leave an untracked file behind
    journal = _journal_name(name)
    real_root = os.path.realpath(root)
    with update_manifest(root, save=True) as entries:
        current = _current(real_root, rel)
        now = None if current is None else b64(hashlib.sha1(
            normalize_bytes(current) if current else b"").digest())
        if now != expected and current != data:
            # (Another build that wrote these very bytes meanwhile is no conflict.) Bytes
            # that are not UTF-8 are said apart; a recorded file that was never UTF-8 and
            # is unchanged is replaced as any other (FORMAT.md 7.6).
            if not _is_utf8(current):
                raise CfsError("the file changed while it was being generated and is no "
                               "longer UTF-8 text; nothing was written. Restore or delete it, "
                               "then build again", file=rel)
            raise CfsError("the file changed while it was being generated; nothing was "
                           "written. Accept or delete it, then build again", file=rel)
        changed = current != data
        if changed:
            with output_directory(real_root, rel) as directory:
                with state.directory(root, PENDING, create=True) as pending:
                    replace_at(pending, journal, json.dumps(entry.__dict__).encode("utf-8"))
                replace_at(directory, target.name, data)
        entries[name] = entry
    if changed:
        with state.directory(root, PENDING) as pending:
            if pending is not None:
                state.remove_at(pending, journal)
    return changed, entry


def _is_utf8(data: bytes | None) -> bool:
    if data is None:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _journaled(data: bytes | None) -> ManifestEntry | None:
    """The entry a journal holds, or None when it is not one cfs wrote."""
    try:
        fields = json.loads(data)
    except (TypeError, ValueError, RecursionError):  # (RecursionError: nested too deep)
        return None
    if not (isinstance(fields, dict) and set(fields) == {"name", "path", "checksum", "chain"}
            and all(isinstance(value, str) for value in fields.values())):
        return None
    entry = ManifestEntry(**fields)
    try:
        entry.check()
    except CfsError:
        return None
    return entry


def settle_pending(root: Path) -> list[str]:
    """Record artifacts whose write finished but whose manifest update did not.

    Also removes what a killed write left: temporary files beside the manifest and
    beside each journaled output (only names cfs makes), and journals that are not
    what cfs writes (each said in one line). Nothing is followed through a link: a
    linked .cfs or .cfs/pending is refused (CfsError).
    """
    with state.directory(root, PENDING) as pending:
        names = state.names_at(pending) if pending is not None else []
    journals = sorted(n for n in names if _JOURNAL.fullmatch(n))
    stray = [n for n in names if _JOURNAL_TEMP.fullmatch(n)]
    tree = root / TREE_DIR
    try:
        manifest_leftovers = any(is_temp_of(n, MANIFEST_NAME) for n in os.listdir(tree))
    except OSError:
        manifest_leftovers = False
    if not journals and not stray:
        if manifest_leftovers:
            # (CfsError: e.g. a read-only checkout; nothing can be tidied, nothing is lost)
            with contextlib.suppress(CfsError), update_manifest(root):
                remove_leftovers(tree, MANIFEST_NAME)
        return []
    settled = []
    real_root = os.path.realpath(root)
    # Under the manifest's exclusive lock: a temporary file seen then is nobody's
    # write in progress.
    with update_manifest(root) as entries, state.directory(root, PENDING) as pending:
        remove_leftovers(tree, MANIFEST_NAME)
        for name in stray if pending is not None else ():
            state.remove_at(pending, name)  # a journal write that never finished
        for name in journals if pending is not None else ():
            entry = _journaled(state.read_at(pending, name))
            if entry is None:
                state.remove_at(pending, name)
                state.notice(f"discarded {PENDING}/{name}: not a journal entry cfs writes "
                             "(the manifest stays as it was)")
                continue
            rel = safe_relpath(entry.path)
            try:
                data = read_inside(real_root, rel) if rel else None
            except UnreadableFile:
                data = None
            if rel:
                _tidy_beside(root, rel)
            # Exactly the bytes the journal meant to write: their written checksum matches.
            if data is not None and written_checksum(data) == entry.checksum:
                if entries.get(entry.name) != entry:
                    entries[entry.name] = entry
                    settled.append(entry.name)
            state.remove_at(pending, name)
    return settled


def _tidy_beside(root: Path, rel: str) -> None:
    """Remove a killed write's temporary files beside the output ``rel`` (inside only)."""
    rel = safe_relpath(rel)
    if rel is None:
        return  # not a path inside the project
    try:
        with output_directory(os.path.realpath(root), rel, create=False) as directory:
            if directory is not None:
                state.remove_leftovers_at(directory, rel.rpartition("/")[2])
    except (CfsError, OSError):
        return  # its directory leads out of the project, or is gone: not cfs's to tidy


def pending_entries(root: Path) -> dict[str, ManifestEntry]:
    """The journaled writes whose file is in place: what settling would record. Reads only.

    Nothing is followed through a link; a journal that does not parse or an output that
    cannot be read is passed over (settle_pending then discards or keeps it).
    """
    try:
        with state.directory(root, PENDING) as pending:
            if pending is None:
                return {}
            journals = [(name, state.read_at(pending, name))
                        for name in sorted(state.names_at(pending)) if _JOURNAL.fullmatch(name)]
    except (OSError, CfsError):
        return {}  # a linked .cfs: the next writing command refuses it and says why
    real_root = os.path.realpath(root)
    found: dict[str, ManifestEntry] = {}
    for _, data in journals:
        entry = _journaled(data)
        rel = None if entry is None else safe_relpath(entry.path)
        if rel is None:
            continue
        try:
            written = read_inside(real_root, rel)
        except UnreadableFile:
            continue
        # The test settle_pending makes: exactly the bytes the journal meant to write.
        if written is not None and written_checksum(written) == entry.checksum:
            found[entry.name] = entry
    return found


def current_manifest(root: Path, memo: ParseMemo | None = None) -> Manifest:
    """The manifest as the next writing command will leave it, without writing anything.

    Read-only commands see a write that finished before a crash as recorded; the
    next command that writes (build, accept, forget, cache) settles it on disk.
    ``memo``: a long-running reader's last parse (manifest.ParseMemo).
    """
    manifest = read_manifest(root, memo=memo)
    pending = pending_entries(root)
    if not pending:
        return manifest
    return WithPending(root, {**manifest.entries, **pending}, manifest.existed)


class WithPending(Manifest):
    """A manifest with finished journaled writes applied in memory (see current_manifest)."""
