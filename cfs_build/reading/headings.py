"""The structural headings of a _node.md body: where they are, their raw lines, their text."""
from __future__ import annotations

import re
from typing import NamedTuple

from .parsers import document

# Anything that can open inline markup (code span, emphasis, link or image, autolink or
# HTML, entity, escape): a heading without one is its lines' text joined.
_MARKUP = re.compile(r"[`*_\[<&\\]")
# White space around a heading's text: a CR left in a line (CR CR LF endings) is white
# space for goldmark, v5's Markdown reader, as spaces and tabs are.
_AROUND = " \t\r"
# A CR before a line's first other character: goldmark measures indentation in spaces
# and tabs only, so there the CR is the line's first character, and the line (not a
# blank one) is paragraph text whatever follows: no heading, fence or underline.
_LEADING_CR = re.compile(r"^([ \t]*)\r(?=[ \t\r]*[^ \t\r\n])", re.MULTILINE)
# A CR right after what may be a list marker: goldmark's list item needs a space, a tab
# or the line's end after its marker, so `-` then a CR is no list item (see parsers).
_MARKER_CR = re.compile(r"(?<=[-*+.)])\r")


class Heading(NamedTuple):  # a tuple: made for every heading of every file parsed
    """One level-1 or level-2 heading that is a top-level block of the body.

    ``index`` is its first line, ``last`` its last (the underline of a setext heading)
    and ``body`` the first line of its content, as 0-based indices into the body's
    lines; ``text`` is its plain-text runs, not normalized; ``lost`` is the text
    inline markup took out of it ("" when none).
    """

    index: int
    last: int
    level: int
    raw: str
    body: int
    text: str
    setext: bool = False
    lost: str = ""


def atx_content(line: str) -> str:
    """ATX heading text as written: opening #s, optional closing sequence and the
    spaces and tabs around it removed."""
    s = line.lstrip(" ")
    level = len(s) - len(s.lstrip("#"))
    rest = s[level:].rstrip(_AROUND)
    bare = rest.rstrip("#")
    if bare != rest and (not bare or bare[-1] in _AROUND):
        rest = bare
    return rest.strip(_AROUND)


def structural_headings(body: str, lines: list[str]) -> list[Heading]:
    """Every structural heading of ``body`` (split into ``lines`` at LF), in order.

    An ATX heading with no content at all is not one: v5 reads its line as content.
    """
    # A lone CR ends a line for CommonMark but not for v5 (its Markdown reader splits at
    # LF only); a space in its place keeps both line numberings identical, and a letter
    # where it starts a line's text (_LEADING_CR). Texts are taken from the real lines,
    # so they keep the CR. Where a CR came right after a list marker the parser is told
    # (_MARKER_CR).
    if "\r" in body:
        source = _LEADING_CR.sub(r"\1x", body).replace("\r", " ")
        parsed = document(source, [cr.start() for cr in _MARKER_CR.finditer(body)])
    else:
        parsed = document(body)
    heads = []
    for position, (start, last, level, atx) in enumerate(parsed.blocks):
        if atx:
            content = atx_content(lines[start])
            if not content:
                continue
            raw = lines[start].rstrip(" \t")
            text, lost = _runs(content, parsed, position)
            heads.append(Heading(start, start, level, raw, start + 1, text, False, lost))
            continue
        texts = lines[start:last]  # the underline is the last line of the block
        # The raw heading is at most two lines: a third text line and the underline
        # are the first content lines (v5's reading, FORMAT.md 4.4).
        shown = texts[:2]
        raw = "\n".join(shown).rstrip(" \t")
        joined = "\n".join([_line_end(line) for line in texts[:-1]] + [texts[-1].strip(_AROUND)])
        text, lost = _runs(joined, parsed, position)
        heads.append(Heading(start, last, level, raw, start + len(shown), text, True, lost))
    return heads


def _line_end(line: str) -> str:
    """A setext text line other than the last, for the inline parse: its indentation
    dropped and its end written so that the parse breaks the line as goldmark does.

    goldmark breaks hard after a line ending in one backslash (not two), keeping the
    spaces before that backslash in the text; any other line loses its trailing spaces,
    tabs and CRs, a backslash left at its end being text (a space after it keeps the
    parse from taking it for a hard break)."""
    line = line.lstrip(_AROUND)
    end = line[:-1] if line.endswith("\r") else line
    if end.endswith("\\") and not end.endswith("\\\\"):
        return end
    bare = line.rstrip(_AROUND)
    return bare + " " if bare.endswith("\\") else bare


def _runs(content: str, parsed, position: int) -> tuple[str, str]:
    """The heading's own plain-text runs joined, and the text markup took out.

    Code spans, emphasis, links and images (with everything inside), autolinks and
    HTML tags contribute nothing; escapes and entities stay as written; a line break
    joins two lines with nothing between.
    """
    if not _MARKUP.search(content):
        return content.replace("\n", ""), ""
    return parsed.runs(position, content)
