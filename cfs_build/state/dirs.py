"""cfs's own state (.cfs/, code-from-spec/.cache/): reached, read, written and deleted
without ever following a symbolic link.

Every directory on the way is opened relative to the one before it with O_NOFOLLOW, and
files are read, replaced and removed relative to the directory's descriptor. A link or
a file where cfs expects one of its directories is refused with one line (or, for a
directory whose content is disposable, removed and made again): whatever it points at is
never read, written or deleted. Seals let cfs notice a damaged file of its own.
"""
from __future__ import annotations

import errno
import os
import stat as stat_mode
import sys
from contextlib import contextmanager
from pathlib import Path

import xxhash

from ..errors import CfsError
from ..reading.files import is_temp_of, kind_of, read_to_end, replace_at
from . import SEAL_SIZE

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def notice(message: str) -> None:
    """One line on stderr about state cfs discarded or could not use; the run goes on."""
    print(f"cfs: {message}", file=sys.__stderr__ if sys.stderr is None else sys.stderr)


def _what(fd: int, name: str) -> str:
    try:
        st = os.lstat(name, dir_fd=fd)
    except OSError as exc:
        return exc.strerror or "unusable"
    if stat_mode.S_ISLNK(st.st_mode):
        try:
            return f"a symbolic link (to {os.readlink(name, dir_fd=fd)})"
        except OSError:
            return "a symbolic link"
    kind = kind_of(st.st_mode)
    return f"a {kind}"


def open_dir(root: Path | str, rel: str, *, create: bool = False,
             replace: bool = False) -> int | None:
    """A descriptor of the directory ``root/rel``, reached without following any link.

    None when it does not exist and ``create`` is false. A link or other non-directory
    on the way raises CfsError, unless ``replace`` and it is a link: then the link
    itself (never what it points at) is removed and, with ``create``, a real directory
    made in its place. Other failures raise OSError. The caller closes the descriptor.
    """
    fd = os.open(os.fspath(root), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    parts = rel.split("/")
    try:
        for i, part in enumerate(parts):
            nxt = _step(fd, part, "/".join(parts[:i + 1]), create, replace)
            os.close(fd)
            fd = -1
            if nxt is None:
                return None
            fd = nxt
        found, fd = fd, -1
        return found
    finally:
        if fd >= 0:
            os.close(fd)


def _step(fd: int, part: str, here: str, create: bool, replace: bool) -> int | None:
    """Open the directory ``part`` in ``fd`` (see open_dir)."""
    try:
        return os.open(part, _DIR, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            return None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        what = _what(fd, part)
        if not (replace and what.startswith("a symbolic link")):
            raise CfsError(f"{here} is {what}, not a directory; cfs keeps its own state "
                           "there and never reads, writes or deletes through a link. Remove "
                           "it (cfs makes the directory again)") from None
        if not remove_at(fd, part):
            raise CfsError(f"{here} is {what}, not a directory, and cfs cannot remove it; "
                           "remove it by hand") from None
        notice(f"removed {here}: it was {what}, not a directory; cfs never follows one")
        if not create:
            return None
    try:
        os.mkdir(part, 0o777, dir_fd=fd)
    except FileExistsError:
        pass
    return os.open(part, _DIR, dir_fd=fd)


@contextmanager
def directory(root: Path | str, rel: str, *, create: bool = False, replace: bool = False):
    """open_dir as a context: yields the descriptor (or None) and closes it."""
    fd = open_dir(root, rel, create=create, replace=replace)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def entry_name(name: str) -> bool:
    """``name`` is one entry of a directory, not a path: a name read from a state file
    (a content hash in a cached chain) must not climb out of the directory it is in."""
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..")


def read_at(fd: int, name: str) -> bytes | None:
    """The bytes of the regular file ``name`` in the directory ``fd``; None when it is
    absent, a link or anything but a regular file (never followed, never waited on), too
    big to hold (damaged, or sparse: its size is asked for at once), or when ``name`` is
    not an entry's name (entry_name)."""
    if not entry_name(name):
        return None
    try:
        # Looked at first: opening a FIFO wakes a writer waiting on it, a device can act.
        if not stat_mode.S_ISREG(os.lstat(name, dir_fd=fd).st_mode):
            return None
        file = os.open(name, _READ, dir_fd=fd)
    except OSError:
        return None
    try:
        st = os.fstat(file)
        if not stat_mode.S_ISREG(st.st_mode):
            return None
        # (The snapshot is megabytes: each copy of it costs a fresh process page faults.)
        return read_to_end(file, st.st_size)
    except (OSError, MemoryError, OverflowError):
        return None
    finally:
        os.close(file)


def is_link_or_odd(fd: int, name: str) -> str | None:
    """What ``name`` in ``fd`` is when it is there but not a regular file; else None."""
    try:
        st = os.lstat(name, dir_fd=fd)
    except OSError:
        return None
    return None if stat_mode.S_ISREG(st.st_mode) else _what(fd, name)


def remove_at(fd: int, name: str) -> bool:
    """Remove the entry ``name`` (a link itself, never its target); False if it was not
    removed (absent, a directory, not allowed, not an entry's name: entry_name)."""
    if not entry_name(name):
        return False
    try:
        os.unlink(name, dir_fd=fd)
        return True
    except OSError:
        return False


def names_at(fd: int) -> list[str]:
    try:
        return os.listdir(fd)
    except OSError:
        return []


def remove_leftovers_at(fd: int, name: str) -> None:
    """Remove what killed writes of ``name`` left in ``fd`` (temp names cfs makes only)."""
    for entry in names_at(fd):
        if is_temp_of(entry, name) and is_link_or_odd(fd, entry) is None:
            remove_at(fd, entry)


def _split(rel: str) -> tuple[str, str]:
    parent, _, name = rel.rpartition("/")
    return parent, name


def read_state(root: Path | str, rel: str) -> bytes | None:
    """The bytes of cfs's own file ``rel`` (see read_at); None when absent or not usable."""
    parent, name = _split(rel)
    with directory(root, parent) as fd:
        return None if fd is None else read_at(fd, name)


def write_state(root: Path | str, rel: str, data: bytes) -> None:
    """Replace cfs's own file ``rel`` atomically, making its directories. Raises OSError."""
    parent, name = _split(rel)
    with directory(root, parent, create=True) as fd:
        remove_leftovers_at(fd, name)
        replace_at(fd, name, data)


def remove_state(root: Path | str, rel: str) -> bool:
    parent, name = _split(rel)
    with directory(root, parent) as fd:
        return fd is not None and remove_at(fd, name)


def seal(data: bytes, key: bytes = b"") -> bytes:
    """``data`` preceded by a checksum of itself, so damage can be noticed (unseal);
    with ``key`` (see anchor), a checksum only this copy of the project gives."""
    return _checksum(data, key) + data


def write_sealed_at(fd: int, name: str, data: bytes, key: bytes = b"") -> bytes:
    """replace_at of seal(data, key), without copying ``data`` into it (megabytes for a
    snapshot) and not durable (see replace_at: a torn file fails its seal); returns the
    seal's checksum."""
    check = _checksum(data, key)
    replace_at(fd, name, (check, data), durable=False)
    return check


def unseal(sealed: bytes | None, key: bytes = b"") -> memoryview | None:
    """The sealed bytes (a view of ``sealed``, not a copy), or None when the seal does
    not match (a flipped or lost byte, or sealed with another ``key``)."""
    if sealed is None or len(sealed) < SEAL_SIZE:
        return None
    data = memoryview(sealed)[SEAL_SIZE:]
    return data if _checksum(data, key) == sealed[:SEAL_SIZE] else None


def _checksum(data, key: bytes) -> bytes:
    """The SEAL_SIZE bytes of xxh3-128 a seal puts before ``data``."""
    return xxhash.xxh3_128_digest(data, seed=xxhash.xxh3_64_intdigest(key) if key else 0)


ANCHOR = ".gitignore"


def anchor_at(fd: int, create: bool = False) -> bytes | None:
    """What ties a state file to this copy of the project (a key for seal): the device,
    inode and change time of ANCHOR in the state directory ``fd``, a file cfs makes once
    (``create``) and never rewrites. None when it is absent or not a regular file.

    The checksum of a seal is known to anyone, but not these: a file a checkout (or a
    copy) puts there gets them on this disk, at that moment. So state planted by a
    repository, even copied from a real run, never passes for this copy's own.
    """
    for attempt in (0, 1):
        try:
            st = os.stat(ANCHOR, dir_fd=fd, follow_symlinks=False)
            break
        except FileNotFoundError:
            if not create or attempt:
                return None
        try:
            made = os.open(ANCHOR, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                           | os.O_CLOEXEC, 0o666, dir_fd=fd)
        except FileExistsError:
            continue  # made by another process meanwhile
        except OSError:
            return None
        try:
            os.write(made, b"*\n")  # and it keeps cfs's state out of version control
        finally:
            os.close(made)
    if not stat_mode.S_ISREG(st.st_mode):
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_ctime_ns}".encode()


def anchor(root: Path | str, rel: str, create: bool = False) -> bytes | None:
    """anchor_at of the state directory ``rel``; None when it cannot be had."""
    try:
        with directory(root, rel, create=create) as fd:
            return None if fd is None else anchor_at(fd, create)
    except (OSError, CfsError):
        return None
