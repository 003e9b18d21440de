"""The fast frontmatter readers against PyYAML's pure-Python loader: the same answers.

plain_yaml reads the common shapes without PyYAML, and frontmatter.yaml_frontmatter uses
libyaml's loader when it is there; both must give exactly what the pure loader gives.
"""
from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cfs_build.reading import frontmatter
from cfs_build.reading.frontmatter import Report, yaml_frontmatter
from cfs_build.reading.node import parse_node
from cfs_build.reading.plain_yaml import read_plain

# Mostly the shapes plain_yaml accepts, with pieces near its edge mixed in: YAML's
# booleans, nulls and numbers, indicators, quotes, spaces in odd places, other keys.
TAB_REFUSED = "found character '\\t' that cannot start any token"

GOOD_WORDS = ["SPEC/a", "SPEC/a/b(Sub one)", "src/x.py", "EXTERNAL/in.txt", "ARTIFACT/r/m",
              "_x", "x_", "a b", "a -b", "(x)", "a/b.c", "y", "n", "Yess", "nul", "a-1"]
EDGE_WORDS = ["yes", "No", "on", "OFF", "null", "Null", "NULL", "true", "False", "~", "1",
              "1.5", "0x1f", "2001-01-01", ".inf", "a  b", "a: b", "a #b", "a#b", "'q'", '"q"',
              "[a]", "{a: b}", "&x a", "*x", "!!str a", "|", ">", "a\tb", "é", "-a", "a,b",
              "=", "<<", "%x", "@x", "`x`", "", "a ", " a",
              # what the parser reads since it stopped refusing it: bytes that are no UTF-8
              # (U+FFFD by then), numbers and booleans, tabs after text and between items
              "\ufffd", "a\ufffdb", "SPEC/\ufffd(x)", "0", "-1", "TRUE", "a\t", "a \t",
              "[1, true]", "[a,\tb]", "[a\t, b]\t", "{a: 1}\t"]
KEYS = ["depends_on", "input", "output"]
EDGE_KEYS = ["outputs", "Output", "depends-on", "<<", "? output"]
INDENTS = ["", "  "]
EDGE_INDENTS = [" ", "    ", "\t"]


def _pick(draw, good: list[str], edge: list[str]) -> str:
    return draw(st.sampled_from(edge if draw(st.integers(0, 11)) == 0 else good))


@st.composite
def frontmatters(draw) -> str:
    lines = []
    order = draw(st.permutations(KEYS))  # a key twice is rare: PyYAML errs on it
    for position in range(draw(st.integers(1, 4))):
        key = _pick(draw, [order[position % 3]], EDGE_KEYS + KEYS)
        if (key == "depends_on") != (draw(st.integers(0, 11)) == 0):  # mostly the right form
            lines.append(f"{key}:" + _pick(draw, [""], ["\t", " \t"]))
            indent = _pick(draw, INDENTS, EDGE_INDENTS)
            for _ in range(draw(st.integers(0, 3)) or draw(st.integers(0, 3))):
                item_indent = _pick(draw, [indent], INDENTS + EDGE_INDENTS)
                lines.append(f"{item_indent}- {_pick(draw, GOOD_WORDS, EDGE_WORDS)}")
        else:
            sep = _pick(draw, [": "], [":", ":  ", " : ", ":\t"])
            lines.append(f"{key}{sep}{_pick(draw, GOOD_WORDS, EDGE_WORDS)}")
        if draw(st.integers(0, 11)) == 0:
            lines.append(draw(st.sampled_from(["", "# note", "...", "  ", "x", "---x"])))
    return "".join(line + "\n" for line in lines)


def pure(source: str) -> tuple[dict, list]:
    """The answer and findings with PyYAML's pure-Python loader only."""
    original = getattr(yaml, "CSafeLoader", None)
    try:
        if original is not None:
            del yaml.CSafeLoader
        report = Report("SPEC/x", "code-from-spec/x/_node.md")
        return yaml_frontmatter(source, report), report.items
    finally:
        if original is not None:
            yaml.CSafeLoader = original


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frontmatters())
@example("output: src/x.py\n")
@example("depends_on:\n- SPEC/a\n- SPEC/b(Sub one)\ninput: EXTERNAL/in.txt\n")
@example("depends_on:\n  - SPEC/a\noutput: yes\n")
@example("output: a\noutput: b\n")
def test_plain_reading_is_pyyaml_reading(source):
    plain = read_plain(source)
    if plain is None:
        return
    expected, findings = pure(source)
    assert findings == []
    assert plain == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frontmatters())
def test_libyaml_reading_is_pure_reading(source):
    report = Report("SPEC/x", "code-from-spec/x/_node.md")
    got, expected = (yaml_frontmatter(source, report), report.items), pure(source)
    if got != expected and [f.detail for f in expected[1]] == [f"YAML error: {TAB_REFUSED}"]:
        # The one difference: a tab after a line's text, which the pure loader refuses
        # and v5's YAML takes, is read by libyaml (test_node.py, the tab tests).
        assert not re.search("^ *\t", source, re.MULTILINE)
        # (raises if libyaml refuses it too; composed only: `=` has no plain constructor)
        yaml.compose(source, Loader=yaml.CSafeLoader)
        assert f"YAML error: {TAB_REFUSED}" not in [f.detail for f in got[1]]
        return
    assert got == expected


def test_the_common_shapes_are_read_plainly():
    assert read_plain("output: src/x.py\n") == {"output": ("src/x.py", 2)}
    assert read_plain("input: SPEC/a\ndepends_on:\n  - SPEC/b(Sub one)\n  - SPEC/c\n") == {
        "depends_on": (("SPEC/b(Sub one)", "SPEC/c"), (4, 5)), "input": ("SPEC/a", 2)}
    # Not plain: PyYAML decides (a boolean, a key twice, a comment).
    assert read_plain("output: yes\n") is None
    assert read_plain("output: a\noutput: b\n") is None
    assert read_plain("output: a # b\n") is None


def test_a_node_with_plain_frontmatter_never_needs_pyyaml(monkeypatch):
    def refuse(*args):
        raise AssertionError("PyYAML was used")

    monkeypatch.setattr(frontmatter, "yaml_frontmatter", refuse)
    doc = parse_node("SPEC/x", "code-from-spec/x/_node.md",
                     "---\noutput: src/x.py\n---\n# SPEC/x\n")
    assert (doc.output, doc.output_line, doc.findings) == ("src/x.py", 2, ())
