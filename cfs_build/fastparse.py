"""Exact fast paths for the common shapes of a _node.md; None means "ask the full parser".

markdown-it and PyYAML cost about 0.6 ms per file, most of a cold run. Nearly every
spec is plain: paragraphs, lists, fences, and a frontmatter of names and paths. For
those the answer is computed here line by line; anything these scanners cannot
prove (HTML, a heading or fence that might sit inside a list item or quote, an
unusual YAML shape) returns None and the caller uses the full parser. The property
tests feed both the same text and require the same answer whenever this one answers.
"""
from __future__ import annotations

import re


# What a line can start with (after at most 3 spaces) to open or close a fence, a
# heading, a container or HTML. Every other line (text, 4+ columns, a tab in the
# indentation) is content at top level and cannot change what follows.
_SIGNIFICANT = frozenset("#`~<>*+-0123456789")


def structural_headings(source: str) -> list[tuple[int, int]] | None:
    """(line index, level) of every top-level ATX heading of level 1 or 2, or None.

    ``source`` is what markdown-it would parse (no CR). Top level: not in a fence,
    list item, block quote or HTML block. A list item's content is indented 2+
    columns and a heading or fence line is never a lazy continuation, so a heading
    or fence indented 0-1 columns closes every open list item and quote; one
    indented 2-3 columns while a container may be open is left to markdown-it.
    """
    heads: list[tuple[int, int]] = []
    fence_char, fence_len = "", 0
    container = False  # a list item or block quote may be open
    for line, text in enumerate(source.split("\n")):
        if not text:
            continue
        first = text[0]
        if first == " ":
            rest = text.lstrip(" ")
            indent = len(text) - len(rest)
            if indent > 3 or not rest:
                continue
            first = rest[0]
        else:
            rest, indent = text, 0
        if first not in _SIGNIFICANT:
            continue
        if fence_len:
            if first == fence_char:
                run = len(rest) - len(rest.lstrip(first))
                if run >= fence_len and not rest[run:].strip(" \t"):
                    fence_len = 0
            continue
        if first == "#":
            run = len(rest) - len(rest.lstrip("#"))
            if run > 6 or (run < len(rest) and rest[run] not in " \t"):
                continue  # paragraph text such as '#tag'
            if container:
                if indent >= 2:
                    return None
                container = False
            if run <= 2:
                heads.append((line, run))
        elif first == "`" or first == "~":
            run = len(rest) - len(rest.lstrip(first))
            if run < 3 or (first == "`" and "`" in rest[run:]):
                continue  # inline code in a paragraph, not a fence
            if container:
                if indent >= 2:
                    return None
                container = False
            fence_char, fence_len = first, run
        elif first == "<":
            return None  # HTML blocks have their own end rules
        else:
            container = True  # maybe a list item or quote: over-eager is only slower
    return heads


# A YAML plain scalar that is certainly a string: it has a '/', so no int, float,
# bool, null or timestamp pattern matches, and no character that YAML treats
# specially in block or flow context (':', '#', ',', brackets, quotes, tabs).
_PLAIN = r"[A-Za-z0-9_.(][A-Za-z0-9_./()\- ]*"
_SCALAR_LINE = re.compile(rf"(depends_on|input|output): +({_PLAIN})")
_FLOW_LINE = re.compile(rf"depends_on: +\[ *({_PLAIN}(?: *, *{_PLAIN})*) *\]")
_KEY_LINE = re.compile(r"depends_on: *")
_ITEM_LINE = re.compile(rf"( *)- +({_PLAIN})")
_FLOW_SPLIT = re.compile(r" *, *")


def _string(value: str) -> bool:
    return "/" in value and not value.endswith(" ")


def frontmatter(source: str) -> dict | None:
    """The recognized keys of a simple frontmatter with their file lines, or None.

    Same result as the YAML path: ``{"depends_on": (names, lines), "input": (name,
    line), "output": (path, line)}``. Handles ``key: value`` lines and ``depends_on``
    as a one-line ``[a, b]`` or a block list; anything else (comments, quotes, other
    keys, blank lines, repeated keys) returns None.
    """
    lines = source.split("\n")
    if lines[-1] == "":
        lines.pop()
    result: dict = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 2  # the frontmatter starts on file line 2
        index += 1
        match = _SCALAR_LINE.fullmatch(line)
        if match:
            key, value = match.groups()
            if key == "depends_on" or key in result or not _string(value):
                return None
            result[key] = (value, number)
            continue
        match = _FLOW_LINE.fullmatch(line)
        if match:
            names = tuple(_FLOW_SPLIT.split(match.group(1)))
            if "depends_on" in result or not all(_string(n) for n in names):
                return None
            result["depends_on"] = (names, (number,) * len(names))
            continue
        if not _KEY_LINE.fullmatch(line) or "depends_on" in result:
            return None
        names, item_lines, indent = [], [], None
        while index < len(lines):
            item = _ITEM_LINE.fullmatch(lines[index])
            if item is None:
                break
            if indent is None:
                indent = item.group(1)
            if item.group(1) != indent or not _string(item.group(2)):
                return None
            names.append(item.group(2))
            item_lines.append(index + 2)
            index += 1
        if not names:
            return None  # an empty key is null in YAML; leave the details to it
        result["depends_on"] = (tuple(names), tuple(item_lines))
    return result
