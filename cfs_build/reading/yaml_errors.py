"""v5's words for frontmatter YAML it refuses: goccy/go-yaml's message, position and excerpt.

v5 reads the frontmatter with goccy/go-yaml into a struct (``rawFrontmatterNP``: ``Output``
and ``Input`` strings, ``DependsOn`` a list of strings) and reports a failure as
``malformed YAML: [line:col] message`` followed by goccy's excerpt of the YAML. cfs parses
with PyYAML, so this module works out, from PyYAML's reading of the same text, what goccy
says, for the failures whose goccy words are known with confidence (FORMAT.md 4.1):

- a key written twice in one mapping, at any depth (goccy's parser, in document order);
- a tab that starts a line in block context, where goccy expects indentation;
- a flow sequence or mapping never closed, whose entries are plain words;
- a scalar or a mapping where ``depends_on`` wants a list, a list or a mapping where a
  string is wanted (``output``, ``input``, a ``depends_on`` entry); and a frontmatter that
  is not a mapping at all.

For anything else it answers None and the caller keeps its own words. It runs only on the
error path: a frontmatter that parses costs nothing here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .plain_yaml import may_nest_deep
from .unparsed import go_quote
from .yaml_keys import read_keys

LEAD = "malformed YAML: "
TAB = "found character '\t' that cannot start any token"
STRUCT = "rawFrontmatterNP"
_FIELDS = {"depends_on": "DependsOn", "input": "Input", "output": "Output"}
_MAP, _LIST = "map[string]interface {}", "[]interface {}"  # Go's names for them

_NULLS = frozenset({"", "null", "Null", "NULL", "~"})
_BOOLS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_INFS = frozenset({".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF"})
_NANS = frozenset({".nan", ".NaN", ".NAN"})
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+")
# A plain scalar goccy may read as a number by rules not reproduced here (octal, hex,
# underscores, exponents): its type name would be a guess.
_NUMBERISH = re.compile(r"[-+]?\.?[0-9][0-9a-fA-FxXoObB._eE+-]*")
# A block scalar header (| or >): goccy's excerpt of one follows rules not reproduced.
_BLOCK_SCALAR = re.compile(r"(?:^|[ \t])[|>][-+0-9]*[ \t]*(?:#.*)?$", re.M)
# What an entry of an unclosed flow collection may be for goccy's words to be certain.
_WORD = re.compile(r"[A-Za-z0-9_./()+=~$^;\\][A-Za-z0-9_./()+=~$^;\\ -]*")


@dataclass(frozen=True)
class Problem:
    """What goccy reports: the token's position (1-based, in the YAML text), its message,
    and the last line of the token (a token can span lines; the excerpt shows them all)."""

    line: int
    column: int
    message: str
    last: int


def v5_yaml_error(source: str) -> str | None:
    """v5's error text for the YAML ``source`` (the frontmatter between the fences), or
    None when cfs cannot tell what v5 says."""
    import yaml  # the caller has it loaded already: this runs after a YAML error

    # v5 hands goccy the text up to the newline before the closing fence, not including it.
    text = source[:-1] if source.endswith("\n") else source
    if _BLOCK_SCALAR.search(text) or may_nest_deep(text):  # (see may_nest_deep)
        return None
    try:
        problem = _first_problem(yaml, text)
    except (yaml.YAMLError, RecursionError):
        return None
    if problem is None:
        return None
    return (f"{LEAD}[{problem.line}:{problem.column}] {problem.message}\n"
            + excerpt(text, problem, _continuations(yaml, text)))


# -- which problem goccy meets first ---------------------------------------------------

def _first_problem(yaml, text: str) -> Problem | None:
    """goccy tokenizes the whole text first (a tab error anywhere wins), then parses in
    document order (a repeated key), then decodes into the struct (type mismatches)."""
    twice, error = _events(yaml, text)
    if isinstance(error, yaml.scanner.ScannerError):
        return _tab(yaml, text, error)
    if twice is not None:
        return twice
    if error is not None:
        if isinstance(error, yaml.parser.ParserError):
            return _unclosed(yaml, text, error)
        return None
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None and root.id == "mapping":
        # Collecting the keys comes before decoding any field (yaml_keys).
        keys = read_keys(text, root)
        if keys.odd is not None:
            return None  # no field read: no decoding error either
        if keys.merged_list is not None:
            return _at(text, keys.merged_list, "sequence was used where mapping is expected")
        if keys.twice is not None:
            node, key, written = keys.twice
            if not written:
                return None  # goccy points at the merged value: not reproduced
            return _at(text, node, f'duplicate key "{key}"')
    return _mismatch(text, root)


def _events(yaml, text: str):
    """(the first repeated key as a Problem, or None; the YAML error ending the parse)."""
    frames: list[list] = []  # [is_mapping, expecting_key, {key: first event}]
    twice = None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.NodeEvent):
                parent = frames[-1] if frames else None
                if parent is not None and parent[0]:
                    if parent[1] and isinstance(event, yaml.ScalarEvent) and twice is None:
                        twice = _repeated(event, parent[2])
                    parent[1] = not parent[1]
                if isinstance(event, yaml.CollectionStartEvent):
                    frames.append([isinstance(event, yaml.MappingStartEvent), True, {}])
            elif isinstance(event, yaml.CollectionEndEvent):
                frames.pop()
    except yaml.YAMLError as exc:
        return twice, exc
    return twice, None


def _repeated(event, keys: dict) -> Problem | None:
    # goccy compares keys by their text: `1` and "1" are the same key to it.
    first = keys.setdefault(event.value, event)
    if first is event:
        return None
    if event.anchor or first.anchor or event.tag or first.tag:
        return None  # the token goccy points at is not the scalar: not reproduced
    at = first.start_mark
    mark = event.start_mark
    return Problem(mark.line + 1, mark.column + 1,
                   f"mapping key {go_quote(event.value)} already defined at "
                   f"[{at.line + 1}:{at.column + 1}]", mark.line + 1)


def _scan(yaml, text: str) -> list:
    """Every token PyYAML's scanner produced, up to its first error if any."""
    loader = yaml.SafeLoader(text)
    tokens = []
    try:
        while loader.check_token():
            tokens.append(loader.get_token())
    except yaml.YAMLError:
        tokens += loader.tokens  # scanned ahead of the error, not handed out yet
    finally:
        loader.dispose()
    return tokens


def _tab(yaml, text: str, error) -> Problem | None:
    """goccy's scanner refuses a tab only before any other character of a line, outside
    flow collections, at or left of the column of the last key or `-` (deeper, it takes
    the tab as indentation). PyYAML refuses tabs in more places."""
    mark = error.problem_mark
    if error.problem != TAB.replace("\t", "\\t") or mark is None:
        return None
    lines = text.split("\n")
    if mark.line >= len(lines) or any(c in text for c in "\r\x85\u2028\u2029"):
        return None  # PyYAML breaks lines where goccy may not: cfs cannot tell v5's words
    line_text = lines[mark.line]
    if line_text[:mark.column].strip(" "):
        return None
    tokens = _scan(yaml, text)
    depth = 0
    for token in tokens:
        if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
            depth += 1
        elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
            depth -= 1
    delimiters = [t.start_mark for t in tokens
                  if isinstance(t, (yaml.KeyToken, yaml.BlockEntryToken))
                  and t.start_mark.index < mark.index]
    if depth > 0 or not delimiters:
        return None
    if mark.column + 1 > max(delimiters, key=lambda m: m.index).column + 1:
        return None
    line = mark.line + 1
    return Problem(line, mark.column + 1, TAB, line + _pending_lines(yaml, text, tokens, mark))


def _pending_lines(yaml, text: str, tokens: list, mark) -> int:
    """Lines between a plain scalar still pending when the tab comes and the tab: goccy's
    error token then starts with that scalar, and its excerpt reaches that much further."""
    real = [t for t in tokens if not isinstance(t, (
        yaml.StreamStartToken, yaml.KeyToken, yaml.BlockMappingStartToken,
        yaml.BlockSequenceStartToken, yaml.BlockEndToken))
        and t.start_mark.index < mark.index]
    if not real:
        return 0
    last = max(real, key=lambda t: t.start_mark.index)
    if not isinstance(last, yaml.ScalarToken) or not last.plain:
        return 0
    if "#" in text[last.end_mark.index:mark.index]:
        return 0  # a comment in between closes the scalar
    return mark.line - last.end_mark.line


def _unclosed(yaml, text: str, error) -> Problem | None:
    """A flow collection still open at the end of the text, with nothing after its opening
    bracket but plain words on that line: goccy names the bracket."""
    if "<stream end>" not in (error.problem or ""):
        return None
    opened = []
    for token in _scan(yaml, text):
        if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
            opened.append(token)
        elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
            if opened:
                opened.pop()
    if len(opened) != 1:
        return None
    start = opened[0].start_mark
    rest = text[start.index + 1:].rstrip(" \n")
    if "\n" in rest or "\t" in rest:
        return None
    parts = [part.strip(" ") for part in rest.split(",")]
    if isinstance(opened[0], yaml.FlowSequenceStartToken):
        if not _words(parts, _is_word):
            return None
        message = "sequence end token ']' not found"
    else:
        if not _words(parts, _is_pair) or (parts[-1] and ": " not in parts[-1]):
            return None  # a last key without a value: goccy words that otherwise
        message = "could not find flow mapping end token '}'"
    return Problem(start.line + 1, start.column + 1, message, start.line + 1)


def _words(parts: list[str], entry) -> bool:
    """Every entry but the last is one goccy reads plainly; the last may also be empty."""
    if parts == [""]:
        return True
    return all(entry(p) for p in parts[:-1]) and (parts[-1] == "" or entry(parts[-1]))


def _is_word(part: str) -> bool:
    return bool(_WORD.fullmatch(part)) and not (part.startswith("-") and part[1:2] in ("", " "))


def _is_pair(part: str) -> bool:
    key, colon, value = part.partition(": ")
    return _is_word(key) and (not colon or _is_word(value.strip(" ")))


# -- decoding into the struct ------------------------------------------------------------

def _mismatch(text: str, root) -> Problem | None:
    """The decode error goccy gives: the first one in the order of the struct's fields
    (DependsOn, Input, Output), which it decodes one after the other, keeping the first
    error (decodeStruct)."""
    if root is None:
        return None
    kind = _kind(text, root)
    if kind != "mapping":
        if kind in (None, "null"):
            return None
        return _at(text, root, f"{kind} was used where mapping is expected")
    problems: dict[str, Problem | None] = {}
    for key, value in root.value:
        if not _is_scalar(key) or key.value == "<<":
            return None  # a merge key or a complex key: goccy's reading not reproduced
        field = _FIELDS.get(key.value)
        if field is not None:
            problems[field] = _field_problem(text, field, value) \
                if _own(text, value, key.end_mark.index) else _UNSURE
    for field in _FIELDS.values():  # (in the struct's order)
        problem = problems.get(field)
        if problem is not None:
            return None if problem is _UNSURE else problem
    return None


_UNSURE = Problem(0, 0, "", 0)  # a field whose decoding goccy words in ways not reproduced


def _field_problem(text: str, field: str, value):
    kind = _kind(text, value)
    if kind is None:
        return _UNSURE
    if kind == "null":
        return None
    if field != "DependsOn":
        return _type_error(text, field, value, kind)
    if kind != "sequence":
        return _at(text, value, f"{kind} was used where sequence is expected")
    for item in value.value:
        if not _own(text, item, value.start_mark.index):
            return _UNSURE
        item_kind = _kind(text, item)
        if item_kind is None:
            return _UNSURE
        problem = _type_error(text, field, item, item_kind)
        if problem is not None:
            return problem
    return None


def _type_error(text: str, field: str, node, kind: str) -> Problem | None:
    """Scalars of every type become strings; a list or a map cannot."""
    source = {"mapping": _MAP, "sequence": _LIST}.get(kind)
    if source is None:
        return None
    return _at(text, node, f"cannot unmarshal {source} into Go struct field "
                           f"{STRUCT}.{field} of type string")


def _is_scalar(node) -> bool:
    return node.id == "scalar"  # PyYAML's node kinds: scalar, sequence, mapping


def _own(text: str, node, after: int) -> bool:
    """The node is written here, plainly: not an alias to an earlier one, no anchor or tag
    (goccy would point at another token)."""
    index = node.start_mark.index
    return index >= after and text[index:index + 1] not in ("&", "*", "!")


def _kind(text: str, node) -> str | None:
    """goccy's YAML name of the node's type, None when not known for sure."""
    if not _is_scalar(node):
        return node.id
    if text[node.start_mark.index:node.start_mark.index + 1] in ("&", "*", "!"):
        return None
    if node.style in ("'", '"'):
        return "string"
    if node.style is not None:
        return None  # a block scalar
    value = node.value
    if value in _NULLS:
        return "null"
    if value in _BOOLS:
        return "boolean"
    if value in _INFS:
        return "inf"
    if value in _NANS:
        return "nan"
    if _INT.fullmatch(value):
        return "int"
    if _FLOAT.fullmatch(value):
        return "float"
    if _NUMBERISH.fullmatch(value):
        return None
    return "string"


def _at(text: str, node, message: str) -> Problem:
    """A Problem at the token goccy reports for ``node``: a scalar itself; a flow
    collection's bracket; a block sequence's first `-`; a block mapping's first `:`."""
    start = node.start_mark
    if _is_scalar(node):
        return Problem(start.line + 1, start.column + 1, message, node.end_mark.line + 1)
    index = start.index
    if node.id == "mapping" and text[index] != "{":
        index = node.value[0][0].end_mark.index
        while text[index] in " \t":
            index += 1
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Problem(line, column, message, line)


# -- the excerpt ---------------------------------------------------------------------------

def _continuations(yaml, text: str) -> frozenset[int]:
    """Lines (1-based) that continue a scalar begun on an earlier line: no token starts
    there, which decides where goccy's excerpt begins and ends."""
    lines = set()
    for token in _scan(yaml, text):
        if isinstance(token, yaml.ScalarToken):
            lines.update(range(token.start_mark.line + 2, token.end_mark.line + 2))
    return frozenset(lines)


def excerpt(text: str, problem: Problem, continuations: frozenset[int] = frozenset()) -> str:
    """goccy's excerpt: up to three lines before the problem's line, the token's lines,
    a caret under its column, up to three lines after; each line numbered, `>` marking
    the problem's line. goccy prints tokens, not lines, hence the rules below."""
    lines = text.split("\n")

    def starts(number: int) -> bool:
        return (1 <= number <= len(lines) and number not in continuations
                and bool(lines[number - 1].strip(" \t")))

    def through(number: int) -> int:
        # A token that starts on a line is printed whole, down to its last line.
        while number + 1 in continuations:
            number += 1
        return number

    def row(number: int, keep: bool = False) -> str:
        mark = ">" if number == problem.line else " "
        content = lines[number - 1] if number <= len(lines) else ""
        if not keep or _ending(content) != "comment":
            content = content.rstrip(" ")  # goccy drops spaces before a line break
        return f"{mark} {number:2d} | {content}"

    first = next((n for n in range(max(1, problem.line - 3), problem.line + 1) if starts(n)),
                 problem.line)
    end = min(through(problem.last), len(lines))  # goccy prints tokens: none past the end
    before = [row(n, keep=n < end) for n in range(first, end + 1)]
    caret = " " * (len(f"  {problem.line:2d} | ") + problem.column - 1) + "^"
    after: list[str] = []
    following = [n for n in range(end + 1, len(lines) + 1) if starts(n)]
    if following and following[0] <= problem.last + 3:
        last = through(max(n for n in following if n <= problem.last + 3))
        after = [row(n, keep=True) for n in range(following[0], last + 1)]
        after += _tail(lines, last, [n for n in following if n > last])
    return "\n".join(before) + "\n" + caret + "\n" + "\n".join(after)


def _tail(lines: list[str], last: int, later: list[int]) -> list[str]:
    """goccy keeps the line break after a plain scalar or a comment with that token, so an
    excerpt ending on one goes on with numbered lines up to the next token (for a scalar,
    with that token's indentation)."""
    kind = _ending(lines[last - 1])
    if kind == "comment":
        return [f"  {last + 1:2d} | "] if last < len(lines) else []
    if kind != "plain":
        return []
    if later:
        upto, indent = later[0], len(lines[later[0] - 1]) - len(lines[later[0] - 1].lstrip(" "))
    else:
        # At the end of the text the scalar is cut at the last line break, not after it.
        upto, indent = len(lines) - 1, 0
    return [f"  {n:2d} | " + (" " * indent if n == upto else "") for n in range(last + 1, upto + 1)]


def _ending(line: str) -> str:
    """What the last token of a line is: `comment`, a `plain` scalar, or `other`
    (an indicator such as `:`, `-`, a bracket, or a quoted scalar)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " \t[{,:-"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return "comment"
    content = line.rstrip(" \t")
    if not content:
        return "other"
    if content[-1] in ":[]{}," or content[-1] in "'\"" or content == "-" \
            or content.endswith(" -") or content.endswith("\t-"):
        return "other"
    return "plain"
