"""Validation: every v5 format rule, collected into one report (never raised)."""
from __future__ import annotations

import graphlib

import re
from functools import lru_cache

from .chain import Resolver, safe_relpath
from .errors import ERROR, WARNING, Finding
from .files import NotRegular, Outside, UnreadableFile
from .names import (ARTIFACT, SPEC, TREE_DIR, BadName, is_within, parent_of, parse_name,
                    references, spec_of)
from .tree import NodeInfo, Tree

_DRIVE = re.compile(r"[A-Za-z]:")


def validate(tree: Tree, resolver: Resolver) -> list[Finding]:
    """All findings for the tree: parse problems, rule violations, cycles, warnings."""
    findings: list[Finding] = list(tree.findings)
    outputs: dict[str, str] = {}
    produced = {safe_relpath(info.output): name for name, info in tree.nodes.items()
                if info.output is not None and tree.is_leaf(name)}
    for name, info in tree.nodes.items():
        findings.extend(info.findings)
        if any(ch == ";" or ch < " " for ch in name):
            findings.append(Finding(name, "node_name", "the directory name holds ';' or a "
                                    "control character, which a v5 manifest line cannot "
                                    "record; rename the directory", info.file, None))
        if info.broken:
            continue
        leaf = tree.is_leaf(name)
        if not leaf:
            findings.extend(_leaf_only(info))
        # Targets are checked on every node: only a non-leaf can name a descendant, and
        # moving such an entry to a leaf would not make a wrong target right.
        for raw, line in zip(info.depends_on, info.dep_lines):
            findings.extend(_reference(tree, resolver, info, raw, line, "depends_on",
                                       "dependency_targets"))
        if info.input is not None:
            findings.extend(_reference(tree, resolver, info, info.input, info.input_line,
                                       "input", "input_target"))
        findings.extend(_external_outputs(info, produced))
        if leaf and info.output is not None:
            findings.extend(_output(info, outputs))
    findings.extend(_cycles(tree))
    return findings


def _external_outputs(info: NodeInfo, produced: dict[str, str]) -> list[Finding]:
    """Warn when EXTERNAL/ names a generated file: ARTIFACT/ would order the build."""
    out = []
    refs = list(zip(info.depends_on, info.dep_lines))
    if info.input is not None:
        refs.append((info.input, info.input_line))
    for raw, line in refs:
        if not raw.startswith("EXTERNAL/"):
            continue
        owner = produced.get(safe_relpath(raw[len("EXTERNAL/"):]))
        if owner is not None and owner != info.name:
            out.append(Finding(info.name, "reference", f"{raw} is the output of {owner}; import "
                               f"ARTIFACT{owner[len('SPEC'):]} instead so it is generated "
                               "first and its changes reach this node", info.file, line,
                               WARNING))
    return out


def _leaf_only(info: NodeInfo) -> list[Finding]:
    out = []
    for key, present, line in (("depends_on", bool(info.depends_on), _first(info.dep_lines)),
                               ("input", info.input is not None, info.input_line),
                               ("output", info.output is not None, info.output_line)):
        if present:
            out.append(Finding(info.name, "leaf_only_fields", f"{key} is only permitted on leaf "
                               "nodes; move it to a leaf below this node", info.file, line))
    if info.has_agent:
        out.append(Finding(info.name, "leaf_only_agent", "# Agent section is only permitted on "
                           "leaf nodes; move it to a leaf below this node", info.file,
                           info.agent_line))
    return out


def _first(lines: tuple[int, ...]) -> int | None:
    return lines[0] if lines else None


def _reference(tree: Tree, resolver: Resolver, info: NodeInfo, raw: str, line, key: str,
               rule: str) -> list[Finding]:
    def bad(detail: str, severity: str = ERROR) -> list[Finding]:
        return [Finding(info.name, rule if severity == ERROR else "reference",
                        f"{key} {detail}", info.file, line, severity)]

    try:
        name = parse_name(raw)
    except BadName as exc:
        return bad(f"entry cannot be used: {exc}")
    out: list[Finding] = []
    if name.trailing.strip(" \t"):
        out += bad(f"entry {raw!r} has text after ')' that is ignored", WARNING)
    me = info.name
    if name.prefix == SPEC:
        target = name.base
        if target == me:
            return out + bad(f"must not reference the node itself: {raw}")
        if target not in tree.nodes:
            return out + bad(f"references unknown SPEC node: {raw}")
        if is_within(me, target):
            return out + bad(f"must not reference an ancestor (its Public is already "
                             f"inherited): {raw}")
        if is_within(target, me):
            return out + bad(f"must not reference a descendant: {raw}")
        other = tree.nodes[target]
        if name.qualifier is not None and not other.broken \
                and not other.has_subsection(name.norm_qualifier):
            out += bad(f"{raw}: {target} has no '## {name.qualifier.strip()}' in its # Public; "
                       "this import delivers nothing", WARNING)
        return out
    if name.prefix == ARTIFACT:
        node = spec_of(name.base)
        if node == me:
            return out + bad(f"must not reference the node itself: {raw}")
        other = tree.nodes.get(node)
        if other is not None and other.broken:
            return out  # its own findings say why its output is not known
        if other is None or other.output is None or not tree.is_leaf(node):
            return out + bad(f"references unknown ARTIFACT: {raw} (no leaf {node} with an "
                             "output)")
        return out
    if name.qualifier is not None:
        out += bad(f"{raw}: an EXTERNAL/ name takes no qualifier; v5 reads the file "
                   f"{name.path!r} (the text before '('). Rename the file if it has "
                   "parentheses", WARNING)
    rel = safe_relpath(name.path)
    if rel is None:
        return out + bad(f"references an EXTERNAL path outside the project: {raw}")
    try:
        readable = resolver.file_digest(rel) is not None
        why = "no such file"
    except Outside as exc:
        return out + bad(f"entry {raw} {exc.reason}: name a file inside the project")
    except NotRegular as exc:
        if exc.kind == "directory":
            return out  # as in v5: validation passes, the chain cannot be computed
        readable, why = False, exc.reason
    except UnreadableFile as exc:
        readable, why = False, exc.reason
    if not readable:
        return out + bad(f"references unreadable EXTERNAL file: {raw} ({why})")
    return out


@lru_cache(maxsize=1 << 16)  # asked twice per leaf per run: by validation and by status
def output_problem(path: str) -> str | None:
    """Why an output path is not acceptable, or None."""
    if not path:
        return "path is empty"
    # A drive letter is absolute on Windows; elsewhere a colon is an ordinary character.
    if path.startswith("/") or _DRIVE.match(path):
        return "path is absolute (use a path relative to the project root)"
    if "\\" in path:
        return "path contains backslash (use '/')"
    if any(ch in path for ch in ";\n\r"):
        return "path contains ';' or a line break, which the v5 manifest cannot record"
    rel = safe_relpath(path)
    if rel is None:
        return "path contains directory traversal out of the project root"
    parts = rel.split("/")
    if parts[0] == TREE_DIR and any(part.startswith(".") for part in parts[1:-1]):
        return f"path is inside a {TREE_DIR}/ dot directory (tool state lives there)"
    if parts[0] == TREE_DIR and (len(parts) == 1 or parts[-1].startswith(".manifest")
                                 or parts[-1] == "_node.md"):
        return "path would overwrite a spec or the manifest"
    if parts[0] == TREE_DIR and len(parts) == 2 and parts[1].startswith("."):
        return f"path is tool state directly in {TREE_DIR}/ (.cache/ and the like live there)"
    return None


def _output(info: NodeInfo, outputs: dict[str, str]) -> list[Finding]:
    problem = output_problem(info.output)
    if problem:
        return [Finding(info.name, "output_paths", f"output path is invalid: {problem}: "
                        f"{info.output!r}", info.file, info.output_line)]
    rel = safe_relpath(info.output)
    first = outputs.setdefault(rel, info.name)
    if first != info.name:
        return [Finding(info.name, "output_paths", f"output path {rel} is also the output of "
                        f"{first}; each leaf needs its own file", info.file, info.output_line)]
    return []


def dependency_edges(tree: Tree) -> dict[str, dict[str, str]]:
    """Node -> {what its chain needs: edge kind}: parent, SPEC imports, ARTIFACT producers,
    input source (EXTERNAL files are not nodes).

    Plain dicts in the order networkx would hold them: cycles and ranks run on these
    without building a graph object (a tenth of a warm run on a big tree). A node that
    names one target twice keeps the kind of the last reference, as a graph edge would.
    """
    edges = tree._memo.get("dependency_edges")
    if edges is not None:
        return edges
    nodes = tree.nodes
    edges = {}
    for name, info in nodes.items():
        out = edges.setdefault(name, {})
        parent = parent_of(name)
        if parent in nodes:
            out[parent] = "parent"
            edges.setdefault(parent, {})
        for _, _, ref in references(info.depends_on, info.input):
            if ref.prefix == SPEC:
                target = ref.base
            elif ref.prefix == ARTIFACT:
                target = spec_of(ref.base)
            else:
                continue
            if target in nodes and target != name:
                out[target] = ref.prefix
                edges.setdefault(target, {})
    tree._memo["dependency_edges"] = edges
    return edges


def cycles(tree: Tree) -> list[set[str]]:
    """Every set of nodes that need each other; computed once per tree.

    The standard library's topological sorter proves the common case (no cycle)
    without importing networkx; when it finds one, networkx names every member of
    every strongly connected component.
    """
    found = tree._memo.get("cycles")
    if found is None:
        edges = dependency_edges(tree)
        try:
            # Kept for ranks: the same sorter's order, so it runs once per tree.
            tree._memo["order"] = list(graphlib.TopologicalSorter(edges).static_order())
            found = []
        except graphlib.CycleError:
            import networkx as nx
            graph = nx.DiGraph()
            graph.add_nodes_from(edges)
            graph.add_edges_from((name, target) for name, targets in edges.items()
                                 for target in targets)
            found = [set(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
        tree._memo["cycles"] = found
    return found


def _cycles(tree: Tree) -> list[Finding]:
    out = []
    for component in cycles(tree):
        members = sorted(component)
        for name in members:
            info = tree.nodes[name]
            out.append(Finding(name, "cycle", "cycle through depends_on, input and "
                               f"inheritance: {' -> '.join(members + [members[0]])}; break it "
                               "by removing one of these references", info.file, None))
    return out
