"""How a body's structural headings become sections and blocks (FORMAT.md 4.4, 4.5, 5),
checked against a plain restatement of the v5 tool's rules on arbitrary bodies.

The structural headings themselves (which lines, their raw text, where content starts)
are taken from headings.py: tests/reading/test_parser_differential.py and the vectors
pin those. What is checked here is everything v5 does with them: the first parse error
and its words, the public blocks and their keys, the agent text, # Public's loose text."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfs_build.reading.files import normalize_text
from cfs_build.reading.headings import structural_headings
from cfs_build.reading.node import parse_node
from cfs_build.reading.unparsed import go_quote, parse_error_text, parse_finding

NAME = "SPEC/x"
# Go's strings.TrimSpace: Unicode White_Space.
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
             "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class _Refused(Exception):
    pass


def _fold(text: str) -> str:
    text = re.sub("[ \t]+", " ", text.strip(" \t"))
    return text.casefold()


def _block(lines: list[str]) -> str:
    kept = [i for i, line in enumerate(lines) if line.strip(" \t")]
    return "\n".join(lines[kept[0]:kept[-1] + 1]) + "\n" if kept else ""


def _render(sub: dict) -> str:
    return sub["raw"] + "\n" + _block(sub["lines"])


def v5_reading(body: str) -> dict:
    """What v5 makes of a body: its parse error, or the texts it delivers."""
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()
    heads = structural_headings(body, lines)
    lead = lines[:heads[0].index] if heads else lines
    try:
        if any(line.strip(" \t\r") for line in lead):
            raise _Refused("unexpected content before first heading")
        sections: dict[str, dict] = {}
        current = None
        for position, head in enumerate(heads):
            end = heads[position + 1].index if position + 1 < len(heads) else len(lines)
            record = {"key": _fold(head.text), "raw": head.raw, "lines": lines[head.body:end],
                      "subs": []}
            if head.level == 2:
                if current is None:
                    raise _Refused("unexpected content before first heading")
                if any(sub["key"] == record["key"] for sub in current["subs"]):
                    raise _Refused(f"duplicate subsection: {go_quote(record['key'])}")
                current["subs"].append(record)
            elif current is None:
                if record["key"] != _fold(NAME):
                    raise _Refused(f"node name does not match: got {go_quote(record['key'])}"
                                   f", want {go_quote(_fold(NAME))}")
                current = record
            elif record["key"] not in ("public", "agent", "private"):
                raise _Refused(f"unrecognized section: {go_quote(record['key'])}")
            elif record["key"] in sections:
                raise _Refused(f"duplicate # {record['key'].capitalize()} section")
            else:
                current = sections[record["key"]] = record
        if current is None:
            raise _Refused("unexpected content before first heading")
    except _Refused as refused:
        return {"error": str(refused)}
    public, agent = sections.get("public"), sections.get("agent")
    agent_text = ""
    if agent:
        agent_text = _block(agent["lines"])
        for sub in agent["subs"]:
            agent_text += ("\n" if agent_text else "") + _render(sub)
    return {"error": None,
            "public": "\n".join(_render(sub) for sub in public["subs"]) if public else "",
            "subs": [(sub["key"], _render(sub)) for sub in public["subs"]] if public else [],
            "has_agent": agent is not None, "agent": agent_text,
            "loose": bool(public) and any(line.strip(_GO_SPACE) for line in public["lines"])}


def cfs_reading(body: str) -> dict:
    # (behind a frontmatter: a body of its own may start with '---')
    doc = parse_node(NAME, "code-from-spec/x/_node.md", "---\noutput: o\n---\n" + body)
    first = parse_finding(doc.findings)
    if first is not None:
        return {"error": parse_error_text("/p", NAME, first)}
    return {"error": None, "public": doc.public_text,
            "subs": [(sub.key, sub.text) for sub in doc.public],
            "has_agent": doc.has_agent, "agent": doc.agent,
            "loose": any(f.rule == "public_subsection_required" for f in doc.findings)}


_LINES = st.sampled_from([
    "# SPEC/x", "#  spec/X  #", "# SPEC/x\u00a0", "# Public", "#  PUBLIC\t", "# public #",
    "# Public\u00a0", "# Agent", "# AGENT ", "# Private", "# Other", "## A", "##  a ", "## A ##",
    "## A\t", "## B", "## ß", "## SS", "## *x*", "### A", "### Public", "text", "  text  ",
    "x\t", "", "", "", "   ", "\t", " \t ", "\u00a0", "\u2003", "\u200b", "\x0c", "\x1c", "y\r", "\r",
    "Setext", "Line two", "===", "---", "```", "    code", "> quote", "- item", "<div>", "#",
    "## #", "Agent", "Public"])
_ENDS = st.sampled_from(["\n", "", "\n\n", "\n \t\n", "\n\u00a0\n", "\r\n"])


@st.composite
def _bodies(draw) -> str:
    lines = draw(st.lists(_LINES, max_size=14))
    if draw(st.booleans()):
        lines.insert(0, "# SPEC/x")
    return normalize_text("\n".join(lines) + draw(_ENDS))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bodies())
# A # Public holding only level-3 headings; a block of blank lines only; the name section
# with subsections of its own; trailing blank lines of spaces, tabs and no-break spaces.
@example("# SPEC/x\n## A\n## B\n# Public\n### A\n### B\n# Agent\n \t\n\n")
@example("# SPEC/x\n# Public\n## A\n\u00a0\ntext\n\u00a0\n \t\n## b\n\t\n# Agent\n## A\n")
# Two name headings; a subsection repeated under another spelling; sections repeated so.
@example("# SPEC/x\n# Public\n## A\n# SPEC/x\n")
@example("# SPEC/x\n# Public\n## A  b\n##\tA B ##\n")
@example("# SPEC/x\n# Agent\n#  AGENT \n")
# Agent text and subsections; # Public's loose text only a character Python calls space.
@example("# SPEC/x\n# Agent\n\ndo it\n\n## S\nt\n## T\n# Private\n## S\n")
@example("# SPEC/x\n# Public\n\x1c\n## A\n")
def test_sections_and_blocks_as_v5_makes_them(body):
    assert cfs_reading(body) == v5_reading(body)
