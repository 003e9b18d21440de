"""The v5 hashes: SHA-1 digests written as 27-character unpadded base64url."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

INPUT_MARKER = b"I"


def b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def content_digest(text: str) -> bytes:
    """Raw SHA-1 of one position's text (or of a normalized file)."""
    return hashlib.sha1(text.encode("utf-8")).digest()


def checksum(text: str) -> str:
    """The manifest checksum of a file already read normalized."""
    return b64(content_digest(text))


def chain_hash(parts: Iterable[bytes]) -> str:
    """Hash of content digests (and the input marker) concatenated as raw bytes."""
    return b64(hashlib.sha1(b"".join(parts)).digest())


EMPTY_CHAIN = chain_hash(())
