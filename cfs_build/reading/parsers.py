"""The CommonMark parsers headings can be read with, and the choice between them."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from itertools import chain
from typing import NamedTuple

from ..errors import CfsError
from .goldmark_rules import MARKER_CRS, read_like_goldmark

ENV = "CFS_PARSER"  # names the parser to use instead of the automatic choice
PY = "markdown-it-py"
RS = "markdown-it-pyrs"

# The commonmark preset's block rules: the block pass alone finds every heading.
_BLOCK_RULES = ["blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph",
                "reference", "html_block"]


class Block(NamedTuple):
    """A level-1 or level-2 heading that is a top-level block: its first and last lines
    (0-based; the last is a setext heading's underline), its level, whether it is ATX."""

    index: int
    last: int
    level: int
    atx: bool


class PyDocument:
    """A body as markdown-it-py reads it."""

    def __init__(self, source: str, marker_crs=()):
        md = _py_parser()
        self._env: dict = {}  # the link reference definitions, for the headings' inline parse
        if marker_crs:  # (goldmark_rules._marker_then_cr)
            self._env[MARKER_CRS] = marker_crs
        self.blocks = []
        for tok in md.parse(source, self._env):
            if tok.type == "heading_open" and tok.level == 0 and tok.tag in ("h1", "h2"):
                start, end = tok.map
                atx = tok.markup[0] == "#"
                self.blocks.append(Block(start, start if atx else end - 1, int(tok.tag[1]), atx))

    def runs(self, position: int, content: str) -> tuple[str, str]:
        """The plain-text runs of heading ``content`` and the text markup took out of it
        (see headings._runs); ``position`` is the heading's place in ``blocks``."""
        return inline_runs(content, self._env)


class RsDocument:
    """A body's block structure as markdown-it-pyrs reads it.

    Its inline parser is not used: it panics on a code span opener inside a link's
    text (`[` then a backtick with no closing one). Heading texts go through
    markdown-it-py's inline parser, which needs the link reference definitions only
    for a heading with a `[` in a body with a `]:` (a definition cannot be written
    without one); only then is the body parsed with markdown-it-py again for them.
    """

    def __init__(self, source: str):
        self._source = source
        data = source if source.isascii() else source.encode()
        # (the parser's offsets count UTF-8 bytes)
        newline, space, hashes, equals = ("\n", " ", "#", "=") if data is source else \
            (b"\n", b" ", b"#", b"=")
        self.blocks = []
        line = offset = 0  # the line at byte ``offset``: blocks come in source order
        nodes = _rs_parser().tree(source).children
        # A heading's level is read off its own source, not its meta: the meta dict is made
        # anew at each access, a real cost at several headings per file.
        for node in nodes:
            kind = node.name
            if kind == "heading":  # ATX: as many #s as its opening sequence has
                first, end = node.srcmap
                opening = data[first:first + 10].lstrip(space)
                level = len(opening) - len(opening.lstrip(hashes))
                if level <= 2:
                    line += data.count(newline, offset, first)
                    offset = first
                    self.blocks.append(Block(line, line, level, True))
            elif kind == "lheading":  # setext: level 1 when underlined with =, else 2
                first, end = node.srcmap
                line += data.count(newline, offset, first)
                offset = first
                under = data.rfind(newline, first, end - 1) + 1
                level = 1 if data[under:under + 4].lstrip(space)[:1] == equals else 2
                self.blocks.append(Block(line, line + data.count(newline, first, end - 1),
                                         level, False))
        # Where markdown-it reads a list item's paragraph otherwise than goldmark, the
        # body goes to markdown-it-py (see _ends_before_lazy_code).
        self.misread = _lazy_code_line(source) and \
            _ends_before_lazy_code(nodes, data, newline, data[0:0])
        self._with_references = None

    def runs(self, position: int, content: str) -> tuple[str, str]:
        if "[" not in content or "]:" not in self._source:
            return inline_runs(content, {})
        if self._with_references is None:
            self._with_references = PyDocument(self._source)
        return self._with_references.runs(position, content)


# A line indented four columns or more that could open a block: where it follows a list
# item's paragraph, markdown-it may have let it interrupt the paragraph that goldmark
# continues with it (goldmark_rules._lazy_code_stays_text). Each search starts with a literal, which
# keeps it fast; the one for tabs runs only where there is a tab.
_LAZY_CODE_LINE = re.compile(r"\n    [ \t]*[`~>*_+<#\d-]")
_LAZY_CODE_TAB = re.compile(r"\n {0,3}\t[ \t]*[`~>*_+<#\d-]")


def _lazy_code_line(source: str) -> bool:
    """A line _LAZY_CODE_LINE or _LAZY_CODE_TAB finds, after a line that is not blank."""
    matches = _LAZY_CODE_LINE.finditer(source)
    if "\t" in source:
        matches = chain(matches, _LAZY_CODE_TAB.finditer(source))
    for match in matches:
        at = match.start()
        if source[source.rfind("\n", 0, at) + 1:at].strip(" \t"):
            return True
    return False


_LISTS = ("bullet_list", "ordered_list")
_PARAGRAPHS = ("paragraph", "text")  # (a tight list's paragraphs are text nodes)


def _ends_before_lazy_code(nodes, data, newline, empty) -> bool:
    """Some paragraph of a list item in the lists among ``nodes`` (markdown-it-pyrs's tree
    of ``data``, the body) is followed by a line that is not blank, is indented less than
    the paragraph and four columns or more past the content of the innermost item around
    it that the line reaches: a lazy line of the paragraph that markdown-it may have let
    interrupt it (goldmark_rules._lazy_code_stays_text), e.g. `   - a` then `    ```` then
    a heading. Columns are counted only where no tab comes before: a tab makes a line
    count, an item's content column unknown (left out of the columns the line may
    reach). The lists are walked with a stack, not by recursing: the Rust port nests a
    thousand levels where Python's recursion stops."""
    tab = b"\t" if newline == b"\n" else "\t"
    spaces = tab + (b" " if newline == b"\n" else " ")
    # (lists, the content columns of the items they are in)
    pending = [([node for node in nodes if node.name in _LISTS], (0,))]
    while pending:
        lists, bases = pending.pop()
        for node in lists:
            for item in node.children:
                within = bases
                nested = []
                for place, child in enumerate(item.children):
                    kind = child.name
                    if kind in _LISTS:
                        nested.append(child)
                        continue
                    if place and kind not in _PARAGRAPHS:
                        continue
                    start, end = child.srcmap
                    begin = data.rfind(newline, 0, start) + 1
                    column = start - begin if tab not in data[begin:start] else None
                    if place == 0 and column is not None and data.find(
                            newline, item.srcmap[0], start) < 0:  # on the item's first line
                        within = bases + (column,)
                    if kind not in _PARAGRAPHS:
                        continue
                    after = data.find(newline, end - 1) + 1  # the line after the paragraph
                    if after == 0:
                        continue
                    stop = data.find(newline, after)
                    text = data[after:stop if stop >= 0 else len(data)]
                    rest = text.lstrip(spaces)
                    indent = len(text) - len(rest)
                    if rest.strip() == empty:
                        continue
                    if column is None or tab in text[:indent] or 4 <= indent < column and \
                            indent - max(base for base in within if base <= indent) >= 4:
                        return True
                if nested:
                    pending.append((nested, within))
    return False


def inline_runs(content: str, env: dict) -> tuple[str, str]:
    """markdown-it-py's inline parse of ``content`` with the references in ``env``: the
    plain-text runs at the top level joined, and the text markup took out of it."""
    md = _py_parser()
    kept: list[str] = []
    lost: list[str] = []
    depth = 0
    after_text = False
    for tok in md.inline.parse(content, md, env, []):
        kind = tok.type
        if tok.nesting == 1:
            depth += 1
        elif tok.nesting == -1:
            depth -= 1
        elif kind == "softbreak":
            if depth == 0 and after_text:
                kept[-1] = kept[-1].rstrip(" \t")
        # (a hard break is a backslash at a line's end, headings._line_end: goldmark keeps
        # the spaces before it in the text)
        elif kind in ("text", "text_special"):
            written = tok.markup if kind == "text_special" else tok.content
            (kept if depth == 0 else lost).append(written)
        elif kind in ("code_inline", "image"):
            lost.append(tok.content)
        after_text = depth == 0 and kind in ("text", "text_special")
    return "".join(kept), " ".join(part for part in lost if part.strip(" \t"))


# Cached, not module state: a parser set up once, the same for every caller.
@lru_cache(maxsize=1)
def _py_parser():
    from markdown_it import MarkdownIt  # imported on first use: a warm run parses nothing

    md = MarkdownIt("commonmark")
    # Block structure only; the few heading lines get their inline parse one by one.
    # Without text_join, escapes and entities stay tokens of their own that keep the
    # text as written (v5 keeps it so).
    md.disable(["inline", "text_join"])
    read_like_goldmark(md)
    return md


# What could make goldmark_rules' HTML block rule refuse a line (a lone closing tag; not
# a declaration with a small letter, `<!doctype`, which markdown-it-pyrs, on CommonMark
# 0.30, reads as goldmark does), and the tags `search` and `source`
# (CommonMark 0.31 made the first, not the second, open an HTML block that interrupts a
# paragraph, as markdown-it-py and goldmark do; markdown-it-pyrs has the older list):
# markdown-it-pyrs reads such a body otherwise, so it goes to markdown-it-py (a cheap
# test, true of a few more bodies). Two patterns, not one with three branches: each keeps
# the literal start the regex engine scans for quickly (together they cost 15x more).
_HTML_DIFFERS_TAG = re.compile(r"</(?:script|style|pre)|</?s(?:earch|ource)", re.IGNORECASE)
# (A '>' with only white space after it on its line, some of it not a space: the look
# ahead first, as the plain pattern took time quadratic in a long run of tabs.)
_HTML_DIFFERS_END = re.compile(r">(?=[^\S\n]*$) *+[^\S \n]", re.MULTILINE)
_ODD_SPACES = ("\t", "\r", "\v", "\f")  # the white space other than ' ' and LF in ASCII


# A tab before a `<`, after nothing but white space and container marks on its line: a
# line goldmark_rules._tab_before_tag may refuse to open an HTML block with.
_MARKS_ONLY = re.compile(r"[ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t>]*)*")


def _html_differs(source: str) -> bool:
    """A line goldmark_rules._goldmark_html_block may refuse, or a `search` or `source` tag."""
    if _HTML_DIFFERS_TAG.search(source) is not None:
        return True
    if "\t" in source:
        if _tab_then_tag(source):
            return True
        odd = True
    else:
        odd = not source.isascii() or any(space in source for space in _ODD_SPACES[1:])
    return odd and _HTML_DIFFERS_END.search(source) is not None


def _tab_then_tag(source: str) -> bool:
    """Some line has only container marks and white space, a tab among it, before a `<`.
    Only a line's first `<` can follow such a prefix (a `<` is no mark), so only it is
    looked at: a search for a tab and then a `<` retried a long run of tabs from each."""
    lt = source.find("<")
    while lt >= 0:
        begin = source.rfind("\n", 0, lt) + 1
        run = lt
        while run > begin and source[run - 1] in " \t":
            run -= 1
        tab = source.find("\t", run, lt)
        if tab >= 0 and _MARKS_ONLY.fullmatch(source, begin, tab):
            return True
        end = source.find("\n", lt)
        lt = -1 if end < 0 else source.find("<", end)
    return False


# A line that may open a link reference definition (a `[` first, perhaps in list items)
# followed by a line that is not blank and does not open another one: the lines
# markdown-it reads otherwise than goldmark (goldmark_rules._definition_paragraph, _definition_lines).
# It is matched at the body's start and searched from each LF (a literal start keeps the
# search fast).
_DEFINITION_THEN_LINE = r"[ \t]*+(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*\[[^\n]*+\n(?! {0,3}\[)[ \t]*\S"
_DEFINITION_FIRST = re.compile(_DEFINITION_THEN_LINE)
_DEFINITION_AFTER_LF = re.compile("\n" + _DEFINITION_THEN_LINE)


_DEFINITION_MARK = re.compile(r"\]:")  # (the regex engine finds it 2.5x faster than `in`)


def _definition_continues(source: str) -> bool:
    """A link reference definition (it cannot be written without `]:`) that may be
    followed by lines of its paragraph: markdown-it-pyrs's reference rule cannot be
    adjusted, these bodies go to markdown-it-py."""
    return "]" in source and _DEFINITION_MARK.search(source) is not None and (
        _DEFINITION_FIRST.match(source) is not None
        or _DEFINITION_AFTER_LF.search(source) is not None)


# markdown-it-pyrs reads a run of link reference definitions in time quadratic in its
# length (8,000 in a row: 1.7 s; markdown-it-py 0.2 s): a body with more than this many
# `]:` goes to markdown-it-py, which reads it alike (the differential test).
_MANY_DEFINITIONS = 500


@lru_cache(maxsize=1)  # as _py_parser
def _rs_parser():
    import markdown_it_pyrs

    return markdown_it_pyrs.MarkdownIt("zero").enable_many(_BLOCK_RULES)


# A line that opens or continues a block quote, perhaps inside list items. The Rust
# port continues a quoted paragraph lazily past an empty list item that CommonMark
# (goldmark, markdown-it-py, commonmark.js) starts in the enclosing container:
# `> >Text` then `> -` then `Text` then `=` is a level-1 heading for them, not for it.
# Bodies with quotes are rare in specs; they are read by markdown-it-py.
_QUOTE = re.compile(r"[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*>")


def _has_quote(source: str) -> bool:
    """Some line of ``source`` matches _QUOTE from its start up to a '>' of it. Only the
    lines with a '>' are tried: a multi-line search tries every position of the text,
    and most specs have a '>' somewhere (a `->` in code)."""
    at = source.find(">")
    while at >= 0:
        if _QUOTE.fullmatch(source, source.rfind("\n", 0, at) + 1, at + 1):
            return True
        # Only a line's first '>' can end such a prefix (a '>' is no marker): trying each
        # one took time quadratic in a line of list markers and then '>'s.
        end = source.find("\n", at)
        at = -1 if end < 0 else source.find(">", end)
    return False


def document(source: str, marker_crs=()):
    """``source`` parsed by the parser in use: ``blocks`` and ``runs(position, content)``.

    ``marker_crs`` are the places in ``source`` where a CR (a space there now) came right
    after a list marker's character: markdown-it-py reads them (goldmark_rules), the Rust
    port cannot."""
    if marker_crs:
        return PyDocument(source, marker_crs)
    if chosen(os.environ.get(ENV, "")) == RS and (source.isascii() or _encodes(source)) \
            and not _has_quote(source) and not _may_nest_deep(source) \
            and not _html_differs(source) and not _definition_continues(source) \
            and source.count("]:") <= _MANY_DEFINITIONS:
        try:
            parsed = RsDocument(source)
        except BaseException as exc:  # a Rust panic is raised as a BaseException
            if type(exc).__name__ != "PanicException":
                raise
        else:
            if not parsed.misread:
                return parsed
    return PyDocument(source)


# The Rust port builds its tree by recursing, with no limit: tens of thousands of nested
# list items overrun the stack and the process dies. Each level takes a marker and the
# indentation or the markers before it on its line (quotes go to markdown-it-py
# already), so a body with no line this long cannot nest that deep.
_DEEP_LINE = 8000


# Tried at line starts only: unanchored, each position of a line retried the rest of it
# (a 2 MB body of 8000-column lines took seconds).
_LONG_LINE = re.compile(f"^[^\n]{{{_DEEP_LINE + 1}}}", re.MULTILINE)


def _may_nest_deep(source: str) -> bool:
    return len(source) > _DEEP_LINE and _LONG_LINE.search(source) is not None


def _encodes(source: str) -> bool:
    try:
        source.encode()
    except UnicodeEncodeError:  # a lone surrogate: only markdown-it-py takes it
        return False
    return True


@lru_cache(maxsize=4)  # the answer depends only on the argument and what is installed
def chosen(forced: str) -> str:
    """The parser to use: ``forced`` (the environment's CFS_PARSER) when set, else
    markdown-it-pyrs when it can be imported, else markdown-it-py."""
    if forced not in ("", PY, RS):
        raise CfsError(f"{ENV}={forced!r}: no such parser; use {PY} or {RS}, or unset {ENV} "
                       "for the automatic choice")
    if forced == PY:
        return PY
    try:
        _rs_parser()
    except ImportError:
        if forced == RS:
            raise CfsError(f"{ENV}={RS}, but it cannot be imported: install it "
                           f"(pip install {RS}) or unset {ENV}") from None
        return PY
    return RS


def describe() -> str:
    """The parser in use and its version, e.g. "markdown-it-pyrs 0.4.0"."""
    from importlib import metadata  # only for --version: it costs a run ~15 ms to import

    name = chosen(os.environ.get(ENV, ""))
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name
