"""The structural headings of a _node.md body: where they are, their raw lines, their text."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

# Anything that can open inline markup (code span, emphasis, link or image, autolink or
# HTML, entity, escape): a heading without one is its lines' text joined.
_MARKUP = re.compile(r"[`*_\[<&\\]")


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


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt  # imported on first use: a warm run parses nothing

    md = MarkdownIt("commonmark")
    # Block structure only; the few heading lines get their inline parse one by one.
    # Without text_join, escapes and entities stay tokens of their own that keep the
    # text as written (v5 keeps it so).
    md.disable(["inline", "text_join"])
    return md


def atx_content(line: str) -> str:
    """ATX heading text as written: opening #s, optional closing sequence and the
    spaces and tabs around it removed."""
    s = line.lstrip(" ")
    level = len(s) - len(s.lstrip("#"))
    rest = s[level:].rstrip(" \t")
    bare = rest.rstrip("#")
    if bare != rest and (not bare or bare[-1] in " \t"):
        rest = bare
    return rest.strip(" \t")


def structural_headings(body: str, lines: list[str]) -> list[Heading]:
    """Every structural heading of ``body`` (split into ``lines`` at LF), in order.

    An ATX heading with no content at all is not one: v5 reads its line as content.
    """
    # A lone CR ends a line for CommonMark but not for v5 (its Markdown reader splits at
    # LF only); a space in its place keeps both line numberings identical. Texts are
    # taken from the real lines, so they keep the CR.
    source = body.replace("\r", " ") if "\r" in body else body
    md = _parser()
    env: dict = {}
    heads = []
    for tok in md.parse(source, env):
        if tok.type != "heading_open" or tok.level != 0 or tok.tag not in ("h1", "h2"):
            continue
        start, end = tok.map
        if tok.markup[0] == "#":
            content = atx_content(lines[start])
            if not content:
                continue
            raw, first = lines[start].rstrip(" \t"), start + 1
            text, lost = _runs(content, md, env)
            heads.append(Heading(start, start, len(tok.markup), raw, first, text, False, lost))
            continue
        texts = lines[start:end - 1]  # the underline is the last line of the block
        # The raw heading is at most two lines: a third text line and the underline
        # are the first content lines (v5's reading, FORMAT.md 4.4).
        shown = texts[:2]
        raw = "\n".join(shown).rstrip(" \t")
        joined = "\n".join(line.strip(" \t") for line in texts)
        text, lost = _runs(joined, md, env)
        heads.append(Heading(start, end - 1, 1 if tok.markup == "=" else 2, raw, start + len(shown),
                             text, True, lost))
    return heads


def _runs(content: str, md, env: dict) -> tuple[str, str]:
    """The heading's own plain-text runs joined, and the text markup took out.

    Code spans, emphasis, links and images (with everything inside), autolinks and
    HTML tags contribute nothing; escapes and entities stay as written; a line break
    joins two lines with nothing between.
    """
    if not _MARKUP.search(content):
        return content.replace("\n", ""), ""
    tokens = md.inline.parse(content, md, env, [])
    kept: list[str] = []
    lost: list[str] = []
    depth = 0
    after_text = False
    for tok in tokens:
        kind = tok.type
        if tok.nesting == 1:
            depth += 1
        elif tok.nesting == -1:
            depth -= 1
        elif kind in ("softbreak", "hardbreak"):
            if depth == 0 and after_text:
                kept[-1] = kept[-1].rstrip(" \t")
        elif kind in ("text", "text_special"):
            written = tok.markup if kind == "text_special" else tok.content
            (kept if depth == 0 else lost).append(written)
        elif kind in ("code_inline", "image"):
            lost.append(tok.content)
        after_text = depth == 0 and kind in ("text", "text_special")
    return "".join(kept), " ".join(part for part in lost if part.strip(" \t"))
