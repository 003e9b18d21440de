"""v5's words for frontmatter YAML it refuses: goccy/go-yaml's message, position and excerpt.

The expected texts follow goccy's rules (FORMAT.md 4.1): `[line:col]` of the token within
the YAML, `> NN | ` on the problem's line and `   NN | ` on up to three lines around it, a
caret under the column, and a line break after the caret even when nothing follows.
"""
from __future__ import annotations

import pytest

from cfs_build.building import v5tools
from cfs_build.errors import Finding
from cfs_build.reading.node import parse_node
from cfs_build.analysis.project import Project
from cfs_build.analysis.snapshot import Snapshot
from cfs_build.reading.yaml_errors import v5_yaml_error
from conftest import spec

TAB = "found character '\t' that cannot start any token"


def text(*rows: str) -> str:
    """An excerpt: the rows joined by line breaks."""
    return "\n".join(rows)


# -- a key written twice -------------------------------------------------------------------

def test_repeated_key_on_the_last_line_ends_with_the_caret():
    assert v5_yaml_error("output: out/a.txt\noutput: out/l.txt\n") == text(
        'malformed YAML: [2:1] mapping key "output" already defined at [1:1]',
        "   1 | output: out/a.txt",
        ">  2 | output: out/l.txt",
        "       ^",
        "")


def test_repeated_key_on_the_first_line_shows_the_lines_after():
    # Keys are compared by their text: a quoted `a` is the key `a` again.
    assert v5_yaml_error("a: 1\n'a': 2\nb: 3\n") == text(
        'malformed YAML: [2:1] mapping key "a" already defined at [1:1]',
        "   1 | a: 1",
        ">  2 | 'a': 2",
        "       ^",
        "   3 | b: 3")


def test_repeated_key_at_depth_in_document_order():
    source = "depends_on:\n  - SPEC/x\nmeta:\n  owner: a\n  owner: b\nmeta: 2\n"
    assert v5_yaml_error(source) == text(
        'malformed YAML: [5:3] mapping key "owner" already defined at [4:3]',
        "   2 |   - SPEC/x",
        "   3 | meta:",
        "   4 |   owner: a",
        ">  5 |   owner: b",
        "         ^",
        "   6 | meta: 2")


def test_middle_of_a_long_frontmatter_three_lines_each_side():
    # After the last line shown, goccy keeps the line break that closes a plain scalar
    # with it: the next line's number follows, empty.
    source = ("input: SPEC/a\ndepends_on:\n  - SPEC/b\n  - SPEC/c\noutput: out/a.txt\n"
              "output: out/b.txt\n# a comment\nextra: 1\nmore: 2\nlast: 3\n")
    assert v5_yaml_error(source) == text(
        'malformed YAML: [6:1] mapping key "output" already defined at [5:1]',
        "   3 |   - SPEC/b",
        "   4 |   - SPEC/c",
        "   5 | output: out/a.txt",
        ">  6 | output: out/b.txt",
        "       ^",
        "   7 | # a comment",
        "   8 | extra: 1",
        "   9 | more: 2",
        "  10 | ")


def test_blank_lines_before_are_skipped_and_numbers_widen_past_99():
    # Line 98, three before the problem, is blank: no token starts there.
    rows = [f"k{n}: {n}" for n in range(1, 98)] + ["", "k99: 99", "k100: 100", "k1: again"]
    assert v5_yaml_error("\n".join(rows) + "\n") == text(
        'malformed YAML: [101:1] mapping key "k1" already defined at [1:1]',
        "  99 | k99: 99",
        "  100 | k100: 100",
        "> 101 | k1: again",
        "        ^",
        "")


# -- tabs ----------------------------------------------------------------------------------------

def test_tab_starting_a_line_kept_raw_in_the_excerpt():
    assert v5_yaml_error("depends_on:\n\t- EXTERNAL/a.txt\noutput: out/l.txt\n") == text(
        f"malformed YAML: [2:1] {TAB}",
        "   1 | depends_on:",
        ">  2 | \t- EXTERNAL/a.txt",
        "       ^",
        "   3 | output: out/l.txt")


def test_tab_on_the_last_line():
    assert v5_yaml_error("output: out/l.txt\ndepends_on:\n\t- SPEC/x\n") == text(
        f"malformed YAML: [3:1] {TAB}",
        "   1 | output: out/l.txt",
        "   2 | depends_on:",
        ">  3 | \t- SPEC/x",
        "       ^",
        "")


def test_tab_after_a_plain_scalar_takes_the_next_line_before_the_caret():
    # goccy's error token begins with the scalar still pending from the line above, so
    # its excerpt runs one line further before the caret.
    assert v5_yaml_error("a: b\n\tc: d\ne: f\ng: h\n") == text(
        f"malformed YAML: [2:1] {TAB}",
        "   1 | a: b",
        ">  2 | \tc: d",
        "   3 | e: f",
        "       ^",
        "   4 | g: h")


@pytest.mark.parametrize("source", [
    "\tkey: v\n",            # before any key: indentation to goccy
    "a:\n  \t- x\n",          # right of the last key: indentation to goccy
    "a:\n  - x\n    \ty\n",  # right of the last `-`: indentation to goccy
    "a: [x,\n\ty]\n",        # inside a flow collection: allowed
    "a:\tb\n",               # after other characters on the line
])
def test_tabs_goccy_accepts_keep_cfs_words(source):
    assert v5_yaml_error(source) is None


# -- flow collections never closed -------------------------------------------------------------

def test_unclosed_flow_sequence_points_at_its_bracket():
    assert v5_yaml_error("input: SPEC/x\ndepends_on: [SPEC/a, SPEC/b\n") == text(
        "malformed YAML: [2:13] sequence end token ']' not found",
        "   1 | input: SPEC/x",
        ">  2 | depends_on: [SPEC/a, SPEC/b",
        "                   ^",
        "")


def test_unclosed_flow_mapping_points_at_its_brace():
    assert v5_yaml_error("output: {a: b\n") == text(
        "malformed YAML: [1:9] could not find flow mapping end token '}'",
        ">  1 | output: {a: b",
        "               ^",
        "")


@pytest.mark.parametrize("source", ["output: [a\nb: c\n", "output: {a\n", "x: [a, 'b'\n"])
def test_unclosed_flow_with_more_than_plain_words_keeps_cfs_words(source):
    assert v5_yaml_error(source) is None


# -- the struct: depends_on a list of strings, input and output strings ------------------------

@pytest.mark.parametrize("value, name", [
    ("SPEC/x", "string"), ("'SPEC/x'", "string"), ("5", "int"), ("1.5", "float"),
    ("true", "boolean"), (".inf", "inf")])
def test_depends_on_scalar_is_named_by_its_yaml_type(value, name):
    assert v5_yaml_error(f"depends_on: {value}\noutput: out/l.txt\n") == text(
        f"malformed YAML: [1:13] {name} was used where sequence is expected",
        f">  1 | depends_on: {value}",
        "                   ^",
        "   2 | output: out/l.txt")


def test_depends_on_mapping_points_at_its_first_colon():
    assert v5_yaml_error("depends_on:\n  a : b\n") == text(
        "malformed YAML: [2:5] mapping was used where sequence is expected",
        "   1 | depends_on:",
        ">  2 |   a : b",
        "           ^",
        "")


def test_depends_on_entry_that_is_a_mapping_or_a_list():
    assert v5_yaml_error("depends_on:\n  - SPEC/x(a: b)\noutput: out/l.txt\n") == text(
        "malformed YAML: [2:13] cannot unmarshal map[string]interface {} into Go struct "
        "field rawFrontmatterNP.DependsOn of type string",
        "   1 | depends_on:",
        ">  2 |   - SPEC/x(a: b)",
        "                   ^",
        "   3 | output: out/l.txt")
    assert v5_yaml_error("depends_on:\n  - SPEC/y\n  - [a]\n").startswith(
        "malformed YAML: [3:5] cannot unmarshal []interface {} into Go struct field "
        "rawFrontmatterNP.DependsOn of type string\n")


def test_output_and_input_given_a_list_or_a_mapping():
    assert v5_yaml_error("output:\n  - a\n  - b\n") == text(
        "malformed YAML: [2:3] cannot unmarshal []interface {} into Go struct field "
        "rawFrontmatterNP.Output of type string",
        "   1 | output:",
        ">  2 |   - a",
        "         ^",
        "   3 |   - b")
    assert v5_yaml_error("input: {a: b}\n").startswith(
        "malformed YAML: [1:8] cannot unmarshal map[string]interface {} into Go struct "
        "field rawFrontmatterNP.Input of type string\n")


def test_of_two_fields_in_error_the_first_of_the_struct_is_reported():
    # goccy decodes DependsOn, Input, Output in this order and keeps the first error,
    # whatever order the keys are written in.
    assert v5_yaml_error("output: [a]\ninput: {a: b}\n").startswith(
        "malformed YAML: [2:8] cannot unmarshal map[string]interface {} into Go struct "
        "field rawFrontmatterNP.Input of type string\n")
    assert v5_yaml_error("output: {a: b}\ndepends_on: x\n").startswith(
        "malformed YAML: [2:13] string was used where sequence is expected\n")
    # A field before it whose words are not reproduced leaves the answer unknown.
    assert v5_yaml_error("a: &x [1]\ninput: *x\noutput: [a]\n") is None


def test_frontmatter_that_is_not_a_mapping():
    assert v5_yaml_error("- a\n- b\n") == text(
        "malformed YAML: [1:1] sequence was used where mapping is expected",
        ">  1 | - a",
        "       ^",
        "   2 | - b")


# -- collecting the keys (yaml_keys): before any field is decoded ------------------------------

def test_a_key_written_out_after_it_was_merged_is_a_duplicate_key():
    assert v5_yaml_error("base: &b {output: a}\n<<: *b\noutput: x\ndepends_on: y\n") == text(
        'malformed YAML: [3:1] duplicate key "output"',
        "   1 | base: &b {output: a}",
        "   2 | <<: *b",
        ">  3 | output: x",
        "       ^",
        "   4 | depends_on: y")


def test_a_merge_key_given_a_list_points_at_the_list():
    assert v5_yaml_error("a: &a {x: 1}\n<<:\n  - *a\n") == text(
        "malformed YAML: [3:3] sequence was used where mapping is expected",
        "   1 | a: &a {x: 1}",
        "   2 | <<:",
        ">  3 |   - *a",
        "         ^",
        "")


@pytest.mark.parametrize("source", [
    "depends_on: x\n1: a\n",                  # a key that is no string: no field is read
    "output: x\nbase: &b {output: a}\n<<: *b\n",  # goccy points into the merged mapping
])
def test_key_collecting_without_v5_words(source):
    assert v5_yaml_error(source) is None


@pytest.mark.parametrize("source", [
    "output: 123\n",                        # v5 takes the text (X4)
    "depends_on: [1, 2]\n",                 # so are list entries
    "depends_on: 0x10\n",                   # goccy's number rules are not reproduced
    "base: &b [x]\noutput: *b\n",           # an alias: goccy points elsewhere
    "output: |\n  text\n",                  # a block scalar in the excerpt
])
def test_what_cfs_cannot_word_as_v5_stays_none(source):
    assert v5_yaml_error(source) is None


# -- through the parser, the index and the v5 operations ---------------------------------------

def test_parse_node_gives_the_finding_v5s_words():
    doc = parse_node("SPEC/l", "code-from-spec/l/_node.md",
                     "---\noutput: a\noutput: b\n---\n# SPEC/l\n")
    [finding] = doc.findings
    assert finding.rule == "malformed_frontmatter"
    assert finding.line == 3
    assert finding.v5.startswith('malformed YAML: [2:1] mapping key "output" already')


def test_v5_words_survive_the_index_and_the_snapshot(tree):
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nx\n",
                                front="depends_on: SPEC/x\noutput: out/l.txt")})
    want = text("parsing target node: malformed YAML: [1:13] string was used where "
                "sequence is expected",
                ">  1 | depends_on: SPEC/x",
                "                   ^",
                "   2 | output: out/l.txt")
    for _ in range(2):  # parsed, then read back from the index
        [finding] = [f for f in Project(root).findings if f.rule == "malformed_frontmatter"]
        assert "parsing target node: " + finding.v5 == want
        with pytest.raises(v5tools.Refusal) as refused:
            v5tools.load_chain(root, "SPEC/l")
        assert refused.value.message == want
    assert "  [SPEC/l] parse: " + want.removeprefix("parsing target node: ") + "\n" \
        in v5tools.validate_specs(root)
    kept = Finding("SPEC/l", "malformed_frontmatter", "d", "f", 2, v5="words")
    snapshot = Snapshot((kept,), (), (), {}, {})
    assert Snapshot._from_payload(snapshot._payload()).findings[0].v5 == "words"


def test_a_tab_after_a_lone_carriage_return_is_no_crash():
    # PyYAML counts a lone CR as a line break, goccy's words cannot be told: no v5 text.
    from cfs_build.reading.yaml_errors import v5_yaml_error
    assert v5_yaml_error("::\r\t\n") is None
