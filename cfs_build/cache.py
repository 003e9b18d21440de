"""The v5 content cache `code-from-spec/.cache/`: position texts and chain listings."""
from __future__ import annotations

import contextlib

import os
from dataclasses import dataclass
from pathlib import Path

from .chain import Chain, Resolver
from .files import atomic_write
from .hashing import b64, content_digest
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

    def _write_once(self, path: Path, data: bytes) -> None:
        if path.exists():
            return
        # Best effort: a cache that cannot be written only loses dispositions.
        with contextlib.suppress(OSError):
            atomic_write(path, data)

    def store(self, resolver: Resolver, chain: Chain) -> None:
        """Record every position's text and the chain listing (skips what is there)."""
        if chain.hash is None:
            return
        lines = []
        for position in chain.positions:
            lines.append(f"{position.label}: {position.content_hash}\n")
            target = self._content(position.content_hash)
            if not target.exists():
                text = resolver.position_text(chain, position)
                self._write_once(target, text.encode("utf-8"))
        self._write_once(self._chain(chain.hash), "".join(lines).encode("utf-8"))

    def load_chain(self, chain_hash: str) -> CachedChain | None:
        text = _read(self._chain(chain_hash))
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
        text = _read(self._content(content_hash))
        # A truncated or hand-edited file would show the generator a wrong "old" text.
        if text is None or b64(content_digest(text)) != content_hash:
            return None
        return text

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
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


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
