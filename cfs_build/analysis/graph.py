"""The build graph: spec files, artifacts and external files, and what flows between them."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ..reading.files import safe_relpath
from ..reading.names import ARTIFACT, EXTERNAL, SPEC, is_within, spec_of
from ..reading.tree import Tree
from .deps import deps_of, downstream

if TYPE_CHECKING:
    import networkx as nx

# Edge kinds. An edge u -> v means "v is made from u".
INHERITS = "inherits"    # SPEC/parent -> SPEC/child: the child's chain holds the parent's Public
GENERATES = "generates"  # SPEC/leaf -> ARTIFACT/leaf
IMPORTS = "imports"      # SPEC/x -> ARTIFACT/leaf: a depends_on or input of SPEC/x
CONSUMES = "consumes"    # ARTIFACT/p -> ARTIFACT/leaf: the file of p is part of leaf's chain
READS = "reads"          # EXTERNAL/f -> ARTIFACT/leaf


@dataclass(frozen=True)
class BuildGraph:
    """The project's build graph and the questions a build asks of it.

    Vertices and edges are kept as plain data, which is all a build needs; the
    networkx DiGraph (``graph``) is compiled from them on first use, for the graph
    queries and `cfs graph`, so a no-op build never pays for importing networkx.
    """

    tree: Tree
    vertices: dict[str, dict]
    edges: list[tuple[str, str, dict]]

    @cached_property
    def graph(self) -> "nx.DiGraph":
        import networkx as nx
        graph = nx.DiGraph()
        graph.add_nodes_from(self.vertices.items())
        graph.add_edges_from(self.edges)
        return graph

    def artifacts(self) -> list[str]:
        return sorted(n for n, data in self.vertices.items() if data["kind"] == ARTIFACT)

    def path(self, vertex: str) -> str:
        """The project-relative file behind a vertex."""
        return self.vertices[vertex]["path"]

    def under(self, spec: str) -> list[str]:
        """Artifacts of the leaves at or below ``spec``."""
        return [a for a in self.artifacts() if is_within(spec_of(a), spec)]

    def affected_by(self, vertex: str) -> list[str]:
        """Artifacts whose chain changes when the file behind ``vertex`` changes (see
        deps.Deps.reached_by); artifact changes cascade to their consumers."""
        data = self.vertices.get(vertex)
        if data is None:
            return []
        deps = deps_of(self.tree)
        if data["kind"] == SPEC:
            return sorted(deps.reached_by(vertex))
        if data["kind"] == ARTIFACT:
            return sorted(downstream(deps.producers, [vertex]))
        return sorted(deps.reached_by_file(data["path"]))

    def affected_by_file(self, rel: str) -> list[str]:
        """Artifacts affected by an edit of a project file (spec, output or external)."""
        # One file can stand behind several vertices: an output also read as EXTERNAL/.
        hit: set[str] = set()
        for vertex, data in self.graph.nodes(data=True):
            if data.get("path") == rel:
                hit |= set(self.affected_by(vertex))
        return sorted(hit)

    def subgraph_under(self, spec: str) -> nx.DiGraph:
        """The part of the graph a build of ``spec`` touches: what each artifact's chain reads.

        A leaf's own ancestors are part of its chain; an imported node's ancestors are not,
        so they are left out (an edit of them does not reach this build).
        """
        artifacts, specs, files = deps_of(self.tree).needed_by(self.under(spec))
        keep = artifacts | specs | {f"{EXTERNAL}/{rel}" for rel in files}
        return self.graph.subgraph(keep).copy()


def build_graph(tree: Tree) -> BuildGraph:
    """Compile the tree's dependencies (deps.py) into a BuildGraph (format errors are left
    to validation)."""
    deps = deps_of(tree)
    vertices: dict[str, dict] = {}
    edges: list[tuple[str, str, dict]] = []
    for name, info in tree.nodes.items():
        vertices[name] = {"kind": SPEC, "path": info.file}
    edges += ((parent, name, {"kind": INHERITS}) for name, parent in deps.parents.items())
    for artifact, output in deps.artifacts.items():
        vertices[artifact] = {"kind": ARTIFACT, "path": safe_relpath(output) or output}
        edges.append((spec_of(artifact), artifact, {"kind": GENERATES}))
    for artifact in deps.artifacts:
        for ref in deps.refs.get(spec_of(artifact), ()):
            attrs = {"via": ref.via, "name": ref.raw}
            base = ref.name.base
            if ref.name.prefix == SPEC and base in tree.nodes:
                edges.append((base, artifact, {"kind": IMPORTS, **attrs}))
            elif ref.name.prefix == ARTIFACT and base in deps.artifacts and base != artifact:
                edges.append((base, artifact, {"kind": CONSUMES, **attrs}))
            elif ref.file is not None:
                vertex = f"{EXTERNAL}/{ref.file}"
                vertices.setdefault(vertex, {"kind": EXTERNAL, "path": ref.file})
                edges.append((vertex, artifact, {"kind": READS, **attrs}))
    return BuildGraph(tree, vertices, edges)
