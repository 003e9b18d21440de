"""Reading files the v5 way (normalized text), only inside the project, and writing them
atomically."""
from __future__ import annotations

import errno
import os
import re
import secrets
import stat as stat_mode
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ledger import Ledger


class UnreadableFile(Exception):
    """A file that exists but cannot be read as UTF-8 text (or at all)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Outside(UnreadableFile):
    """A path that leads out of the project through a symbolic link: never read."""


class NotRegular(UnreadableFile):
    """Something other than a regular file (``kind``: directory, FIFO, socket, device)."""

    def __init__(self, path: str, kind: str):
        super().__init__(path, f"is a {kind}, not a file" if kind == "directory"
                         else f"is a {kind}, not a regular file")
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a stat mode describes, in words for a message (each takes "a", not "an")."""
    for test, word in ((stat_mode.S_ISREG, "regular file"), (stat_mode.S_ISDIR, "directory"),
                       (stat_mode.S_ISLNK, "symbolic link"), (stat_mode.S_ISFIFO, "FIFO"),
                       (stat_mode.S_ISSOCK, "socket"), (stat_mode.S_ISCHR, "character device"),
                       (stat_mode.S_ISBLK, "block device")):
        if test(mode):
            return word
    return "special file"


# A byte that is not UTF-8, as surrogateescape reads it (a file's text, a directory's name),
# is one lone surrogate; no other lone surrogate reaches cfs's texts.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """``text`` holds a byte that was not UTF-8 (see _LONE_SURROGATE)."""
    return not text.isascii() and _LONE_SURROGATE.search(text) is not None


def as_json_text(text: str) -> str:
    """``text`` as v5's JSON carries it: one U+FFFD per byte that was not UTF-8. Go's
    encoder replaces each byte that starts no valid sequence on its own, where Python's
    "replace" makes one U+FFFD of a whole cut-short sequence."""
    return _LONE_SURROGATE.sub("\ufffd", text) if has_lone_surrogate(text) else text


def normalize_text(text: str) -> str:
    """Apply the v5 line rule: LF endings, one trailing CR per line dropped, final LF."""
    if "\r" not in text:
        return text if text.endswith("\n") else text + "\n"
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return "\n".join(line[:-1] if line.endswith("\r") else line for line in lines) + "\n"


def normalize_bytes(data: bytes) -> bytes:
    """FORMAT.md 3 on bytes: LF lines, one CR before each LF and at the very end dropped,
    a final LF (a 0-byte file reads as one LF). Invalid UTF-8 stays as it is."""
    if b"\r" not in data:
        return data if data.endswith(b"\n") else data + b"\n"
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return b"\n".join(line[:-1] if line.endswith(b"\r") else line for line in lines) + b"\n"


def safe_relpath(path: str) -> str | None:
    """The path as a clean project-relative POSIX path, or None if it could leave the root."""
    if not path or "\\" in path or path.startswith("/") or "\0" in path:
        return None
    pieces = path.split("/")
    if "" not in pieces and "." not in pieces and ".." not in pieces:
        return path  # already clean: the common case, without building a PurePosixPath
    parts = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) if parts else None


# How much a file may grow while it is read (a log being appended to) and still be read
# to its end. One written faster than it is read would be read until the memory ran out.
GROWTH = 1 << 20


def read_to_end(fd: int, size: int) -> bytes:
    """All bytes of the open regular file ``fd``, whose stat gave ``size``: read in one
    call when that is all there is (no second, empty read, no joining), else on to its
    end (it grew meanwhile, or a read came short). Raises OSError, when it grew by more
    than GROWTH meanwhile too, and MemoryError when ``size`` is more than this process
    can hold (a damaged or sparse file: its size is asked for at once, not read a
    megabyte at a time)."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    have = len(data)
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        have += len(chunk)
        if have > size + GROWTH:
            raise OSError(errno.EAGAIN, f"grew by more than {GROWTH >> 20} MiB while it was "
                          "read (something is writing it now); run cfs again once it is "
                          "written")
    return b"".join(chunks)


def read_all(path: str, root: str | None = None) -> bytes:
    """All bytes of the regular file at ``path``. Raises OSError when it cannot be opened,
    as ``open`` would (not there, no permission), and UnreadableFile (NotRegular, Outside)
    for what was opened (_read_opened): anything but a regular file (one may have been put
    there since the walk saw a file; opened without waiting on a FIFO or taking a
    terminal), a file too big to hold, or, with ``root`` (the real path of the project),
    one that lies outside it: the walk proved no link on the way, but a directory may
    have been swapped for one since.

    Plain os calls: a big tree reads every file on every run, and ``open()`` builds a
    buffered file object, which costs more than the read itself; no stat before the
    open either (read_regular's), the open file is looked at instead.
    """
    return _read_opened(os.open(path, _PROBE), path, None, root, path)


_NOINHERIT = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
# Opening a FIFO for reading waits for a writer, and a terminal may become ours: neither
# may happen to a path a spec names. Reads of a regular file ignore O_NONBLOCK.
_PROBE = os.O_RDONLY | _NOINHERIT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def real_path(fd: int, path: str) -> str:
    """Where an open file really is: the kernel's own answer where there is one."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def is_inside(real: str, root: str) -> bool:
    """The real path ``real`` is ``root`` or lies below it (both with links resolved)."""
    return real == root or real.startswith(root.rstrip("/") + "/")


def _check_inside(rel: str, real: str, root: str) -> None:
    if not is_inside(real, root):
        raise Outside(rel, f"resolves outside the project (to {real}); cfs reads only files "
                      "inside it")


def read_inside(root: str | Path, rel: str, ledger: Ledger | None = None) -> bytes | None:
    """The bytes of ``root/rel``, read only when that path, every link followed, lies
    inside ``root`` and is a regular file; None when there is no such file.

    ``root`` must be a real path (Path.resolve()). Raises Outside when a link leads out
    of the project, and otherwise as read_regular. The check is made on what was opened,
    so a link swapped meanwhile cannot slip past.
    ``ledger``: where to record the signature of the very file read (taken before
    reading, so a later write always shows); nothing is recorded when it is not read.
    """
    root = os.fspath(root)
    return read_regular(f"{root}/{rel}", rel, ledger, root)


def read_regular(path: str, rel: str, ledger: Ledger | None = None,
                 root: str | None = None) -> bytes | None:
    """The bytes of the regular file at ``path`` (``rel`` in messages, and in ``ledger``),
    links followed; None when there is no such file. Raises NotRegular for a directory,
    FIFO, socket or device (found without opening it: opening one can act, a FIFO's
    writer wakes, a tape rewinds), UnreadableFile for any other failure, a file too big
    to hold included. ``root``: the file must also lie inside it (read_inside)."""
    if "\0" in path:
        return None  # no file name holds NUL (os calls would raise ValueError)
    try:
        ahead = os.stat(path)
        if not stat_mode.S_ISREG(ahead.st_mode):
            if root is not None:
                _check_inside(rel, os.path.realpath(path), root)
            raise NotRegular(rel, kind_of(ahead.st_mode))
        fd = os.open(path, _PROBE)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise UnreadableFile(rel, exc.strerror or str(exc)) from None
    return _read_opened(fd, rel, ledger, root, path)


def odd_entry(directory: int, name: str) -> str | None:
    """What the entry ``name`` of the open directory ``directory`` is (kind_of) when it is
    neither a regular file nor a link, found without opening it (opening a FIFO wakes a
    writer waiting on it, opening a device can act); None when it is one, or absent.
    Raises OSError when it cannot be looked at."""
    try:
        mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    return None if stat_mode.S_ISREG(mode) or stat_mode.S_ISLNK(mode) else kind_of(mode)


def read_entry(directory: int, name: str, rel: str, link: str) -> bytes | None:
    """The bytes of the regular file ``name`` in the open directory ``directory`` (``rel``
    in messages), never through a link; None when there is none. Raises Outside with the
    reason ``link`` for a link, NotRegular for anything but a regular file (found without
    opening it, as read_regular), UnreadableFile for any other failure."""
    try:
        odd = odd_entry(directory, name)
        if odd is not None:
            raise NotRegular(rel, odd)
        fd = os.open(name, _PROBE | os.O_NOFOLLOW, dir_fd=directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # (a link: the open refuses to follow it)
            raise Outside(rel, link) from None
        raise UnreadableFile(rel, exc.strerror or str(exc)) from None
    return _read_opened(fd, rel)


def _read_opened(fd: int, rel: str, ledger: Ledger | None = None, root: str | None = None,
                 path: str = "") -> bytes:
    """The bytes of the file open as ``fd`` (closed here), for read_regular and read_entry:
    NotRegular unless it is a regular file, inside ``root`` when given (``path`` is what
    was opened), recorded in ``ledger``."""
    try:
        st = os.fstat(fd)
        if root is not None:
            _check_inside(rel, real_path(fd, path), root)
        if not stat_mode.S_ISREG(st.st_mode):
            raise NotRegular(rel, kind_of(st.st_mode))
        if ledger is not None:
            ledger.record(rel, st)
        return read_to_end(fd, st.st_size)
    except OSError as exc:
        raise UnreadableFile(rel, exc.strerror or str(exc)) from None
    except (MemoryError, OverflowError):
        raise UnreadableFile(rel, f"is too big to read ({st.st_size} bytes)") from None
    finally:
        os.close(fd)


def _read_umask() -> int:
    # Read once, while importing: setting and restoring it later would race with
    # other threads creating files (generations run in threads).
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


NAME_MAX = 255  # bytes in one file name on the file systems cfs writes to
_TEMP_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
_TAG_LENGTH = 8
_TEMP_SUFFIX = ".tmp"


def _temp_stem(name: str) -> str:
    """The part of ``name`` a temporary name keeps: short enough for 255 bytes in all."""
    room = NAME_MAX - len(".") - len(".") - _TAG_LENGTH - len(_TEMP_SUFFIX)
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= room:
        return name
    # Cut on a character boundary, so the stem is itself a valid name.
    return raw[:room].decode("utf-8", "ignore")


def temp_name(name: str) -> str:
    """A fresh temporary name beside ``name``: a dot, the name (cut to fit), a dot,
    eight random letters or digits, and ``.tmp``."""
    tag = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(_TAG_LENGTH))
    return f".{_temp_stem(name)}.{tag}{_TEMP_SUFFIX}"


def is_temp_of(candidate: str, name: str) -> bool:
    """Whether ``candidate`` is a temporary name cfs makes for ``name`` (and nothing else)."""
    pattern = (re.escape(f".{_temp_stem(name)}.") + f"[a-z0-9_]{{{_TAG_LENGTH}}}"
               + re.escape(_TEMP_SUFFIX))
    return re.fullmatch(pattern, candidate) is not None


def remove_leftovers(directory: Path, name: str) -> list[str]:
    """Delete temporary files a killed write of ``directory/name`` left behind.

    Only names that cfs makes for ``name`` (temp_name), only regular files, never
    through a link: the directory is opened without following one at its last step,
    and unlink removes a link itself. Returns what was removed; best effort.
    """
    removed = []
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _NOINHERIT)
    except OSError:
        return removed
    try:
        for entry in os.listdir(fd):
            if not is_temp_of(entry, name):
                continue
            try:
                if stat_mode.S_ISREG(os.lstat(entry, dir_fd=fd).st_mode):
                    os.unlink(entry, dir_fd=fd)
                    removed.append(entry)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return removed


def _kept_mode(st: os.stat_result) -> int | None:
    """The permissions a rewritten file keeps: a regular file's, without set-user-ID and
    set-group-ID (a file a checkout planted with them must not turn what cfs writes, as
    its own user, into a program that runs as that user)."""
    return st.st_mode & 0o1777 if stat_mode.S_ISREG(st.st_mode) else None


def replace_at(directory: int, name: str, data: bytes | tuple[bytes, ...],
               mode: int | None = None, durable: bool = True) -> None:
    """Replace the entry ``name`` in the open directory ``directory`` atomically by
    ``data`` (or its parts one after the other): nothing is followed (a link there is
    replaced, its target untouched) and the directory is the one the descriptor was
    opened on, whatever its path leads to meanwhile. Raises OSError.

    ``mode``: the new file's permissions (default: the old regular file's, _kept_mode,
    else the umask's). ``durable``: flushed to the disk before it replaces the old file;
    a sealed state file can skip that (after a power loss a torn one fails its checksum
    and is made again, so waiting for the disk on every run buys nothing).
    """
    if mode is None:
        try:
            mode = _kept_mode(os.lstat(name, dir_fd=directory))
        except OSError:
            pass
    if mode is None:
        mode = 0o666 & ~_UMASK
    tmp = temp_name(name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _NOINHERIT, 0o600,
                 dir_fd=directory)
    try:
        try:
            for part in data if isinstance(data, tuple) else (data,):
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=directory)
        except OSError:
            pass
        raise
    if durable:
        try:
            os.fsync(directory)  # the rename too survives a power loss (best effort)
        except OSError:
            pass


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half.

    The temporary file beside it is named by temp_name, so that a kill leaves a name
    remove_leftovers recognizes, and any legal ``path.name`` still fits. The directory
    is followed as named; the entry itself never is (replace_at).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | _NOINHERIT)
    except PermissionError:  # (write and search rights without read: still writable)
        directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | _NOINHERIT)
    try:
        replace_at(directory, path.name, data, mode)
    finally:
        os.close(directory)
