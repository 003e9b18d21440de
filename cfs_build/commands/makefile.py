"""`cfs makefile`: a GNU make fragment so an existing Makefile can depend on generated files."""
from __future__ import annotations

import errno
import os
import re
import stat
import sys
from pathlib import Path

from ..analysis.project import Project
from ..errors import CfsError, printable
from ..reading.files import atomic_write
from ..reading.names import TREE_DIR, node_file
from ..reading.outputs import output_rel

HELP = ("print a GNU make fragment to include (outputs as targets; cfs, cfs-verify, "
        "cfs-check and cfs-status)")
EXAMPLE = ("cfs makefile -o cfs.mk     # then, in your Makefile:  include cfs.mk\n"
           "  # app: src/fees.py        # rebuilt only when src/fees.py really changed")

TEMPLATE = """\
# GNU make fragment for a Code from Spec project, written by `cfs makefile`.
# Include it from your Makefile (`include {name}`). It remakes itself when a
# _node.md changes, so new or removed leaves are picked up on their own.
#
# Every generated file below is a target. Its recipe asks cfs to build what is
# stale; a file that did not need regenerating keeps its mtime, so rules that
# depend on it run only when it really changed. One `cfs build` serves the whole
# make run, so `make -j N` is safe.

# Keep the including Makefile's own first target as the default goal.
CFS_SAVED_GOAL := $(.DEFAULT_GOAL)
CFS ?= cfs
CFS_FRAGMENT := $(lastword $(MAKEFILE_LIST))
CFS_ROOT := $(patsubst %/,%,$(dir $(CFS_FRAGMENT))){up}
CFS_BUILD_FLAGS ?=

CFS_OUTPUTS := {outputs}

# A checkout names the spec files: make only learns whether one is newer than this
# fragment, never their names (a space, ':' or '$' in a directory name would be make text).
CFS_SPECS_CHANGED := $(shell find $(CFS_ROOT)/{tree} -name _node.md -not -path '*/.*' \\
  -newer $(CFS_FRAGMENT) 2>/dev/null | grep -q . && echo cfs-specs-changed)

.PHONY: cfs cfs-verify cfs-check cfs-status cfs-specs-changed

cfs:
\t@$(CFS) -C $(CFS_ROOT) build $(CFS_BUILD_FLAGS)

$(CFS_OUTPUTS): cfs ;

cfs-verify: cfs
\t@$(CFS) -C $(CFS_ROOT) verify --no-build

cfs-check:
\t@$(CFS) -C $(CFS_ROOT) check

cfs-status:
\t@$(CFS) -C $(CFS_ROOT) status

$(CFS_FRAGMENT): $(CFS_SPECS_CHANGED)
\t@$(CFS) -C $(CFS_ROOT) makefile -o $(abspath $@)

.DEFAULT_GOAL := $(CFS_SAVED_GOAL)
"""


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the fragment to FILE instead of printing it (- prints "
                             "it)")


# Characters make reads in a target name: word and rule separators, comments, patterns,
# wildcards it expands against the files on disk, and every control character.
_NOT_IN_TARGET = re.compile(r"[ #:%\\*?\[\x00-\x1f\x7f]")
# make drops the ./ of $(CFS_ROOT)/.POSIX: a name like a special target would be one.
_SPECIAL_TARGET = re.compile(r"\.[A-Z_]+")


def _make_word(path: str, spec_file: str) -> str:
    bad = _NOT_IN_TARGET.search(path)
    if bad:
        char = bad.group()
        what = ("a wildcard make would expand against the files on disk"
                if char in "*?[" else "which GNU make cannot use in a target name")
        raise CfsError(f"{spec_file}: output path {path!r} contains {char!r}, {what}; "
                       "rename the output (nothing was written)")
    if printable(path) != path:  # (a C1 control, a bidi override: harmless to make)
        raise CfsError(f"{spec_file}: output path {path!r} holds a control character or a "
                       "bidi override, which the fragment would carry to the terminal it is "
                       "printed on; rename the output (nothing was written)")
    if _SPECIAL_TARGET.fullmatch(path):
        raise CfsError(f"{spec_file}: output path {path!r} is what GNU make reads as a special "
                       "target (.SECONDEXPANSION, .ONESHELL, ...), which would change how the "
                       "including Makefile runs; rename the output (nothing was written)")
    return path.replace("$", "$$")


def fragment(project: Project, name: str = "cfs.mk", root_from: str = ".") -> str:
    """The fragment's text; ``root_from`` is the way from the directory it will lie in to
    the project root (the fragment finds the project from where make reads it)."""
    outputs = []
    for leaf in project.tree.leaves():
        output = project.tree.nodes[leaf].output
        # An output cfs refuses (a line break, a place it never writes) is never built,
        # so never a target.
        rel = output_rel(output) if output is not None else None
        if rel is not None:
            outputs.append(f"$(CFS_ROOT)/{_make_word(rel, node_file(leaf))}")
    joined = " \\\n  ".join(outputs) if outputs else ""
    up = "" if root_from == "." else "/" + root_from
    return TEMPLATE.format(name=name, outputs=joined, tree="code-from-spec", up=up)


def _root_from(project: Project, target: Path) -> str:
    """The way from ``target``'s directory to the project root, as make text."""
    way = os.path.relpath(project.root, os.path.realpath(target.parent))
    if way != "." and (_NOT_IN_TARGET.search(way) or "$" in way or printable(way) != way):
        raise CfsError(f"{target}: the fragment finds the project from the directory it lies "
                       f"in, and the way from there ({way!r}) holds characters GNU make "
                       "reads as more than a file name; write it at the project root "
                       f"({Path(project.root) / 'cfs.mk'}) (nothing was written)")
    return way.replace(os.sep, "/")


HEADER = TEMPLATE.split("\n", 1)[0]


def _may_write(project: Project, target: Path) -> None:
    """Refuse (CfsError) to replace anything but an earlier fragment, or to make a
    directory outside the project."""
    root = str(project.root)
    parent = Path(os.path.abspath(target.parent))
    existing = parent
    while not os.path.lexists(existing):
        existing = existing.parent
    real_parent = os.path.realpath(existing)
    inside = real_parent == root or real_parent.startswith(root + "/")
    if existing != parent and not inside:
        raise CfsError(f"{parent} does not exist; cfs makefile makes directories only inside "
                       "the project: create it first or write the fragment elsewhere")
    tree = os.path.join(root, TREE_DIR)
    if inside and (real_parent == tree or real_parent.startswith(tree + "/")):
        raise CfsError(f"{target} is inside {TREE_DIR}/, where the specs and the manifest "
                       "live; write the fragment elsewhere (e.g. cfs.mk at the root)")
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        what = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise CfsError(f"{target} is {what}; cfs makefile replaces only a fragment it wrote "
                       "itself: remove it or choose another name") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        head = os.read(fd, len(HEADER) + 1) if regular else b""
    finally:
        os.close(fd)
    if head.decode("utf-8", "replace") != HEADER + "\n":
        raise CfsError(f"{target} exists and is not a fragment written by cfs makefile (its "
                       f"first line is not {HEADER!r}); nothing was written. Remove it or "
                       "choose another name")


def run(args, project: Project) -> int:
    return makefile(project, args.output)


def makefile(project: Project, output: str | Path | None = None) -> int:
    """The verb: print the fragment, or write it to ``output`` (relative to the working
    directory; only a fragment written before is ever replaced)."""
    if output == "-":  # (the usual word for stdout, not a file named "-")
        output = None
    name = Path(output).name if output else "cfs.mk"
    if output:
        target = Path(output)
        if not target.is_absolute():
            target = Path.cwd() / target
        _may_write(project, target)
        # Written anywhere (a subdirectory, beside several projects), it still names the
        # project's files: make reads them from where the fragment lies.
        text = fragment(project, name, _root_from(project, target))
        # Always rewrite: make compares the fragment's mtime with the specs'.
        atomic_write(target, text.encode("utf-8"))
        print(f"wrote {target}", file=sys.stderr)
    else:
        sys.stdout.write(fragment(project, name))
    return 0
