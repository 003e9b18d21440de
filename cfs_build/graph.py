"""The build graph: spec files, artifacts and external files, and what flows between them."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .chain import safe_relpath
from .names import ARTIFACT, EXTERNAL, SPEC, artifact_of, is_within, references, spec_of
from .tree import Tree

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
    _producers: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

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

    def producers(self, artifact: str) -> tuple[str, ...]:
        """Artifacts whose files are read by ``artifact``'s chain (direct only)."""
        return self._producers.get(artifact, ())

    def before(self, artifact: str) -> list[str]:
        """Every artifact that must be built before ``artifact`` (transitively)."""
        found, stack = set(), [artifact]
        while stack:
            for producer in self.producers(stack.pop()):
                if producer not in found:
                    found.add(producer)
                    stack.append(producer)
        return sorted(found)

    def under(self, spec: str) -> list[str]:
        """Artifacts of the leaves at or below ``spec``."""
        return [a for a in self.artifacts() if is_within(spec_of(a), spec)]

    def affected_by(self, vertex: str) -> list[str]:
        """Artifacts whose chain changes when the file behind ``vertex`` changes.

        An edit of SPEC/x reaches every leaf below x (inheritance) and every leaf that
        imports x directly; an imported node's own ancestors are not part of the
        importer's chain. Artifact changes then cascade to their consumers.
        """
        graph = self.graph
        if vertex not in graph:
            return []
        hit: set[str] = set()
        if graph.nodes[vertex]["kind"] == SPEC:
            hit |= {artifact_of(n) for n in self.tree.under(vertex) if artifact_of(n) in graph}
            hit |= {v for _, v, kind in graph.out_edges(vertex, data="kind") if kind == IMPORTS}
        elif graph.nodes[vertex]["kind"] == ARTIFACT:
            hit.add(vertex)
        else:
            hit |= set(graph.successors(vertex))
        stack = list(hit)
        while stack:
            for _, consumer, kind in graph.out_edges(stack.pop(), data="kind"):
                if kind == CONSUMES and consumer not in hit:
                    hit.add(consumer)
                    stack.append(consumer)
        return sorted(hit)

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
        keep: set[str] = set()
        stack = self.under(spec)
        while stack:
            artifact = stack.pop()
            if artifact in keep:
                continue
            keep.add(artifact)
            for source, _, kind in self.graph.in_edges(artifact, data="kind"):
                if kind == GENERATES:
                    keep.add(source)
                    keep |= {a for a in self.tree.ancestors(source) if a in self.graph}
                elif kind == CONSUMES:
                    stack.append(source)
                else:
                    keep.add(source)
        return self.graph.subgraph(keep).copy()


def artifact_producers(tree: Tree) -> dict[str, tuple[str, ...]]:
    """For each artifact, the other artifacts its leaf imports or takes as input, sorted.

    Only artifacts that exist (a leaf with an output) count; format errors are left to
    validation.
    """
    declared = {artifact_of(n) for n in tree.leaves() if tree.nodes[n].output is not None}
    found: dict[str, tuple[str, ...]] = {}
    for artifact in declared:
        info = tree.nodes[spec_of(artifact)]
        if not info.depends_on and info.input is None:
            continue
        mine = {ref.base for _, _, ref in references(info.depends_on, info.input)
                if ref.prefix == ARTIFACT and ref.base in declared and ref.base != artifact}
        if mine:
            found[artifact] = tuple(sorted(mine))
    return found


def build_graph(tree: Tree) -> BuildGraph:
    """Compile the tree into a BuildGraph (format errors are left to validation)."""
    vertices: dict[str, dict] = {}
    edges: list[tuple[str, str, dict]] = []
    for name, info in tree.nodes.items():
        vertices[name] = {"kind": SPEC, "path": info.file}
    for name in tree.nodes:
        parent = name.rpartition("/")[0]
        if parent in tree.nodes:
            edges.append((parent, name, {"kind": INHERITS}))
    leaves = tree.leaves()
    for name in leaves:
        info = tree.nodes[name]
        if info.output is None:
            continue
        artifact = artifact_of(name)
        vertices[artifact] = {"kind": ARTIFACT, "path": safe_relpath(info.output) or info.output}
        edges.append((name, artifact, {"kind": GENERATES}))
    for name in leaves:
        info = tree.nodes[name]
        artifact = artifact_of(name)
        if artifact not in vertices:
            continue
        for raw, via, ref in references(info.depends_on, info.input):
            attrs = {"via": via, "name": raw}
            if ref.prefix == SPEC and ref.base in tree.nodes:
                edges.append((ref.base, artifact, {"kind": IMPORTS, **attrs}))
            elif ref.prefix == ARTIFACT and ref.base in vertices and ref.base != artifact \
                    and vertices[ref.base]["kind"] == ARTIFACT:
                edges.append((ref.base, artifact, {"kind": CONSUMES, **attrs}))
            elif ref.prefix == EXTERNAL:
                rel = safe_relpath(ref.path)
                if rel is None:
                    continue
                vertex = f"{EXTERNAL}/{rel}"
                vertices.setdefault(vertex, {"kind": EXTERNAL, "path": rel})
                edges.append((vertex, artifact, {"kind": READS, **attrs}))
    return BuildGraph(tree, vertices, edges, artifact_producers(tree))
