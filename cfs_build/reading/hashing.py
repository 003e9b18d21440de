"""The v5 hashes: SHA-1 digests written as 27-character unpadded base64url."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

INPUT_MARKER = b"I"


def b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def content_digest(text: str) -> bytes:
    """Raw SHA-1 of one position's text (or of a normalized file). Bytes that are not UTF-8
    were read as lone surrogates (surrogateescape): they hash as the bytes they were."""
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).digest()


def checksum(text: str) -> str:
    """The manifest checksum of a file already read normalized."""
    return b64(content_digest(text))


def chain_hash(parts: Iterable[bytes]) -> str:
    """Hash of content digests (and the input marker) concatenated as raw bytes."""
    return b64(hashlib.sha1(b"".join(parts)).digest())


EMPTY_CHAIN = chain_hash(())


# The 0-byte file (FORMAT.md 7.3, X7): validation and accept compute SHA-1 of nothing;
# v5's write_file records SHA-1 of one LF. Both mean "empty" to cfs.
EMPTY_FILE = EMPTY_CHAIN
ONE_LF = b64(hashlib.sha1(b"\n").digest())


def checksums_match(current: str | None, recorded: str | None) -> bool:
    """A file's checksum against the recorded one; a recorded ONE_LF matches a 0-byte file."""
    return current == recorded or (current == EMPTY_FILE and recorded == ONE_LF)


def written_checksum(content: str | bytes) -> str:
    """What writing ``content`` records (FORMAT.md 7.6): SHA-1 with every CRLF made LF and a
    final LF added; empty content records the empty file's checksum (X7)."""
    data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    if not data:
        return EMPTY_FILE
    data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    return b64(hashlib.sha1(data).digest())
