"""The v5 manifest `code-from-spec/.manifest`: parsing, writing, and its flock discipline."""
from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import CfsError, printable
from ..reading.files import (NotRegular, Outside, UnreadableFile, has_lone_surrogate,
                             odd_entry, read_entry, read_inside, replace_at)
from ..reading.names import TREE_DIR, byte_order

HEADER = "code-from-spec: v5"
MANIFEST = f"{TREE_DIR}/.manifest"
LOCK = f"{TREE_DIR}/.manifest.lock"
MANIFEST_NAME = MANIFEST.rsplit("/", 1)[1]  # (their names in code-from-spec/, _open_tree)
LOCK_NAME = LOCK.rsplit("/", 1)[1]
LOCK_TIMEOUT = 30.0

_PREFIXES = ("path:", "checksum:", "chain:")


@dataclass(frozen=True)
class ManifestEntry:
    """One artifact record: where it was written, its checksum and the chain that made it."""

    name: str
    path: str
    checksum: str
    chain: str

    def line(self) -> str:
        return f"{self.name};path:{self.path};checksum:{self.checksum};chain:{self.chain}\n"

    def check(self) -> None:
        """Refuse an entry whose line would not read back as this entry (before anything is
        written): a ';' in its name, path or checksum, or a LF anywhere; or a byte that
        is no UTF-8 (a directory's name, read as a lone surrogate), which the manifest,
        read as UTF-8, cannot hold. A CR is kept as it is: v5 reads one inside a line as
        part of its field and writes it back, so an entry read with one must not stop
        every later write."""
        line = self.line()
        if ";" in self.name + self.path + self.checksum or line.count("\n") != 1 or (
                has_lone_surrogate(line)):
            raise CfsError(f"cannot record '{printable(self.name)}' ('{printable(self.path)}') "
                           "in the manifest: a "
                           "name or path holding ';', a line break or a byte that is not "
                           "UTF-8 cannot be represented in a manifest line; rename it",
                           file=MANIFEST, exit_code=2)


def parse_manifest(text: str, where: str = MANIFEST) -> dict[str, ManifestEntry]:
    """Entries of a manifest text, read as v5 reads them (FORMAT.md 7.2): each line split
    at its first three ';' into name, path, checksum and chain (the rest of the line),
    each field losing its own prefix where it has it; a later line for a name replaces
    an earlier one. A wrong header, or a line v5 would drop for having fewer than three
    ';', is an error naming it (X3)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or _one_cr_off(lines[0]) != HEADER:
        got = lines[0][:60] if lines else "an empty file"
        raise CfsError(f"manifest header must be exactly {HEADER!r}, found {got!r}; restore it "
                       "from version control or delete the file (every artifact then counts "
                       "as stale)", file=where, line=1)
    entries: dict[str, ManifestEntry] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = _one_cr_off(line).split(";", 3)
        if len(fields) < 4:
            raise CfsError("manifest line does not parse; expected "
                           "'ARTIFACT/<name>;path:<path>;checksum:<hash>;chain:<hash>', "
                           f"found {line[:80]!r}; fix or remove the line (v5 would drop it, "
                           "and with it the record of what was generated)", file=where,
                           line=number)
        name = fields[0]
        path, checksum, chain = (field.removeprefix(prefix)
                                 for field, prefix in zip(fields[1:], _PREFIXES))
        entries[name] = ManifestEntry(name, path, checksum, chain)
    return entries


def _one_cr_off(line: str) -> str:
    """A line as FORMAT.md 3 reads it: one CR before its LF is dropped, not more."""
    return line[:-1] if line.endswith("\r") else line


def render_manifest(entries: dict[str, ManifestEntry]) -> str:
    """The v5 bytes: header, then one line per artifact sorted by name, LF endings."""
    for name in entries:
        entries[name].check()
    return HEADER + "\n" + "".join(entries[name].line() for name in sorted(entries, key=byte_order))


_LINKED_MANIFEST = "is a symbolic link; cfs never reads its manifest through one"
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINKED_TREE = ("is a symbolic link; cfs never reads or writes the manifest through a "
                "link (it could lead out of the project), so nothing was written. Replace "
                "the link with the real directory")


def _open_tree(root: Path) -> int:
    """A descriptor of code-from-spec/ as an entry of ``root``, never through a link: a
    tree swapped for a link after the scan looked (while a model answers) cannot lead the
    manifest or its lock out of the project. Raises OSError as os.open, CfsError for a
    link."""
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return os.open(TREE_DIR, _DIRECTORY, dir_fd=top)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(root / TREE_DIR):
            raise CfsError(_LINKED_TREE, file=TREE_DIR) from None
        raise
    finally:
        os.close(top)


def _odd_lock(tree: int, exclusive: bool) -> bool:
    """True when the lock is a directory and only a read is asked: nobody can write then
    (a writer, v5's or cfs's, cannot open a directory as its lock), so the manifest is
    read without one, as v5 reads it (it locks the directory itself). Any other lock that
    is there but no regular file is refused before it is opened: opening a FIFO wakes a
    writer waiting on it, opening a device can act (CfsError)."""
    try:
        odd = odd_entry(tree, LOCK_NAME)
    except OSError:
        return False  # the open says why
    if odd == "directory" and not exclusive:
        return True
    if odd is not None:
        raise CfsError(f"the manifest lock is a {odd}, not a regular file; cfs never opens "
                       "one in its place. Remove it (cfs makes it again)", file=LOCK)
    return False


@contextmanager
def _locked(root: Path, exclusive: bool, timeout: float):
    """Hold the manifest lock; yields the descriptor of code-from-spec/ it was taken in
    (None: a read-only checkout read without a lock)."""
    tree = fd = None
    try:
        tree = _open_tree(root)
        try:
            unlocked = _odd_lock(tree, exclusive)
            if not unlocked:
                # Never through a link (it could create or lock a file anywhere) nor
                # waiting on a FIFO put in its place.
                fd = os.open(LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                             | os.O_NONBLOCK | os.O_CLOEXEC, 0o666, dir_fd=tree)
        except BaseException:
            os.close(tree)
            raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CfsError("the manifest lock is a symbolic link; cfs never opens its own "
                           "files through a link. Remove it (cfs makes it again)",
                           file=LOCK) from None
        if not exclusive and exc.errno in (errno.EROFS, errno.EACCES, errno.ENOENT):
            yield None  # a read-only checkout: nobody can be writing, read without a lock
            return
        raise CfsError(f"cannot open the manifest lock: {exc.strerror}", file=LOCK) from None
    if unlocked:
        try:
            yield tree
        finally:
            os.close(tree)
        return
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    kind = "write" if exclusive else "read"
                    raise CfsError(f"another cfs process holds the manifest lock; gave up "
                                   f"after {timeout:g} s waiting to {kind} it. If no other "
                                   "cfs or v5 tool is running, retry", file=LOCK) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
        yield tree
    finally:
        os.close(fd)
        os.close(tree)


class Manifest:
    """Manifest entries as read once; ``update`` changes them under the exclusive lock."""

    def __init__(self, root: Path, entries: dict[str, ManifestEntry], existed: bool):
        self.root = root
        self.entries = entries
        self.existed = existed

    def get(self, name: str) -> ManifestEntry | None:
        return self.entries.get(name)


class ParseMemo:
    """The last manifest bytes a long-running reader parsed, with their entries: it parses
    again only when the bytes differ (compared whole, so no edit can go unseen)."""

    def __init__(self):
        self.last: tuple[bytes, dict[str, ManifestEntry]] | None = None


def _read(root: Path, memo: ParseMemo | None = None) -> tuple[dict[str, ManifestEntry], bool]:
    entries, data = _read_bytes(root, memo)
    return entries, data is not None


def _read_bytes(root: Path, memo: ParseMemo | None = None, tree: int | None = None
                ) -> tuple[dict[str, ManifestEntry], bytes | None]:
    """The entries and the bytes they were read from (None: no manifest). ``tree``: the
    descriptor of code-from-spec/ to read it in, never through a link (_locked)."""
    try:
        data = (read_inside(os.path.realpath(root), MANIFEST) if tree is None
                else read_entry(tree, MANIFEST_NAME, MANIFEST, _LINKED_MANIFEST))
    except UnreadableFile as exc:
        raise _unreadable(exc) from None
    if data is None:
        return {}, None
    last = memo.last if memo is not None else None
    if last is not None and last[0] == data:
        return dict(last[1]), data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Named by its line as any other line that does not parse (X3): the header, or
        # the one entry to fix, is found without a hex editor.
        start = data.rfind(b"\n", 0, exc.start) + 1
        raise CfsError(f"manifest line is not valid UTF-8 (byte 0x{data[exc.start]:02x} at "
                       f"column {exc.start - start + 1}); fix or remove the line, or restore "
                       "the manifest from version control", file=MANIFEST,
                       line=data.count(b"\n", 0, exc.start) + 1) from None
    entries = parse_manifest(text)
    if memo is not None:
        memo.last = (data, dict(entries))  # one assignment: a reader sees old or new
    return entries, data


def _unreadable(exc: UnreadableFile) -> CfsError:
    """Why the manifest cannot be read, and what to do about it."""
    if isinstance(exc, NotRegular):
        todo = ("move it away and restore the manifest file from version control (or "
                "leave none: every artifact then counts as stale)")
        return CfsError(f"cannot read the manifest: it {exc.reason}; {todo}", file=MANIFEST)
    if isinstance(exc, Outside):
        return CfsError(f"cannot read the manifest: it {exc.reason}; replace the link with "
                        "the manifest file itself", file=MANIFEST)
    return CfsError(f"cannot read the manifest: {exc.reason}; make it a readable file (or "
                    "restore it from version control)", file=MANIFEST)


def read_manifest(root: Path, timeout: float = LOCK_TIMEOUT,
                  memo: ParseMemo | None = None) -> Manifest:
    """Read under a shared lock; a missing manifest is empty (every artifact is stale)."""
    if not (root / MANIFEST).exists():
        return Manifest(root, {}, False)
    with _locked(root, exclusive=False, timeout=timeout):
        entries, existed = _read(root, memo)
    return Manifest(root, entries, existed)


@contextmanager
def update_manifest(root: Path, timeout: float = LOCK_TIMEOUT, *, save: bool = False):
    """Hold the exclusive lock, yield the entries dict to change, then write it atomically.

    Nothing is written when the body raises or leaves the entries unchanged, unless
    ``save``: then the manifest is written in v5's form whenever its bytes differ from
    it, as v5 saves the manifest on every write_file (a CRLF, unsorted or repeated
    manifest comes out sorted with LF even when the entry was already there).
    """
    with _locked(root, exclusive=True, timeout=timeout) as tree:
        entries, data = _read_bytes(root, tree=tree)
        before = dict(entries)
        yield entries
        if entries != before or save:
            rendered = render_manifest(entries).encode("utf-8")
            if rendered != data:
                # In the directory the lock was taken in, whatever its path leads to now.
                replace_at(tree, MANIFEST_NAME, rendered)
