"""An on-disk index of parsed _node.md summaries, so an unchanged file is not parsed again.

An entry is trusted only when the file's current bytes have the recorded size and
xxhash: the file is always read, so an edit can never hide behind an old entry.
"""
from __future__ import annotations

import hashlib
import marshal
from pathlib import Path

import xxhash

from . import node as _node_module
from .files import atomic_write

INDEX_DIR = ".cfs"
INDEX_FILE = "index.v1"


def _parser_fingerprint() -> bytes:
    # The summaries depend on the parser and the summary layout; any change to those
    # modules invalidates every entry.
    digest = hashlib.sha1()
    for module in (_node_module,):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).with_name("tree.py").read_bytes())
    return digest.digest()


def content_key(data: bytes) -> tuple[int, int]:
    return len(data), xxhash.xxh3_64_intdigest(data)


class Index:
    """Summaries keyed by project-relative path; saved only when something changed."""

    def __init__(self, root: Path, enabled: bool = True):
        self.path = root / INDEX_DIR / INDEX_FILE
        self.enabled = enabled
        self.entries: dict[str, tuple] = {}
        self.used: set[str] = set()
        self.dirty = False
        self.fingerprint = _parser_fingerprint()
        if enabled:
            self._load()

    def _load(self) -> None:
        try:
            stored = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return
        if (isinstance(stored, tuple) and len(stored) == 2 and stored[0] == self.fingerprint
                and isinstance(stored[1], dict)):
            self.entries = stored[1]

    def get(self, rel: str, key: tuple[int, int]):
        self.used.add(rel)
        entry = self.entries.get(rel)
        if entry is not None and entry[0] == key:
            return entry[1]
        return None

    def put(self, rel: str, key: tuple[int, int], summary: tuple) -> None:
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
        try:
            atomic_write(self.path, marshal.dumps((self.fingerprint, self.entries)))
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                atomic_write(gitignore, b"*\n")
        except OSError:
            pass
        self.dirty = False
