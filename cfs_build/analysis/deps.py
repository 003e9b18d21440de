"""The dependency graph: each node's references and edges, read once, and what follows from them."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ..reading.names import (ARTIFACT, EXTERNAL, SPEC, Name, artifact_of, is_within, parent_of,
                             references, spec_of)
from ..reading.outputs import external_rel

if TYPE_CHECKING:
    from ..reading.tree import NodeInfo, Tree

PARENT = "parent"  # the kind of a node's edge to its parent; the others are SPEC and ARTIFACT
Producers = Mapping[str, tuple[str, ...]]  # artifact -> the artifacts its chain reads


@dataclass(frozen=True)
class Ref:
    """One depends_on or input entry of ``node`` that parses (validation words the rest)."""

    node: str
    via: str  # "depends_on" or "input"
    raw: str
    name: Name

    @property
    def target(self) -> str | None:
        """The node this entry needs (an ARTIFACT/'s node), None for an EXTERNAL file."""
        if self.name.prefix == SPEC:
            return self.name.base
        return spec_of(self.name.base) if self.name.prefix == ARTIFACT else None

    @property
    def ranked_target(self) -> str | None:
        """The node v5's ranking takes this entry to need (FORMAT.md 10.2): a `SPEC/` name
        cut at its first '(', with or without a ')' after it, so `SPEC/a(b` (node `a(b`)
        needs `SPEC/a` there; otherwise ``target``."""
        if self.name.prefix == SPEC:
            return self.raw.split("(", 1)[0]
        return self.target

    @property
    def file(self) -> str | None:
        """The project file an EXTERNAL entry's chain reads (None: not one it may read)."""
        return external_rel(self.name.path) if self.name.prefix == EXTERNAL else None

    @property
    def file_as_written(self) -> str | None:
        """The file validation opens for an EXTERNAL entry: its text, qualifier and all."""
        return external_rel(self.raw[len(EXTERNAL) + 1:]) if self.name.prefix == EXTERNAL \
            else None


def deps_of(tree: Tree) -> Deps:
    """The dependency graph of ``tree``'s nodes, made once per tree (ranks, cycles,
    closures) and kept with it."""
    deps = tree.derived.get(Deps)
    if deps is None:
        deps = tree.derived[Deps] = Deps.of(tree.nodes)
    return deps


@dataclass(frozen=True, eq=False)
class Deps:
    """Every node's references and declared output, and the questions asked of them.

    ``nodes``: the node names in tree order (the order of edges, hence of cycle findings);
    ``refs``: each node's references that parse, in frontmatter order (nodes without
    any are left out); ``outputs``: each node that declares one, leaf or not.
    """

    nodes: Collection[str]
    refs: dict[str, tuple[Ref, ...]]
    outputs: dict[str, str]

    @classmethod
    def of(cls, nodes: Mapping[str, NodeInfo]) -> Deps:
        """The dependencies of these nodes' summaries."""
        refs: dict[str, tuple[Ref, ...]] = {}
        outputs: dict[str, str] = {}
        for name, info in nodes.items():
            if info.output is not None:
                outputs[name] = info.output
            if info.depends_on or info.input is not None:
                _add_refs(refs, name, info.depends_on, info.input)
        return cls(nodes, refs, outputs)

    @classmethod
    def of_rows(cls, rows: Mapping[str, tuple], depends_on: int, input_: int,
                output: int) -> Deps:
        """The same of summaries kept as tuples (NodeInfo.to_tuple), at these places."""
        refs: dict[str, tuple[Ref, ...]] = {}
        outputs: dict[str, str] = {}
        for name, row in rows.items():
            if row[output] is not None:
                outputs[name] = row[output]
            if row[depends_on] or row[input_] is not None:
                _add_refs(refs, name, row[depends_on], row[input_])
        return cls(rows, refs, outputs)

    # -- what each node needs, as v5 ranks and finds cycles --------------------------
    @cached_property
    def parents(self) -> dict[str, str]:
        """Node -> the node it inherits from (its parent directory's node), in node order."""
        nodes = self.nodes
        return {name: parent for name in nodes
                if (parent := parent_of(name)) is not None and parent in nodes}

    @cached_property
    def needs(self) -> dict[str, dict[str, str]]:
        """Node -> {what its chain needs: PARENT, SPEC or ARTIFACT}; EXTERNAL files are
        not nodes. A node whose chain needs itself (its own artifact, itself as input)
        has an edge to itself; importing itself is a finding, not a cycle (v5).

        Plain dicts in the order networkx would hold them: cycles and ranks run on these
        without building a graph object. A node naming one target twice keeps ARTIFACT
        if either reference is one, else the kind of the last, as v5 ranks them.
        """
        nodes, parents, edges = self.nodes, self.parents, {}
        for name in nodes:
            out = edges.setdefault(name, {})
            parent = parents.get(name)
            if parent is not None:
                out[parent] = PARENT
                edges.setdefault(parent, {})
            for ref in self.refs.get(name, ()):
                if ref.target == name and ref.via == "depends_on" and ref.name.prefix == SPEC:
                    continue
                target = ref.target
                if target is None:
                    continue
                if target in nodes:  # (a name validation rejects keeps no edge)
                    target = ref.ranked_target
                if target in nodes and out.get(target) != ARTIFACT:
                    out[target] = ref.name.prefix
                    edges.setdefault(target, {})
        return edges

    @cached_property
    def unranked(self) -> list[Ref]:
        """The references v5's ranking cannot resolve though validation passes them: a
        `SPEC/` name naming a node whose name has a '(' without a ')' after it, cut at that
        '(' into a name no node has (``Ref.ranked_target``). v5 then ranks nothing and
        reports the first of them, in node order (FORMAT.md 10.2)."""
        nodes = self.nodes
        return [ref for name in sorted(self.refs) for ref in self.refs[name]
                if ref.name.prefix == SPEC and ref.target in nodes
                and ref.ranked_target not in nodes]

    @cached_property
    def _ranked(self) -> dict[str, int] | None:
        """Every node's rank when no node needs itself through any path, else None."""
        return _ranks(self.needs)

    @cached_property
    def cycles(self) -> list[set[str]]:
        """Every set of nodes that need each other."""
        if self._ranked is not None:
            return []
        # On a cycle networkx names every member of every strongly connected component.
        import networkx as nx
        edges = self.needs
        graph = nx.DiGraph()
        graph.add_nodes_from(edges)
        graph.add_edges_from((name, target) for name, targets in edges.items()
                             for target in targets)
        return [set(c) for c in nx.strongly_connected_components(graph)
                if len(c) > 1 or next(iter(c)) in edges[next(iter(c))]]

    @cached_property
    def behind_cycles(self) -> dict[str, str]:
        """Each node on no cycle that needs one, directly or through others -> a cycle
        member it needs (the nearest, found from the members in name order). v5 lists
        these under Cycles as well: their rank grows with the cycle's."""
        if self._ranked is not None:
            return {}
        members = set().union(*self.cycles)
        needed_by = _inverse(self.needs)
        found: dict[str, str] = {}
        queue = [(member, member) for member in sorted(members)]
        for node, member in queue:  # (breadth first: the queue grows as it is read)
            for source in needed_by.get(node, ()):
                if source not in found and source not in members:
                    found[source] = member
                    queue.append((source, member))
        return {name: found[name] for name in self.nodes if name in found}

    @cached_property
    def ranks(self) -> dict[str, int | None]:
        """v5 ranks: 0 with no edges, else 1 + the largest rank it needs (+ 2 across an
        ARTIFACT edge: the artifact ranks one above its node). Nodes on or behind a cycle
        have no rank."""
        ranked = self._ranked
        if ranked is not None:
            return ranked
        edges = self.needs
        behind = set().union(*self.cycles, self.behind_cycles)
        # What is not behind a cycle needs nothing that is: a graph of its own, acyclic.
        acyclic = _ranks({name: targets for name, targets in edges.items()
                          if name not in behind})
        return {**dict.fromkeys(behind), **acyclic}

    # -- artifacts ------------------------------------------------------------------
    @cached_property
    def artifacts(self) -> dict[str, str]:
        """Artifact -> output, for each leaf that declares one: what a build makes."""
        inner = set(self.parents.values())
        return {artifact_of(name): output for name, output in self.outputs.items()
                if name not in inner}

    @cached_property
    def producers(self) -> dict[str, tuple[str, ...]]:
        """For each artifact, the other artifacts its leaf imports or takes as input, sorted
        (direct only; artifacts made from none are left out)."""
        made = self.artifacts
        found = {}
        for name, refs in self.refs.items():
            artifact = artifact_of(name)
            if artifact not in made:
                continue
            mine = {ref.name.base for ref in refs if ref.name.prefix == ARTIFACT
                    and ref.name.base in made and ref.name.base != artifact}
            if mine:
                found[artifact] = tuple(sorted(mine))
        return found

    # -- who refers to what ---------------------------------------------------------
    @cached_property
    def _referrers(self) -> tuple[dict, dict, dict, dict]:
        spec, artifact, read, opened = {}, {}, {}, {}
        for name, refs in self.refs.items():
            for ref in refs:
                prefix = ref.name.prefix
                if prefix == SPEC:
                    spec.setdefault(ref.name.base, set()).add(name)
                elif prefix == ARTIFACT:
                    artifact.setdefault(spec_of(ref.name.base), set()).add(name)
                else:
                    read.setdefault(ref.file, set()).add(name)
                    opened.setdefault(ref.file_as_written, set()).add(name)
        return spec, artifact, read, opened

    def importers(self, node: str) -> set[str]:
        """The nodes with a SPEC/ entry naming ``node`` (any qualifier)."""
        return self._referrers[0].get(node, set())

    def consumers(self, node: str) -> set[str]:
        """The nodes with an ARTIFACT/ entry naming ``node``'s artifact."""
        return self._referrers[1].get(node, set())

    def consumed(self) -> dict[str, set[str]]:
        """Each node whose artifact an ARTIFACT/ entry names, with the nodes naming it."""
        return self._referrers[1]

    def readers(self, rel: str, *, as_written: bool = False) -> set[str]:
        """The nodes whose chain reads the project file ``rel`` through EXTERNAL/;
        ``as_written``: and those whose validation opens it (the entry's whole text)."""
        found = self._referrers[2].get(rel, set())
        return found | self._referrers[3].get(rel, set()) if as_written else found

    def exercised(self, node: str) -> tuple[str, ...]:
        """The nodes ``node`` imports (SPEC/x(q) -> SPEC/x, ARTIFACT/y -> SPEC/y), once each."""
        return tuple(dict.fromkeys(ref.target for ref in self.refs.get(node, ())
                                   if ref.target is not None))

    # -- closures -------------------------------------------------------------------
    def reached_by(self, node: str) -> set[str]:
        """Artifacts whose chain an edit of ``node``'s spec changes: the leaves at or
        below it (inheritance) and the leaves importing it directly (an imported node's
        ancestors are not part of the importer's chain), and what is made from those."""
        made = self.artifacts
        hit = {artifact_of(n) for n in self.nodes if is_within(n, node)} & made.keys()
        hit |= {artifact_of(n) for n in self.importers(node)} & made.keys()
        return downstream(self.producers, hit)

    def reached_by_file(self, rel: str) -> set[str]:
        """Artifacts whose chain reads ``rel`` through EXTERNAL/, and what is made from them."""
        return downstream(self.producers, {artifact_of(n) for n in self.readers(rel)}
                          & self.artifacts.keys())

    def needed_by(self, artifacts: Iterable[str]) -> tuple[set[str], set[str], set[str]]:
        """What the chains of ``artifacts`` read, transitively over producers: (artifacts,
        SPEC nodes: each leaf, its ancestors and what it imports, EXTERNAL files)."""
        made = upstream(self.producers, artifacts)
        specs, files = set(), set()
        for artifact in made:
            leaf = spec_of(artifact)
            specs.add(leaf)
            ancestor = parent_of(leaf)
            while ancestor is not None:
                if ancestor in self.nodes:
                    specs.add(ancestor)
                ancestor = parent_of(ancestor)
            for ref in self.refs.get(leaf, ()):
                if ref.name.prefix == SPEC and ref.name.base in self.nodes:
                    specs.add(ref.name.base)
                elif ref.file is not None:
                    files.add(ref.file)
        return made, specs, files


def _add_refs(refs: dict[str, tuple[Ref, ...]], name: str, depends_on: tuple[str, ...],
              input_: str | None) -> None:
    found = tuple(Ref(name, via, raw, ref) for raw, via, ref in references(depends_on, input_))
    if found:
        refs[name] = found


def _ranks(edges: Mapping[str, Mapping[str, str]]) -> dict[str, int] | None:
    """The rank (Deps.ranks) of every node of ``edges``, found depth first, each node once
    all it needs is ranked; None when a path leads back to a node on it (a cycle)."""
    rank: dict[str, int] = {}
    walking: set[str] = set()  # the nodes on the current path
    for start in edges:
        if start in rank:
            continue
        walking.add(start)
        path = [(start, iter(edges[start]))]
        while path:
            node, targets = path[-1]
            for target in targets:
                if target not in rank:
                    if target in walking:
                        return None
                    walking.add(target)
                    path.append((target, iter(edges[target])))
                    break
            else:
                path.pop()
                walking.discard(node)
                rank[node] = max((rank[target] + (2 if kind == ARTIFACT else 1)
                                  for target, kind in edges[node].items()), default=0)
    return rank


def upstream(producers: Producers, artifacts: Iterable[str]) -> set[str]:
    """``artifacts`` and everything they are made from, transitively (as make would)."""
    return _reach(producers, set(artifacts))


def downstream(producers: Producers, artifacts: Iterable[str],
               among: Collection[str] | None = None) -> set[str]:
    """``artifacts`` and everything made from them, transitively; ``among``: only these
    are followed (the others are not part of the run)."""
    found = set(artifacts)
    if not found:
        return found
    return _reach(_inverse(producers), found, among)


def _inverse(edges: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            found.setdefault(target, []).append(source)
    return found


def _reach(edges: Mapping[str, Iterable[str]], found: set[str],
           among: Collection[str] | None = None) -> set[str]:
    """``found`` grown, in place, by everything its members' edges lead to."""
    stack = list(found)
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in found and (among is None or target in among):
                found.add(target)
                stack.append(target)
    return found
