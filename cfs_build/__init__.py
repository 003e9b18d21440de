"""cfs-build: read, check and build Code from Spec v5 projects."""
from __future__ import annotations

from .chain import Chain, Position
from .errors import CfsError, Finding
from .manifest import ManifestEntry, read_manifest, update_manifest
from .project import Project, Report, find_root
from .status import ArtifactStatus, Orphan
from .tree import NodeInfo

__version__ = "0.1.0"

__all__ = ["ArtifactStatus", "CfsError", "Chain", "Finding", "ManifestEntry", "NodeInfo",
           "Orphan", "Position", "Project", "Report", "find_root", "read_manifest",
           "update_manifest", "__version__"]
