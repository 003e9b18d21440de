"""The v5 content cache `code-from-spec/.cache/`: position texts and chain listings."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .chain import Chain, Resolver, normalize_bytes
from .files import atomic_write
from .names import TREE_DIR

CACHE = f"{TREE_DIR}/.cache"


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
    """Write-once files under code-from-spec/.cache; every failure here is ignored."""

    def __init__(self, root: Path):
        self.base = root / CACHE

    def _content(self, content_hash: str) -> Path:
        return self.base / ".content" / f".{content_hash}"

    def _chain(self, chain_hash: str) -> Path:
        return self.base / ".chains" / f".{chain_hash}"

    def _write_once(self, path: Path, data: bytes) -> int:
        if path.exists():
            return 0
        # Best effort: a cache that cannot be written only loses dispositions.
        try:
            atomic_write(path, data)
        except OSError:
            return 0
        return 1

    def store(self, resolver: Resolver, chain: Chain) -> tuple[int, int]:
        """Record every position's text and the chain listing (skips what is there).

        Returns how many content files and chain files were written.
        """
        if chain.hash is None:
            return 0, 0
        lines = []
        written = 0
        for position in chain.positions:
            lines.append(f"{position.label}: {position.content_hash}\n")
            target = self._content(position.content_hash)
            if not target.exists():
                text = resolver.position_text(chain, position)
                written += self._write_once(target, text.encode("utf-8", "surrogateescape"))
        chains = self._write_once(self._chain(chain.hash),
                                  "".join(lines).encode("utf-8", "surrogateescape"))
        return written, chains

    def store_chain(self, chain: Chain) -> int:
        """Record only the chain listing (what writing an artifact adds, FORMAT.md 8)."""
        if chain.hash is None:
            return 0
        lines = "".join(f"{p.label}: {p.content_hash}\n" for p in chain.positions)
        return self._write_once(self._chain(chain.hash), lines.encode("utf-8", "surrogateescape"))

    def load_chain(self, chain_hash: str) -> CachedChain | None:
        """The chain file of ``chain_hash``; a line is split at its first ': ' as v5 does."""
        text = _read(self._chain(chain_hash))
        if text is None:
            return None
        lines = text.split("\n")  # not splitlines: a label may hold U+2028, \f and the like
        if lines[-1] == "":
            lines.pop()
        entries = []
        for line in lines:
            label, sep, content = line.partition(": ")
            if sep:
                entries.append((label, content))
        return CachedChain(chain_hash, tuple(entries))

    def content(self, content_hash: str) -> str | None:
        """The text of a position as v5 reads it back (normalized), None when absent."""
        return _read(self._content(content_hash))

    def prune(self, keep_chains: set[str]) -> tuple[int, int]:
        """Delete chains not in ``keep_chains`` and content no kept chain names."""
        removed_chains = removed_content = 0
        named: set[str] = set()
        chains_dir = self.base / ".chains"
        for entry in _listing(chains_dir):
            chain_hash = entry[1:]
            if chain_hash in keep_chains:
                cached = self.load_chain(chain_hash)
                if cached is not None:
                    named |= {content for _, content in cached.entries}
                continue
            if _unlink(chains_dir / entry):
                removed_chains += 1
        content_dir = self.base / ".content"
        for entry in _listing(content_dir):
            if entry[1:] not in named and _unlink(content_dir / entry):
                removed_content += 1
        return removed_chains, removed_content


def _read(path: Path) -> str | None:
    # Bytes, not text mode: universal newlines would turn a lone CR of a position into LF.
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return normalize_bytes(data).decode("utf-8", "surrogateescape")


def _listing(directory: Path) -> list[str]:
    try:
        return [name for name in os.listdir(directory) if name.startswith(".")]
    except OSError:
        return []


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
