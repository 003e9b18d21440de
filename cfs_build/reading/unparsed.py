"""Nodes the v5 tool cannot parse, and the error text it gives for each (FORMAT.md 4, 9.4)."""
from __future__ import annotations

import ast
import re

from ..errors import Finding
from .names import TREE_DIR, normalize

# The findings v5 reports as a parse error: the first one makes the node unusable
# (no chain through it, no artifact of its own). cfs reports every one of them (X4).
PARSE_RULES = frozenset({
    "qualified_node_name", "unreadable", "encoding", "malformed_frontmatter",
    "text_before_name_heading", "name_heading", "duplicate_section", "unrecognized_section",
    "duplicate_subsections"})

_BEFORE = "unexpected content before first heading"
_QUOTED = re.compile(r"""(['"])(?:\\.|(?!\1).)*\1""")


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """``text`` quoted as Go's %q writes it (v5's messages quote names and headings so)."""
    out = ['"']
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # a byte that is no UTF-8 (surrogateescape)
            out.append(f"\\x{ord(ch) - 0xdc00:02x}")
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def name_problem(name: str) -> str | None:
    """v5's parse error for a `SPEC/` name no node file can have, whatever the file holds:
    an invalid name (FORMAT.md 2, checked on the name without its qualifier) or a
    qualifier (a directory named `api(v2)` is `SPEC/api` with the qualifier `v2` to v5)."""
    close = name.find(")", name.find("(")) if "(" in name else -1
    base = name[:name.index("(")] if close >= 0 else name
    if base.endswith("/"):  # `SPEC/` itself included
        return f"not a SPEC/ reference: invalid name: {go_quote(name)}"
    return "logical name has qualifier" if close >= 0 else None


# cfs's words for an output that is no string (frontmatter.py); v5's YAML takes a number,
# a boolean or a date as its text, and only a list or a mapping is an error to it.
NOT_A_PATH = "output must be one relative path, not "
_V5_REFUSES = tuple(NOT_A_PATH + kind for kind in ("list", "dict", "set"))


def output_text_only(finding: Finding) -> bool:
    """A malformed output v5 reads as text (X4): to v5 the node parses, so everything else
    it declares (fields, sections, its # Public for others) stands."""
    return finding.rule == "malformed_frontmatter" and finding.detail.startswith(NOT_A_PATH) \
        and not finding.detail.startswith(_V5_REFUSES)


def parse_finding(findings: tuple[Finding, ...]) -> Finding | None:
    """The finding that makes the node unusable: the one v5 would stop at, or else an
    output v5 takes as text and cfs refuses (X4: the node has no chain or status of its
    own, though what others read of it stands, see output_text_only); None when the node
    parses. v5 names a real parse error further down, not that output."""
    if not findings:
        return None
    text_only = None
    for finding in findings:
        if finding.rule in PARSE_RULES:
            if not output_text_only(finding):
                return finding
            text_only = text_only or finding
    return text_only


def unreadable_text(root, name: str, path: str | None = None) -> str:
    """v5's words for a node directory without a readable _node.md (``path``: the one v5
    opened, project-relative, when it is not the name's own)."""
    if path is None:
        path = f"{TREE_DIR}/{name[len('SPEC/'):]}/_node.md"
    return (f"file unreadable: cannot open file {go_quote(f'{root}/{path}')} for reading: "
            "file unreadable")


def name_heading_text(finding: Finding) -> str | None:
    """The normalized text of the name heading a `name_heading` finding names (None: the
    node has none)."""
    return _first_quoted(finding.detail)


def parse_error_text(root, name: str, finding: Finding) -> str:
    """v5's parse error for a node (the text after `parsing target node: `).

    From cfs's own finding: the frontmatter and section messages are v5's words; a YAML
    error is v5's text where the parser could tell it (yaml_errors), else v5's first words
    (`malformed YAML`) and the cfs detail.
    """
    if finding.v5:  # the parser knew v5's exact words (a YAML error: yaml_errors)
        return finding.v5
    rule, detail = finding.rule, finding.detail
    if rule == "unreadable":
        return unreadable_text(root, name)
    if rule in ("encoding", "text_before_name_heading"):
        return _BEFORE
    if rule == "malformed_frontmatter":
        if "never closed" in detail:
            return "malformed YAML"
        return "malformed YAML: " + detail.removeprefix("YAML error: ")
    # The first quoted text of these details is the heading's normalized text (node.py),
    # which v5 quotes as it is: a '#' starting it is text, not an opening sequence.
    quoted = _first_quoted(detail)
    if rule == "name_heading":
        if quoted is None:
            return _BEFORE
        return f"node name does not match: got {go_quote(quoted)}, want {go_quote(normalize(name))}"
    if rule == "duplicate_section":
        return detail.split(":", 1)[0]  # "duplicate # Public section", from the key
    if rule == "unrecognized_section":
        return f"unrecognized section: {go_quote(quoted or '')}"
    if rule == "duplicate_subsections":
        return f"duplicate subsection: {go_quote(quoted or '')}"
    return detail


def _first_quoted(detail: str) -> str | None:
    match = _QUOTED.search(detail)
    if match is None:
        return None
    try:
        return ast.literal_eval(match.group(0))
    except (ValueError, SyntaxError):
        return match.group(0)[1:-1]
