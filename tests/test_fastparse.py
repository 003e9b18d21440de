"""The fast paths agree with markdown-it and PyYAML whenever they answer."""
from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cfs_build import node
from cfs_build.fastparse import frontmatter, structural_headings

_MD = MarkdownIt("commonmark")
_MD.disable("inline")


def markdown_it_headings(source: str) -> list[tuple[int, int]]:
    return [(tok.map[0], len(tok.markup)) for tok in _MD.parse(source)
            if tok.type == "heading_open" and tok.level == 0 and tok.markup in ("#", "##")]


INDENTS = ["", " ", "  ", "   ", "    ", "\t", " \t", "  \t", "     "]
LINES = ["# H", "## H", "### H", "#", "##", "#x", "####### x", "# H #", "## H ##  ", "```",
         "````", "~~~", "~~~~", "``` py", "```a`b", "~~~ a`b", "``", "- a", "- ", "-", "* a",
         "+ a", "1. a", "1) a", "2. a", "> q", "> # H", "- # H", "- ```", "1. ```", "---",
         "===", "***", "text", "<div>", "<!-- c", "-->", "[a]: /url", "'", "", "#\tH",
         "-\tx", "\u00a0# H", "\x0c# H", "```\x00", "#\x00"]

line = st.builds(lambda i, body: i + body, st.sampled_from(INDENTS), st.sampled_from(LINES))
documents = st.builds(lambda ls, end: "\n".join(ls) + end, st.lists(line, max_size=14),
                      st.sampled_from(["", "\n"]))


@settings(max_examples=600, deadline=None)
@given(documents)
def test_headings_match_markdown_it(source):
    fast = structural_headings(source)
    if fast is not None:
        assert fast == markdown_it_headings(source)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="#`~-*+>1. \t<abc\n", max_size=80))
def test_headings_match_markdown_it_on_arbitrary_text(source):
    fast = structural_headings(source)
    if fast is not None:
        assert fast == markdown_it_headings(source)


def test_plain_spec_needs_no_markdown_it():
    text = ("# SPEC/a\n\nIntent.\n\n# Public\n\n## Interface\n\n- one\n- two\n\n```py\n"
            "# not a heading\n```\n\n# Agent\n\nDo it.\n")
    assert structural_headings(text) == [(0, 1), (4, 1), (6, 2), (15, 1)]
    assert markdown_it_headings(text) == [(0, 1), (4, 1), (6, 2), (15, 1)]


def test_heading_that_may_sit_in_a_list_item_is_left_to_markdown_it():
    assert structural_headings("- item\n\n  # inside\n") is None
    assert structural_headings("<div>\n# H\n</div>\n") is None


def yaml_fields(source: str) -> tuple[dict, list]:
    report = node._Report("SPEC/x", "x/_node.md")
    return node._frontmatter(source, report), report.items


VALUES = ["SPEC/a", "SPEC/a/b(Q)", "SPEC/a(b  c)", "src/x.py", "x.py", "1/2", "2024-01-01",
          "yes", "null", "SPEC/a #c", "SPEC/a: b", "'SPEC/a'", "SPEC/a ", "ARTIFACT/x/y",
          ".5/x", "(a)/b", "SPEC/a -b", "SPEC/a\tb", "&a x/y", "!x a/b"]
KEYS = ["depends_on:", "input:", "output:", "other:"]
scalar_line = st.builds(lambda k, sp, v: f"{k}{sp}{v}", st.sampled_from(KEYS),
                        st.sampled_from(["", " ", "  "]), st.sampled_from(VALUES))
flow_line = st.builds(lambda vs, sep: "depends_on: [" + sep.join(vs) + "]",
                      st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
                      st.sampled_from([", ", ",", " , "]))
block = st.builds(lambda ind, vs: "depends_on:\n" + "".join(f"{i}- {v}\n" for i, v in zip(ind, vs)),
                  st.lists(st.sampled_from(["  ", "", "    "]), min_size=3, max_size=3),
                  st.lists(st.sampled_from(VALUES), max_size=3))
parts = st.lists(st.one_of(scalar_line.map(lambda s: s + "\n"), flow_line.map(lambda s: s + "\n"),
                           block, st.sampled_from(["\n", "# c\n", "  x/y\n"])),
                 min_size=1, max_size=4)


@settings(max_examples=600, deadline=None)
@given(parts)
def test_frontmatter_matches_yaml(pieces):
    source = "".join(pieces)
    fast = frontmatter(source)
    if fast is not None:
        assert yaml_fields(source) == (fast, [])


def test_common_frontmatter_needs_no_yaml():
    source = "output: src/a.py\ndepends_on:\n  - SPEC/b(Interface)\n  - ARTIFACT/c/d\n"
    assert frontmatter(source) == {"output": ("src/a.py", 2),
                                   "depends_on": (("SPEC/b(Interface)", "ARTIFACT/c/d"), (4, 5))}
    assert yaml.safe_load(source)["depends_on"] == ["SPEC/b(Interface)", "ARTIFACT/c/d"]


def test_values_yaml_would_not_read_as_names_are_left_to_yaml():
    assert frontmatter("output: 12\n") is None
    assert frontmatter("input: SPEC/a # note\n") is None
    assert frontmatter("depends_on:\n") is None
