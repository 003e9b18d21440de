"""The v5 content cache `code-from-spec/.cache/`: position texts and chain listings."""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from . import state
from .chain import Chain, Resolver
from .errors import CfsError
from .hashing import b64, content_digest
from .names import TREE_DIR

CACHE = f"{TREE_DIR}/.cache"
CONTENT, CHAINS = f"{CACHE}/.content", f"{CACHE}/.chains"
# The names cfs gives cache files (a dot and a hash), and its temporary names for them.
_OWN = re.compile(r"\.[A-Za-z0-9_-]{27}")
_OWN_TEMP = re.compile(r"\.\.[A-Za-z0-9_-]{27}\.[a-z0-9_]{8}\.tmp")


@dataclass(frozen=True)
class CachedChain:
    """A chain as the cache remembers it: (label, content hash) in chain order."""

    hash: str
    entries: tuple[tuple[str, str], ...]

    def hash_of(self, label: str) -> str | None:
        for entry_label, content in self.entries:
            if entry_label == label:
                return content
        return None


class Cache:
    """Write-once files under code-from-spec/.cache; every failure here is ignored.

    The cache is disposable: a link or a file where one of its directories belongs is
    removed (never followed) and a directory made in its place (state.open_dir).
    """

    def __init__(self, root: Path):
        self.root = root
        self.base = root / CACHE

    def _read(self, where: str, key: str) -> str | None:
        try:
            with state.directory(self.root, where, replace=True) as fd:
                data = None if fd is None else state.read_at(fd, f".{key}")
        except (OSError, CfsError):
            return None
        # Bytes, not text mode: universal newlines would turn a lone CR into LF.
        try:
            return None if data is None else data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @staticmethod
    def _write_once(fd: int, name: str, data: bytes) -> None:
        if _exists(fd, name):
            return
        # Best effort: a cache that cannot be written only loses dispositions.
        try:
            state.write_at(fd, name, data)
        except OSError:
            pass

    def store(self, resolver: Resolver, chain: Chain) -> None:
        """Record every position's text and the chain listing (skips what is there)."""
        if chain.hash is None:
            return
        try:
            with state.directory(self.root, CONTENT, create=True, replace=True) as content, \
                    state.directory(self.root, CHAINS, create=True, replace=True) as chains:
                lines = []
                for position in chain.positions:
                    lines.append(f"{position.label}: {position.content_hash}\n")
                    name = f".{position.content_hash}"
                    if not _exists(content, name):
                        text = resolver.position_text(chain, position)
                        self._write_once(content, name, text.encode("utf-8"))
                self._write_once(chains, f".{chain.hash}", "".join(lines).encode("utf-8"))
        except (OSError, CfsError):
            pass

    def load_chain(self, chain_hash: str) -> CachedChain | None:
        text = self._read(CHAINS, chain_hash)
        if text is None:
            return None
        lines = text.split("\n")  # not splitlines: a label may hold U+2028, \f and the like
        if lines[-1] == "":
            lines.pop()
        entries = []
        for line in lines:
            label, sep, content = line.rpartition(": ")
            if not sep:
                return None
            entries.append((label, content))
        return CachedChain(chain_hash, tuple(entries))

    def content(self, content_hash: str) -> str | None:
        """The exact text of a position, or None when it is absent or not what was hashed."""
        text = self._read(CONTENT, content_hash)
        # A truncated or hand-edited file would show the generator a wrong "old" text.
        if text is None or b64(content_digest(text)) != content_hash:
            return None
        return text

    def prune(self, keep_chains: set[str]) -> tuple[int, int]:
        """Delete chains not in ``keep_chains`` and content no kept chain names.

        Only files named as cfs names them (and its own temporary files) are deleted,
        by name within the real cache directories: nothing is followed through a link.
        """
        removed_chains = removed_content = 0
        named: set[str] = set()
        with state.directory(self.root, CHAINS, replace=True) as chains:
            for entry in _own(chains):
                chain_hash = entry[1:]
                if chain_hash in keep_chains:
                    cached = self.load_chain(chain_hash)
                    if cached is not None:
                        named |= {content for _, content in cached.entries}
                    continue
                if _removed(chains, entry):
                    removed_chains += 1
        with state.directory(self.root, CONTENT, replace=True) as content:
            for entry in _own(content):
                if entry[1:] not in named and _removed(content, entry):
                    removed_content += 1
        return removed_chains, removed_content


def _exists(fd: int, name: str) -> bool:
    """A regular file ``name`` is in the directory ``fd`` (a link of that name is not)."""
    try:
        return stat.S_ISREG(os.lstat(name, dir_fd=fd).st_mode)
    except OSError:
        return False


def _own(fd: int | None) -> list[str]:
    """The cache files (and leftover temporary files) cfs made in the directory ``fd``."""
    if fd is None:
        return []
    return [name for name in state.names_at(fd)
            if _OWN.fullmatch(name) or _OWN_TEMP.fullmatch(name)]


def _removed(fd: int, name: str) -> bool:
    """Remove a regular file cfs made; a directory of that name stays."""
    return _exists(fd, name) and state.remove_at(fd, name)
