"""Validation: every v5 format rule, collected into one report (never raised)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import ERROR, WARNING, Finding
from ..reading.files import NotRegular, Outside, UnreadableFile, safe_relpath
from ..reading.outputs import (Places, clean, external_rel, output_problem, output_rel,
                               place_problem, unwritable, v5_path_problem)
from ..reading.names import (ARTIFACT, EXTERNAL, SPEC, TREE_DIR, BadName, dotted_node_dir, is_within,
                             parse_name, spec_of)
from ..reading.tree import NO_NODES_V5, NodeInfo, Tree
from ..reading.unparsed import output_text_only
from .chain import BadReference, Resolver, UnknownPrefix, chain_reference
from .deps import deps_of


# A ';' or a control character (below U+0020): a v5 manifest line cannot record the name.
_UNRECORDABLE = re.compile("[;\x00-\x1f\ud800-\udfff]")  # (a byte no UTF-8: fsdecode)


def validate(tree: Tree, resolver: Resolver) -> list[Finding]:
    """All findings for the tree: parse problems, rule violations, cycles, warnings."""
    head, per_node, tail = validate_parts(tree, resolver)
    return [*head, *(f for found in per_node.values() for f in found), *tail]


@dataclass(frozen=True)
class Context:
    """What a node's checks need to know of the others: each leaf's output (``produced``),
    which node claimed an output path first (``outputs``, filled in node order), and
    what the checks of output places learnt of the disk so far (``places``)."""

    produced: dict[str, str]
    outputs: dict[str, str]
    root: str
    places: Places


def context(tree: Tree, outputs: dict[str, str] | None = None) -> Context:
    produced = {rel: name for name, info in tree.nodes.items()
                if info.output is not None and tree.is_leaf(name)
                and (rel := safe_relpath(info.output)) is not None}
    return Context(produced, {} if outputs is None else outputs, str(tree.root), Places())


def validate_parts(tree: Tree, resolver: Resolver) -> tuple[list[Finding],
                                                             dict[str, list[Finding]],
                                                             list[Finding]]:
    """validate's findings in three parts: the tree's, each node's (in node order),
    and the cycles'; a node's part depends on the others only through ``context``."""
    # A failed scan is reported alone, as v5 does: without nodes nothing else means anything.
    if tree.scan_error is not None:
        return [tree.scan_error], {}, []
    if not tree.nodes:
        return [Finding("", "scan", f"no nodes found: add {TREE_DIR}/NAME/_node.md starting "
                        "with '# SPEC/NAME' (cfs init writes an example)", TREE_DIR, None,
                        ERROR, NO_NODES_V5)], {}, []
    shared = context(tree)
    per_node = {name: node_findings(tree, resolver, info, shared)
                for name, info in tree.nodes.items()}
    return list(tree.findings), per_node, _cycles(tree) + _unranked(tree)


def parts_rows(parts) -> tuple:
    """validate_parts's answer as plain tuples (marshal-able); parts_of_rows undoes it."""
    head, per_node, tail = parts
    rows = lambda found: [f.row() for f in found]
    return rows(head), {name: rows(found) for name, found in per_node.items()}, rows(tail)


def parts_of_rows(rows: tuple) -> tuple[list[Finding], dict[str, list[Finding]], list[Finding]]:
    head, per_node, tail = rows
    found = lambda items: [Finding(*row) for row in items]
    return found(head), {name: found(items) for name, items in per_node.items()}, found(tail)


def node_findings(tree: Tree, resolver: Resolver, info: NodeInfo,
                  shared: Context) -> list[Finding]:
    """One node's findings (its own, its references', its output's)."""
    name = info.name
    findings: list[Finding] = list(info.findings)
    if _UNRECORDABLE.search(name):
        # A warning: v5 reports nothing here (and computes the status as for any node);
        # cfs never writes such a name into the manifest (ManifestEntry.check), where v5
        # writes a line that reads back as another name.
        findings.append(Finding(name, "node_name", "the directory name holds ';', a "
                                "control character or a byte that is not UTF-8: cfs will "
                                "not build or accept a node its manifest cannot record "
                                "(';', a line break, such a byte); rename the directory",
                                info.file, None, WARNING))
    if not info.readable:
        return findings
    leaf = tree.is_leaf(name)
    if not leaf:
        findings.extend(_leaf_only(info))
    elif info.has_agent and info.output is None:
        findings.append(Finding(name, "agent_without_output", "this leaf has a # Agent "
                                "section but no output, so nothing is ever generated from "
                                "it; add 'output: PATH' to its frontmatter", info.file,
                                info.agent_line, WARNING))
    # Targets are checked on every node: only a non-leaf can name a descendant, and
    # moving such an entry to a leaf would not make a wrong target right.
    for raw, line in zip(info.depends_on, info.dep_lines):
        findings.extend(_reference(tree, resolver, info, raw, line, "depends_on",
                                   "dependency_targets"))
    if info.input is not None:
        findings.extend(_reference(tree, resolver, info, info.input, info.input_line,
                                   "input", "input_target"))
    findings.extend(_variants(info))
    findings.extend(_external_outputs(info, shared.produced))
    if info.output is not None:
        findings.extend(_output(info, shared.outputs, shared.root, shared.places, leaf))
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
        rel = safe_relpath(raw[len("EXTERNAL/"):])
        owner = produced.get(rel) if rel is not None else None
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
                               ("output", info.output is not None or info.output_refused,
                                info.output_line or _output_line(info))):
        if present:
            out.append(Finding(info.name, "leaf_only_fields", f"{key} is only permitted on leaf "
                               "nodes; move it to a leaf below this node", info.file, line))
    if info.has_agent:
        out.append(Finding(info.name, "leaf_only_agent", "# Agent section is only permitted on "
                           "leaf nodes; move it to a leaf below this node", info.file,
                           info.agent_line))
    return out


def _output_line(info: NodeInfo) -> int | None:
    """The line of an output cfs refused (X4): its finding's."""
    return next((f.line for f in info.findings if output_text_only(f)), None)


def _dotted_hint(node: str) -> str:
    """What a reference to a node in a dot directory does all the same (names.dotted_node_dir)."""
    rel = dotted_node_dir(node)
    if rel is None:
        return ""
    return (f" ({TREE_DIR}/{rel}/ lies in a dot directory, which is no part of the tree; "
            "v5 reads that node into the chain all the same, and so does cfs: move it into "
            "the tree)")


def _first(lines: tuple[int, ...]) -> int | None:
    return lines[0] if lines else None


def _reference(tree: Tree, resolver: Resolver, info: NodeInfo, raw: str, line, key: str,
               rule: str) -> list[Finding]:
    def bad(detail: str, severity: str = ERROR, warning: str = "reference") -> list[Finding]:
        # v5's words name the entry itself: a report cannot tell it back from the detail
        # when a flow list puts several entries on one line.
        words = f"{key} {v5_reference_words(tree, info.name, raw, key)}" \
            if severity == ERROR else None
        return [Finding(info.name, rule if severity == ERROR else warning,
                        f"{key} {detail}", info.file, line, severity, words)]

    try:
        name = parse_name(raw)
    except BadName as exc:
        return bad(f"entry cannot be used: {exc}")
    out: list[Finding] = []
    if name.trailing.strip(" \t") and name.prefix == SPEC:
        out += bad(f"entry {raw!r} has text after ')' that is ignored", WARNING)
    me = info.name
    if name.prefix == SPEC:
        target = name.base
        if target == me:
            if key == "input":
                return out  # the chain would need itself: a cycle (see _cycles)
            return out + bad(f"must not reference the node itself: {raw}")
        if target not in tree.nodes:
            return out + bad(f"references unknown SPEC node: {raw}{_dotted_hint(target)}")
        # An input may come from anywhere in the tree; one from below is a cycle.
        if key == "depends_on" and is_within(me, target):
            return out + bad(f"must not reference an ancestor (its Public is already "
                             f"inherited): {raw}")
        if key == "depends_on" and is_within(target, me):
            return out + bad(f"must not reference a descendant: {raw}")
        other = tree.nodes[target]
        if name.qualifier is not None and other.readable \
                and not other.has_subsection(name.norm_qualifier):
            out += bad(f"{raw}: {target} has no '## {name.qualifier.strip()}' in its # Public; "
                       "this import delivers nothing", WARNING)
        return out
    if name.prefix == ARTIFACT:
        node = spec_of(name.base)
        other = tree.nodes.get(node)
        if raw != name.base:
            # v5 knows no artifact by this text, yet its chain reads ARTIFACT/p.
            return out + bad(f"references unknown ARTIFACT: {raw} (an ARTIFACT/ name takes no "
                             f"qualifier; write {name.base})")
        if node == me:
            return out  # the artifact is made from this very chain: a cycle
        if other is not None and other.broken:
            return out  # its own findings say why its output is not known
        if other is None and dotted_node_dir(node) is not None:
            return out + bad(f"references unknown ARTIFACT: {raw}{_dotted_hint(node)}")
        if other is None or other.output is None:
            return out + bad(f"references unknown ARTIFACT: {raw} (no node {node} with an "
                             "output)")
        return out
    if name.qualifier is not None:
        out += bad(f"{raw}: v5 reads the file {name.path!r} (the text before '('), labelled "
                   f"{name.label}; rename the file if its name has parentheses", WARNING,
                   "qualifier_dropped")
    # v5 checks the text as written, qualifier and all; the chain reads name.path.
    written = raw[len(EXTERNAL) + 1:]
    rel = external_rel(written)
    if rel is None:
        if clean(written) == ".":
            return out  # the project directory: v5 opens it (its chain cannot read it)
        if "\0" in written:
            return out + bad(f"references an EXTERNAL path holding a NUL character (\\x00), "
                             f"which no file name can have: {raw}; remove the character")
        if safe_relpath(written) is None:
            return out + bad(f"references an EXTERNAL path outside the project: {raw}")
        return out + bad(f"references an EXTERNAL path v5 cannot read "
                         f"({v5_path_problem(written)}): {raw}")
    try:
        problem = _open_problem(resolver, rel)
    except Outside as exc:
        return out + bad(f"entry {raw} {exc.reason}: name a file inside the project")
    if problem is not None:
        return out + bad(f"references unreadable EXTERNAL file: {raw} ({problem})")
    return out


def v5_reference_words(tree: Tree, node: str, raw: str, key: str) -> str:
    """v5's detail for a depends_on or input entry it reports, after the key's name."""
    if raw.startswith(EXTERNAL + "/"):
        # v5 never parses an EXTERNAL/ name: it opens what follows the prefix, even nothing.
        return f"references unreadable EXTERNAL file: {raw}"
    if raw.startswith(ARTIFACT + "/"):
        # v5 looks an ARTIFACT/ name up by its whole text, never parses it (FORMAT.md 10.1).
        return f"references unknown ARTIFACT: {raw}"
    try:
        name = chain_reference(raw)
    except BadReference as exc:
        unrecognized = isinstance(exc, UnknownPrefix)
        if key == "input":
            return "must start with SPEC/, ARTIFACT/, or EXTERNAL/" if unrecognized \
                else f"entry cannot be parsed: {raw}"
        return ("entry has unrecognized prefix: " if unrecognized
                else "entry cannot be parsed: ") + raw
    if name.prefix == SPEC:
        target = name.base
        if target == node:
            return f"must not reference the node itself: {raw}"
        if target not in tree.nodes:
            return f"references unknown SPEC node: {raw}"
        if is_within(node, target):
            return f"must not reference an ancestor: {raw}"
        if is_within(target, node):
            return f"must not reference a descendant: {raw}"
        return f"references unknown SPEC node: {raw}"
    return f"references unreadable EXTERNAL file: {raw}"


def _open_problem(resolver: Resolver, rel: str) -> str | None:
    """Why the project file ``rel`` cannot be opened for reading, or None when it can,
    as v5 asks: a directory can, so can a file that is not UTF-8 (its chain is another
    matter). Raises Outside for a link out of the project: that is never opened."""
    try:
        if resolver.file_digest(rel) is not None:
            return None
        return "no such file"
    except Outside:
        raise
    except NotRegular as exc:
        # v5 opens a directory fine; on a FIFO it would wait for a writer forever.
        return None if exc.kind == "directory" else exc.reason
    except UnreadableFile:
        pass
    try:
        os.close(os.open(f"{resolver.root}/{rel}", os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        return exc.strerror or "it cannot be opened"
    return None


def _variants(info: NodeInfo) -> list[Finding]:
    """Warn about imports of one subsection spelled two ways: v5 keeps both positions."""
    out = []
    spelled: dict[tuple[str, str], list[str]] = {}
    names = []
    for raw, line in zip(info.depends_on, info.dep_lines):
        try:
            names.append((raw, line, parse_name(raw)))
        except BadName:
            continue
    whole = {name.base for _, _, name in names if name.qualifier is None}
    for raw, line, name in names:
        if name.prefix != SPEC or name.qualifier is None or name.base in whole:
            continue  # an unqualified import delivers the whole node once
        spellings = spelled.setdefault((name.base, name.norm_qualifier), [])
        if name.qualifier in spellings:
            continue  # a plain duplicate: one position
        spellings.append(name.qualifier)
        if len(spellings) > 1:
            first = spellings[0]
            out.append(Finding(info.name, "qualifier_variants", f"depends_on {raw}: "
                               f"{name.base}({first}) names the same subsection; v5 imports "
                               "it twice, once per spelling (two positions, same text); keep "
                               "one spelling", info.file, line, WARNING))
    return out


UNWRITABLE = "unwritable_output"  # cfs's rule: no file can be at the output (not v5's)


def _output(info: NodeInfo, outputs: dict[str, str], root: str,
            places: Places, leaf: bool) -> list[Finding]:
    """v5's path rules, the outputs cfs never touches (FORMAT.md 12, X8), and two leaves
    writing one file (X4)."""
    problem = output_problem(info.output)
    rel = output_rel(info.output)
    # Past v5's rules (a NUL in a climbing or absolute path is refused as that), v5 takes
    # a path no file can have, reports the artifact missing and fails to write it; cfs
    # never writes it either, and says why before anything is built.
    why = unwritable(root, rel) if problem is None else None
    if why is not None:
        return [Finding(info.name, UNWRITABLE, f"output path {info.output!r} {why}: the "
                        "artifact can never be written; change the output",
                        info.file, info.output_line)]
    if problem is None:
        problem = place_problem(root, rel, places)
    if problem:
        return [Finding(info.name, "output_paths", f"output path is invalid: {problem} "
                        f"({info.output!r}); give a project-relative path of a regular file "
                        "outside code-from-spec/, .git/ and .cfs/", info.file,
                        info.output_line)]
    if not leaf:
        # Already leaf_only_fields, and cfs never makes it: no leaf shares a file with it.
        return []
    first = outputs.setdefault(rel, info.name)
    if first != info.name:
        return [Finding(info.name, "output_paths", f"output path {rel} is also the output of "
                        f"{first}; each leaf needs its own file", info.file, info.output_line)]
    return []


def _cycles(tree: Tree) -> list[Finding]:
    out = []
    for component in deps_of(tree).cycles:
        members = sorted(component)
        for name in members:
            info = tree.nodes[name]
            if len(members) == 1:
                detail = (f"the chain of {name} needs {name} itself (its own ARTIFACT/ or "
                          "itself as input); remove that reference")
            else:
                detail = (f"cycle through depends_on, input and inheritance: "
                          f"{' -> '.join(members + [members[0]])}; break it by removing one "
                          "of these references")
            out.append(Finding(name, "cycle", detail, info.file, None))
    # What needs a cycle is reported too, as v5 lists it under Cycles (FORMAT.md 10.3):
    # its place in the build order depends on the cycle's.
    for name, member in deps_of(tree).behind_cycles.items():
        out.append(Finding(name, "cycle", f"{name} needs {member}, which is on a cycle, so "
                           "it has no place in the build order either; break that cycle",
                           tree.nodes[name].file, None))
    return out


def _unranked(tree: Tree) -> list[Finding]:
    """References v5 cannot rank (Deps.unranked): it then reports the first one alone as
    `ranking`, with no node, and ranks nothing (FORMAT.md 10.2)."""
    out = []
    for ref in deps_of(tree).unranked:
        if not tree.nodes[ref.target].readable:
            continue  # v5 knows no such node: its own findings say why (X4)
        info = tree.nodes[ref.node]
        line = info.input_line if ref.via == "input" else \
            info.dep_lines[info.depends_on.index(ref.raw)]
        folder = f"{TREE_DIR}/{ref.target[len(SPEC) + 1:]}/"
        out.append(Finding("", "ranking", f"{ref.node}: {ref.via} {ref.raw}: v5 ranks a SPEC/ "
                           f"name by its text before the first '(', {ref.ranked_target}, which "
                           f"is no node, so it ranks no node and reports this reference; rename "
                           f"{folder} so its name has no '('", info.file, line, ERROR,
                           f"unresolvable reference: {ref.raw}"))
    return out
