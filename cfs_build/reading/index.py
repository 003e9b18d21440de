"""An on-disk index of parsed _node.md summaries, so an unchanged file is not parsed again.

An entry is trusted only when the file's current bytes have the recorded size and
128-bit xxhash: the file is always read, so an edit can never hide behind an old entry
(an mtime is never consulted). The whole index is dropped when its format or the code
that produced its summaries changes.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import re
import sys
from pathlib import Path

import xxhash

from ..state import STATE_DIR
from ..state import dirs as state

INDEX_DIR = STATE_DIR
FORMAT = 3  # bump when the layout of the file or of an entry changes
INDEX_FILE = f"index.v{FORMAT}"

# A summary is only as good as the code that made it: any edit to the reading modules
# (parser, reading and normalization, frontmatter decoding, findings, hashing, summary
# layout) or to errors.py invalidates every entry. Listed from the directory, so a module
# added later is covered without being named here.
@functools.cache  # the files of this package: listed once per process
def producers() -> tuple[str, ...]:
    package = Path(__file__).parent.parent
    return ("errors.py", *sorted(f"reading/{path.name}"
                                 for path in (package / "reading").glob("*.py")))


def code_fingerprint(salt: str, names: tuple[str, ...]) -> bytes:
    """A digest of this package's modules ``names`` (paths inside the package), the Python
    version and the parser libraries (see libraries_stamp), with ``salt`` (a format version).

    Taken once per process (for each parser choice) and kept: a module edited while a
    process runs must not stamp what the old code made as the new code's.
    """
    return _fingerprint(salt, names, os.environ.get("CFS_PARSER", ""))


# Cached on purpose, the one deliberate per-process memory (see code_stamp's docstring).
@functools.cache
def _fingerprint(salt: str, names: tuple[str, ...], parser: str) -> bytes:
    digest = hashlib.sha1(salt.encode())
    here = Path(__file__).parent.parent  # the package's root
    for name in names:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    digest.update(libraries_stamp())
    return digest.digest()


def libraries_stamp() -> bytes:
    """The Python and parser libraries in use: another version may parse differently.

    Found without importing them (a warm run never needs them): each package's
    __init__.py, which states its version, with its size and modification time.
    """
    parts = [sys.version.encode(), os.environ.get("CFS_PARSER", "").encode()]
    for name in ("markdown_it", "markdown_it_pyrs", "yaml"):
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            stat = os.stat(origin) if origin else None
            head = Path(origin).read_bytes() if origin else b""
        except (ImportError, ValueError, OSError):
            origin, stat, head = None, None, b""
        parts.append(f"{name}:{origin}:{stat and stat.st_mtime_ns}:{stat and stat.st_size}:"
                     .encode() + hashlib.sha1(head).digest())
    return b"\0".join(parts)


def content_key(data: bytes) -> tuple[int, bytes]:
    """What must match for an entry to be trusted: size and 128-bit xxhash of the bytes."""
    return len(data), xxhash.xxh3_128_digest(data)


class Index:
    """Summaries keyed by project-relative path; saved only when something changed."""

    def __init__(self, root: Path, enabled: bool = True):
        self.root = root
        self.path = root / INDEX_DIR / INDEX_FILE
        self.enabled = enabled
        self.entries: dict[str, tuple] = {}
        self.used: set[str] = set()
        self.dirty = False
        self.fingerprint = code_fingerprint(f"index {FORMAT}", producers()) if enabled else b""
        if enabled:
            self._load()

    def _load(self) -> None:
        # Sealed with this copy's key: a damaged file (a flipped byte), or one a
        # repository planted, is discarded, never trusted. Read without following a
        # link (dirs.py).
        key = state.anchor(self.root, INDEX_DIR)
        if key is None:
            return
        data = state.unseal(state.read_state(self.root, f"{INDEX_DIR}/{INDEX_FILE}"), key)
        try:
            stored = marshal.loads(data) if data is not None else None
        except (ValueError, EOFError, TypeError):
            return
        if (isinstance(stored, tuple) and len(stored) == 3 and stored[0] == FORMAT
                and stored[1] == self.fingerprint and isinstance(stored[2], dict)):
            self.entries = stored[2]

    def get(self, rel: str, key: tuple[int, bytes]) -> bytes | None:
        """The summary (marshalled, Tree.rows) stored for ``rel`` if it was made from
        bytes with this key."""
        self.used.add(rel)
        entry = self.entries.get(rel)
        if entry is not None and entry[0] == key:
            return entry[1]
        return None

    def put(self, rel: str, key: tuple[int, bytes], summary: bytes) -> None:
        self.used.add(rel)
        self.entries[rel] = (key, summary)
        self.dirty = True

    def save(self) -> None:
        """Write the index if it changed; forget files that are gone. Best effort."""
        if not self.enabled:
            return
        stale = set(self.entries) - self.used
        if not self.dirty and not stale:
            return
        for rel in stale:
            del self.entries[rel]
        data = marshal.dumps((FORMAT, self.fingerprint, self.entries))
        try:
            with state.directory(self.root, INDEX_DIR, create=True) as fd:
                key = state.anchor_at(fd, create=True)
                if key is None:
                    return
                state.remove_leftovers_at(fd, INDEX_FILE)
                state.write_sealed_at(fd, INDEX_FILE, data, key)
                for older in state.names_at(fd):
                    if re.fullmatch(r"index\.v[0-9]+", older) and older != INDEX_FILE:
                        state.remove_at(fd, older)  # left by an earlier format
        except OSError:
            pass
        self.dirty = False
