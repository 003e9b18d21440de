"""Walking code-from-spec/: which directories hold a _node.md and which do not."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

NODE_FILE = "_node.md"


class NeedsGuard(Exception):
    """The tree may reach one directory by two paths (a symlink or a mount below it)."""


def list_dir(rel: str, path: str, found: Callable[[tuple[str, str]], None],
             with_node: list[str], without: list[str]) -> None:
    """Classify one directory and hand each subdirectory to ``found`` as (rel, path).

    Without symlinks or mount points below the tree every directory has one path, so
    no identity check (a stat per directory) is needed; meeting a symlink raises
    NeedsGuard. Dot entries are not part of the tree.
    """
    try:
        with os.scandir(path) as listing:
            entries = list(listing)
    except OSError:
        if rel:
            has_node = os.path.isfile(os.path.join(path, NODE_FILE))
            (with_node if has_node else without).append(rel)
        return
    has_node = False
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        try:
            if entry.is_symlink():
                # What a link points at can change, or appear, without this directory
                # changing: a link to a directory may reach one twice, and any link
                # keeps the tree from being snapshotted (see tree.Tree.guarded).
                raise NeedsGuard
            if name == NODE_FILE:
                has_node = entry.is_file()
            if not entry.is_dir():
                continue
        except OSError:
            continue
        found((f"{rel}/{name}" if rel else name, entry.path))
    if rel:
        (with_node if has_node else without).append(rel)


def walk_below(dirs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Every directory at or below each (rel, path) of ``dirs``, with and without a _node.md."""
    with_node: list[str] = []
    without: list[str] = []
    stack = list(dirs)
    while stack:
        list_dir(*stack.pop(), stack.append, with_node, without)
    return with_node, without


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


def walk_guarded(base: Path) -> tuple[list[str], list[str]]:
    """The walk that lists each directory once by identity, whatever path reaches it."""
    with_node, without = [], []
    seen: set[tuple[int, int]] = set()
    stack = [("", base)]
    while stack:
        rel, path = stack.pop()
        try:
            stat = path.stat()
            entries = list(os.scandir(path))
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                child = f"{rel}/{entry.name}" if rel else entry.name
                has_node = os.path.isfile(os.path.join(entry.path, NODE_FILE))
                (with_node if has_node else without).append(child)
                stack.append((child, Path(entry.path)))
    return sorted(with_node), sorted(without)
