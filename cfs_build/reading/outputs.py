"""Where an output may be: v5's path rules, and the places cfs never touches (FORMAT.md 12, X8)."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache

from .files import is_inside, safe_relpath
from .names import TREE_DIR

# Directories a generation must never write into: the specs, the manifest and cache,
# the repository's history, cfs's own state. Other dot directories (.github/) are fine.
FORBIDDEN_TOP = (TREE_DIR, ".git", ".cfs")

# place_problem's answers for an output refused for what is on disk, not its text.
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


def external_rel(path: str) -> str | None:
    """The project file v5 reads for `EXTERNAL/path`, clean; None when it reads none: v5
    refuses the text itself (v5_path_problem says why: `a:b.txt` is absolute to it), or
    the path leaves the project (cfs never reads there)."""
    return None if v5_path_problem(path) is not None else safe_relpath(path)


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
    project really is, and why each directory is refused (None: it is not)."""

    real_root: str | None = None
    inside: dict[str, str | None] = field(default_factory=dict)
    forbidden: dict[tuple[int, int], str] | None = None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def forbidden_place(real_root: str, real: str, places: Places | None = None) -> str | None:
    """The directory of FORBIDDEN_TOP that the real path ``real`` (links resolved, inside
    ``real_root``) lies in, or None. Compared by identity too, so that another spelling of
    one of them (``.GIT`` on a file system that ignores case) is that directory."""
    places = places if places is not None else Places()
    top = real[len(real_root):].lstrip("/").partition("/")[0]
    if not top:
        return None
    if top in FORBIDDEN_TOP:
        return top
    if places.forbidden is None:
        places.forbidden = {}
        for name in FORBIDDEN_TOP:
            found = _identity(f"{real_root}/{name}")
            if found is not None:
                places.forbidden[found] = name
    if not places.forbidden:
        return None
    return places.forbidden.get(_identity(f"{real_root}/{top}"))


def leads_into(top: str) -> str:
    """place_problem's answer for a link on the way into ``top``, one of FORBIDDEN_TOP."""
    return f"path leads into {top}/ through a symbolic link"


def directory_problem(root: str, parent: str, places: Places) -> str | None:
    """Why the output directory ``parent`` is refused: a link on the way leads out of the
    project, or into one of the places cfs never writes (FORBIDDEN_TOP)."""
    real_root = places.real_root
    if real_root is None:
        real_root = places.real_root = os.path.realpath(root)
    wanted = f"{root}/{parent}" if parent else root
    existing = wanted
    # A dangling link is where the path would leave: resolve it, do not skip it.
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    real = os.path.realpath(existing)
    if not is_inside(real, real_root):
        return LEADS_OUTSIDE
    # The directories still to be made lie where the deepest existing one really is.
    top = forbidden_place(real_root, real + wanted[len(existing):], places)
    if top is not None:
        return leads_into(top)
    return None


@lru_cache(maxsize=16)
def _limits(root: str) -> tuple[int, int]:
    """The longest name and the longest path (with its end) the file system of ``root``
    takes."""
    try:
        return os.pathconf(root, "PC_NAME_MAX"), os.pathconf(root, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 255, 4096


def too_long(root: str, rel: str) -> bool:
    """No file can have this path: a name in it, or the whole of it, is longer than the
    file system takes (its directory may not exist yet, so no lookup would say so)."""
    name_max, path_max = _limits(root)
    whole = os.fsencode(f"{root}/{rel}")
    return len(whole) >= path_max or any(len(part) > name_max for part in whole.split(b"/"))


def unwritable(root: str, rel: str) -> str | None:
    """Why no file can be at the output ``rel`` (project-relative; ``root``: the project),
    whatever is on disk: a NUL in it, or a length the file system refuses. v5 takes such
    a path and finds the artifact missing (its open fails); cfs never asks a model for a
    file it could not keep (validate.py's unwritable_output, artifacts.output_path)."""
    if "\0" in rel:
        return "holds a NUL character (\\x00), which no file name can have"
    if too_long(root, rel):
        return "is too long for the file system (a name in it, or the whole path)"
    return None


def place_problem(root: str, rel: str, places: Places | None = None) -> str | None:
    """Why cfs refuses an output for what is on disk: its directory leads out of the
    project, or into code-from-spec/, .git/ or .cfs/, through a link, or something other
    than a regular file is there.

    ``places``: what earlier calls of this analysis learnt (see Places).
    """
    if "\0" in rel:
        # No file name holds NUL: nothing is there, and no way to it can be looked at
        # (Python's os calls refuse the path; v5's fail to open it).
        return None
    places = places if places is not None else Places()
    memo = places.inside
    parent = rel.rpartition("/")[0]
    if parent in memo:
        problem = memo[parent]
    else:
        problem = memo[parent] = directory_problem(root, parent, places)
    if problem is not None:
        return problem
    try:
        mode = os.lstat(f"{root}/{rel}").st_mode
    except OSError:
        return None  # not there (yet): it will be written as a regular file
    if not stat.S_ISREG(mode):
        return NOT_A_FILE
    return None
