"""Parsing one _node.md: frontmatter, the CommonMark section structure, and its blocks."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ERROR, Finding
from .names import normalize

_MD = None  # the markdown-it parser, built on first use (a warm run parses nothing)

PUBLIC, AGENT, PRIVATE = "public", "agent", "private"
SECTIONS = (PUBLIC, AGENT, PRIVATE)

# Parse findings after which the node's content is not known, so no chain through
# it can be hashed.
BREAKING_RULES = frozenset({"encoding", "unreadable", "malformed_frontmatter", "duplicate_section"})


@dataclass(frozen=True)
class Subsection:
    """One ``##`` block: its normalized key, raw heading line and rendered text."""

    key: str
    raw: str
    text: str
    line: int


@dataclass(frozen=True)
class NodeDoc:
    """Everything one _node.md says, with file line numbers for reporting."""

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
    public: tuple[Subsection, ...] = ()
    agent: str = ""
    findings: tuple[Finding, ...] = field(default=())
    intent: str = ""

    @property
    def broken(self) -> bool:
        return any(f.rule in BREAKING_RULES for f in self.findings)

    @property
    def public_text(self) -> str:
        return "\n".join(sub.text for sub in self.public)

    def subsection(self, qualifier: str) -> Subsection | None:
        key = normalize(qualifier)
        for sub in self.public:
            if sub.key == key:
                return sub
        return None


def is_blank(line: str) -> bool:
    return not line.strip(" \t")


def extract(lines: list[str]) -> str:
    """Drop blank lines at both ends; keep the middle byte for byte; end with one LF."""
    start, end = 0, len(lines)
    while start < end and is_blank(lines[start]):
        start += 1
    while end > start and is_blank(lines[end - 1]):
        end -= 1
    if start == end:
        return ""
    return "\n".join(lines[start:end]) + "\n"


def heading_text(raw: str) -> str:
    """ATX heading text: opening #s, optional closing sequence and spaces/tabs removed."""
    s = raw.lstrip(" ")
    level = len(s) - len(s.lstrip("#"))
    rest = s[level:].rstrip(" \t")
    bare = rest.rstrip("#")
    if bare != rest and (not bare or bare[-1] in " \t"):
        rest = bare
    return rest.strip(" \t")


class _Report:
    def __init__(self, name: str, file: str):
        self.name, self.file, self.items = name, file, []

    def add(self, rule: str, detail: str, line: int | None, severity: str = ERROR) -> None:
        self.items.append(Finding(self.name, rule, detail, self.file, line, severity))


def parse_node(name: str, file: str, text: str) -> NodeDoc:
    """Parse normalized text of ``file`` (the node ``name``); problems become findings."""
    report = _Report(name, file)
    if text.startswith("\ufeff"):
        report.add("encoding", "file starts with a UTF-8 byte order mark; save it as UTF-8 "
                   "without BOM", 1)
        text = text[1:]
    fields: dict = {}
    body, body_line = text, 1
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end < 0:
            report.add("malformed_frontmatter", "frontmatter opened with '---' on line 1 is "
                       "never closed; add a line '---' after it", 1)
            return NodeDoc(name, file, findings=tuple(report.items))
        fields = _frontmatter(text[4:end + 1], report)
        body = text[end + 5:]
        body_line = text.count("\n", 0, end + 5) + 1
    doc = _body(name, file, body, body_line, report)
    return _with_fields(doc, fields, report)


def _load(yaml, loader_class, source: str):
    """The document's root node (for line numbers) and its safely constructed value."""
    loader = loader_class(source)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _frontmatter(source: str, report: _Report) -> dict:
    """Safe-load the YAML between the fences; return recognized keys with their lines."""
    if not source.strip():
        return {}
    import yaml  # imported on first use: a tree without frontmatter never needs it

    try:
        try:
            root, data = _load(yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader), source)
        except yaml.YAMLError:
            # libyaml is several times faster; its pure-Python twin words the errors
            # (and places them) the same way on every machine, so it explains failures.
            root, data = _load(yaml, yaml.SafeLoader, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        # An unclosed construct is only noticed at the end of the YAML; point at where it
        # opened rather than at the closing '---', which is not YAML at all.
        context = getattr(exc, "context_mark", None)
        if mark is not None and mark.index >= len(source) and context is not None:
            mark = context
        last = source.count("\n") + 1
        line = min(mark.line + 2, last) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        report.add("malformed_frontmatter", f"YAML error: {problem}", line)
        return {}
    except (ValueError, TypeError, RecursionError) as exc:
        report.add("malformed_frontmatter", f"YAML error: {exc}", 2)
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        report.add("malformed_frontmatter", "frontmatter must be a YAML mapping of keys "
                   "(depends_on, input, output)", 2)
        return {}
    lines = {}
    for key_node, value_node in root.value:
        if isinstance(key_node.value, str):
            # A mapping node's value is a list of (key, value) pairs, not of nodes.
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
            lines[key_node.value] = (key_node.start_mark.line + 2,
                                     [item.start_mark.line + 2 for item in items])
    result = {}
    for key in ("depends_on", "input", "output"):
        if key not in data or data[key] is None:
            continue
        value = data[key]
        line, item_lines = lines.get(key, (2, []))
        if key == "depends_on":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                report.add("malformed_frontmatter", "depends_on must be a list of names, "
                           "e.g. '- SPEC/x'", line)
                continue
            item_lines = item_lines if len(item_lines) == len(value) else [line] * len(value)
            result[key] = (tuple(value), tuple(item_lines))
        elif not isinstance(value, str):
            what = "one name, e.g. SPEC/x" if key == "input" else "one relative path"
            report.add("malformed_frontmatter", f"{key} must be {what}, not "
                       f"{type(value).__name__}", line)
        else:
            result[key] = (value, line)
    return result


def _with_fields(doc: NodeDoc, fields: dict, report: _Report) -> NodeDoc:
    deps, dep_lines = fields.get("depends_on", ((), ()))
    inp, inp_line = fields.get("input", (None, None))
    out, out_line = fields.get("output", (None, None))
    return NodeDoc(
        doc.name, doc.file, deps, dep_lines, inp, inp_line, out, out_line,
        doc.has_agent, doc.agent_line, doc.public, doc.agent, tuple(report.items), doc.intent,
    )


def _structural_headings(body: str) -> list[tuple[int, int]]:
    """(line index, level) of every top-level ATX heading of level 1 or 2."""
    # A lone CR is a line ending to CommonMark but not to v5's line rule; keep the
    # two line numberings identical.
    source = body.replace("\r", " ") if "\r" in body else body
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        # Block structure only: inline parsing is never needed to find structural headings.
        _MD = MarkdownIt("commonmark")
        _MD.disable("inline")
    return [
        (tok.map[0], len(tok.markup))
        for tok in _MD.parse(source)
        if tok.type == "heading_open" and tok.level == 0 and tok.markup in ("#", "##")
    ]


def _body(name: str, file: str, body: str, first: int, report: _Report) -> NodeDoc:
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    heads = _structural_headings(body)
    bounds = [index for index, _ in heads] + [len(lines)]

    lead = heads[0][0] if heads else len(lines)
    for index in range(lead):
        if not is_blank(lines[index]):
            report.add("text_before_name_heading", f"text before the name heading '# {name}'; "
                       "move it under a section or delete it", first + index)
            break
    if not heads:
        report.add("name_heading", f"no heading; the file must start with '# {name}'", first)
        return NodeDoc(name, file)

    index0, level0 = heads[0]
    raw0 = lines[index0].rstrip(" \t")
    if level0 != 1 or normalize(heading_text(raw0)) != normalize(name):
        report.add("name_heading", f"first heading is {raw0!r}; it must be '# {name}'",
                   first + index0)

    intent = ""
    if level0 == 1:
        for text in lines[index0 + 1:bounds[1]]:
            if not is_blank(text):
                intent = text.strip(" \t")
                break
    seen: dict[str, int] = {}
    public: list[Subsection] = []
    agent_parts: list[str] = []
    has_agent, agent_line = False, None
    section = None  # the level-1 section we are in; None = the name section
    for position, (index, level) in enumerate(heads):
        raw = lines[index].rstrip(" \t")
        key = normalize(heading_text(raw))
        content = lines[index + 1:bounds[position + 1]]
        line = first + index
        if position == 0 and level == 1:
            continue
        if level == 1:
            if key not in SECTIONS:
                report.add("unrecognized_section", f"unknown section {raw!r}; sections are "
                           "# Public, # Agent and # Private", line)
                section = "?"
            elif key in seen:
                report.add("duplicate_section", f"second {raw!r} section (first on line "
                           f"{seen[key]}); merge them", line)
                section = "?"
            else:
                seen[key] = line
                section = key
            sub_seen: dict[str, int] = {}
            if section == PUBLIC:
                for offset, text in enumerate(content):
                    if not is_blank(text):
                        report.add("public_subsection_required", "content in # Public must "
                                   "be under a ## subsection", line + 1 + offset)
                        break
            elif section == AGENT:
                has_agent, agent_line = True, line
                direct = extract(content)
                if direct:
                    agent_parts.append(direct)
            continue
        if section in (PUBLIC, AGENT, PRIVATE):
            if key in sub_seen:
                report.add("duplicate_subsections", f"duplicate ## subsection heading {raw!r} "
                           f"in this section (first on line {sub_seen[key]})", line)
            else:
                sub_seen[key] = line
        rendered = raw + "\n" + extract(content)
        if section == PUBLIC:
            public.append(Subsection(key, raw, rendered, line))
        elif section == AGENT:
            agent_parts.append(rendered)
    return NodeDoc(name, file, has_agent=has_agent, agent_line=agent_line,
                   public=tuple(public), agent="\n".join(agent_parts), intent=intent)
