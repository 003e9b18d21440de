"""A loaded project: the one object the commands and the Python API work through."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import ERROR, CfsError, Finding
from ..reading import parallel
from ..reading.files import safe_relpath
from ..reading.index import Index
from ..reading.ledger import Ledger, Signature
from ..reading.names import (ARTIFACT, SPEC, TREE_DIR, artifact_of, below_tree, in_dot_dir,
                              nearest_root, parent_of, spec_name, spec_of)
from ..reading.tree import Tree, load_tree
from ..reading.unparsed import output_text_only
from ..reading.walk import NODE_FILE
from ..state.artifacts import WithPending, current_manifest
from ..state.manifest import MANIFEST, Manifest
from . import incremental, snapshot
from .chain import Chain, Resolver
from .deps import deps_of
from .lookahead import Lookahead
from .status import (ArtifactStatus, Orphan, artifact_nodes, artifact_statuses, orphans_of,
                     status_of_row, status_row, statuses_of)
from .validate import parts_of_rows, parts_rows, validate_parts


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds code-from-spec/."""
    found = nearest_root(os.fspath(start))
    if found is None:
        raise CfsError(f"no {TREE_DIR}/ directory in {start.resolve()} or any parent; run cfs "
                       "inside a Code from Spec project or pass -C DIR (`cfs init` starts "
                       "one here)")
    return Path(found)


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

    def __init__(self, root: Path | str, *, use_index: bool | None = None,
                 update: incremental.Update | None = None, read_tree: bool = True,
                 ahead: Lookahead | None = None):
        self.root = Path(root).resolve()
        tree = self.root / TREE_DIR
        if not (tree.is_dir() or tree.is_symlink()):  # a link: the scan reports it
            raise CfsError(f"{self.root} has no {TREE_DIR}/ directory")
        # Before anything is read (see snapshot.too_recent), by this process or by the
        # lookahead `cfs` started (``ahead``, lookahead.py), which may take part of the
        # snapshot's signatures.
        self.began = snapshot.now() if ahead is None else ahead.began
        # What this analysis read, as it read it (the resolver's files, the manifest).
        self.ledger = Ledger(self.root)
        # Reading never writes: a write journaled before a crash is seen as recorded
        # (artifacts.current_manifest) and settled by the next command that writes.
        if use_index is None:
            use_index = os.environ.get("CFS_NO_INDEX", "") == ""
        self.use_index = use_index
        # The last analysis, when nothing it read has changed since, or brought up to
        # date (incremental.py): then the tree is read only if something asks for more
        # than the snapshot holds.
        self.snapshot: snapshot.Snapshot | None = None
        self.update: incremental.Update | None = None  # when the snapshot was brought up to date
        self._report: Report | None = None
        self._kept = True  # nothing to record until a report is computed
        # ``update``: the analysis already brought up to date by a long-running server that
        # knows which paths changed (warm.py); it is not recorded (see Warm).
        previous = snapshot.load_previous(self.root, ahead) if use_index and update is None \
            else None
        if update is not None:
            self.update, self.snapshot = update, update.snapshot
        elif previous is not None:
            snap, current = previous
            if current == snap.recorded:
                self.snapshot = snap
            else:
                self.update = incremental.refresh(self.root, snap, current)
                if self.update is not None:
                    self.snapshot = self.update.snapshot
                    self._kept = False  # worth recording once a report is asked for
        if self.snapshot is None and read_tree:
            # Read now: every question will need it (``read_tree`` False: not yet, for a
            # server that has the analysis made by a child process instead, warm.py).
            _ = self.tree

    @cached_property
    def tree(self) -> Tree:
        index = Index(self.root, enabled=self.use_index)
        tree = load_tree(self.root, index)
        index.save()
        return tree

    @cached_property
    def resolver(self) -> Resolver:
        return Resolver(self.tree, self.ledger)

    @classmethod
    def discover(cls, start: Path | str = ".", **kwargs) -> "Project":
        return cls(find_root(Path(start)), **kwargs)

    @property
    def nodes(self):
        return self.tree.nodes

    @cached_property
    def _finding_parts(self):
        return validate_parts(self.tree, self.resolver)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        if self.snapshot is not None:
            return self.snapshot.findings
        head, per_node, tail = self._finding_parts
        return (*head, *(f for found in per_node.values() for f in found), *tail)

    @property
    def scan_failure(self) -> Finding | None:
        """The finding of a scan that failed as a whole (a link in the tree, no node): then
        v5 reports nothing else, no status and no orphan."""
        for finding in self.findings:
            if finding.rule == "scan":
                return finding
        return None

    def require_scan(self) -> None:
        """Raise the failed scan's finding (exit 2): no node can be looked at then."""
        failed = self.scan_failure
        if failed is not None:
            raise CfsError(f"scan: {failed.detail}", file=failed.file, exit_code=2)

    @cached_property
    def manifest(self) -> Manifest:
        self.ledger.look(MANIFEST)  # before reading it
        return current_manifest(self.root)

    def seen_stamp(self, rel: str) -> Signature | None:
        """The signature (ledger.py) a file had when this analysis read it (None: it was
        not there): as the snapshot recorded it when the analysis is the snapshot's.

        For a file the analysis did not read, its signature now.
        """
        if self.snapshot is not None:
            try:
                return self.snapshot.stamp(rel)
            except KeyError:
                pass
        elif rel in self.ledger:
            return self.ledger.seen(rel)
        return self.ledger.now(rel)

    @cached_property
    def ranks(self) -> dict[str, int | None]:
        return deps_of(self.tree).ranks

    def intent(self, name: str) -> str:
        """The first line under the node's name heading: what the spec is for."""
        if self.snapshot is not None and name in self.snapshot.intents:
            return self.snapshot.intents[name] or name
        return self.tree.nodes[name].intent or name

    @cached_property
    def producers(self) -> dict[str, tuple[str, ...]]:
        """For each artifact, the artifacts whose files its chain reads (direct only)."""
        if self.snapshot is not None:
            return self.snapshot.producers
        return deps_of(self.tree).producers

    def node_name(self, reference: str) -> str:
        """Resolve SPEC/x, ARTIFACT/x or an output path to a node name."""
        self.require_scan()
        ref = reference.rstrip("/")
        if ref.startswith(ARTIFACT + "/"):
            ref = spec_of(ref)
        if self.snapshot is not None and ref in self.snapshot.intents:
            return ref  # a node with an artifact: known without reading the tree
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
        if self.snapshot is not None and not any(f.severity == ERROR
                                                 for f in self.snapshot.findings):
            # Without errors every output belongs to one leaf, and each such leaf has
            # a status: the same answer as looking through the tree.
            for status in self.snapshot.statuses:
                if status.path == reference or safe_relpath(status.path) in wanted:
                    return status.node
        for name, info in self.tree.nodes.items():
            if info.output is not None and (info.output == reference or
                                            safe_relpath(info.output) in wanted):
                return name
        raise CfsError(f"{reference!r} is not a SPEC/ or ARTIFACT/ name nor the output of any "
                       "node")

    def chain(self, reference: str) -> Chain:
        name = self.node_name(reference)
        if not self.tree.is_leaf(name) and not self.tree.nodes[name].output:
            # v5 still serves the output of an inner node (a leaf_only_fields finding).
            raise CfsError(f"{name} is not a leaf; only leaves have a chain to generate from")
        return self.resolver.chain(name)

    def node_names(self) -> list[str]:
        """Every node's name; from the snapshot when it holds, without reading the tree.

        The snapshot watches each node's _node.md in a directory of the tree, and a
        directory's node is exactly that file.
        """
        if self.snapshot is None:
            return list(self.tree.nodes)
        paths = self.snapshot.paths
        watched = set(paths)
        suffix = "/" + NODE_FILE
        names = []
        for path in paths:
            directory = path[:-len(suffix)]
            rel = below_tree(directory)
            # (A _node.md in a dot directory is watched when a chain names its node, one
            # outside the tree when an EXTERNAL/ entry reads it: neither is a node of the
            # tree.)
            if path.endswith(suffix) and directory in watched and rel and not in_dot_dir(rel) \
                    and self.snapshot.stamp(path) is not None:
                names.append(spec_name(rel))
        return names

    def leaf_names(self) -> list[str]:
        """Every node with no node below it (see node_names)."""
        if self.snapshot is None:
            return self.tree.leaves()
        names = self.node_names()
        parents = {parent_of(name) for name in names}
        return [name for name in names if name not in parents]

    def report(self, *, keep: bool = True) -> Report:
        """Findings and statuses. ``keep``: record them as the snapshot (see keep_report).

        A build about to write files passes False: a snapshot it would invalidate at
        once is not worth its writing.
        """
        if self._report is None:
            if self.snapshot is not None:
                snap = self.snapshot
                self._report = Report(self.root, snap.findings, snap.statuses, snap.orphans)
            else:
                statuses = self._statuses_beside_findings()
                if self.scan_failure is not None:
                    self._report = Report(self.root, self.findings, (), ())
                else:
                    if statuses is None:
                        statuses = self._statuses()
                    self._report = Report(self.root, self.findings, tuple(statuses[0]),
                                          tuple(statuses[1]))
                self._kept = False
        if keep:
            self.keep_report()
        return self._report

    def _statuses(self):
        return artifact_statuses(self.tree, self.resolver, self.manifest, self.ranks)

    def _statuses_beside_findings(self):
        """(statuses, orphans), with the findings validated meanwhile by a second process
        (which also takes the last statuses, to share the work evenly) when
        the tree is big and neither is known yet; else None (nothing done).

        The files the child read come back with the signatures they were read with, so
        the analysis records what it was made of; when one cannot be carried (it could
        not be read) or the two processes saw different files, the child's work is done
        again here.
        """
        tree = self.tree
        if "_finding_parts" in vars(self) or tree.scan_error is not None \
                or len(tree.nodes) < parallel.MIN_ITEMS:
            return None
        # Read before the fork, once for both: the manifest, and the dependency graph
        # (ranks here, cycles in validation).
        resolver, manifest, ranks = self.resolver, self.manifest, self.ranks
        skip = len(resolver.files_read())
        nodes = artifact_nodes(tree, resolver)
        # The child takes validation and three tenths of the statuses: at 10,000 leaves
        # the report then took 0.66 s against 0.78 s with two fifths (medians of ten
        # alternating runs; a forked child pays for every page of the parent it touches).
        cut = len(nodes) - len(nodes) * 3 // 10

        def there():
            rows = parts_rows(validate_parts(tree, resolver))
            rest = statuses_of(tree, resolver, manifest, ranks, nodes[cut:])
            return rows, [status_row(status) for status in rest], resolver.reads(skip)

        found, statuses = parallel.beside(
            there, lambda: statuses_of(tree, resolver, manifest, ranks, nodes[:cut]))
        if found is not None and found[2] is not None and resolver.adopt(found[2]):
            vars(self)["_finding_parts"] = parts_of_rows(found[0])
            statuses += [status_of_row(row) for row in found[1]]
        else:
            statuses += statuses_of(tree, resolver, manifest, ranks, nodes[cut:])
        return statuses, orphans_of(tree, resolver, manifest, nodes)

    def keep_report(self) -> None:
        """Record the report (once) as the snapshot for the next run (see snapshot.py)."""
        if self._report is None or self._kept:
            return
        self._kept = True
        if self.update is not None:
            snap = self.snapshot
            snapshot.save(self.root, snap, list(snap.paths), self.began, self.update.absent,
                          snap.recorded, list(self.update.fresh))
            return
        self._record(self._report)

    def _record(self, report: Report) -> None:
        tree = self.tree
        if self.use_index and (tree.guarded or self.scan_failure is not None):
            # A mount may change unseen; a failed scan (stopped at a link, or no node) is
            # cheap to repeat and must not read the manifest.
            snapshot.forget(self.root)
            return
        if not self.use_index or isinstance(self.manifest, WithPending):
            # (Journals are not watched: a snapshot made while one is pending could
            # outlive the settling that changes what it says.)
            return
        intents = {s.node: tree.nodes[s.node].intent for s in report.artifacts}
        snap = snapshot.Snapshot(report.findings, report.artifacts, report.orphans, intents,
                                 self.producers)
        resolver, parts = self.resolver, self._finding_parts
        snap = snap.with_basis(lambda: incremental.basis_of(tree, resolver, parts))
        watched = incremental.watched_paths(tree, self.resolver, report.artifacts)
        absent = self.resolver.files_missing()
        read = self.resolver.files_read()
        absent |= incremental.absent_ways(
            incremental.ways([*read, *incremental.output_rels(tree).values()]), report.artifacts)
        if not self.manifest.existed:
            absent.add(MANIFEST)
        # The files the resolver and the manifest read were looked at as they were read:
        # those signatures are recorded (the tree's paths are looked at now).
        snapshot.save(self.root, snap, watched, self.began, absent, dirs=len(tree.dirs),
                      known=self.ledger.recorded())

    def status_of(self, reference: str) -> ArtifactStatus:
        name = artifact_of(self.node_name(reference))
        for status in self.report().artifacts:
            if status.name == name:
                return status
        info = self.tree.nodes.get(spec_of(name))
        if info is not None and info.output_refused:
            where = next(f.location() for f in info.findings if output_text_only(f))
            raise CfsError(f"{spec_of(name)} has no artifact: its output is no string "
                           f"({where}); quote it")
        raise CfsError(f"{spec_of(name)} declares no output: name a leaf that has one "
                       "(`cfs status --all` lists every artifact)")
