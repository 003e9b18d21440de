"""The frontmatter most nodes have, read without PyYAML: plain `key: value` and `- item` lines.

Building PyYAML's nodes costs more than the rest of a node's parse; almost every
frontmatter is a few lines such as ``output: src/x.py`` or ``depends_on:`` with
``- SPEC/a(B)`` items. Those, and only those, are read here, with exactly the result
frontmatter._frontmatter gets from PyYAML (tests/reading/test_plain_yaml.py compares both): every
line must have one of the shapes below and every value must be a plain scalar that
YAML 1.1 resolves to a string. Anything else (comments, blank lines, quotes, tabs,
other keys, a key twice, an empty value) answers None and goes to PyYAML.
"""
from __future__ import annotations

import re

# A plain scalar PyYAML resolves to the string as written: it starts with a letter or
# '_' (numbers, dates, '.inf', '~', '=' and '<<' start otherwise), holds no character
# with a meaning in YAML (':', '#', quotes, brackets, ...), single spaces only inside.
_VALUE = r"[A-Za-z_][A-Za-z0-9_./()-]*(?: [A-Za-z0-9_./()-]+)*"
_SCALAR = re.compile(rf"(input|output): ({_VALUE})")
_ITEM = re.compile(rf"((?:  )?)- ({_VALUE})")
# The words YAML 1.1 (PyYAML's SafeLoader) reads as booleans or null.
_NOT_STRINGS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off "
                         "Off OFF null Null NULL".split())


def read_plain(source: str) -> dict | None:
    """frontmatter._frontmatter's result for ``source`` (the lines between the fences, each
    ending in LF), or None when it is not of the plain shape read here."""
    lines = source.split("\n")
    if lines[-1] != "":
        return None
    lines.pop()
    result: dict = {}
    position, count = 0, len(lines)
    while position < count:
        line = lines[position]
        line_no = position + 2  # the frontmatter starts on the file's second line
        position += 1
        if line == "depends_on:":
            values, item_lines, indent = [], [], None
            while position < count:
                match = _ITEM.fullmatch(lines[position])
                if match is None:
                    break
                if indent is None:
                    indent = match[1]
                if match[1] != indent or match[2] in _NOT_STRINGS:
                    return None
                values.append(match[2])
                item_lines.append(position + 2)
                position += 1
            if not values or "depends_on" in result:
                return None
            result["depends_on"] = (tuple(values), tuple(item_lines))
            continue
        match = _SCALAR.fullmatch(line)
        if match is None or match[2] in _NOT_STRINGS or match[1] in result:
            return None
        result[match[1]] = (match[2], line_no)
    return {key: result[key] for key in ("depends_on", "input", "output") if key in result}


# Far fewer levels of nesting than libyaml (recursing in C, unchecked) needs to overrun
# even a thread's stack, and few enough that PyYAML's scanner, whose work grows with the
# square of the depth, is done in a moment.
_FEW_LEVELS = 2000


def may_nest_deep(text: str) -> bool:
    """The YAML ``text`` could nest many levels deep: every level takes one of these
    characters (a flow bracket, a sequence's dash, a key's colon or question mark)."""
    return sum(map(text.count, "[{-:?")) >= _FEW_LEVELS
