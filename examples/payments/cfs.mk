# GNU make fragment for a Code from Spec project, written by `cfs makefile`.
# Include it from your Makefile (`include cfs.mk`). It remakes itself when a
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

CFS_OUTPUTS := $(CFS_ROOT)/src/fees.py \
  $(CFS_ROOT)/tests/test_fees.py

# A checkout names the spec files: make only learns whether one is newer than this
# fragment, never their names (a space, ':' or '$' in a directory name would be make text).
CFS_SPECS_CHANGED := $(shell find $(CFS_ROOT)/code-from-spec -name _node.md -not -path '*/.*' \
  -newer $(CFS_FRAGMENT) 2>/dev/null | grep -q . && echo cfs-specs-changed)

.PHONY: cfs cfs-verify cfs-check cfs-status cfs-specs-changed

cfs:
	@$(CFS) -C $(CFS_ROOT) build $(CFS_BUILD_FLAGS)

$(CFS_OUTPUTS): cfs ;

cfs-verify: cfs
	@$(CFS) -C $(CFS_ROOT) verify --no-build

cfs-check:
	@$(CFS) -C $(CFS_ROOT) check

cfs-status:
	@$(CFS) -C $(CFS_ROOT) status

$(CFS_FRAGMENT): $(CFS_SPECS_CHANGED)
	@$(CFS) -C $(CFS_ROOT) makefile -o $(abspath $@)

.DEFAULT_GOAL := $(CFS_SAVED_GOAL)
