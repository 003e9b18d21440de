"""Walking code-from-spec/: which directories hold a _node.md and which do not."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from .names import byte_order

NODE_FILE = "_node.md"


class NeedsGuard(Exception):
    """The tree may reach one directory by two paths (a mount point below it)."""


class LinkInTree(Exception):
    """A symbolic link below code-from-spec/, dot directories included: v5 fails the whole
    scan on one, and cfs never follows it. ``rel``: its path below code-from-spec/ ("" for
    code-from-spec itself)."""

    def __init__(self, rel: str):
        super().__init__(rel)
        self.rel = rel


class Unlisted(LinkInTree):
    """A directory of the tree that exists but cannot be listed (no permission, a path
    too long): what lies below it is unknown, so no answer about the tree would be whole
    and the scan fails, as on a link. ``reason``: the system's words."""

    def __init__(self, rel: str, reason: str):
        super().__init__(rel)
        self.reason = reason


def listing(path: str, rel: str) -> tuple[list[str], bool, list[str]] | None:
    """One directory of the tree as every reading of it takes it: the names of its
    subdirectories, whether it holds a _node.md file, and the names of its dot
    subdirectories; None when it is not there (any more). ``rel``: its path below
    code-from-spec/, for the LinkInTree raised on the first link (a listing tells links
    apart without a stat per entry), or Unlisted when it cannot be listed. An entry that
    cannot be looked at is left out.
    """
    try:
        with os.scandir(path) as found:
            entries = list(found)
    except (FileNotFoundError, NotADirectoryError):
        return None  # (gone since its parent was listed)
    except OSError as exc:
        raise Unlisted(rel, exc.strerror or str(exc)) from None
    subdirs: list[str] = []
    dots: list[str] = []
    has_node = False
    for entry in entries:
        name = entry.name
        try:
            if entry.is_symlink():
                raise LinkInTree(f"{rel}/{name}" if rel else name)
            if name[0] == ".":
                if entry.is_dir():
                    dots.append(name)
                continue
            if name == NODE_FILE:
                has_node = entry.is_file()
            if entry.is_dir():  # (a directory named _node.md too: the walk goes in)
                subdirs.append(name)
        except OSError:
            continue
    return subdirs, has_node, dots


def list_dir(rel: str, path: str, found: Callable[[tuple[str, str]], None],
             with_node: list[str], without: list[str],
             dots: list[tuple[str, str]]) -> None:
    """Classify one directory (listing) and hand each subdirectory to ``found`` as
    (rel, path).

    Dot directories are not part of the tree but may hold no link either: they go to
    ``dots`` (see walk_dots). Without links or mount points below the tree every
    directory has one path, so no identity check is needed.
    """
    listed = listing(path, rel)
    if listed is None:
        if rel:
            has_node = os.path.isfile(os.path.join(path, NODE_FILE))
            (with_node if has_node else without).append(rel)
        return
    subdirs, has_node, dotted = listed
    prefix = f"{rel}/" if rel else ""
    for name in dotted:
        dots.append((prefix + name, os.path.join(path, name)))
    for name in subdirs:
        found((prefix + name, os.path.join(path, name)))
    if rel:
        (with_node if has_node else without).append(rel)


def walk_below(dirs: list[tuple[str, str]]
               ) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Every directory at or below each (rel, path) of ``dirs``, with and without a
    _node.md, and the dot directories met (not walked)."""
    with_node: list[str] = []
    without: list[str] = []
    dots: list[tuple[str, str]] = []
    stack = list(dirs)
    while stack:
        list_dir(*stack.pop(), stack.append, with_node, without, dots)
    return with_node, without, dots


def walk_dots(dirs: list[tuple[str, str]], guard: bool = False) -> list[str]:
    """Every directory at or below each dot directory (rel, path) of ``dirs``; raises
    LinkInTree on a link in any of them, as v5 does (its scan walks them too).

    Their names are returned so the snapshot watches them: a link made there later
    changes one of these directories. ``guard``: a mount below may repeat a directory.
    """
    listed: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack = list(dirs)
    while stack:
        rel, path = stack.pop()
        if os.path.islink(path):  # (one listed again may have been replaced by a link)
            raise LinkInTree(rel)
        try:
            if guard:
                stat = os.stat(path)
                if (stat.st_dev, stat.st_ino) in seen:
                    continue
                seen.add((stat.st_dev, stat.st_ino))
            with os.scandir(path) as listing:
                entries = list(listing)
        except OSError:
            continue
        listed.append(rel)
        for entry in entries:
            try:
                if entry.is_symlink():
                    raise LinkInTree(f"{rel}/{entry.name}")
                if entry.is_dir(follow_symlinks=False):
                    stack.append((f"{rel}/{entry.name}", entry.path))
            except OSError:
                continue
    return sorted(listed)


def mounts_below(base: Path) -> bool:
    """True when a mount point lies below ``base``, or when that cannot be known."""
    try:
        with open("/proc/self/mountinfo", "rb") as handle:
            table = handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        return True
    prefix = os.path.realpath(base) + "/"
    for line in table.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            # Octal escapes (\040 for a space) keep the fields space-separated.
            mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if mount.startswith(prefix):
                return True
    return False


def walk_guarded(base: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """walk_below from ``base`` listing each directory once by identity: a bind mount
    below the tree can show one directory at two paths (v5 walks into mounts)."""
    with_node: list[str] = []
    without: list[str] = []
    dots: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    stack = [("", os.fspath(base))]
    while stack:
        rel, path = stack.pop()
        try:
            stat = os.stat(path)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        list_dir(rel, path, stack.append, with_node, without, dots)
    return sorted(with_node, key=byte_order), sorted(without, key=byte_order), dots
