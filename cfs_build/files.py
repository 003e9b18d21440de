"""Reading files the v5 way (normalized text) and writing them atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UnreadableFile(Exception):
    """A file that exists but cannot be read as UTF-8 text (or at all)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def normalize_text(text: str) -> str:
    """Apply the v5 line rule: LF endings, one trailing CR per line dropped, final LF."""
    if "\r" not in text:
        return text if text.endswith("\n") else text + "\n"
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return "\n".join(line[:-1] if line.endswith("\r") else line for line in lines) + "\n"


def decode(data: bytes, rel: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            rel, f"not valid UTF-8 (byte {exc.start}); v5 reads text files as UTF-8"
        ) from None


def stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes whenever a file is written: times in nanoseconds, size, inode."""
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def stamp_of(path: str) -> tuple[int, int, int, int] | None:
    """The stamp of the file at ``path`` now; None when it cannot be looked at."""
    try:
        return stamp(os.stat(path))
    except OSError:
        return None


def read_all(path: str, stamps: list | None = None) -> bytes:
    """All bytes of a file; raises OSError like ``open`` would.

    ``stamps``: a list to append the stamp of the very file read to (taken before
    reading, so a later write always shows as a different stamp).
    Plain os calls: a big tree reads every file on every run, and ``open()`` builds a
    buffered file object and calls fstat for each, which costs twice the read itself.
    """
    fd = os.open(path, os.O_RDONLY | _NOINHERIT)
    try:
        if stamps is not None:
            stamps.append(stamp(os.fstat(fd)))
        data = os.read(fd, 65536)
        if not data:
            return data
        # A short read does not prove the end of every kind of file: read until EOF.
        rest = os.read(fd, 65536)
        if not rest:
            return data
        chunks = [data, rest]
        while rest:
            rest = os.read(fd, 1 << 20)
            chunks.append(rest)
        return b"".join(chunks)
    finally:
        os.close(fd)


_NOINHERIT = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_bytes(path: Path, rel: str, stamps: list | None = None) -> bytes | None:
    """The file's bytes, or None when there is no such file (see read_all for stamps)."""
    try:
        return read_all(os.fspath(path), stamps)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UnreadableFile(rel, "is a directory, not a file") from None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise UnreadableFile(rel, exc.strerror or str(exc)) from None


def read_normalized(path: Path, rel: str) -> str | None:
    """Normalized text of a file, or None when it does not exist."""
    data = read_bytes(path, rel)
    if data is None:
        return None
    return normalize_text(decode(data, rel))


def _read_umask() -> int:
    # Read once, while importing: setting and restoring it later would race with
    # other threads creating files (generations run in threads).
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _sync_directory(directory: Path) -> None:
    """Make a rename durable: flush the directory entry too (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
        _sync_directory(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
