"""Where an output may be: v5's path rules, and the places cfs never touches (FORMAT.md 12, X8)."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache

from ..reading.names import TREE_DIR

# Directories a generation must never write into: the specs, the manifest and cache,
# the repository's history, cfs's own state. Other dot directories (.github/) are fine.
FORBIDDEN_TOP = (TREE_DIR, ".git", ".cfs")

# place_problem's two answers: the output is refused for what is on disk, not its text.
LEADS_OUTSIDE = "path leads outside the project through a symbolic link"
NOT_A_FILE = "path is not a regular file"


@lru_cache(maxsize=1 << 16)  # pure; each output's path is cleaned by every check below
def clean(path: str) -> str:
    """The path cleaned like Go's path.Clean (``..`` kept when it climbs above the start)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or "."


@lru_cache(maxsize=1 << 16)  # pure; asked per output by validation and by status
def v5_path_problem(path: str) -> str | None:
    """Why the v5 tool calls an output path invalid (its exact words), or None."""
    if not path:
        return "path is empty"
    if path.startswith("/") or ":" in path:
        return "path is absolute"
    if "\\" in path:
        return "path contains backslash"
    cleaned = clean(path)
    if cleaned == ".." or cleaned.startswith("../"):
        return "path contains directory traversal"
    return None


@lru_cache(maxsize=1 << 16)  # pure, as v5_path_problem
def output_problem(path: str) -> str | None:
    """Why cfs refuses an output path on its text alone (v5's rules, then X8's places)."""
    problem = v5_path_problem(path)
    if problem is not None:
        return problem
    cleaned = clean(path)
    top = cleaned.partition("/")[0]
    if top in FORBIDDEN_TOP:
        return f"path is inside {top}/"
    if cleaned == ".":
        return NOT_A_FILE
    if any(ch in path for ch in ";\n\r"):
        return "path contains ';' or a line break, which the v5 manifest cannot record"
    return None


@lru_cache(maxsize=1 << 16)  # pure, as v5_path_problem; asked for each output three times
def output_rel(path: str) -> str | None:
    """The clean project-relative path of an acceptable output, else None (an
    acceptable path is relative, so cleaning it leaves no empty or "." part)."""
    if output_problem(path) is not None:
        return None
    return clean(path)


@dataclass
class Places:
    """What place_problem learnt of the disk, kept for the rest of one analysis: where the
    project really is, and whether each directory resolves inside it."""

    real_root: str | None = None
    inside: dict[str, bool] = field(default_factory=dict)


def place_problem(root: str, rel: str, places: Places | None = None) -> str | None:
    """Why cfs refuses an output for what is on disk: its directory leads out of the
    project through a link, or something other than a regular file is there.

    ``places``: what earlier calls of this analysis learnt (see Places).
    """
    places = places if places is not None else Places()
    memo = places.inside
    parent = rel.rpartition("/")[0]
    inside = memo.get(parent)
    if inside is None:
        real_root = places.real_root
        if real_root is None:
            real_root = places.real_root = os.path.realpath(root)
        existing = f"{root}/{parent}" if parent else root
        # A dangling link is where the path would leave: resolve it, do not skip it.
        while not os.path.lexists(existing):
            existing = os.path.dirname(existing)
        real = os.path.realpath(existing)
        inside = real == real_root or real.startswith(real_root.rstrip("/") + "/")
        memo[parent] = inside
    if not inside:
        return LEADS_OUTSIDE
    try:
        mode = os.lstat(f"{root}/{rel}").st_mode
    except OSError:
        return None  # not there (yet): it will be written as a regular file
    if not stat.S_ISREG(mode):
        return NOT_A_FILE
    return None
