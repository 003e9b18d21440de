"""Writing an artifact into the project safely, and recording it so a crash loses nothing.

Before a file is replaced, the intended manifest entry is journaled under
`.cfs/pending/`. If the process dies between writing the file and recording it,
the next run finds the journal, sees the file has exactly the intended checksum,
and records it: the artifact never looks hand-edited because of a crash.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .chain import normalize_bytes, safe_relpath
from .errors import CfsError
from .files import atomic_write
from .hashing import b64, written_checksum
from .index import INDEX_DIR
from .manifest import Manifest, ManifestEntry, read_manifest, update_manifest

PENDING = f"{INDEX_DIR}/pending"


def output_path(root: Path, output: str) -> tuple[str, Path]:
    """The project-relative and absolute path of an output, refusing any way out of root."""
    rel = safe_relpath(output)
    if rel is None:
        raise CfsError(f"output path {output!r} is not inside the project", exit_code=2)
    target = root / rel
    real_root = root.resolve()
    parent = target.parent
    existing = parent
    # lexists, not exists: a dangling symlink is where the path would leave, so it must
    # be resolved, not skipped over.
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.resolve().is_relative_to(real_root):
        raise CfsError(f"output {rel}: a symlink on the way leads out of the project", file=rel)
    if target.is_symlink():
        raise CfsError(f"output {rel} is a symlink; cfs writes only regular files in the "
                       "project", file=rel)
    return rel, target


def _journal(root: Path, name: str) -> Path:
    return root / PENDING / (hashlib.sha1(name.encode("utf-8")).hexdigest() + ".json")


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
    journal = _journal(root, name)
    with update_manifest(root) as entries:
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise CfsError(f"cannot read before writing: {exc.strerror}", file=rel) from None
        if current is not None:
            try:
                current.decode("utf-8")
            except UnicodeDecodeError:
                # It was UTF-8 text (or absent) when the generation started: someone wrote it
                # since. Not ours to replace, whatever the bytes are.
                raise CfsError("the file changed while it was being generated and is no longer "
                               "UTF-8 text; nothing was written. Restore or delete it, then build "
                               "again", file=rel) from None
        now = None if current is None else b64(hashlib.sha1(
            normalize_bytes(current) if current else b"").digest())
        if now != expected and current != data:
            # (Another build that wrote these very bytes meanwhile is no conflict.)
            raise CfsError("the file changed while it was being generated; nothing was "
                           "written. Accept or delete it, then build again", file=rel)
        changed = current != data
        if changed:
            atomic_write(journal, json.dumps(entry.__dict__).encode("utf-8"))
            atomic_write(target, data)
        entries[name] = entry
    if changed:
        try:
            journal.unlink()
        except FileNotFoundError:
            pass
    return changed, entry


def settle_pending(root: Path) -> list[str]:
    """Record artifacts whose write finished but whose manifest update did not."""
    directory = root / PENDING
    try:
        journals = sorted(directory.iterdir())
    except OSError:
        return []
    if not journals:
        return []
    settled = []
    with update_manifest(root) as entries:
        for journal in journals:
            if not journal.name.endswith(".json"):
                if journal.name.startswith(".") and journal.name.endswith(".tmp"):
                    journal.unlink(missing_ok=True)  # a journal write that never finished
                continue
            try:
                entry = ManifestEntry(**json.loads(journal.read_text(encoding="utf-8")))
                rel = safe_relpath(entry.path)
                data = (root / rel).read_bytes() if rel else None
            except (OSError, ValueError, TypeError):
                data = None
                entry = None
            # Exactly the bytes the journal meant to write: their written checksum matches.
            if entry is not None and data is not None and \
                    written_checksum(data) == entry.checksum:
                if entries.get(entry.name) != entry:
                    entries[entry.name] = entry
                    settled.append(entry.name)
            try:
                os.unlink(journal)
            except FileNotFoundError:
                pass
    return settled


def pending_entries(root: Path) -> dict[str, ManifestEntry]:
    """The journaled writes whose file is in place: what settling would record. Reads only.

    A journal or output reached through a symlink is passed over, as is anything that
    does not parse; settle_pending then discards those journals.
    """
    directory = root / PENDING
    try:
        journals = sorted(directory.iterdir())
    except OSError:
        return {}
    found: dict[str, ManifestEntry] = {}
    for journal in journals:
        if not journal.name.endswith(".json") or journal.is_symlink():
            continue
        try:
            entry = ManifestEntry(**json.loads(journal.read_text(encoding="utf-8")))
            _, target = output_path(root, entry.path)
            data = None if target.is_symlink() else target.read_bytes()
        except (OSError, ValueError, TypeError, CfsError):
            continue
        # The test settle_pending makes: exactly the bytes the journal meant to write.
        if data is not None and written_checksum(data) == entry.checksum:
            found[entry.name] = entry
    return found


def current_manifest(root: Path) -> Manifest:
    """The manifest as the next writing command will leave it, without writing anything.

    Read-only commands see a write that finished before a crash as recorded; the
    next command that writes (build, accept, forget, cache) settles it on disk.
    """
    manifest = read_manifest(root)
    pending = pending_entries(root)
    if not pending:
        return manifest
    return WithPending(root, {**manifest.entries, **pending}, manifest.existed)


class WithPending(Manifest):
    """A manifest with finished journaled writes applied in memory (see current_manifest)."""
