"""cfs-build: read, check and build Code from Spec v5 projects."""
from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

# The Python API, by where each name is defined. Imported on first use, so that
# `import cfs_build` (and every `cfs` command) loads only what it needs.
_API = {
    "analysis.chain": ("Chain", "Position"),
    "errors": ("CfsError", "Finding"),
    "state.manifest": ("ManifestEntry", "read_manifest", "update_manifest"),
    "analysis.project": ("Project", "Report", "find_root"),
    "building.run": ("BuildResult", "run_build", "project_tasks", "doit_config"),
    "analysis.status": ("ArtifactStatus", "Orphan"),
    "reading.tree": ("NodeInfo",),
}
_HOME = {name: module for module, names in _API.items() for name in names}

__all__ = sorted(_HOME) + ["__version__"]


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'cfs_build' has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return __all__
