"""markdown-it-py's rules adjusted where goldmark (v5's parser) reads Markdown otherwise.

Each adjustment wraps one of markdown-it-py's own rules (its ruler lets a rule be
replaced in place): the wrapped rule still does the reading, the wrapper only refuses
or extends it where goldmark's parser decides differently. parsers.py sends a body to
markdown-it-py whenever markdown-it-pyrs could read it otherwise.
"""
from __future__ import annotations

import re

# The key of the parse's env holding the places where a CR followed a list marker's
# character in the body (the text parsed has a space there): _marker_then_cr.
MARKER_CRS = "cfs_marker_crs"


def read_like_goldmark(md) -> None:
    """Adjust the parser ``md`` (markdown-it-py, commonmark preset) in place."""
    rules = md.block.ruler
    html_block = rules.__rules__[rules.__find__("html_block")]
    rules.at("html_block", _goldmark_html_block(html_block.fn), {"alt": html_block.alt})
    _wrap(rules, "list", _definition_lines)
    _wrap(rules, "list", _marker_then_cr)
    for rule in rules.__rules__:
        if "paragraph" in rule.alt:
            _wrap(rules, rule.name, _lazy_code_stays_text)
    _wrap(rules, "reference", _definition_paragraph)
    _wrap(rules, "blockquote", _indented_quote_marks)
    md.block.tokenize = _container_columns(md.block.tokenize)
    _wrap(md.inline.ruler, "emphasis", _goldmark_flanking)


def _wrap(rules, name: str, adjust) -> None:
    """Replace rule ``name`` of ``rules`` with ``adjust(rule)``, in the same chains."""
    rule = rules.__rules__[rules.__find__(name)]
    rules.at(name, adjust(rule.fn), {"alt": rule.alt})


def _goldmark_html_block(html_block):
    """markdown-it-py's HTML block rule, refusing the lines it takes for an HTML block of
    the 7th kind (a lone tag) that goldmark reads as paragraph text: a closing
    `</script>`, `</style>` or `</pre>` (goldmark's parser/html_block.go leaves these
    three tag names out of that kind), and a tag followed by white space other than
    spaces (goldmark allows only spaces after it). It refuses a declaration (the 4th
    kind) whose name starts with a small letter: goldmark's pattern for it is
    `<![A-Z]+` (CommonMark 0.31 took any letter), so `<!doctype html>` is paragraph
    text for it. It refuses any HTML block where a tab stays before the `<` once the
    containers have taken their indentation (_tab_before_tag)."""
    from markdown_it.rules_block.html_block import HTML_SEQUENCES

    *others, (lone_tag, _, _) = HTML_SEQUENCES

    def rule(state, start: int, end: int, silent: bool) -> bool:
        if _tab_before_tag(state, start):
            return False
        at = state.bMarks[start] + state.tShift[start]
        if _SMALL_DECLARATION.match(state.src, at, state.eMarks[start]):
            return False
        if not silent:  # (in silent mode a lone tag never interrupts anything)
            line = state.src[state.bMarks[start] + state.tShift[start]:state.eMarks[start]]
            if line[:1] == "<" and lone_tag.search(line) \
                    and (_NOT_A_LONE_TAG.match(line) or not line.rstrip(" ").endswith(">")) \
                    and not any(sequence[0].search(line) for sequence in others):
                return False
        return html_block(state, start, end, silent)

    return rule


def _tab_before_tag(state, line: int) -> bool:
    """A tab in ``line``'s indentation at or past the column where the content of the
    container it is in starts. goldmark's containers take a line's indentation only up
    to their content's column (a tab reaching past it is taken whole), and its HTML
    block patterns (parser/html_block.go) allow nothing but spaces before the `<` in
    what is left: `* a` then `  \t<div>` continues the item's paragraph, so `Title` /
    `-` after it is paragraph text too, where markdown-it opened an HTML block (it
    skips any spaces and tabs). A tab right after a quote's `>` is taken by the quote
    (it stands for the space after the marker)."""
    begin = state.bMarks[line]
    first = begin + state.tShift[line]
    src = state.src
    if src.find("\t", begin, first) < 0:
        return False
    start_column = state.bsCount[line]  # (tab stops count from the line's start)
    column = 0
    for at in range(begin, first):
        if src[at] != "\t":
            column += 1
            continue
        if column >= state.blkIndent and not (at == begin and src[at - 1:at] == ">"):
            return True
        column += 4 - (start_column + column) % 4
    return False


def _container_columns(tokenize):
    """The block parser's tokenize, keeping the stack of the columns where the containers
    it is nested in start their content (state.blkIndent at each entry: the document, each
    list item, each block quote) for _lazy_code_stays_text."""

    def nested(state, start: int, end: int) -> None:
        columns = state.__dict__.setdefault("cfs_columns", [])
        columns.append(state.blkIndent)
        src = state.src
        state.src = state.__dict__.get("cfs_text", src)  # (_marker_then_cr)
        try:
            tokenize(state, start, end)
        finally:
            columns.pop()
            state.src = src

    return nested


def _lazy_code_stays_text(rule):
    """A rule that can interrupt a paragraph, refusing to where the line is indented four
    columns or more past the content of the container it belongs to (CommonMark: an
    indented code line cannot interrupt a paragraph, so it continues it lazily, as goldmark
    reads it). markdown-it measures a line from the innermost list item's content only:
    for it `   - a` then `    ```` ended the paragraph, and `Title` / `---` after them
    was a heading, where goldmark reads paragraph text and a thematic break. A line a
    block quote made lazy (markdown-it marks it with a count of -1, and a quote nested in
    that one took it for a line of no indentation: `>>a` then `    #` ended both quotes)
    is measured as the first quote it left saw it (_indented_quote_marks keeps that)."""

    def interrupts(state, line: int, end: int, silent: bool) -> bool:
        if silent:
            indent = state.sCount[line]
            if indent < 0:  # lazy in a block quote: as the quote it left saw it
                indent, depth = state.__dict__.get("cfs_lazy", {}).get(line, (-1, 0))
                base = next((column for column in reversed(state.cfs_columns[:depth])
                             if column <= indent), 0)
                if indent - base >= 4:
                    return False
            elif 4 <= indent < state.blkIndent:
                # the innermost container whose content the line reaches (a block quote's
                # lines are counted from its content, and it starts at column 0)
                base = next((column for column in reversed(state.cfs_columns)
                             if column <= indent), 0)
                if indent - base >= 4:
                    return False
        return rule(state, line, end, silent)

    return interrupts


def _indented_quote_marks(blockquote):
    """markdown-it-py's block quote rule, not continuing the quote on a line whose `>`
    is indented four columns or more past the content of the container the quote is in
    (goldmark's parser/blockquote.go, as CommonMark, takes a `>` only after at most
    three: such a line is a lazy line of the quote's paragraph, or ends the quote).
    markdown-it checks the indentation on the quote's first line only: for it `>x`
    then `    >` ended the paragraph, and `Title` / `===` after them was a heading,
    where goldmark reads one paragraph. The rule is given those lines as lazy ones (as
    it marks them itself) and refuses to start a quote on them; an empty line ends
    the search, as it ends the quote."""

    def rule(state, start: int, end: int, silent: bool) -> bool:
        refused = state.__dict__.get("cfs_not_quotes")
        if silent:
            return start not in (refused or ()) and blockquote(state, start, end, silent)
        src = state.src
        lazy = {}
        # The lines this quote may make lazy, with their indentation and the containers
        # around the quote, for _lazy_code_stays_text (a quote nested in it sees them
        # lazy already): the first quote a line leaves is the one whose view counts.
        seen = state.__dict__.setdefault("cfs_lazy", {})
        depth = len(state.__dict__.get("cfs_columns", ()))
        added = []
        for line in range(start + 1, end):
            at = state.bMarks[line] + state.tShift[line]
            if at >= state.eMarks[line]:
                break
            count = state.sCount[line]
            if src[at] == ">" and count - state.blkIndent >= 4:
                lazy[line] = count
            if count >= 0 and (src[at] != ">" or line in lazy) and line not in seen:
                seen[line] = (count, depth)
                added.append(line)
        try:
            if not lazy:
                return blockquote(state, start, end, silent)
            return _lazy_quote_marks(blockquote, state, start, end, lazy, refused)
        finally:
            for line in added:
                del seen[line]

    return rule


def _lazy_quote_marks(blockquote, state, start: int, end: int, lazy: dict, refused) -> bool:
    """``blockquote`` reading the lines of ``lazy`` (their `>` indented four columns or
    more) as lazy lines, and refusing to start a quote on them."""
    state.cfs_not_quotes = (refused or frozenset()) | lazy.keys()
    for line in lazy:
        state.sCount[line] = -1  # (markdown-it's mark of a lazy line)
    try:
        return blockquote(state, start, end, False)
    finally:
        for line, count in lazy.items():
            state.sCount[line] = count
        state.cfs_not_quotes = refused


def _marker_then_cr(list_block):
    """markdown-it-py's list rule, taking no list marker that a CR followed in the body
    (MARKER_CRS in the parse's env): goldmark's parser/list.go (parseListItem) wants a
    space, a tab or the line's end after the marker, and a CR is none of them, so `-`
    then a CR is paragraph text (`Title` and `===` after it make a heading), where the
    CR, a space in the text parsed, made it an empty item. The rule reads, for itself
    only, a text with a letter in place of each such CR (its item's contents are read
    from the text parsed: elsewhere the CR is white space for goldmark too, a setext
    underline `-` then a CR among it)."""

    def rule(state, start: int, end: int, silent: bool) -> bool:
        places = state.env.get(MARKER_CRS) if isinstance(state.env, dict) else None
        if not places:
            return list_block(state, start, end, silent)
        text = state.__dict__.setdefault("cfs_text", state.src)
        marked = state.__dict__.get("cfs_marked")
        if marked is None:
            chars = list(text)
            for at in places:
                chars[at] = "x"
            marked = state.cfs_marked = "".join(chars)
        state.src = marked
        try:
            return list_block(state, start, end, silent)
        finally:
            state.src = text

    return rule


def _definition_lines(list_block):
    """markdown-it-py's list rule, also deciding which lines a link reference definition
    may take as goldmark does: goldmark reads definitions off a paragraph, so a list
    item ends them only where it interrupts a paragraph (`2. x` or an empty `-` never
    does), and a setext underline ends them (it closes the paragraph: `[a]:` then `===`
    is a heading for goldmark, the definition of `a` as `===` for markdown-it)."""

    def rule(state, start: int, end: int, silent: bool) -> bool:
        if silent and state.parentType == "reference":
            if _underlines(state, start):
                return True
            state.parentType = "paragraph"
            try:
                return list_block(state, start, end, silent)
            finally:
                state.parentType = "reference"
        return list_block(state, start, end, silent)

    return rule


def _underlines(state, line: int) -> bool:
    """``line`` could underline a setext heading, as markdown-it's lheading rule reads
    one: not lazy, not code, `=`s or `-`s and then spaces only."""
    if state.sCount[line] < state.blkIndent or state.is_code_block(line):
        return False
    at = state.bMarks[line] + state.tShift[line]
    mark = state.src[at:at + 1]
    return mark in ("-", "=") and \
        state.skipSpaces(state.skipCharsStr(at, mark)) >= state.eMarks[line]


def _definition_paragraph(reference):
    """markdown-it-py's link reference definition rule, reading the lines after a
    definition as the rest of its paragraph when they continue it, as goldmark (and
    CommonMark) do: they are another definition, paragraph text or a setext heading's
    text, never a block of their own (markdown-it starts one there: `[a]: /u` then
    `2. x` then `---` is a list and a thematic break for it, a level-2 heading `2. x`
    for goldmark; likewise an indented line, a lone HTML tag, or a lazy line after a
    definition in a list item)."""

    def rule(state, start: int, end: int, silent: bool) -> bool:
        if not reference(state, start, end, silent):
            return False
        more = not silent
        while more and state.line < state.lineMax and _continues_paragraph(state, state.line):
            line = state.line
            shift = state.sCount[line]
            if state.is_code_block(line):  # (not code here: a line of the paragraph)
                state.sCount[line] = state.blkIndent
            try:
                more = reference(state, line, end, False)
                if not more and not _block_rule(state, "lheading")(state, line, end, False):
                    _block_rule(state, "paragraph")(state, line, end, False)
            finally:
                state.sCount[line] = shift
        return True

    return rule


def _block_rule(state, name: str):
    rules = state.md.block.ruler
    return rules.__rules__[rules.__find__(name)].fn


def _continues_paragraph(state, line: int) -> bool:
    """Whether ``line`` continues a paragraph above it, as markdown-it's paragraph rule
    decides: not empty, not an underline, and indented as code, lazy in a quote, or
    interrupted by no block."""
    if state.isEmpty(line) or _underlines(state, line):
        # (an underline after a paragraph of definitions alone starts a block of its own
        # for goldmark: parser.go retries the line when the paragraph is gone)
        return False
    if state.is_code_block(line) or state.sCount[line] < 0:
        return True
    parent = state.parentType
    state.parentType = "paragraph"
    try:
        return not any(interrupts(state, line, state.lineMax, True)
                       for interrupts in state.md.block.ruler.getRules("paragraph"))
    finally:
        state.parentType = parent


# White space for goldmark's emphasis (Go's unicode.IsSpace) that markdown-it takes for a
# letter: next to a run of `*` or `_` it decides whether the run opens or closes.
_GO_ONLY_SPACES = frozenset("\x85\u2028\u2029")
_AS_SPACES = dict.fromkeys(map(ord, _GO_ONLY_SPACES), " ")
_RUN = re.compile(r"\*+|_+")


def _goldmark_flanking(emphasis):
    """markdown-it-py's emphasis rule, seeing NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR
    next to a delimiter run as the white space they are for goldmark (its delimiter
    scan asks Go's unicode.IsSpace): `*b\u2028*` is no emphasis, `_b_\u2028c` is. The
    rule reads only the run and the characters either side of it; for the call, it is
    given the text with a space in place of each of the three."""

    def rule(state, silent: bool) -> bool:
        src = state.src
        at = state.pos
        if silent or src[at] not in "*_":
            return emphasis(state, silent)
        end = _RUN.match(src, at).end()
        before = at > 0 and src[at - 1] in _GO_ONLY_SPACES
        after = end < state.posMax and src[end] in _GO_ONLY_SPACES
        if not (before or after):
            return emphasis(state, silent)
        # The text with all of them spaces, made once per text: a copy for each run
        # next to one made a heading of such runs take quadratic time.
        spaced = state.__dict__.get("cfs_spaced")
        if spaced is None or spaced[0] is not src:
            spaced = state.cfs_spaced = (src, src.translate(_AS_SPACES))
        state.src = spaced[1]
        try:
            return emphasis(state, silent)
        finally:
            state.src = src

    return rule


_SMALL_DECLARATION = re.compile(r"<![a-z]")
_NOT_A_LONE_TAG = re.compile(r"</(?:script|style|pre)\b", re.IGNORECASE)
