"""The v5 content cache `code-from-spec/.cache/`: position texts and chain listings."""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import CfsError
from ..reading.files import normalize_bytes, replace_at
from ..reading.names import SPEC, TREE_DIR
from ..state import dirs as state
from .chain import INPUT, Chain, Position, Resolver

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
        """The hash of ``label``; of its last line when a damaged file repeats it (v5 reads
        the file into a map in file order)."""
        for entry_label, content in reversed(self.entries):
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

    def _read_bytes(self, where: str, key: str) -> bytes | None:
        try:
            with state.directory(self.root, where, replace=True) as fd:
                return None if fd is None else state.read_at(fd, f".{key}")
        except (OSError, CfsError):
            return None

    def _read(self, where: str, key: str) -> str | None:
        data = self._read_bytes(where, key)
        # Bytes, not text mode: universal newlines would turn a lone CR into LF.
        return None if data is None else normalize_bytes(data).decode("utf-8", "surrogateescape")

    @staticmethod
    def _write_once(fd: int, name: str, data: bytes) -> int:
        if _exists(fd, name):
            return 0
        # Best effort: a cache that cannot be written only loses dispositions.
        try:
            replace_at(fd, name, data)
        except OSError:
            return 0
        return 1

    def store(self, resolver: Resolver, chain: Chain, *,
              from_labels: bool = False) -> tuple[int, int]:
        """Record every position's text and the chain listing (skips what is there).

        With ``from_labels``, as v5's reconstruct_cache, a position whose label does not
        read back as its own reference gets no text (reads_back). Returns how many
        content files and chain files were written.
        """
        if chain.hash is None:
            return 0, 0
        written = chains_written = 0
        try:
            with state.directory(self.root, CONTENT, create=True, replace=True) as content, \
                    state.directory(self.root, CHAINS, create=True, replace=True) as chains:
                for position in chain.positions:
                    name = f".{position.content_hash}"
                    if from_labels and not reads_back(position):
                        continue
                    if not _exists(content, name):
                        text = resolver.position_text(chain, position)
                        written += self._write_once(
                            content, name, text.encode("utf-8", "surrogateescape"))
                chains_written = self._write_once(chains, f".{chain.hash}", _listing(chain))
        except (OSError, CfsError):
            pass
        return written, chains_written

    def store_chain(self, chain: Chain) -> int:
        """Record only the chain listing (what writing an artifact adds, FORMAT.md 8)."""
        if chain.hash is None:
            return 0
        try:
            with state.directory(self.root, CHAINS, create=True, replace=True) as chains:
                return self._write_once(chains, f".{chain.hash}", _listing(chain))
        except (OSError, CfsError):
            return 0

    def load_chain(self, chain_hash: str) -> CachedChain | None:
        """The chain file of ``chain_hash``; a line is split at its first ': ' as v5 does.

        None when the file cannot be read, or when one of its lines has no ': ' (an
        empty line included): v5 then takes the whole file as corrupted and uses no
        history at all. A 0-byte file is the chain with no position.
        """
        data = self._read_bytes(CHAINS, chain_hash)
        if data is None:
            return None
        if not data:
            return CachedChain(chain_hash, ())
        text = normalize_bytes(data).decode("utf-8", "surrogateescape")
        # Not splitlines: a label may hold U+2028, \f and the like.
        entries = []
        for line in text.split("\n")[:-1]:
            label, sep, content = line.partition(": ")
            if not sep:
                return None
            entries.append((label, content))
        return CachedChain(chain_hash, tuple(entries))

    def content(self, content_hash: str) -> str | None:
        """The text of a position as v5 reads it back (normalized), None when absent."""
        return self._read(CONTENT, content_hash)

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


def reads_back(position: Position) -> bool:
    """v5's reconstruct_cache finds a position's text from its label alone: a `SPEC/`
    label (inside `INPUT[...]` for an input) that ends with `)` is split at its LAST `(`
    into node and qualifier. That is the position's own reference unless its qualifier
    holds a `(`: `SPEC/x(a(b)` reads back as node `SPEC/x(a` (no such node), and v5
    writes no text for it."""
    label = position.label
    if position.role == INPUT:
        label = label[len("INPUT["):-1]
    source = position.source
    if source is None or source.prefix != SPEC or not label.endswith(")"):
        return True
    cut = label.rfind("(")
    if cut < 0:
        return True
    return (label[:cut], label[cut + 1:-1]) == (source.base, source.qualifier)


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


def _listing(chain: Chain) -> bytes:
    """A chain file's bytes: one ``label: content hash`` line per position, in order."""
    lines = "".join(f"{p.label}: {p.content_hash}\n" for p in chain.positions)
    return lines.encode("utf-8", "surrogateescape")
