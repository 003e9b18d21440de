"""markdown-it-pyrs reads every body's structural headings exactly as markdown-it-py does:
arbitrary Markdown through both, and the parser's choice, forcing and naming."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build.reading import parsers
from cfs_build.reading.headings import structural_headings
from conftest import spec

pytest.importorskip("markdown_it_pyrs", reason="markdown-it-pyrs has no wheel for this platform")

# Inline pieces: plain words and whitespace, and everything that opens inline markup,
# whole (`code`, *em*, [link](u), <http://a>) and as stray delimiters.
_INLINE = st.sampled_from([
    "Public", "Agent", "a", "word", "SPEC/x", "é", "λ", "\u00a0", "\u3000", "\x00", " ", "  ",
    "\t", "#", " #", "##", "=", "-", "`code`", "``", "`` a ` ``", "` x `", "*em*", "_em_",
    "**strong**", "__s__", "***x***", "*", "_", "`", "[", "]", "(", ")", "!", "<", ">", "\\",
    "[link](/u)", "[link](/u 'title')", "[ref]", "[ref][]", "[*a* `b`][ref]", "![img](/i)",
    "![*a* `b` c](/i)", "![](/i)", "![ref]", "<http://a.b/c>", "<a@b.c>", "<http://x/%41é>",
    "<b>", "</b>", "<span class='x'>", "<!-- c -->", "<?p?>", "\\_", "\\*", "\\\\", "\\#",
    "\\`", "&amp;", "&#35;", "&#x41;", "&bogus;", "&copy", "~~s~~", "a_b_c", "foo*bar*",
    "[`", "[``", "[a\nb]", "\u2028", "\x85", "*b\u2028*", "_b_\u2029",
])
_TEXT = st.lists(_INLINE, min_size=0, max_size=8).map("".join)
_INDENT = st.sampled_from(["", " ", "  ", "   ", "    ", "\t", " \t"])
_TRAIL = st.sampled_from(["", " ", "  ", "\t", " \t ", "\u00a0"])


@st.composite
def _atx(draw) -> list[str]:
    hashes = "#" * draw(st.integers(1, 7))
    gap = draw(st.sampled_from(["", " ", "  ", "\t"]))
    close = draw(st.sampled_from(["", " #", " ##", "#", " \\#", " # x"]))
    return [draw(_INDENT) + hashes + gap + draw(_TEXT) + close + draw(_TRAIL)]


@st.composite
def _setext(draw) -> list[str]:
    texts = [draw(_INDENT) + draw(_TEXT) + draw(_TRAIL) for _ in range(draw(st.integers(1, 3)))]
    mark = draw(st.sampled_from("=-"))
    underline = draw(st.sampled_from(["", " ", "  ", "   ", "    "])) + mark * draw(
        st.integers(1, 4)) + draw(st.sampled_from(["", " ", "  ", " x", "\t"]))
    return texts + [underline]


@st.composite
def _fence(draw) -> list[str]:
    mark = draw(st.sampled_from(["```", "~~~", "````", "``"]))
    inner = draw(st.lists(st.one_of(_atx(), _setext(), st.just([""])), max_size=2))
    closing = [draw(_INDENT) + mark] if draw(st.booleans()) else []
    return [draw(_INDENT) + mark + draw(st.sampled_from(["", "md", "a`b"]))] + \
        [line for block in inner for line in block] + closing


@st.composite
def _container(draw) -> list[str]:
    """A heading or setext text inside a quote, list item or indented code."""
    prefix = draw(st.sampled_from(["> ", ">", "- ", "* ", "1. ", "2) ", "    ", "\t", "  ", "   - ",
                                   "100. ", "-    "]))
    inner = draw(st.one_of(_atx(), _setext(), st.just([draw(_TEXT)])))
    lazy = draw(st.booleans())
    return [prefix + line if index == 0 or not lazy else line
            for index, line in enumerate(inner)]


_HTML = st.sampled_from([["<div>", "# in html", "</div>"], ["<!-- c", "# x", "-->"],
                         ["<pre>", "Title", "===", "</pre>"], ["<?php", "## y", "?>"],
                         ["<b>inline</b>", "---"], ["<custom-tag>", "Agent", "---"]])
_LINES = st.sampled_from([[""], [""], ["---"], ["***"], ["___"], ["- - -"], ["==="],
                          ["[ref]: /target"], ["[ref]: /target 'title'"], ["[ref]: javascript:x"],
                          ["[ref]:", "/target"], ["[Ref]: <data:x>"], ["plain text"],
                          ["-"], ["="], ["  ---  "], ["    ---"], ["[ref]: /t", "2. x"],
                          ["[ref]:", "="], ["[ref]: /t", "    x"], ["    ```"], ["    # x"],
                          ["     <div>"]])
_BLOCK = st.one_of(_atx(), _setext(), _fence(), _container(), _HTML, _LINES, _TEXT.map(
    lambda text: [text]))


@st.composite
def bodies(draw) -> str:
    lines = [line for block in draw(st.lists(_BLOCK, max_size=10)) for line in block]
    ends = draw(st.lists(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"]),
                         min_size=len(lines), max_size=len(lines)))
    return "".join(line + end for line, end in zip(lines, ends)) + draw(
        st.sampled_from(["", "tail", "# end"]))


def headings(body: str, parser: str):
    """The structural headings as _node.md reading splits the body, with ``parser``."""
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    with mock.patch.dict(os.environ, {parsers.ENV: parser}):
        return structural_headings(body, lines)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_both_parsers_read_the_same_structural_headings(body):
    # Every field: level, lines, raw heading, text and the markup text messages quote.
    assert headings(body, parsers.RS) == headings(body, parsers.PY)


def test_a_quote_is_read_as_commonmark_says_whichever_parser_is_chosen():
    # Found by the differential test: the Rust port continues the inner quote's
    # paragraph past `> -`, where CommonMark starts an empty list item in the outer
    # quote, so `Public` / `=` below it is a level-1 setext heading (markdown-it-py,
    # commonmark.js and goldmark agree). Bodies with a quote go to markdown-it-py.
    body = "#\n#\n> >Public\n> -\nPublic\n=\n"
    for parser in (parsers.RS, parsers.PY):
        assert [(h.level, h.text) for h in headings(body, parser)][-1:] == [(1, "Public")]
    with mock.patch.dict(os.environ, {parsers.ENV: parsers.RS}):
        assert type(parsers.document("- > quoted\n")) is parsers.PyDocument
        assert type(parsers.document("a > b\n")) is parsers.RsDocument


@pytest.mark.parametrize("body, kind", [
    # markdown-it-pyrs's rules cannot be adjusted: bodies where it reads a reference
    # definition's lines or a list item's lazy line otherwise than goldmark go to
    # markdown-it-py, which is adjusted (goldmark_rules._definition_paragraph,
    # goldmark_rules._lazy_code_stays_text) ...
    ("[r]: /u\n2. x\n---\n", parsers.PyDocument),
    ("- [r\n  s]: /u\n  2. x\n", parsers.PyDocument),
    ("   - a\n    ```\nTitle\n---\n", parsers.PyDocument),
    ("- x\n     - a\n      # y\n", parsers.PyDocument),
    ("# A\n   -\ta\n     ```\n", parsers.PyDocument),  # (a tab: any column counts)
    ("   - a\n\t```\nTitle\n---\n", parsers.PyDocument),
    # ... or a tab before an HTML tag that goldmark_rules._tab_before_tag may refuse ...
    ("- a\n\n   \t<div>\nTitle\n-\n", parsers.PyDocument),
    ("1. a\n\n   \t<!-- c\n", parsers.PyDocument),
    # ... and only those: definitions ending at a blank line, nested lists, code after text
    ("[r]: /u\n[s]: /v\n\nText [r]\n", parsers.RsDocument),
    ("- a\n    - b\n    - c\n1. a\n   - b\n", parsers.RsDocument),
    ("Text\n    # code\n- a\n", parsers.RsDocument),
    ("   - a\n\n    ```\n", parsers.RsDocument),
    ("Text\t<b>bold</b>\n", parsers.RsDocument),
    # markdown-it-pyrs takes quadratic time over a long run of definitions
    ("".join(f"[r{i}]: /u\n" for i in range(501)) + "\n# A\n", parsers.PyDocument),
    ("".join(f"[r{i}]: /u\n" for i in range(500)) + "\n# A\n", parsers.RsDocument),
])
def test_bodies_markdown_it_pyrs_misreads_go_to_markdown_it_py(body, kind):
    with mock.patch.dict(os.environ, {parsers.ENV: parsers.RS}):
        assert type(parsers.document(body)) is kind


@pytest.mark.parametrize("lazy", ["", "    ```\n"])
def test_a_thousand_nested_list_items_are_read_not_a_recursion_error(lazy):
    # Each level two spaces deeper: no line is long enough to go to markdown-it-py, and
    # the Rust port's tree is as deep as the list.
    body = "".join("  " * depth + "- a\n" for depth in range(1000)) + lazy + "# B\n"
    with mock.patch.dict(os.environ, {parsers.ENV: parsers.RS}):
        assert [block.index for block in parsers.document(body).blocks] == [1000 + bool(lazy)]


def test_looking_for_a_line_too_long_for_the_rust_port_costs_little_on_long_lines():
    # 250 lines just short of the limit: each position of a line was tried to its end.
    import time
    body = ("x" * (parsers._DEEP_LINE - 10) + "\n") * 250
    started = time.perf_counter()
    assert not parsers._may_nest_deep(body)
    assert parsers._may_nest_deep(body + "y" * (parsers._DEEP_LINE + 1))
    assert time.perf_counter() - started < 0.5


def test_looking_for_a_quote_costs_little_on_a_line_of_markers_and_many_quote_marks():
    # Each '>' of the line was tried from the line's start, past every marker before it.
    import time
    started = time.perf_counter()
    assert not parsers._has_quote("- " * 8000 + "x" + ">" * 8000 + "\n")
    assert parsers._has_quote("a > b\n" + "- " * 8000 + ">" * 8000 + "\n")
    assert time.perf_counter() - started < 0.5


def test_looking_for_white_space_after_a_tag_costs_little_on_a_long_run_of_tabs():
    import time
    started = time.perf_counter()
    assert not parsers._html_differs("<a>" + "\t" * 40_000 + "x\n")
    assert parsers._html_differs("<a>" + "\t" * 40_000 + "\n")
    assert not parsers._html_differs("<a>" + " " * 40_000 + "\n")
    # a tab and then a '<' was searched for from each tab of a run
    assert not parsers._html_differs("a" + "\t" * 40_000 + "x\n")
    assert parsers._html_differs("x <\n- " * 40_000 + "\t<\n")
    assert time.perf_counter() - started < 0.5


def test_the_environment_chooses_the_parser_the_differential_test_compares():
    for name, kind in ((parsers.RS, parsers.RsDocument), (parsers.PY, parsers.PyDocument)):
        with mock.patch.dict(os.environ, {parsers.ENV: name}):
            assert type(parsers.document("# a\n")) is kind
    with mock.patch.dict(os.environ, {parsers.ENV: ""}):  # the automatic choice
        assert type(parsers.document("# a\n")) is parsers.RsDocument
        # A lone surrogate cannot reach the Rust parser; markdown-it-py reads that body.
        assert type(parsers.document("# a\ud800\n")) is parsers.PyDocument


def test_references_are_read_only_where_a_heading_could_use_one(capfd):
    """Most bodies are parsed once: markdown-it-py's block pass runs again only for a
    heading with a `[` in a body with a `]:`."""
    plain = parsers.RsDocument("# A *b* `c` [d](u) <b>g</b> \\_ &amp;\n\n[`x\n")
    assert plain.runs(0, "A *b* `c` [d](u) <b>g</b> \\_ &amp;") == (
        "A    g \\_ &amp;", "b c d")
    assert plain._with_references is None
    body = "Line *one*\nLine [two][r]\n===\n\n[r]: /u\n"
    referring = parsers.RsDocument(body)
    assert referring.runs(0, "Line *one*\nLine [two][r]") == ("Line Line ", "one two")
    assert referring._with_references is not None
    assert capfd.readouterr().err == ""  # markdown-it-pyrs's inline parser would panic here


def _cfs(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_version_names_the_parser_in_use():
    automatic = _cfs("--version", env={parsers.ENV: ""})
    assert automatic.returncode == 0
    assert "parser: markdown-it-pyrs " in automatic.stdout
    forced = _cfs("--version", env={parsers.ENV: parsers.PY})
    assert "parser: markdown-it-py " in forced.stdout


def test_an_unknown_parser_is_refused_with_what_to_do(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "\n# Public\n\n## A\n\nx\n")})
    run = _cfs("-C", str(root), "status", env={parsers.ENV: "commonmark"})
    assert run.returncode == 3
    assert "CFS_PARSER='commonmark'" in run.stderr and "markdown-it-py" in run.stderr
    assert "Traceback" not in run.stderr


_QUOTE_ANYWHERE = re.compile(r"^[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)*>", re.M)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([">", " ", "\t", "-", "*", "+", "1", "12.", "3)", "1234567890.",
                                 "a", "\n", "- >", "> ", "x>", "->"]), max_size=30))
def test_quote_check_tries_only_lines_with_a_quote_mark_and_agrees(pieces):
    """parsers._has_quote answers what a multi-line search of the same pattern answers."""
    source = "".join(pieces)
    assert parsers._has_quote(source) == (_QUOTE_ANYWHERE.search(source) is not None)
