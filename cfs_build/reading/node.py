"""Parsing one _node.md: its frontmatter (frontmatter.py), the CommonMark section
structure, and its blocks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from ..errors import ERROR, WARNING, Finding, printable
from .frontmatter import Report, read_frontmatter
from .headings import Heading, structural_headings
from .names import normalize
from .unparsed import PARSE_RULES, name_problem, output_text_only

PUBLIC, AGENT, PRIVATE = "public", "agent", "private"
SECTIONS = (PUBLIC, AGENT, PRIVATE)

# Parse errors: v5 cannot use a node with one of these (no chain through it, no status
# of its own, FORMAT.md 4.5). One list with the one v5's texts are chosen from.
BREAKING_RULES = PARSE_RULES

# Unicode White_Space, as Go's strings.TrimSpace knows it: "blank" for the rule that
# # Public holds nothing outside its subsections (str.isspace would also take
# U+001C..U+001F).
_WHITE_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class Subsection(NamedTuple):  # a tuple: several are made for every file parsed
    """One ``##`` block: its normalized key, raw heading line and rendered text."""

    key: str
    raw: str
    text: str
    line: int


@dataclass(frozen=True)
class Declared:
    """What a node's frontmatter and headings declare, with file line numbers: the part
    the parse (NodeDoc) and what the tree keeps of it (tree.NodeInfo) share. Both add
    ``findings``."""

    name: str
    file: str
    depends_on: tuple[str, ...] = ()
    dep_lines: tuple[int, ...] = ()
    input: str | None = None
    input_line: int | None = None
    output: str | None = None
    output_line: int | None = None
    has_agent: bool = False
    agent_line: int | None = None

    @property
    def broken(self) -> bool:
        # Asked several times per node per run; most nodes have no findings at all.
        return bool(self.findings) and any(f.rule in BREAKING_RULES for f in self.findings)

    @property
    def readable(self) -> bool:
        """Parsed as v5 parses it: nothing broken but an output v5 takes as text (X4).
        Its fields and sections stand; only the output is not known."""
        return not self.broken or all(f.rule not in BREAKING_RULES or output_text_only(f)
                                      for f in self.findings)

    @property
    def output_refused(self) -> bool:
        """Its output is one v5 reads as text and cfs refuses as no string (X4)."""
        return bool(self.findings) and any(output_text_only(f) for f in self.findings)


@dataclass(frozen=True)
class NodeDoc(Declared):
    """Everything one _node.md says, with file line numbers for reporting."""

    public: tuple[Subsection, ...] = ()
    agent: str = ""
    findings: tuple[Finding, ...] = field(default=())
    intent: str = ""

    @property
    def public_text(self) -> str:
        return "\n".join(sub.text for sub in self.public)

    def subsection(self, qualifier: str) -> Subsection | None:
        key = normalize(qualifier)
        for sub in self.public:
            if sub.key == key:
                return sub
        return None


_DOC_FIELDS = tuple(f.name for f in fields(NodeDoc))  # (in the order _with_fields fills)
# A line meant to close the frontmatter, with spaces or tabs after it: v5 does not take it.
_SPACED_CLOSER = re.compile("^---[ \t]+$", re.MULTILINE)


def is_blank(line: str) -> bool:
    return not line.strip(" \t")


def extract(lines: list[str]) -> str:
    """Drop blank lines at both ends; keep the middle byte for byte; end with one LF."""
    start, end = 0, len(lines)
    # (is_blank, written out: called for every block of every file parsed)
    while start < end and not lines[start].strip(" \t"):
        start += 1
    while end > start and not lines[end - 1].strip(" \t"):
        end -= 1
    if start == end:
        return ""
    return "\n".join(lines[start:end]) + "\n"


def parse_node(name: str, file: str, text: str) -> NodeDoc:
    """Parse normalized text of ``file`` (the node ``name``); problems become findings."""
    report = Report(name, file)
    problem = name_problem(name)
    if problem is not None:
        # v5 reads the name before the file: nothing in it is ever looked at.
        return NodeDoc(name, file, findings=(Finding(
            name, "qualified_node_name", f"the directory path holds '(' and then ')', so "
            f"v5 reads {printable(name)!r} as a name with a qualifier and cannot use this "
            "node (nor any node below it); rename the directory without parentheses",
            file, None, ERROR, problem),))
    if text.startswith("\ufeff"):
        report.add("encoding", "file starts with a UTF-8 byte order mark; save it as UTF-8 "
                   "without BOM", 1)
        text = text[1:]
    fields: dict = {}
    body, body_line = text, 1
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        spaced = _SPACED_CLOSER.search(text, 3, len(text) if end < 0 else end + 1)
        spaced_line = spaced and text.count("\n", 0, spaced.start()) + 1
        if end < 0:
            hint = f"; line {spaced_line} has spaces after its '---': remove them" \
                if spaced else "; add a line '---' after it"
            report.add("malformed_frontmatter", "frontmatter opened with '---' on line 1 is "
                       "never closed" + hint, 1)
            return NodeDoc(name, file, findings=tuple(report.items))
        if spaced and spaced.start() > 4:  # (on line 2 it opens the only document)
            closing_line = text.count("\n", 0, end) + 2
            report.add("frontmatter_closer", "'---' with spaces after it does not close the "
                       "frontmatter: it starts a second YAML document, which is ignored, and "
                       f"the frontmatter runs on to the '---' on line {closing_line}; remove "
                       "the spaces", spaced_line, WARNING)
        fields = read_frontmatter(text[4:end + 1], report)
        body = text[end + 5:]
        body_line = text.count("\n", 0, end + 5) + 1
    return _body(name, file, body, body_line, report, fields)


def _with_fields(name: str, file: str, found: dict, report: Report, has_agent: bool = False,
                 agent_line: int | None = None, public: tuple[Subsection, ...] = (),
                 agent: str = "", intent: str = "") -> NodeDoc:
    """The NodeDoc, made once, its fields filled in directly as unpickling does: the
    frozen __init__ sets 14 fields one object.__setattr__ at a time, for every file."""
    deps, dep_lines = found.get("depends_on", ((), ()))
    inp, inp_line = found.get("input", (None, None))
    out, out_line = found.get("output", (None, None))
    doc = object.__new__(NodeDoc)
    doc.__dict__.update(zip(_DOC_FIELDS, (
        name, file, deps, dep_lines, inp, inp_line, out, out_line, has_agent, agent_line,
        public, agent, tuple(report.items), intent), strict=True))  # (a new field: fill it)
    return doc


def _body(name: str, file: str, body: str, first: int, report: Report,
          fields: dict) -> NodeDoc:
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    heads = structural_headings(body, lines)
    lead = heads[0].index if heads else len(lines)
    for index in range(lead):
        if lines[index].strip(" \t\r"):
            report.add("text_before_name_heading", "unexpected content before first heading: "
                       f"move it under a section or delete it; the file must start with "
                       f"'# {printable(name)}'", first + index)
            break
    else:
        if not heads:
            report.add("text_before_name_heading", "unexpected content before first heading: "
                       "there is no heading; the file must start with "
                       f"'# {printable(name)}'", first)
    if not heads:
        return _with_fields(name, file, fields, report)

    head0 = heads[0]
    if head0.level != 1:
        report.add("text_before_name_heading", "unexpected content before first heading: "
                   f"the first heading is {head0.raw!r}; the file must start with "
                   f"'# {printable(name)}'", first + head0.index)
    elif normalize(head0.text) != normalize(name):
        report.add("name_heading", f"node name does not match: got {normalize(head0.text)!r}, "
                   f"want {normalize(name)!r}; the first heading must be '# {printable(name)}'"
                   + _reading(head0), first + head0.index)

    intent = ""
    if head0.level == 1:
        for text in lines[head0.body:heads[1].index if len(heads) > 1 else len(lines)]:
            if not is_blank(text):
                intent = text.strip(" \t")
                break
    seen: dict[str, int] = {}
    public: list[Subsection] = []
    agent_parts: list[str] = []
    has_agent, agent_line = False, None
    section = None  # the level-1 section we are in; None = the name section
    sub_seen: dict[str, int] = {}
    previous = head0
    for position, head in enumerate(heads):
        raw = head.raw
        key = normalize(head.text)
        end = heads[position + 1].index if position + 1 < len(heads) else len(lines)
        content = lines[head.body:end]
        line = first + head.index
        if position == 0:
            continue
        if head.level == 1:
            if key not in SECTIONS:
                report.add("unrecognized_section", f"unrecognized section: {key!r}; sections "
                           f"are # Public, # Agent and # Private, not {raw!r}"
                           + _reading(head), line)
                section = "?"
            elif key in seen:
                report.add("duplicate_section", f"duplicate # {key.capitalize()} section: "
                           f"{raw!r} repeats the one on line {seen[key]}; merge them", line)
                section = "?"
            else:
                seen[key] = line
                section = key
            sub_seen = {}
            if section == PUBLIC:
                for offset, text in enumerate(content):
                    if text.strip(_WHITE_SPACE):
                        report.add("public_subsection_required", "content in # Public must "
                                   "be under a ## subsection", first + head.body + offset)
                        break
            elif section == AGENT:
                has_agent, agent_line = True, line
                direct = extract(content)
                if direct:
                    agent_parts.append(direct)
            previous = head
            continue
        if section is None and key in (PUBLIC, AGENT):
            # A likely slip of one '#': v5 reads it as text of the opening, which no
            # generator is sent, and the node simply has no such section.
            report.add("section_level", f"{raw!r} is a ## heading under the name heading, so "
                       f"v5 reads it as part of the node's opening text, not as the "
                       f"# {key.capitalize()} section, and no generator is sent what is under "
                       f"it; write '# {key.capitalize()}'", line, WARNING)
        if key in sub_seen:
            report.add("duplicate_subsections", f"duplicate subsection: {key!r}; {raw!r} "
                       f"repeats the heading on line {sub_seen[key]} in this section"
                       + _reading(head), line)
        else:
            sub_seen[key] = line
        rendered = raw + "\n" + extract(content)
        if section == PUBLIC:
            public.append(Subsection(key, raw, rendered, line))
            if head.setext or head.lost:  # (all _surprises looks at)
                _surprises(name, head, previous, first, report)
        elif section == AGENT:
            agent_parts.append(rendered)
        previous = head
    return _with_fields(name, file, fields, report, has_agent=has_agent, agent_line=agent_line,
                        public=tuple(public), agent="\n".join(agent_parts), intent=intent)


def _reading(head: Heading) -> str:
    """How v5 came to read a heading's text, when that is not plain to see."""
    parts = []
    if head.setext:
        underline = "===" if head.level == 1 else "---"
        parts.append(f"the line underlined with {underline!r} is a level-{head.level} heading")
    if head.lost:
        parts.append(f"v5 reads its text as {head.text!r}: inline markup ({head.lost!r}) "
                     "contributes nothing")
    return f" ({'; '.join(parts)})" if parts else ""


def _surprises(name: str, head: Heading, previous: Heading, first: int,
               report: Report) -> None:
    """Warnings for a # Public subsection v5 reads otherwise than its author may think."""
    if head.setext and previous.level == 2 and not previous.setext:
        report.add("setext_heading", f"v5 reads {head.raw!r} underlined with '---' as a ## "
                   f"heading: it ends the subsection {previous.raw!r} and starts "
                   f"'{name}({head.text.strip()})'; for a horizontal rule put an empty line "
                   "before the '---'", first + head.last, WARNING)
    if head.lost:
        report.add("heading_text", f"v5 reads the text of {head.raw!r} as "
                   f"{head.text.strip(' ')!r} ({head.lost!r} is inline markup, which "
                   f"contributes nothing): it is imported as '{name}({head.text.strip()})'",
                   first + head.index, WARNING)
