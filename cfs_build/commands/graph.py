"""`cfs graph`: print the build graph (or the part under one node) as dot, mermaid or json."""
from __future__ import annotations

import json

from ..analysis.graph import CONSUMES, GENERATES, IMPORTS, INHERITS, READS, build_graph
from ..analysis.project import Project
from ..errors import printable

HELP = "print the build graph as Graphviz dot, Mermaid or JSON"
EXAMPLE = "cfs graph SPEC/payments --format dot | dot -Tsvg > build.svg"

STYLE = {INHERITS: "solid", GENERATES: "bold", IMPORTS: "dashed", CONSUMES: "bold",
         READS: "dotted"}
SHAPE = {"SPEC": "box", "ARTIFACT": "note", "EXTERNAL": "folder"}
LEGEND = ("an arrow from u to v means v is made from u: a parent's Public flows to its child, "
          "a leaf generates its artifact, and an import flows from the imported node to the "
          "artifact of the leaf that imports it, labelled as the leaf writes it")


def add_arguments(parser) -> None:
    parser.add_argument("node", nargs="?", help="only what building this node touches: SPEC/x, "
                                                "ARTIFACT/x or an output path")
    parser.add_argument("--format", choices=("dot", "mermaid", "json"), default="dot",
                        help="Graphviz dot (the default), Mermaid, or JSON (node-link)")


def edge_label(data: dict) -> str:
    """How an edge reads along its arrow: an import as written (`SPEC/x(interface)`)."""
    if data["kind"] == INHERITS:
        return "inherited by"
    if data["kind"] == GENERATES:
        return "generates"
    written = data.get("name", "")
    return f"input: {written}" if data.get("via") == "input" else written


def _quoted(text: str) -> str:
    """A name or label as the inside of a dot quoted string: one line, shown as written."""
    return printable(text).replace("\\", "\\\\").replace('"', '\\"')


def _dot_ids(graph) -> dict[str, str]:
    """Each vertex's dot id: its name as shown (_quoted), and where two names show alike
    (a control character, and its escape written as text), the later one numbered."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for vertex in sorted(graph.nodes):
        shown = candidate = _quoted(vertex)
        count = 1
        while candidate in taken:
            count += 1
            candidate = f"{shown} ({count})"
        taken.add(candidate)
        ids[vertex] = candidate
    return ids


def _dot(graph) -> str:
    lines = ["digraph cfs {", f"  // {LEGEND}", "  rankdir=LR;",
             "  node [fontname=\"Helvetica\"];"]
    ids = _dot_ids(graph)
    for vertex, data in sorted(graph.nodes(data=True)):
        label = _quoted(vertex) if data["kind"] != "ARTIFACT" else \
            f"{_quoted(vertex)}\\n{_quoted(data.get('path', ''))}"
        lines.append(f'  "{ids[vertex]}" [shape={SHAPE[data["kind"]]}, label="{label}"];')
    for u, v, data in sorted(graph.edges(data=True)):
        label = "" if data["kind"] in (INHERITS, GENERATES) else \
            f', label="{_quoted(edge_label(data))}"'
        lines.append(f'  "{ids[u]}" -> "{ids[v]}" [style={STYLE[data["kind"]]}, '
                     f'tooltip="{data["kind"]}"{label}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """A name or label as the inside of a mermaid quoted string: one line, no quote or tag,
    mermaid's entity codes (#quot;) for what would end the string or read as markup."""
    text = printable(text).replace("#", "#35;")
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid(graph) -> str:
    ids = {vertex: f"n{i}" for i, vertex in enumerate(sorted(graph.nodes))}
    lines = ["flowchart LR", f"  %% {LEGEND}"]
    for vertex, data in sorted(graph.nodes(data=True)):
        shape = ("[\"", "\"]") if data["kind"] == "SPEC" else \
            ("[/\"", "\"/]") if data["kind"] == "ARTIFACT" else ("((\"", "\"))")
        lines.append(f"  {ids[vertex]}{shape[0]}{_mermaid_text(vertex)}{shape[1]}")
    arrows = {INHERITS: "-->", GENERATES: "==>", IMPORTS: "-.->", CONSUMES: "==>",
              READS: "-.->"}
    for u, v, data in sorted(graph.edges(data=True)):
        lines.append(f"  {ids[u]} {arrows[data['kind']]}|\"{_mermaid_text(edge_label(data))}\"| "
                     f"{ids[v]}")
    return "\n".join(lines) + "\n"


def graph_of(project: Project, node: str | None = None):
    """The build graph, or the part a build of ``node`` (SPEC/x, ARTIFACT/x, a path) touches."""
    build = build_graph(project.tree)
    return build.subgraph_under(project.node_name(node)) if node else build.graph


def json_data(graph) -> dict:
    from networkx.readwrite import json_graph
    return json_graph.node_link_data(graph, edges="edges")


def render(graph, fmt: str) -> str:
    """The graph as dot, mermaid or json text (what `cfs graph --format FMT` prints)."""
    if fmt == "json":
        return json.dumps(json_data(graph), indent=2, sort_keys=True) + "\n"
    # Node names are directory names a checkout brings: each is quoted for the format, its
    # control characters escaped (no escape sequence of theirs drives the terminal).
    return _dot(graph) if fmt == "dot" else _mermaid(graph)


def run(args, project: Project) -> int:
    return graph(project, args.node, fmt=args.format)


def graph(project: Project, node: str | None = None, *, fmt: str = "dot") -> int:
    """The verb: print the build graph (or the part under ``node``) as dot, mermaid or json."""
    print(render(graph_of(project, node), fmt), end="")
    return 0
