"""The build graph: vertices, edge kinds, what an edit reaches, build order, and `cfs graph`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cfs_build.analysis.deps import deps_of, upstream
from cfs_build.analysis.graph import CONSUMES, GENERATES, IMPORTS, INHERITS, READS, build_graph
from cfs_build.reading.tree import load_tree
from conftest import spec

# tests/fixtures/graphproj:
#   SPEC/app > SPEC/app/core > model, store (ARTIFACT model, SPEC/lib/api(Interface))
#   SPEC/app > cli (ARTIFACT store; input EXTERNAL/docs/usage.txt)
#   SPEC/lib > api, util
#   other (SPEC/lib, EXTERNAL/docs/notes.txt; input ARTIFACT/lib/util)
#   appendix (input SPEC/lib/util)
MODEL, STORE, CLI = "ARTIFACT/app/core/model", "ARTIFACT/app/core/store", "ARTIFACT/app/cli"
API, UTIL, OTHER, APPENDIX = ("ARTIFACT/lib/api", "ARTIFACT/lib/util", "ARTIFACT/other",
                              "ARTIFACT/appendix")
SPECS = ["SPEC/app", "SPEC/app/cli", "SPEC/app/core", "SPEC/app/core/model",
         "SPEC/app/core/store", "SPEC/appendix", "SPEC/lib", "SPEC/lib/api", "SPEC/lib/util",
         "SPEC/other"]
ARTIFACTS = sorted([MODEL, STORE, CLI, API, UTIL, OTHER, APPENDIX])
EXTERNALS = ["EXTERNAL/docs/notes.txt", "EXTERNAL/docs/usage.txt"]
EDGES = {
    ("SPEC/app", "SPEC/app/core"): INHERITS,
    ("SPEC/app", "SPEC/app/cli"): INHERITS,
    ("SPEC/app/core", "SPEC/app/core/model"): INHERITS,
    ("SPEC/app/core", "SPEC/app/core/store"): INHERITS,
    ("SPEC/lib", "SPEC/lib/api"): INHERITS,
    ("SPEC/lib", "SPEC/lib/util"): INHERITS,
    ("SPEC/app/core/model", MODEL): GENERATES,
    ("SPEC/app/core/store", STORE): GENERATES,
    ("SPEC/app/cli", CLI): GENERATES,
    ("SPEC/lib/api", API): GENERATES,
    ("SPEC/lib/util", UTIL): GENERATES,
    ("SPEC/other", OTHER): GENERATES,
    ("SPEC/appendix", APPENDIX): GENERATES,
    (MODEL, STORE): CONSUMES,
    ("SPEC/lib/api", STORE): IMPORTS,
    (STORE, CLI): CONSUMES,
    ("EXTERNAL/docs/usage.txt", CLI): READS,
    ("SPEC/lib", OTHER): IMPORTS,
    ("EXTERNAL/docs/notes.txt", OTHER): READS,
    (UTIL, OTHER): CONSUMES,
    ("SPEC/lib/util", APPENDIX): IMPORTS,
}


@pytest.fixture
def root(fixture):
    return fixture("graphproj")


@pytest.fixture
def graph(root):
    return build_graph(load_tree(root))


def test_vertices_and_their_kinds_and_paths(graph):
    nodes = dict(graph.graph.nodes(data=True))
    assert sorted(nodes) == sorted(SPECS + ARTIFACTS + EXTERNALS)
    assert nodes["SPEC/app/core"] == {"kind": "SPEC", "path": "code-from-spec/app/core/_node.md"}
    assert nodes[STORE] == {"kind": "ARTIFACT", "path": "gen/store.txt"}
    assert nodes["EXTERNAL/docs/usage.txt"] == {"kind": "EXTERNAL", "path": "docs/usage.txt"}
    assert graph.artifacts() == ARTIFACTS


def test_edges_and_their_kinds(graph):
    assert {(u, v): kind for u, v, kind in graph.graph.edges(data="kind")} == EDGES


def test_import_edges_keep_how_and_what_was_written(graph):
    edges = graph.graph.edges
    assert edges["SPEC/lib/api", STORE]["name"] == "SPEC/lib/api(Interface)"
    assert edges["SPEC/lib/api", STORE]["via"] == "depends_on"
    assert edges["SPEC/lib/util", APPENDIX]["via"] == "input"
    assert edges[UTIL, OTHER]["via"] == "input"
    assert edges["EXTERNAL/docs/usage.txt", CLI]["via"] == "input"
    assert edges[MODEL, STORE]["via"] == "depends_on"


def test_leaf_without_output_has_no_artifact_and_drops_its_imports(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n\n## I\nx\n"),
                 "SPEC/b": spec("SPEC/b", front="depends_on: [SPEC/a, EXTERNAL/x.txt]")})
    graph = build_graph(load_tree(root))
    assert sorted(graph.graph.nodes) == ["SPEC/a", "SPEC/b"]
    assert graph.artifacts() == []


def test_unknown_and_unparseable_references_make_no_edge(tree):
    root = tree({"SPEC/b": spec("SPEC/b", front="depends_on: [SPEC/gone, ARTIFACT/gone, "
                                "BOGUS/x, nothing, ARTIFACT/b, EXTERNAL/../up.txt]\n"
                                "output: b.txt")})
    graph = build_graph(load_tree(root))
    assert sorted(graph.graph.edges) == [("SPEC/b", "ARTIFACT/b")]


def test_ancestor_edit_reaches_leaves_below_and_direct_importers_only(graph):
    # SPEC/lib's Public is in api's and util's chains and is imported whole by other;
    # store imports SPEC/lib/api and appendix SPEC/lib/util, which do not carry lib's text.
    assert graph.affected_by("SPEC/lib") == [API, UTIL, OTHER]


def test_ancestor_edit_cascades_over_artifact_consumers(graph):
    assert graph.affected_by("SPEC/app") == [CLI, MODEL, STORE]
    assert graph.affected_by("SPEC/app/core") == [CLI, MODEL, STORE]


def test_imported_node_edit_reaches_its_importers(graph):
    assert graph.affected_by("SPEC/lib/api") == sorted([API, STORE, CLI])
    assert graph.affected_by("SPEC/lib/util") == sorted([UTIL, APPENDIX, OTHER])


def test_imported_nodes_ancestor_edit_does_not_reach_the_importer(graph):
    reached = graph.affected_by("SPEC/lib")
    assert STORE not in reached and APPENDIX not in reached


def test_leaf_edit_reaches_itself_and_consumers(graph):
    assert graph.affected_by("SPEC/app/core/model") == sorted([MODEL, STORE, CLI])
    assert graph.affected_by("SPEC/app/cli") == [CLI]
    assert graph.affected_by("SPEC/appendix") == [APPENDIX]


def test_artifact_edit_cascades(graph):
    assert graph.affected_by(MODEL) == sorted([MODEL, STORE, CLI])
    assert graph.affected_by(CLI) == [CLI]


def test_external_edit_reaches_its_readers(graph):
    assert graph.affected_by("EXTERNAL/docs/usage.txt") == [CLI]
    assert graph.affected_by("EXTERNAL/docs/notes.txt") == [OTHER]


def test_unknown_vertex_reaches_nothing(graph):
    assert graph.affected_by("SPEC/nope") == []


def test_affected_by_file(graph):
    assert graph.affected_by_file("docs/notes.txt") == [OTHER]
    assert graph.affected_by_file("code-from-spec/lib/_node.md") == [API, UTIL, OTHER]
    assert graph.affected_by_file("code-from-spec/app/core/model/_node.md") == sorted(
        [MODEL, STORE, CLI])
    assert graph.affected_by_file("gen/util.txt") == sorted([UTIL, OTHER])
    assert graph.affected_by_file("docs/unrelated.txt") == []


def test_affected_by_file_unions_every_vertex_behind_the_file(tree):
    # gen/a.txt is ARTIFACT/a's output and also read as EXTERNAL/gen/a.txt by b.
    root = tree({"SPEC/a": spec("SPEC/a", "# Agent\n\nA.\n", front="output: gen/a.txt"),
                 "SPEC/b": spec("SPEC/b", "# Agent\n\nB.\n",
                                front="depends_on: [EXTERNAL/gen/a.txt]\noutput: gen/b.txt"),
                 "gen/a.txt": "a\n"})
    graph = build_graph(load_tree(root))
    assert graph.affected_by_file("gen/a.txt") == ["ARTIFACT/a", "ARTIFACT/b"]


def test_what_must_be_built_first_is_the_producers_closure(graph):
    # The build order a make-like run follows (deps.upstream over the tree's producers).
    producers = deps_of(graph.tree).producers
    before = lambda artifact: sorted(upstream(producers, [artifact]) - {artifact})
    assert producers[CLI] == (STORE,)
    assert before(CLI) == [MODEL, STORE]
    assert before(STORE) == [MODEL]
    assert before(OTHER) == [UTIL]
    assert before(MODEL) == []
    assert before(APPENDIX) == []  # a SPEC import needs no build first


def test_under(graph):
    assert graph.under("SPEC/app") == [CLI, MODEL, STORE]  # not ARTIFACT/appendix
    assert graph.under("SPEC/app/core") == [MODEL, STORE]
    assert graph.under("SPEC/app/cli") == [CLI]
    assert graph.under("SPEC/lib") == [API, UTIL]


def test_subgraph_under_holds_what_the_build_reads(graph):
    sub = graph.subgraph_under("SPEC/app/cli")
    assert sorted(sub.nodes) == sorted([
        CLI, "SPEC/app/cli", "SPEC/app", "EXTERNAL/docs/usage.txt",
        STORE, "SPEC/app/core/store", "SPEC/app/core", "SPEC/lib/api",
        MODEL, "SPEC/app/core/model"])
    # SPEC/lib is api's parent, but store imports SPEC/lib/api alone: lib is not read.
    assert "SPEC/lib" not in sub
    assert all(sub.edges[e]["kind"] == kind for e, kind in EDGES.items() if e in sub.edges)
    assert (STORE, CLI) in sub.edges and ("SPEC/app", "SPEC/app/core") in sub.edges


def test_subgraph_under_a_branch(graph):
    sub = graph.subgraph_under("SPEC/lib")
    assert sorted(sub.nodes) == sorted(["SPEC/lib", "SPEC/lib/api", "SPEC/lib/util", API, UTIL])
    assert sorted(graph.subgraph_under("SPEC/other").nodes) == sorted([
        OTHER, "SPEC/other", "SPEC/lib", "EXTERNAL/docs/notes.txt", UTIL, "SPEC/lib/util"])


def cfs_graph(root, *args):
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "graph", *args], cwd=root,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cfs_graph_json(root):
    data = json.loads(cfs_graph(root, "--format", "json"))
    assert sorted(n["id"] for n in data["nodes"]) == sorted(SPECS + ARTIFACTS + EXTERNALS)
    assert {(e["source"], e["target"]): e["kind"] for e in data["edges"]} == EDGES
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds[CLI] == "ARTIFACT" and kinds["EXTERNAL/docs/notes.txt"] == "EXTERNAL"


def test_cfs_graph_json_under_a_node(root):
    data = json.loads(cfs_graph(root, "ARTIFACT/app/core/store", "--format", "json"))
    assert sorted(n["id"] for n in data["nodes"]) == sorted([
        STORE, "SPEC/app/core/store", "SPEC/app/core", "SPEC/app", "SPEC/lib/api",
        MODEL, "SPEC/app/core/model"])


def test_cfs_graph_dot(root):
    out = cfs_graph(root, "--format", "dot")
    assert out.startswith("digraph cfs {") and out.rstrip().endswith("}")
    declared = [line.split('"')[1] for line in out.splitlines()
                if line.startswith('  "') and "->" not in line]
    assert sorted(declared) == sorted(SPECS + ARTIFACTS + EXTERNALS)
    arrows = {tuple(line.split('"')[1:4:2]) for line in out.splitlines() if " -> " in line}
    assert arrows == set(EDGES)


def test_cfs_graph_mermaid(root):
    out = cfs_graph(root, "--format", "mermaid")
    lines = [line for line in out.splitlines() if not line.strip().startswith("%%")]
    assert lines[0] == "flowchart LR"
    ids = {}
    for line in lines[1:]:
        if "|" not in line:
            ident, text = line.strip().split("[", 1) if "[" in line else line.strip().split("(", 1)
            ids[ident] = text.strip('[]()/"')
    assert sorted(ids.values()) == sorted(SPECS + ARTIFACTS + EXTERNALS)
    arrows = {}
    for line in lines[1:]:
        if "|" in line:
            source, label, target = line.strip().split(" ", 1)[0], line.split("|")[1], \
                line.strip().rsplit(" ", 1)[1]
            arrows[ids[source], ids[target]] = label.strip('"')
    assert set(arrows) == set(EDGES)
    assert arrows["SPEC/app", "SPEC/app/core"] == "inherited by"
    assert arrows["SPEC/app/core/model", MODEL] == "generates"


def test_import_edges_point_at_the_importer_and_read_as_written(root):
    dot = cfs_graph(root, "--format", "dot")
    assert '"SPEC/lib/api" -> "ARTIFACT/app/core/store" [style=dashed, tooltip="imports", ' \
        'label="SPEC/lib/api(Interface)"];' in dot
    assert '"SPEC/lib/util" -> "ARTIFACT/appendix" [style=dashed, tooltip="imports", ' \
        'label="input: SPEC/lib/util"];' in dot
    assert "// an arrow from u to v means v is made from u" in dot
    mermaid = cfs_graph(root, "--format", "mermaid")
    assert '-.->|"SPEC/lib/api(Interface)"|' in mermaid
    assert '-.->|"input: EXTERNAL/docs/usage.txt"|' in mermaid
    assert "%% an arrow from u to v means v is made from u" in mermaid


# -- names a checkout brings: they must stay names in dot and mermaid -----------------------

HOSTILE_NAMES = ['q"; "forged" [label="Forged"]; URL="javascript:alert(1)', "line\nbreak",
                 'm"] \n  click n0 call x()\n  n0["', "back\\slash", "a#quot;<b>"]


def _dot_statements(text: str) -> list[list[str]]:
    """The dot text's statements as token lists (a quoted string is one token, unescaped)."""
    import re
    token = re.compile(r'"((?:[^"\\]|\\.)*)"|(->|[\[\]=,;{}])|([A-Za-z_][A-Za-z_0-9]*)|(//[^\n]*)'
                       r'|(\s+)', re.S)
    tokens, at = [], 0
    while at < len(text):
        found = token.match(text, at)
        assert found, f"not dot at {text[at:at + 40]!r}"
        at = found.end()
        if found.group(1) is not None:
            tokens.append(("STR", re.sub(r'\\(["\\])', r"\1", found.group(1))))
        elif found.group(2) or found.group(3):
            tokens.append(("SYM", found.group(2) or found.group(3)))
    statements, current = [], []
    for kind, value in tokens[3:-1]:  # inside `digraph cfs { ... }`
        if (kind, value) == ("SYM", ";"):
            statements.append(current)
            current = []
        else:
            current.append(value)
    return statements


def _hostile_graph(tmp_path, name):
    """The JSON graph (the truth) of a tree with a leaf named ``name``, its vertices as
    cfs shows them (control characters escaped), and the tree's root."""
    from cfs_build.errors import printable
    from conftest import write_tree
    node = f"SPEC/r/{name}"
    root = write_tree(tmp_path / "p", {"SPEC/r": spec("SPEC/r", "# Public\n## A\na\n"),
                                       node: spec(node, "# Agent\nx\n", front="output: o.txt")})
    data = json.loads(cfs_graph(root, "--format", "json"))
    assert f"SPEC/r/{name}" in {n["id"] for n in data["nodes"]}
    return data, {printable(n["id"]) for n in data["nodes"]}, root


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_dot_keeps_a_hostile_node_name_one_quoted_id(tmp_path, name):
    data, shown, root = _hostile_graph(tmp_path, name)
    statements = _dot_statements(cfs_graph(root, "--format", "dot"))
    assert {s[0] for s in statements if s[0] != "node" and s[1] == "["} == shown, statements
    assert all(s[0] in ("rankdir", "node") or s[1] in ("[", "->") for s in statements), \
        statements
    assert len([s for s in statements if s[1] == "->"]) == len(data["edges"])
    labels = {s[0]: s[s.index("label") + 2] for s in statements
              if s[0] != "node" and s[1] == "["}
    assert all(labels[v].startswith(v) for v in shown), labels


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_mermaid_keeps_a_hostile_node_name_one_statement(tmp_path, name):
    import html
    import re
    data, shown, root = _hostile_graph(tmp_path, name)
    lines = cfs_graph(root, "--format", "mermaid").splitlines()
    assert lines[0] == "flowchart LR" and lines[1].startswith("  %% ")
    assert len(lines) == 2 + len(shown) + len(data["edges"]), lines
    texts = [line.split('"')[1] for line in lines[2:2 + len(shown)]]
    assert not any(set(text) & set('"<>\n') for text in texts), texts
    decoded = {re.sub(r"#(\w+);", lambda m: html.unescape(f"&#{m[1]};" if m[1].isdigit()
                                                       else f"&{m[1]};"), t) for t in texts}
    assert decoded == shown, lines


def test_dot_gives_names_that_show_alike_ids_of_their_own(tmp_path):
    # A control character is shown as its escape, so a directory named with the escape
    # written as text shows alike: one dot id would have drawn the two as one vertex.
    from conftest import write_tree
    odd, plain = "SPEC/r/a\x1b", "SPEC/r/a\\x1b"
    root = write_tree(tmp_path / "p", {
        "SPEC/r": spec("SPEC/r", "# Public\n## A\na\n"),
        odd: spec(odd, "# Agent\nx\n", front="output: o.txt"),
        plain: spec(plain, "# Agent\ny\n", front="output: p.txt")})
    data = json.loads(cfs_graph(root, "--format", "json"))
    statements = _dot_statements(cfs_graph(root, "--format", "dot"))
    ids = [s[0] for s in statements if s[0] != "node" and s[1] == "["]
    assert len(ids) == len(set(ids)) == len(data["nodes"]), ids
    edges = {(s[0], s[2]) for s in statements if s[1] == "->"}
    assert len(edges) == len(data["edges"]) and {u for u, _ in edges} | {v for _, v in edges} <= set(ids)
