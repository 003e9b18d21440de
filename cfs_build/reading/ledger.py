"""What was read, with its stat signature: the one record of it and the one definition.

A file counts as unchanged while its signature is: modification and change times
in nanoseconds, size, and inode number. Each field is there for a change the others
can miss: a rewrite within one clock tick keeps the modification time (and a
program may set it back with os.utime), but not the change time, which no program
can set; a same-size rewrite shows in the times; a file replaced by a rename (an
atomic write, an editor's save) has another inode even with every time restored.
A symbolic link is signed with its target's fields and its own (signatures): where
it leads is part of the answer even when it leads to the same file by another name.

The resolver records each project file as it reads it, the project its manifest;
the build compares what it judged statuses with against the files now; the
snapshot stores the same fields, packed (signatures).
"""
from __future__ import annotations

import os
import stat as stat_mode
from array import array
from collections.abc import Iterable, Mapping
from operator import attrgetter
from types import MappingProxyType

FIELDS = ("st_mtime_ns", "st_ctime_ns", "st_size", "st_ino")

Signature = tuple[int, int, int, int]

# A stat result's FIELDS as a tuple; attrgetter does it in C (a snapshot signs tens of
# thousands of paths at a time).
signature = attrgetter(*FIELDS)


# An inode is unsigned 64-bit: packed, it is folded into the signed range.
HALF, FULL = 1 << 63, 1 << 64


def signatures(root, paths: list[str], known: Mapping[str, Signature | None] | None = None
               ) -> array:
    """Four numbers per path (its signature) that must stay equal for it to count as
    unchanged, packed; a path that is gone or cannot be looked at gives its negated
    error number and zeros (a dangling link gives its own signature: it is there; a
    link that leads somewhere, its target's with its own identity: _through).
    Flat 64-bit numbers compare (and store) in one piece, ten thousands of paths at a
    time. ``paths``: relative to the directory ``root``.
    ``known``: signatures taken as the paths were read (None: not there), used as they
    are; the other paths, and those that were not there, are looked at now.
    """
    sigs = array("q")
    add = sigs.extend
    stat, sign = os.stat, signature
    link = stat_mode.S_IFLNK
    known = known or {}
    if stat in os.supports_dir_fd:
        # Relative to an open descriptor of the root: shorter paths for the kernel to walk.
        root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        names = paths
    else:
        root_fd, names = None, [f"{root}{os.sep}{rel}" for rel in paths]
    try:
        for rel, name in zip(paths, names):
            sig = known.get(rel)
            if sig is None:
                try:
                    st = stat(name, dir_fd=root_fd, follow_symlinks=False)
                    sig = sign(st)
                    if stat_mode.S_IFMT(st.st_mode) == link:
                        sig = _through(sig, sign(stat(name, dir_fd=root_fd)))
                except FileNotFoundError as exc:
                    if sig is None:  # (else a dangling link: not nothing, see _through)
                        add((-(exc.errno or 1), 0, 0, 0))
                        continue
                except OSError as exc:
                    add((-(exc.errno or 1), 0, 0, 0))
                    continue
            add(sig if sig[3] < HALF else (*sig[:3], sig[3] - FULL))
    finally:
        if root_fd is not None:
            os.close(root_fd)
    return sigs


def _through(link: Signature, target: Signature) -> Signature:
    """The signature of a path that is a symbolic link: its target's, and the link's
    own identity. Where a link leads is part of the answer (a file outside the project
    is named in the finding), and a link put in another's place, even to another name
    of the same file (a hard link), is a new link with a later change time."""
    mtime, ctime, size, ino = target
    return (mtime, max(ctime, link[1]), size, ino ^ link[3])


def signature_of(path: str) -> Signature | None:
    """The signature of the file at ``path`` now; None when it cannot be looked at."""
    try:
        return signature(os.stat(path))
    except (OSError, ValueError):  # ValueError: a NUL in the path, which no file has
        return None


class Ledger:
    """Project-relative path -> its signature when it was read (None: it was not there).

    Recorded by whoever reads, compared by whoever must notice a later change. A path
    is recorded once per reading: ``forget`` it before reading it again.
    """

    def __init__(self, root, seen: dict[str, Signature | None] | None = None):
        self.root = os.fspath(root)
        self._seen: dict[str, Signature | None] = dict(seen or {})

    def __contains__(self, rel: str) -> bool:
        return rel in self._seen

    def paths(self) -> list[str]:
        """Every path recorded, in the order first read."""
        return list(self._seen)

    def recorded(self) -> Mapping[str, Signature | None]:
        """Every path recorded with its signature then (read only)."""
        return MappingProxyType(self._seen)

    def seen(self, rel: str) -> Signature | None:
        """The signature ``rel`` had when it was read; raises KeyError when it was not."""
        return self._seen[rel]

    def record(self, rel: str, st: os.stat_result | None) -> None:
        """``rel`` was read as ``st`` (the stat of the very file opened), or found absent
        (None). Take the stat before reading: a write after it then always shows."""
        self._seen[rel] = None if st is None else signature(st)

    def record_signature(self, rel: str, found: Signature | None) -> None:
        """As ``record``, with the signature taken by another reader (see
        chain.Resolver.adopt)."""
        self._seen[rel] = found

    def look(self, rel: str) -> Signature | None:
        """Record ``rel``'s signature now, before reading it by other means; returns it."""
        found = self._seen[rel] = self.now(rel)
        return found

    def now(self, rel: str) -> Signature | None:
        """``rel``'s signature now, whether recorded or not."""
        return signature_of(f"{self.root}/{rel}")

    def forget(self, rel: str) -> None:
        """Drop what is known of ``rel`` (it is to be read again)."""
        self._seen.pop(rel, None)

    def changed(self, rel: str) -> bool:
        """``rel`` differs now from when it was read (or it was not recorded at all)."""
        return rel not in self._seen or self._seen[rel] != self.now(rel)

    def update(self, rels: Iterable[str]) -> list[str]:
        """The paths among ``rels`` that changed since recorded (an unrecorded one counts
        as changed), each recorded anew as it is now."""
        found = []
        seen, now = self._seen, self.now
        for rel in rels:
            current = now(rel)
            if rel not in seen or seen[rel] != current:
                seen[rel] = current
                found.append(rel)
        return found
