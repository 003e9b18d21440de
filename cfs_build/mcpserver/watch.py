"""What changed in a project's directories since the last look, told by the kernel (inotify).

The kernel queues an event while the file operation happens, so draining the queue
at the start of a request sees every change completed before that request: an
empty queue means nothing in a watched directory changed, with no file looked at.
Only what happened after a directory's watch was added is told; the caller makes
sure its own reading of a directory comes after that (warm.py).

Every directory at or below ``recursive`` places is watched, new ones as they
appear; other directories are watched one by one. ``drain`` says None when the
changes cannot be known (the queue overflowed, a watched directory outside the
recursive places went away or moved): the caller then looks at the disk itself.
Linux only; elsewhere, or when no watch can be added, ``Watcher.open`` says None.
"""
from __future__ import annotations

import contextlib
import errno
import os
import sys
from dataclasses import dataclass

try:
    from inotify_simple import INotify, flags
except ImportError:  # not Linux, or not installed: the caller stats instead
    INotify = flags = None

NOT_AVAILABLE = "CFS_NO_WATCH"  # set: never watch (the stat-based path, for tests too)


@dataclass(frozen=True)
class Event:
    """One change: the directory it happened in (project-relative), the entry's name
    ("" for the directory itself), and what happened."""

    directory: str
    name: str
    created: bool = False  # an entry appeared (made, or moved in)
    removed: bool = False  # an entry went away (deleted, or moved out)
    is_dir: bool = False
    links: bool = False  # a directory appeared with a symbolic link at or below it

    @property
    def path(self) -> str:
        if not self.name:
            return self.directory
        return f"{self.directory}/{self.name}" if self.directory else self.name


class WatchFailed(Exception):
    """A watch could not be added (the user's watch limit, say): stat instead."""


def _mask() -> int:
    return (flags.CREATE | flags.DELETE | flags.MODIFY | flags.ATTRIB | flags.MOVED_FROM
            | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF | flags.ONLYDIR
            | flags.DONT_FOLLOW | flags.EXCL_UNLINK)


class Watcher:
    """Watches on some directories of one project, and the changes made in them."""

    def __init__(self, root: str, recursive: tuple[str, ...]):
        self.root = root
        self.recursive = recursive
        self._inotify = INotify(nonblocking=True)
        self._mask = _mask()
        self._dirs: dict[str, int] = {}  # project-relative directory -> watch
        self._wds: dict[int, str] = {}

    @classmethod
    def open(cls, root: str, recursive: tuple[str, ...], *, enabled: bool | None = None
             ) -> Watcher | None:
        """A watcher, or None where the kernel cannot tell changes (or it is turned off)."""
        if enabled is None:
            enabled = os.environ.get(NOT_AVAILABLE, "") == ""
        if not enabled or INotify is None or not sys.platform.startswith("linux"):
            return None
        try:
            return cls(root, recursive)
        except OSError:  # too many instances, say
            return None

    def close(self) -> None:
        self._inotify.close()

    def watched(self, rel: str) -> bool:
        return rel in self._dirs

    def _in_recursive(self, rel: str) -> bool:
        return any(rel == top or rel.startswith(top + "/") for top in self.recursive)

    def watch(self, rel: str) -> bool:
        """Watch one directory (project-relative, "" the root); False when it is not one
        (or is a link). Raises WatchFailed when the kernel refuses for another reason."""
        if rel in self._dirs:
            return True
        path = f"{self.root}/{rel}" if rel else self.root
        try:
            wd = self._inotify.add_watch(path, self._mask)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES):
                return False
            raise WatchFailed(str(exc)) from None
        old = self._wds.get(wd)
        if old is not None and old != rel:
            self._dirs.pop(old, None)  # the same directory, reached by a new name
        self._dirs[rel] = wd
        self._wds[wd] = rel
        return True

    def watch_below(self, rel: str) -> bool:
        """Watch ``rel`` and every directory below it, each before it is listed; True
        when a symbolic link was met there (not followed)."""
        stack, links = [rel], False
        while stack:
            here = stack.pop()
            if not self.watch(here):
                continue
            try:
                with os.scandir(f"{self.root}/{here}" if here else self.root) as listing:
                    for entry in listing:
                        if entry.is_symlink():
                            links = True
                        elif entry.is_dir(follow_symlinks=False):
                            stack.append(f"{here}/{entry.name}" if here else entry.name)
            except OSError:
                continue
        return links

    def forget_below(self, rel: str) -> None:
        """Stop watching ``rel`` and every directory below it (gone, or moved away)."""
        prefix = rel + "/"
        for here in [d for d in self._dirs if d == rel or d.startswith(prefix)]:
            wd = self._dirs.pop(here)
            if self._wds.get(wd) == here:
                del self._wds[wd]
                with contextlib.suppress(OSError):  # already gone with its directory
                    self._inotify.rm_watch(wd)

    def drain(self) -> list[Event] | None:
        """The changes queued since the last drain; None when they cannot be known."""
        found: list[Event] = []
        while True:
            try:
                batch = self._inotify.read(timeout=0)
            except BlockingIOError:
                batch = []
            if not batch:
                return found
            for raw in batch:
                try:
                    event = self._event(raw)
                except WatchFailed:  # a new directory cannot be watched: not knowable
                    return None
                if event is None:
                    return None
                if event is not False:
                    found.append(event)

    def _event(self, raw) -> Event | bool | None:
        mask = raw.mask
        if mask & flags.Q_OVERFLOW:
            return None
        here = self._wds.get(raw.wd)
        if here is None:
            return False  # a watch already given up (its directory went away)
        if mask & flags.IGNORED or mask & (flags.DELETE_SELF | flags.MOVE_SELF):
            if self._in_recursive(here) and here not in self.recursive:
                # Told by its parent's event too; that one is what counts.
                if mask & flags.IGNORED:
                    self.forget_below(here)
                return False
            return None  # a directory watched on its own went away: not knowable
        is_dir = bool(mask & flags.ISDIR)
        created = bool(mask & (flags.CREATE | flags.MOVED_TO))
        removed = bool(mask & (flags.DELETE | flags.MOVED_FROM))
        event = Event(here, raw.name, created, removed, is_dir)
        links = False
        if is_dir and self._in_recursive(event.path):
            if removed:
                # Moved away or deleted: whatever now has that name is watched anew.
                self.forget_below(event.path)
            if created:
                links = self.watch_below(event.path)
        if links:
            event = Event(here, raw.name, created, removed, is_dir, True)
        return event
