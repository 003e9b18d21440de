"""The v5 `validate_specs` report text (FORMAT.md 10.3, MCP.md), rendered from cfs's findings
and statuses in v5's words."""
from __future__ import annotations

from ..errors import ERROR, Finding
from ..reading.names import ARTIFACT, byte_order
from ..reading.outputs import output_rel, v5_path_problem
from ..reading.unparsed import PARSE_RULES, go_quote
from .project import Project
from .status import INVALID, MISSING, MODIFIED, STALE, ArtifactStatus

VALID = "All specs are valid.\n"
# Per node, after its parse error: v5's order of the tree rules.
RULE_ORDER = ("name_heading", "leaf_only_fields", "leaf_only_agent", "dependency_targets",
              "input_target", "output_paths", "public_subsection_required",
              "duplicate_subsections")
_LEAD = ("resolving chain: ", "computing chain hash: ")


def render_report(project: Project) -> str:
    """`Format errors:`, `Cycles:` and `Staleness:` blocks, or `All specs are valid.`."""
    errors, v5_errors = format_errors(project)
    cycles = sorted({f.node for f in project.findings if f.rule == "cycle"}, key=byte_order)
    report = project.report()
    rows = staleness_rows(project, report.artifacts, report.orphans, ranked=not v5_errors)
    out = []
    if errors:
        out.append("Format errors:\n" + "".join(f"  {line}\n" for line in errors))
    if cycles:
        out.append("Cycles:\n" + "".join(f"  {name}\n" for name in cycles))
    if rows:
        out.append("Staleness:\n" + "".join(f"  {_row_text(row)}\n" for row in rows))
    return "".join(out) or VALID


def _row_text(row: tuple) -> str:
    word, node, path, rank, detail = row
    return f"[{word}] {node} ({path}) rank={rank}" + (f": {detail}" if detail else "")


def format_error_lines(project: Project) -> list[str]:
    """`[NODE] RULE: DETAIL` lines in v5's order (v5 stops at a node's first parse error)."""
    return format_errors(project)[0]


def format_errors(project: Project) -> tuple[list[str], bool]:
    """The lines, and whether v5 finds a format error too: what cfs alone reports (X4,
    X8: two leaves with one output, an output cfs never touches, an output v5 takes as
    text) leaves v5 ranking the tree, so its ranks and its ranking line stand."""
    failed = project.scan_failure
    if failed is not None:
        return [f"[] scan: {failed.v5 or failed.detail}"], True  # reported alone, NODE empty
    if not any(f.severity == ERROR or f.rule in PARSE_RULES or f.rule == "missing_node_md"
               for f in project.findings):
        # Every line below comes from such a finding (a node's own findings are among
        # them): none, no line, and no need to read the tree a snapshot stands in for.
        return [], False
    tree, resolver = project.tree, project.resolver
    by_node: dict[str, list[Finding]] = {}
    for finding in project.findings:
        if finding.severity == ERROR:
            by_node.setdefault(finding.node, []).append(finding)
    lines = []
    unparsed = set()
    for node in sorted(tree.nodes, key=byte_order):
        problem = resolver.parse_failure(node)
        if problem is not None:
            if not tree.nodes[node].readable:
                unparsed.add(node)  # else v5 parses it: its tree rules stand (X4)
            lines.append(f"[{node}] parse: {problem}")
    v5_errors = bool(unparsed)
    for node in sorted(tree.nodes, key=byte_order):
        if node in unparsed:
            continue
        found = by_node.get(node, [])
        for rule in RULE_ORDER:
            for finding in found:
                if finding.rule == rule:
                    lines.append(f"[{node}] {rule}: {v5_detail(project, finding)}")
                    v5_errors = v5_errors or rule != "output_paths" \
                        or v5_path_problem(tree.nodes[node].output or "") is not None
    for finding in sorted((f for f in project.findings if f.rule == "missing_node_md"),
                          key=lambda f: byte_order(f.file or "")):
        lines.append(f"[{finding.file}] missing_node_md: subdirectory has no _node.md")
        v5_errors = True
    if not v5_errors:
        # v5 ranks only a tree without format errors, and stops at the first reference
        # it cannot resolve (validate._unranked).
        ranking = [f"[] ranking: {f.v5}" for f in project.findings if f.rule == "ranking"][:1]
        lines += ranking
        v5_errors = bool(ranking)
    return lines, v5_errors


def v5_detail(project: Project, finding: Finding) -> str:
    """v5's words for one tree-rule finding (cfs's own detail adds what to do)."""
    rule, detail = finding.rule, finding.detail
    if rule in ("leaf_only_fields", "leaf_only_agent"):
        return detail.split(";")[0]
    if rule == "public_subsection_required":
        return "content in # Public must be under a ## subsection"
    if rule == "output_paths":
        return detail.split(" (")[0] if detail.startswith("output path is invalid") else detail
    if rule in ("dependency_targets", "input_target"):
        return _reference_detail(project, finding)
    return detail


def _reference_detail(project: Project, finding: Finding) -> str:
    if finding.v5:  # v5's words, made with the finding from the entry itself
        return finding.v5
    key = "depends_on" if finding.rule == "dependency_targets" else "input"
    return f"{key} {finding.detail.removeprefix(key + ' ')}"


def bare_failure(failure: str) -> str:
    """A chain failure without load_chain's lead: the words validation and write_file use."""
    for lead in _LEAD:
        failure = failure.removeprefix(lead)
    return failure


def staleness_rows(project: Project, statuses, orphans, *, ranked: bool) -> list[tuple]:
    """(word, node, path, rank, detail) per artifact that is not up to date, v5's order."""
    rows = []
    for status in statuses:
        row = _row(project, status)
        if row is not None:
            word, detail = row
            rank = (status.rank or 0) if ranked else 0
            rows.append((word, status.node, status.path, rank, detail))
    for orphan in orphans:
        # v5 looks for orphans among the ARTIFACT/ entries only: a line naming anything
        # else is read and kept, never reported (cfs's own status still lists it).
        if orphan.name.startswith(ARTIFACT + "/"):
            rows.append(("orphan", orphan.name, orphan.path, 0,
                         "manifest entry has no corresponding spec node"))
    rows.sort(key=lambda row: (row[3], byte_order(row[1])))
    return rows


def _row(project: Project, status: ArtifactStatus) -> tuple[str, str] | None:
    """v5's word and detail, in its order of checks (FORMAT.md 7.4)."""
    if status.chain is None:
        return MISSING, bare_failure(project.resolver.chain(status.node).failure or "")
    if status.recorded_chain is None:
        return MISSING, "no manifest entry"
    if status.recorded_chain != status.chain:
        return STALE, (f"manifest chain hash {status.recorded_chain} does not match expected "
                       f"hash {status.chain}")
    if INVALID in status.flags:
        return None  # X8: cfs never opens the file, so it has nothing more to say
    if MISSING in status.flags:
        # v5 joins the root and the output, which cleans the path it then names.
        where = output_rel(status.path) or status.path
        return MISSING, (f"cannot open file {go_quote(f'{project.root}/{where}')} for reading: "
                         "file unreadable")
    if MODIFIED in status.flags:
        return MODIFIED, "file checksum does not match manifest checksum"
    return None
