"""The dependency module: typed references, edges, producers, who refers to what, closures,
cycles and ranks (each computed once per tree)."""
from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfs_build.analysis.deps import PARENT, Deps, Ref, deps_of, downstream, upstream
from cfs_build.reading.names import ARTIFACT, SPEC, parse_name
from cfs_build.reading.tree import load_tree
from conftest import spec

# tests/fixtures/graphproj (see test_graph.py for the picture).
MODEL, STORE, CLI = "ARTIFACT/app/core/model", "ARTIFACT/app/core/store", "ARTIFACT/app/cli"
UTIL, OTHER, APPENDIX = "ARTIFACT/lib/util", "ARTIFACT/other", "ARTIFACT/appendix"


@pytest.fixture
def deps(fixture):
    return deps_of(load_tree(fixture("graphproj")))


def test_references_are_typed_in_frontmatter_order(deps):
    assert deps.refs["SPEC/other"] == (
        Ref("SPEC/other", "depends_on", "SPEC/lib", parse_name("SPEC/lib")),
        Ref("SPEC/other", "depends_on", "EXTERNAL/docs/notes.txt",
            parse_name("EXTERNAL/docs/notes.txt")),
        Ref("SPEC/other", "input", "ARTIFACT/lib/util", parse_name("ARTIFACT/lib/util")))
    targets = [(ref.target, ref.file) for ref in deps.refs["SPEC/other"]]
    assert targets == [("SPEC/lib", None), (None, "docs/notes.txt"), ("SPEC/lib/util", None)]
    assert "SPEC/lib" not in deps.refs  # a node without references has no entry


def test_edges_say_what_each_chain_needs_and_how(deps):
    assert deps.needs["SPEC/other"] == {"SPEC/lib": SPEC, "SPEC/lib/util": ARTIFACT}
    assert deps.needs["SPEC/app/core/store"] == {
        "SPEC/app/core": PARENT, "SPEC/app/core/model": ARTIFACT, "SPEC/lib/api": SPEC}
    assert deps.needs["SPEC/lib"] == {}
    assert deps.parents["SPEC/app/cli"] == "SPEC/app" and "SPEC/app" not in deps.parents


def test_artifacts_and_their_producers(deps):
    assert list(deps.artifacts) == [
        "ARTIFACT/app/cli", MODEL, STORE, APPENDIX, "ARTIFACT/lib/api", UTIL, OTHER]
    assert deps.producers == {STORE: (MODEL,), CLI: (STORE,), OTHER: (UTIL,)}


def test_who_refers_to_what(deps):
    assert deps.importers("SPEC/lib/util") == {"SPEC/appendix"}
    assert deps.importers("SPEC/lib") == {"SPEC/other"}
    assert deps.consumers("SPEC/app/core/model") == {"SPEC/app/core/store"}
    assert deps.readers("docs/usage.txt") == {"SPEC/app/cli"}
    assert deps.readers("docs/nothing.txt") == set()
    assert deps.exercised("SPEC/app/core/store") == ("SPEC/app/core/model", "SPEC/lib/api")


def test_what_an_edit_reaches(deps):
    assert deps.reached_by("SPEC/app/core") == {MODEL, STORE, CLI}
    # An imported node's ancestors are not part of the importer's chain.
    assert deps.reached_by("SPEC/lib/util") == {UTIL, APPENDIX, OTHER}
    assert deps.reached_by_file("docs/notes.txt") == {OTHER}
    assert deps.reached_by_file("docs/nothing.txt") == set()


def test_what_a_target_needs(deps):
    artifacts, specs, files = deps.needed_by([CLI])
    assert artifacts == {CLI, STORE, MODEL}
    assert specs == {"SPEC/app", "SPEC/app/cli", "SPEC/app/core", "SPEC/app/core/model",
                     "SPEC/app/core/store", "SPEC/lib/api"}  # not SPEC/lib: api's parent
    assert files == {"docs/usage.txt"}


def test_cycles_and_ranks_are_computed_once_per_tree(fixture):
    tree = load_tree(fixture("cycles"))
    deps = deps_of(tree)
    assert deps_of(tree) is deps
    ring = {"SPEC/ring/a", "SPEC/ring/b", "SPEC/ring/c"}
    assert ring in deps.cycles
    assert deps.cycles is deps.cycles and deps.ranks is deps.ranks
    assert deps.ranks["SPEC/ring"] == 0
    assert deps.ranks["SPEC/ring/d"] is None  # behind the ring: no rank either


def test_self_references(tree):
    root = tree({
        # Importing itself is a finding, not an edge; needing its own artifact is a cycle.
        "SPEC/a": spec("SPEC/a", front="depends_on: [SPEC/a]\noutput: a.txt"),
        "SPEC/b": spec("SPEC/b", front="depends_on: [ARTIFACT/b]\noutput: b.txt"),
        "SPEC/c": spec("SPEC/c", front="input: SPEC/c\noutput: c.txt"),
        # One target named twice: the ARTIFACT edge outranks the SPEC one (v5's ranks).
        "SPEC/d": spec("SPEC/d", front="depends_on: [ARTIFACT/a, SPEC/a]\noutput: d.txt"),
    })
    deps = deps_of(load_tree(root))
    assert deps.needs["SPEC/a"] == {}
    assert deps.needs["SPEC/b"] == {"SPEC/b": ARTIFACT}
    assert deps.needs["SPEC/c"] == {"SPEC/c": SPEC}
    assert deps.needs["SPEC/d"] == {"SPEC/a": ARTIFACT}
    assert deps.cycles == [{"SPEC/b"}, {"SPEC/c"}]
    assert deps.ranks == {"SPEC/b": None, "SPEC/c": None, "SPEC/a": 0, "SPEC/d": 2}
    assert deps.producers == {"ARTIFACT/d": ("ARTIFACT/a",)}  # not b's own artifact


def test_built_from_summaries_without_a_tree():
    # incremental.py asks the same questions of a snapshot's kept summaries.
    deps = Deps.of_rows({"SPEC/x": (("SPEC/y(API)",), None, "x.txt"), "SPEC/y": ((), None, None)},
                        0, 1, 2)
    assert deps.importers("SPEC/y") == {"SPEC/x"} and deps.artifacts == {"ARTIFACT/x": "x.txt"}


# -- the closures against networkx, on random graphs ------------------------------------

def _flat_leaves(edges: list[tuple[int, int]], count: int) -> Deps:
    """Leaves SPEC/nI, each with an output, where (i, j) means nI imports ARTIFACT/nJ."""
    imports = {i: sorted({f"ARTIFACT/n{j}" for a, j in edges if a == i}) for i in range(count)}
    return Deps.of_rows({f"SPEC/n{i}": (tuple(imports[i]), None, f"out/{i}")
                         for i in range(count)}, 0, 1, 2)


def _reference_graph(edges, count) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(f"ARTIFACT/n{i}" for i in range(count))
    graph.add_edges_from((f"ARTIFACT/n{j}", f"ARTIFACT/n{i}") for i, j in edges)  # made from
    return graph


graphs = st.integers(1, 9).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20)))


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_closures_equal_networkx_ancestors_and_descendants(graph):
    count, edges = graph
    dag = [(i, j) for i, j in edges if j < i]  # an import of a lower number only: no cycle
    deps = _flat_leaves(dag, count)
    reference = _reference_graph([(i, j) for i, j in dag if i != j], count)
    for vertex in reference:
        assert upstream(deps.producers, [vertex]) == {vertex, *nx.ancestors(reference, vertex)}
        assert downstream(deps.producers, [vertex]) == {vertex,
                                                        *nx.descendants(reference, vertex)}
        assert deps.reached_by("SPEC/" + vertex[len("ARTIFACT/"):]) == \
            {vertex, *nx.descendants(reference, vertex)}
    for vertex in reference:  # an import counts 2 (the artifact ranks above its node)
        longest = max((len(path) - 1 for source in reference
                       for path in nx.all_simple_paths(reference, source, vertex)), default=0)
        assert deps.ranks["SPEC/" + vertex[len("ARTIFACT/"):]] == 2 * longest


@settings(max_examples=150, deadline=None)
@given(graphs)
def test_cycles_are_the_strongly_connected_components(graph):
    count, edges = graph
    deps = _flat_leaves(edges, count)
    reference = nx.DiGraph()
    reference.add_nodes_from(f"SPEC/n{i}" for i in range(count))
    reference.add_edges_from((f"SPEC/n{i}", f"SPEC/n{j}") for i, j in edges)  # i needs j
    cyclic = [c for c in nx.strongly_connected_components(reference)
              if len(c) > 1 or reference.has_edge(next(iter(c)), next(iter(c)))]
    assert sorted(map(sorted, deps.cycles)) == sorted(map(sorted, cyclic))
    on_cycle = set().union(*cyclic)
    behind = {n for n in reference if on_cycle & ({n} | nx.descendants(reference, n))}
    assert {n for n, rank in deps.ranks.items() if rank is None} == behind
    # The "among" bound: only the artifacts given are followed.
    among = {f"ARTIFACT/n{i}" for i in range(0, count, 2)}
    within = _reference_graph([(i, j) for i, j in edges if i != j], count).subgraph(among)
    for start in among:
        assert downstream(deps.producers, [start], among=among) == \
            {start, *nx.descendants(within, start)}


# Nodes in a small hierarchy (parent edges weigh 1) that import each other as SPEC (1)
# or ARTIFACT (2), cycles allowed: (i, j, artifact) means node i imports node j.
_NESTED = ("SPEC/a", "SPEC/a/b", "SPEC/a/b/c", "SPEC/a/d", "SPEC/e", "SPEC/e/f", "SPEC/g")
mixed = st.lists(st.tuples(st.integers(0, len(_NESTED) - 1), st.integers(0, len(_NESTED) - 1),
                           st.booleans()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(mixed)
def test_ranks_are_the_longest_weighted_paths_of_networkx(imports):
    # Every kind of edge and its weight, and the ranks of what a cycle leaves acyclic.
    rows = {name: (tuple(dict.fromkeys(("ARTIFACT/" if artifact else "SPEC/") + _NESTED[j][5:]
                                       for i, j, artifact in imports if _NESTED[i] == name)),
                   None, f"out/{name}")
            for name in _NESTED}
    deps = Deps.of_rows(rows, 0, 1, 2)
    reference = nx.DiGraph()
    reference.add_nodes_from(_NESTED)
    for name in _NESTED:
        if "/" in name[5:]:
            reference.add_edge(name, name.rsplit("/", 1)[0], weight=1)
    for i, j, artifact in imports:
        source, target = _NESTED[i], _NESTED[j]
        if source == target and not artifact:
            continue  # importing itself is a finding, not an edge
        weight = max(2 if artifact else 1, reference.edges[source, target]["weight"]
                     if reference.has_edge(source, target) else 0)
        reference.add_edge(source, target, weight=weight)
    on_cycle = {n for c in nx.strongly_connected_components(reference)
                if len(c) > 1 or reference.has_edge(*(next(iter(c)),) * 2) for n in c}
    behind = {n for n in reference if on_cycle & ({n} | nx.descendants(reference, n))}
    expected: dict[str, int | None] = dict.fromkeys(behind)
    rest = reference.subgraph(set(_NESTED) - behind)
    for name in reversed(list(nx.topological_sort(rest))):  # what a node needs comes first
        expected[name] = max((expected[t] + rest.edges[name, t]["weight"]
                              for t in rest.successors(name)), default=0)
    assert deps.ranks == expected
    assert bool(deps.cycles) == bool(on_cycle)


def test_a_file_v5_refuses_by_its_text_has_no_reader():
    # v5 calls `a:b.txt` absolute and opens nothing: a change to that file changes no
    # chain and no finding, so it must not send the incremental analysis to x.
    deps = Deps.of_rows({"SPEC/x": (("EXTERNAL/a:b.txt", "EXTERNAL/ok.txt", "EXTERNAL/../up.txt",
                                     "EXTERNAL/c.txt(q)"), None, "x.txt")}, 0, 1, 2)
    assert deps.readers("a:b.txt") == deps.readers("a:b.txt", as_written=True) == set()
    assert deps.readers("ok.txt") == deps.readers("c.txt") == {"SPEC/x"}
    assert deps.readers("c.txt(q)", as_written=True) == {"SPEC/x"}
    assert deps.needed_by(["ARTIFACT/x"])[2] == {"ok.txt", "c.txt"}
