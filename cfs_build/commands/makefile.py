"""`cfs makefile`: a GNU make fragment so an existing Makefile can depend on generated files."""
from __future__ import annotations

import sys
from pathlib import Path

from ..chain import safe_relpath
from ..errors import CfsError
from ..files import atomic_write
from ..project import Project

HELP = "print a GNU make fragment to include (outputs as targets, cfs and cfs-verify)"
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
CFS_ROOT := $(patsubst %/,%,$(dir $(CFS_FRAGMENT)))
CFS_BUILD_FLAGS ?=

CFS_OUTPUTS := {outputs}

CFS_SPECS := $(shell find $(CFS_ROOT)/{tree} -name _node.md -not -path '*/.*' 2>/dev/null)

.PHONY: cfs cfs-verify cfs-check cfs-status

cfs:
\t@$(CFS) -C $(CFS_ROOT) build $(CFS_BUILD_FLAGS)

$(CFS_OUTPUTS): cfs ;

cfs-verify: cfs
\t@$(CFS) -C $(CFS_ROOT) verify --no-build

cfs-check:
\t@$(CFS) -C $(CFS_ROOT) check

cfs-status:
\t@$(CFS) -C $(CFS_ROOT) status

$(CFS_FRAGMENT): $(CFS_SPECS)
\t@$(CFS) -C $(CFS_ROOT) makefile -o $(abspath $@)

.DEFAULT_GOAL := $(CFS_SAVED_GOAL)
"""


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the fragment to FILE instead of printing it")


def _make_word(path: str) -> str:
    for bad in (" ", "\t", "#", ":", "%", "\\"):
        if bad in path:
            raise CfsError(f"output path {path!r} contains {bad!r}, which GNU make cannot "
                           "use in a target name")
    return path.replace("$", "$$")


def fragment(project: Project, name: str = "cfs.mk") -> str:
    outputs = []
    for leaf in project.tree.leaves():
        output = project.tree.nodes[leaf].output
        rel = safe_relpath(output) if output is not None else None
        if rel is not None:
            outputs.append(f"$(CFS_ROOT)/{_make_word(rel)}")
    joined = " \\\n  ".join(outputs) if outputs else ""
    return TEMPLATE.format(name=name, outputs=joined, tree="code-from-spec")


def run(args, project: Project) -> int:
    name = Path(args.output).name if args.output else "cfs.mk"
    text = fragment(project, name)
    if args.output:
        target = Path(args.output)
        if not target.is_absolute():
            target = Path.cwd() / target
        # Always rewrite: make compares the fragment's mtime with the specs'.
        atomic_write(target, text.encode("utf-8"))
        print(f"wrote {target}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
