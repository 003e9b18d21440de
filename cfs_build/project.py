"""A loaded project: the one object the commands and the Python API work through."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .artifacts import settle_pending
from .chain import Chain, Resolver, safe_relpath
from .errors import ERROR, CfsError, Finding
from .index import Index
from .manifest import Manifest, read_manifest
from .names import ARTIFACT, SPEC, TREE_DIR, artifact_of, spec_of
from .status import ArtifactStatus, Orphan, artifact_statuses, ranks
from .tree import Tree, load_tree
from .validate import validate


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds code-from-spec/."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / TREE_DIR).is_dir():
            return candidate
    raise CfsError(f"no {TREE_DIR}/ directory in {here} or any parent; run cfs inside a "
                   "Code from Spec project or pass -C DIR")


@dataclass(frozen=True)
class Report:
    """Validation findings plus artifact statuses: everything `cfs status` shows."""

    root: Path
    findings: tuple[Finding, ...]
    artifacts: tuple[ArtifactStatus, ...]
    orphans: tuple[Orphan, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    def summary(self) -> dict[str, int]:
        counts = {"up-to-date": 0, "stale": 0, "missing": 0, "modified": 0, "untracked": 0,
                  "orphan": len(self.orphans), "errors": len(self.errors), "invalid": 0}
        for status in self.artifacts:
            for flag in status.flags:
                counts[flag] = counts.get(flag, 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        if self.orphans or any(not s.up_to_date for s in self.artifacts):
            return 1
        return 0

    def as_dict(self) -> dict:
        return {"root": str(self.root), "errors": [f.as_dict() for f in self.findings],
                "artifacts": [s.as_dict() for s in self.artifacts],
                "orphans": [o.as_dict() for o in self.orphans], "summary": self.summary()}


class Project:
    """Reads a project once: tree, chains, manifest, findings and statuses, each lazily."""

    def __init__(self, root: Path | str, *, use_index: bool | None = None):
        self.root = Path(root).resolve()
        if not (self.root / TREE_DIR).is_dir():
            raise CfsError(f"{self.root} has no {TREE_DIR}/ directory")
        settle_pending(self.root)
        if use_index is None:
            use_index = os.environ.get("CFS_NO_INDEX", "") == ""
        self.index = Index(self.root, enabled=use_index)
        self.tree: Tree = load_tree(self.root, self.index)
        self.index.save()
        self.resolver = Resolver(self.tree)

    @classmethod
    def discover(cls, start: Path | str = ".", **kwargs) -> "Project":
        return cls(find_root(Path(start)), **kwargs)

    @property
    def nodes(self):
        return self.tree.nodes

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(validate(self.tree, self.resolver))

    @cached_property
    def manifest(self) -> Manifest:
        return read_manifest(self.root)

    @cached_property
    def ranks(self) -> dict[str, int | None]:
        return ranks(self.tree)

    def intent(self, name: str) -> str:
        """The first line under the node's name heading: what the spec is for."""
        return self.tree.nodes[name].intent or name

    def node_name(self, reference: str) -> str:
        """Resolve SPEC/x, ARTIFACT/x or an output path to a node name."""
        ref = reference.rstrip("/")
        if ref.startswith(ARTIFACT + "/"):
            ref = spec_of(ref)
        if ref.startswith(SPEC + "/"):
            if ref in self.tree.nodes:
                return ref
            raise CfsError(f"no node {ref} (looked for {ref[len(SPEC) + 1:]}/_node.md in "
                           f"{TREE_DIR}/)")
        # An output path: as written, relative to the project root, or relative to where
        # the command was started (like make's targets after -C, or a shell's paths).
        wanted = {safe_relpath(reference)}
        here = Path.cwd()
        path = Path(reference) if Path(reference).is_absolute() else here / reference
        try:
            wanted.add(safe_relpath(path.resolve().relative_to(self.root).as_posix()))
        except ValueError:
            pass
        wanted.discard(None)
        for name, info in self.tree.nodes.items():
            if info.output is not None and (info.output == reference or
                                            safe_relpath(info.output) in wanted):
                return name
        raise CfsError(f"{reference!r} is not a SPEC/ or ARTIFACT/ name nor the output of any "
                       "node")

    def chain(self, reference: str) -> Chain:
        name = self.node_name(reference)
        if not self.tree.is_leaf(name):
            raise CfsError(f"{name} is not a leaf; only leaves have a chain to generate from")
        return self.resolver.chain(name)

    def report(self) -> Report:
        statuses, orphans = artifact_statuses(self.tree, self.resolver, self.manifest,
                                              self.ranks)
        return Report(self.root, self.findings, tuple(statuses), tuple(orphans))

    def status_of(self, reference: str) -> ArtifactStatus:
        name = artifact_of(self.node_name(reference))
        for status in self.report().artifacts:
            if status.name == name:
                return status
        raise CfsError(f"{spec_of(name)} declares no output")
