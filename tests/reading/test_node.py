"""Parsing one _node.md (FORMAT.md sections 4 and 5): frontmatter, structure, blocks."""
from __future__ import annotations

import time

import pytest

from cfs_build.reading.files import normalize_text
from cfs_build.reading.headings import atx_content as heading_text
from cfs_build.reading.node import extract, parse_node
from conftest import FIXTURES, PARSERS

DOCS = FIXTURES / "node_docs"


def parse(text: str, name: str = "SPEC/x"):
    return parse_node(name, "code-from-spec/x/_node.md", normalize_text(text))


def rules(doc) -> list[tuple[str, int | None]]:
    return [(f.rule, f.line) for f in doc.findings]


# -- frontmatter -------------------------------------------------------------------------------

def test_frontmatter_fields_and_their_lines():
    doc = parse("---\nproject_key: kept\ndepends_on:\n  - SPEC/a\n  - SPEC/b(Q)\n"
                "input: EXTERNAL/in.txt\noutput: out/x.txt\n---\n# SPEC/x\n")
    # A key v5 does not know is ignored, with a warning (tests/test_advice.py).
    assert [(f.rule, f.line, f.severity) for f in doc.findings] == [
        ("frontmatter_key", 2, "warning")]
    assert doc.depends_on == ("SPEC/a", "SPEC/b(Q)")
    assert doc.dep_lines == (4, 5)
    assert (doc.input, doc.input_line) == ("EXTERNAL/in.txt", 6)
    assert (doc.output, doc.output_line) == ("out/x.txt", 7)


def test_flow_list_items_share_the_key_line():
    doc = parse("---\ndepends_on: [SPEC/a, SPEC/b]\n---\n# SPEC/x\n")
    assert doc.dep_lines == (2, 2)


def test_empty_frontmatter():
    doc = parse("---\n---\n# SPEC/x\n\n# Public\n\n## A\n\na\n")
    assert doc.findings == ()
    assert doc.public[0].line == 7


def test_blank_frontmatter_is_empty():
    assert parse("---\n\n  \n---\n# SPEC/x\n").findings == ()


@pytest.mark.parametrize("blank", ["\xa0", "\u3000", "\u2028", "\x85", "\x0c", " \xa0\t\n"])
def test_frontmatter_of_other_white_space_is_no_mapping(blank):
    # v5's YAML takes only spaces, tabs, LF and CR for blank: anything else is a scalar,
    # which it cannot decode into the struct of fields, so the node cannot be parsed.
    doc = parse(f"---\n{blank}\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 2)]


def test_unclosed_frontmatter():
    doc = parse("---\noutput: x\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 1)]
    assert "never closed" in doc.findings[0].detail
    assert doc.broken


def test_only_the_first_yaml_document_is_read():
    # v5's YAML parses the whole stream and decodes its first document: a '--- ' that was
    # meant to close the frontmatter starts a second document, and a later '---' (a
    # thematic break of the body) closes it. The body after that is what v5 parses.
    doc = parse("---\noutput: out/x.txt\n--- \n# SPEC/x\n\n# Public\n\n## A\n\ntext\n"
                "\n---\n\n# Private\n\nnotes\n")
    assert doc.output == "out/x.txt"
    assert [(f.rule, f.line, f.severity) for f in doc.findings] == [
        ("frontmatter_closer", 3, "warning"), ("name_heading", 14, "error")]
    assert "line 12" in doc.findings[0].detail
    assert "got 'private'" in doc.findings[1].detail


def test_a_later_yaml_document_must_parse_and_keep_its_keys_once():
    doc = parse("---\noutput: x\n--- \n[a\n---\n# SPEC/x\n")
    assert ("malformed_frontmatter", 4) in rules(doc)
    doc = parse("---\noutput: x\n--- \na: 1\na: 2\n---\n# SPEC/x\n")
    assert "malformed_frontmatter" in [rule for rule, _ in rules(doc)]


def test_a_spaced_dash_line_right_after_the_opening_one_opens_the_document():
    doc = parse("---\n--- \noutput: x\n---\n# SPEC/x\n")
    assert (doc.output, doc.findings) == ("x", ())


def test_frontmatter_opening_only():
    assert rules(parse("---\n")) == [("malformed_frontmatter", 1)]


def test_closing_fence_needs_its_own_line():
    doc = parse("---\noutput: x\n--- \n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 1)]
    assert "line 3 has spaces after its '---'" in doc.findings[0].detail


def test_dashes_later_in_the_file_are_not_frontmatter():
    doc = parse("# SPEC/x\n---\noutput: x\n---\n")
    assert doc.output is None
    assert doc.findings == ()


@pytest.mark.parametrize("front, line", [
    ("output: out/x.txt\ninput: a: b\ndepends_on: []\n", 3),
    ("output: x\n  input: y\n", 3),
    ("a: 1\nb: 2\nc: \"unterminated\n", 4),
    ("\tkey: 1\n", 2),
    # The parser only notices at the end of the YAML; the line is still one of the YAML's.
    ("output: [\n", 2),
    ("a: 1\noutput: [out/x.txt,\n", 3),
])
def test_yaml_error_names_its_line(front, line):
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", line)]
    assert doc.findings[0].detail.startswith("YAML error:")
    assert doc.broken


@pytest.mark.parametrize("front, line", [
    ("x: !!bool maybe\n", 2), ("a: 1\nx: !!int\n", 3), ("x: [!!float '']\n", 2),
    ("x: !!timestamp soon\n", 2), ("x:\n  y: !!int '-'\n", 3),
])
def test_a_tag_that_cannot_read_its_text_is_malformed_not_a_crash(front, line):
    # PyYAML's constructors raise KeyError, IndexError or AttributeError on these.
    doc = parse(f"---\n{front}output: out/x.txt\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", line)]
    assert "cannot read" in doc.findings[0].detail


def test_unsafe_yaml_tag_is_an_error_not_code():
    doc = parse("---\noutput: !!python/object/apply:os.system [echo]\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 2)]


@pytest.mark.parametrize("front, key, line", [
    ("depends_on: SPEC/x\n", "depends_on", 2),
    ("depends_on:\n  - [SPEC/a]\n", "depends_on", 2),
    ("depends_on:\n  a: SPEC/a\n", "depends_on", 2),
    ("depends_on: {SPEC/a: 1}\n", "depends_on", 2),
    ("depends_on: !!set {SPEC/a, SPEC/b}\n", "depends_on", 2),
    ("input: [SPEC/a]\n", "input", 2),
    ("input:\n  name: SPEC/a\n", "input", 2),
    ("# a comment\noutput: 5\n", "output", 3),
    ("output: true\n", "output", 2),
    ("output: 2020-01-01\n", "output", 2),
    ("output:\n  path: x\n", "output", 2),
])
def test_wrong_type(front, key, line):
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", line)]
    assert doc.findings[0].detail.startswith(key)


@pytest.mark.parametrize("front, depends_on, input_", [
    # FORMAT.md 4.1: a scalar of another type is taken as its text; only a non-string
    # `output` is cfs's malformed_frontmatter (X4). Such a name resolves to nothing, so
    # it is a dependency_targets/input_target finding on a node that parses.
    ("depends_on: [1, 2]\n", ("1", "2"), None),
    ("depends_on:\n  - SPEC/a\n  - 3\n", ("SPEC/a", "3"), None),
    ("depends_on: [0x10, 1.50, yes, true]\ninput: 7\n", ("16", "1.5", "yes", "true"), "7"),
    ("input: 2020-01-01\n", (), "2020-01-01"),
    ("input: no\n", (), "no"),
])
def test_other_scalars_in_depends_on_and_input_are_their_text(front, depends_on, input_):
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.depends_on, doc.input) == (depends_on, input_)


@pytest.mark.parametrize("written, text", [
    # v5's YAML (1.2) types a plain scalar by its text, and prints a number as Go does.
    ("1000000.0", "1e+06"), ("123456789.0", "1.23456789e+08"), ("100000.0", "100000"),
    ("1.5e3", "1500"), ("1.0e-7", "1e-07"), ("0.0001", "0.0001"), ("0.00001", "1e-05"),
    ("-1.5", "-1.5"), ("-.5", "-0.5"), ("5.", "5"), ("1e3", "1e3"), ("1.0e999", "1.0e999"),
    ("-5", "-5"), ("+5", "5"), ("-0", "0"), ("0o17", "15"), ("017", "15"), ("09", "09"),
    ("0b101", "5"), ("-0x10", "-16"), ("0X10", "0X10"), ("1_000", "1000"), ("_1", "_1"),
    ("18446744073709551615", "18446744073709551615"), ("18446744073709551616",
                                                        "18446744073709551616"),
    ("+99999999999999999999", "+99999999999999999999"), ("-9223372036854775809",
                                                         "-9223372036854775809"),
    (".inf", "+Inf"), ("-.Inf", "-Inf"), ("+.inf", "+.inf"), (".NaN", "NaN"),
    ("True", "true"), ("FALSE", "false"), ("yes", "yes"), ("12:30", "12:30"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"), ("1.2.3", "1.2.3"),
    ("'1.50'", "1.50"), ('"True"', "True"),
])
def test_a_plain_scalar_is_the_text_v5_reads(written, text):
    doc = parse(f"---\ndepends_on: [{written}]\ninput: {written}\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.depends_on, doc.input) == ((text,), text)


@pytest.mark.parametrize("value", ["=", "a=b", "'='"])
def test_an_equals_sign_is_a_string(value):
    # YAML 1.1's `=` (the "value" type) has no constructor in PyYAML's safe loader; v5's
    # YAML reads it as the string it is.
    doc = parse(f"---\noutput: {value}\ndepends_on: [{value}]\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.output, doc.depends_on) == (value.strip("'"), (value.strip("'"),))


@pytest.mark.parametrize("front", ['output: x\n1: a\n"1": b\n', "true: 1\n'true': 2\n",
                                   "meta:\n  1.0: a\n  '1.0': b\noutput: x\n"])
def test_keys_written_alike_are_one_key_whatever_their_type(front):
    # v5's YAML (goccy) compares mapping keys by their text: `1` and "1" are written twice.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert [f.rule for f in doc.findings if f.severity == "error"] == ["malformed_frontmatter"]
    assert "already defined" in doc.findings[-1].v5


@pytest.mark.skipif(not getattr(__import__("yaml"), "CSafeLoader", None),
                    reason="PyYAML was built without libyaml on this platform")
@pytest.mark.parametrize("front, output, depends_on", [
    ("output: out/a.txt\t\n", "out/a.txt", ()),
    ("output:\tout/a.txt\n", "out/a.txt", ()),
    ("output: a\tb \t# note\n", "a\tb", ()),
    ("depends_on: [SPEC/a,\tSPEC/b]\noutput: o\t\n", "o", ("SPEC/a", "SPEC/b")),
])
def test_a_tab_after_a_lines_text_is_white_space(front, output, depends_on):
    # v5's YAML refuses a tab only in a line's indentation (yaml_errors._tab); between
    # and after tokens it separates, as YAML 1.2 says. PyYAML's pure loader refuses both.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.output, doc.depends_on) == (output, depends_on)


def test_a_tab_in_indentation_stays_malformed():
    doc = parse("---\ndepends_on:\n\t- SPEC/a\noutput: o\t\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 3)]
    assert "found character" in doc.findings[0].v5


def test_merge_key_does_not_break_the_parser():
    doc = parse("---\nbase: &b {output: out/x.txt}\n<<: *b\n---\n# SPEC/x\n")
    assert rules(doc) == [("frontmatter_key", 2)]  # 'base' is not a key v5 knows
    assert doc.output == "out/x.txt"


@pytest.mark.parametrize("front, line", [
    ("output: out/x.txt\ndepends_on: [SPEC/a]\n1: notes\n", 4),
    ("true: x\noutput: out/x.txt\n", 2),
    ("output: out/x.txt\n~: x\n", 3),
    ("output: out/x.txt\n1.5: x\n", 3),
    ("output: out/x.txt\n0o17: x\n", 3),   # an integer to v5's YAML 1.2, a string to PyYAML
    ("depends_on: SPEC/a\n2: x\n", 3),        # no field read: not even a wrong one
])
def test_a_key_that_is_no_string_hides_every_field_from_v5(front, line):
    # goccy collects the mapping's keys as strings before it looks any field up, and
    # stops with nothing collected at the first key that is not a string (yaml_keys).
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert (doc.depends_on, doc.input, doc.output) == ((), None, None)
    assert [(f.rule, f.line, f.severity) for f in doc.findings] == [
        ("frontmatter_key", line, "warning")]
    assert "v5 reads no field" in doc.findings[0].detail
    assert not doc.broken


@pytest.mark.parametrize("front", ["output: out/x.txt\n'1': a\nyes: b\n2024-01-01: c\n",
                                   "output: out/x.txt\n!!str 1: a\n"])
def test_keys_that_are_strings_to_v5_keep_the_fields(front):
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert doc.output == "out/x.txt"
    assert {f.rule for f in doc.findings} == {"frontmatter_key"}
    assert not any("v5 reads no field" in f.detail for f in doc.findings)


@pytest.mark.parametrize("front, line", [
    ("base: &b {output: out/a.txt}\n<<: *b\noutput: out/x.txt\n", 4),
    ("output: out/x.txt\nbase: &b {output: out/a.txt}\n<<: *b\n", 4),
    ("a: &a {owner: me}\nb: &b {owner: you}\nc:\n  <<: *a\n<<: *a\nowner: x\n", 7),
])
def test_a_key_merged_and_written_out_is_malformed(front, line):
    # PyYAML lets the key written out win over the merged one; goccy refuses it.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", line)]
    assert "duplicate key" in doc.findings[0].detail
    assert doc.broken


def test_a_merged_list_of_mappings_is_malformed():
    doc = parse("---\na: &a {owner: me}\n<<: [*a]\noutput: out/x.txt\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 3)]
    assert doc.findings[0].v5.startswith(
        "malformed YAML: [2:5] sequence was used where mapping is expected\n")


def test_a_field_merged_from_a_mapping_with_a_key_that_is_no_string_is_not_seen():
    doc = parse("---\nbase: &b {output: out/x.txt, 1: a}\n<<: *b\n---\n# SPEC/x\n")
    assert doc.output is None
    assert ("frontmatter_key", "warning") in [(f.rule, f.severity) for f in doc.findings]
    assert not doc.broken


@pytest.mark.parametrize("written", ["0o17", "1.5e3", "-.5", "0o7_7", ".5"])
def test_an_output_v5_reads_as_a_number_is_malformed_even_when_pyyaml_reads_text(written):
    # X4: a non-string output is malformed_frontmatter; "non-string" as v5's YAML (1.2)
    # types it, where PyYAML (1.1) reads these as strings.
    doc = parse(f"---\noutput: {written}\n---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 2)]
    assert doc.output is None


@pytest.mark.parametrize("written, output", [
    ("1e3", "1e3"), ("'0o17'", "0o17"), ("!!str 0o17", "15"), ("!!str 12", "12"),
    ("&a !!str 1.50", "1.5"), ("a1.5e3", "a1.5e3")])
def test_an_output_v5_reads_as_a_string(written, output):
    doc = parse(f"---\noutput: {written}\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert doc.output == output


@pytest.mark.parametrize("written", ["12:30:00", "1:30", "-1:30"])
def test_an_output_v5_reads_as_a_text_its_path_rules_refuse_is_that_refusal(written):
    # Base 60 to PyYAML (YAML 1.1), a plain text to v5's YAML (1.2), whose path rules
    # refuse it (':' makes a path absolute): v5's output_paths finding, not X4's
    # malformed_frontmatter, which v5 would not report.
    doc = parse(f"---\noutput: {written}\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert doc.output == written


@pytest.mark.parametrize("front, found", [
    ("input: |\n  SPEC/a\n", ("input", "SPEC/a")),
    ("depends_on:\n  - >\n    SPEC/a\n", ("depends_on", ("SPEC/a",))),
    ("output: |\n  out/x.txt\n", ("output", "out/x.txt")),
    ("output: |+\n  out/x.txt\n\n", ("output", "out/x.txt\n")),  # keeps one of the two
    ("output: |\n  out/x.txt\ninput: x\n", ("output", "out/x.txt\n")),
])
def test_a_block_scalar_ending_the_frontmatter_has_no_line_break_to_keep(front, found):
    # v5's YAML gets the text up to the closing fence without the last line break.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert getattr(doc, found[0]) == found[1]


@pytest.mark.parametrize("front, found", [
    ("output: !path out/x.txt\n", ("output", "out/x.txt")),
    ("input: !name SPEC/a\n", ("input", "SPEC/a")),
    ("depends_on: !names [SPEC/a, !name SPEC/b]\n", ("depends_on", ("SPEC/a", "SPEC/b"))),
    ("meta: !info {owner: me}\noutput: out/x.txt\n", ("output", "out/x.txt")),
])
def test_a_local_tag_is_read_as_if_it_were_not_there(front, found):
    # goccy reads a node under a tag it does not know as the node itself; PyYAML's safe
    # loader has no constructor for it.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert not doc.broken
    assert getattr(doc, found[0]) == found[1]


def test_tags_of_the_yaml_on_names_read_as_v5_reads_them():
    # !!binary is decoded and its bytes are the name; !!null leaves the field present and
    # empty (the tagged node is not null to the decoder, its value is).
    doc = parse("---\ninput: !!binary U1BFQy9h\ndepends_on: [!!binary U1BFQy9i, !!null x]\n"
                "output: !!null\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.input, doc.depends_on, doc.output) == ("SPEC/a", ("SPEC/b", ""), "")


@pytest.mark.parametrize("front", ["input: !!timestamp 2024-01-01\n",
                                   "depends_on: [!!timestamp 2024-01-01]\n"])
def test_a_timestamp_tag_on_a_name_is_malformed(front):
    # v5's YAML cannot put a time.Time into a string: a decoding error.
    assert rules(parse(f"---\n{front}---\n# SPEC/x\n")) == [("malformed_frontmatter", 2)]


def test_a_local_tag_on_a_number_keeps_the_output_malformed():
    assert rules(parse("---\noutput: !n 0o17\n---\n# SPEC/x\n")) == [("malformed_frontmatter", 2)]


@pytest.mark.parametrize("front", ["- SPEC/a\n", "just text\n", "42\n", "[a, b]\n"])
def test_frontmatter_must_be_a_mapping(front):
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert rules(doc) == [("malformed_frontmatter", 2)]
    assert "mapping" in doc.findings[0].detail


def test_null_values_are_absent():
    doc = parse("---\ndepends_on:\ninput: ~\noutput:\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.depends_on, doc.input, doc.output) == ((), None, None)


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_a_line_break_v5_does_not_know_is_a_character(char):
    # v5's YAML breaks lines at LF and CR only; NEL, LS and PS are characters to it.
    doc = parse(f"---\noutput: a{char}b\ninput: 'c{char}d'\ndepends_on: [e{char}f]\n---\n"
                "# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.output, doc.input, doc.depends_on) == (
        f"a{char}b", f"c{char}d", (f"e{char}f",))


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x0b", "\x7f", "\x80", "\x9f", "\ufffe"])
def test_a_control_character_is_a_character_of_the_text_as_for_v5(char):
    # PyYAML refuses these as unprintable; v5's YAML checks no character and reads each
    # as part of the text, in a value, a quoted value, a list item or a comment.
    doc = parse(f"---\noutput: a{char}b # c{char}\ninput: 'c{char}d'\ndepends_on: [e{char}f]\n"
                "---\n# SPEC/x\n")
    assert doc.findings == ()
    assert (doc.output, doc.input, doc.depends_on) == (
        f"a{char}b", f"c{char}d", (f"e{char}f",))


def test_a_key_holding_a_control_character_is_named_with_its_escape():
    doc = parse("---\nout\x1bput: x\n---\n# SPEC/x\n")
    assert [f.detail.split(":")[0] for f in doc.findings] == [
        "unknown frontmatter key 'out\\x1bput'"]


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_a_key_holding_such_a_line_break_is_named_with_it(char):
    # PyYAML reads the YAML with stand-ins for them; a finding quoting the key showed the
    # stand-in's escape (\ufdd1) where the file has LINE SEPARATOR. A key written as that
    # escape stays as written.
    written = "\\ufdd1"
    doc = parse(f"---\nout{char}put: x\n'{written}': y\n---\n# SPEC/x\n")
    assert [f.detail.split(":")[0] for f in doc.findings] == [
        f"unknown frontmatter key {key!r}" for key in (f"out{char}put", written)]


@pytest.mark.parametrize("value", ['"a\x85b\U000F0001"', "a\x01b\U000F0001",
                                   '"\\U000F0001\x01"', '"\\uFDD0\x85"',
                                   "'\\U000F0001\x01'"])
def test_a_value_holding_a_stand_in_is_read_as_v5_reads_it(value):
    # A control character or a break v5 reads as text is read by PyYAML through a
    # stand-in. The same character already in the text, itself or as a double-quoted
    # escape, came back as the control character (another output than v5's), or a NEL
    # left without its stand-in broke the quoted line ('a b').
    expected = {'"a\x85b\U000F0001"': "a\x85b\U000F0001", "a\x01b\U000F0001":
                "a\x01b\U000F0001", '"\\U000F0001\x01"': "\U000F0001\x01",
                '"\\uFDD0\x85"': "\uFDD0\x85", "'\\U000F0001\x01'": "\\U000F0001\x01"}
    doc = parse(f"---\noutput: {value}\n---\n# SPEC/x\n")
    assert doc.findings == ()
    assert doc.output == expected[value]


def test_a_value_holding_every_stand_in_is_refused_not_misread():
    doc = parse('---\noutput: "\\uFDD0\\uFDD3\\uFDD6\x85"\n---\n# SPEC/x\n')
    assert doc.output is None
    assert rules(doc) == [("malformed_frontmatter", 2)]
    assert "remove one or the other" in doc.findings[0].detail


# -- encoding ----------------------------------------------------------------------------------

def test_byte_order_mark_is_a_clear_finding():
    doc = parse("\ufeff# SPEC/x\n\n# Public\n\n## A\n\na\n")
    assert rules(doc) == [("encoding", 1)]
    assert "byte order mark" in doc.findings[0].detail
    assert doc.broken


def test_byte_order_mark_before_frontmatter_keeps_line_numbers():
    doc = parse("\ufeff---\noutput: [\n---\n# SPEC/x\n")
    assert rules(doc) == [("encoding", 1), ("malformed_frontmatter", 2)]


@pytest.mark.parametrize("front", ["\ufeffoutput: out/x.txt\n", "\ufeffoutput: out/x.txt\ninput: x\n"])
def test_a_byte_order_mark_opening_the_yaml_is_part_of_the_first_key(front):
    # v5's YAML (goccy/go-yaml 1.19.2) keeps a BOM at the start of its text as content.
    doc = parse(f"---\n{front}---\n# SPEC/x\n")
    assert doc.output is None
    assert [(f.rule, f.line) for f in doc.findings][:1] == [("frontmatter_key", 2)]
    assert "\\ufeffoutput" in doc.findings[0].detail


# -- the name heading and what comes before it -------------------------------------------------

@pytest.mark.parametrize("heading", ["# SPEC/x", "#   spec/X   ", "# SPEC/x #", "#\tSPEC/x\t##",
                                     "  # SPEC/x"])
def test_name_heading_is_compared_normalized(heading):
    assert parse(f"{heading}\n").findings == ()


@pytest.mark.parametrize("text, line", [
    ("# SPEC/other\n", 1),
    ("# Public\n\n## A\n\na\n", 1),
    ("SPEC/other\n===\n", 1),
    ("# `SPEC/x`\n", 1),
    ("# SPEC/x/y\n", 1),
    ("# SPEC/\u00a0x\n", 1),
    ("---\noutput: o\n---\n\n# SPEC/y\n", 5),
])
def test_wrong_name_heading(text, line):
    assert rules(parse(text)) == [("name_heading", line)]


@pytest.mark.parametrize("text, line", [("", 1), ("\n\n", 1), ("just text\n", 1),
                                        ("## SPEC/x\n", 1), ("\n\n## SPEC/x\n", 3),
                                        ("SPEC/x\n---\n", 1),
                                        ("---\noutput: o\n---\n\n", 4)])
def test_missing_name_heading(text, line):
    # v5: "unexpected content before first heading", for no heading or a ## first.
    doc = parse(text)
    assert rules(doc) == [("text_before_name_heading", line)]
    assert doc.broken


@pytest.mark.parametrize("text", ["SPEC/x\n======\n", "  spec/X \n===\n# Public\n## A\na\n"])
def test_setext_name_heading(text):
    assert parse(text).findings == ()


def test_name_heading_reads_the_plain_text_runs():
    doc = parse("# SPEC/*x*\n")
    assert rules(doc) == [("name_heading", 1)]
    assert "'spec/'" in doc.findings[0].detail and "inline markup" in doc.findings[0].detail

def test_blank_lines_before_the_name_heading_are_fine():
    assert parse("\n  \n\t\n \r \n# SPEC/x\n").findings == ()


@pytest.mark.parametrize("blank", ["\u00a0", "\u200b", "\ufeff", "\x0c"])
def test_only_spaces_tabs_and_crs_may_come_before_the_name(blank):
    assert rules(parse(f"\n{blank}\n# SPEC/x\n")) == [("text_before_name_heading", 2)]


def test_text_before_name_heading_names_its_line():
    doc = parse("---\noutput: o\n---\n\nhello\nmore\n# SPEC/x\n")
    assert rules(doc) == [("text_before_name_heading", 5)]


def test_fenced_heading_before_the_name_is_text():
    doc = parse("```\n# SPEC/x\n```\n# SPEC/x\n")
    assert rules(doc) == [("text_before_name_heading", 1)]


def test_name_section_content_is_never_delivered():
    doc = parse("# SPEC/x\n\nAbout this node.\n\n## Loose\n\nnot public\n")
    assert doc.findings == ()
    assert doc.public == () and doc.agent == ""


# -- sections ----------------------------------------------------------------------------------

def test_sections_are_matched_normalized():
    doc = parse("# SPEC/x\n#   public  \n## A\na\n#\tAGENT\ndo\n# PRIVATE ##\n")
    assert doc.findings == ()
    assert doc.public_text == "## A\na\n"
    assert doc.agent == "do\n"


def test_unrecognized_section():
    doc = parse("# SPEC/x\n\n# Notes\n\nx\n\n# Public\n\n## A\n\na\n")
    assert rules(doc) == [("unrecognized_section", 3)]
    assert "# Notes" in doc.findings[0].detail
    assert 'unrecognized section: \'notes\'' in doc.findings[0].detail
    assert doc.broken
    # The known section after it is still read (for reporting).
    assert doc.public_text == "## A\na\n"


def test_duplicate_section():
    doc = parse("# SPEC/x\n# Public\n## A\na\n# Private\n# public\n## B\nb\n")
    assert rules(doc) == [("duplicate_section", 6)]
    assert "line 2" in doc.findings[0].detail
    assert doc.broken


def test_public_subsection_required_names_the_first_loose_line():
    doc = parse("# SPEC/x\n\n# Public\n\n  \nloose text\nmore\n\n## A\n\na\n")
    assert rules(doc) == [("public_subsection_required", 6)]
    assert not doc.broken


@pytest.mark.parametrize("line", ["\u00a0", "\u2003 \t", "\u3000", "\x0b\x0c", "\x85"])
def test_unicode_white_space_is_blank_under_public(line):
    assert parse(f"# SPEC/x\n# Public\n{line}\n## A\na\n").findings == ()


@pytest.mark.parametrize("line", ["\u200b", "\ufeff", "\x1c"])
def test_other_invisible_characters_are_not_blank_under_public(line):
    doc = parse(f"# SPEC/x\n# Public\n{line}\n## A\na\n")
    assert rules(doc) == [("public_subsection_required", 3)]


def test_agent_and_private_may_have_direct_text():
    assert parse("# SPEC/x\n# Agent\ndo\n# Private\nnotes\n").findings == ()


@pytest.mark.parametrize("section", ["Public", "Agent", "Private"])
def test_duplicate_subsections(section):
    doc = parse(f"# SPEC/x\n# {section}\n## Same  Thing\na\n## same\tthing\nb\n")
    assert rules(doc) == [("duplicate_subsections", 5)]
    assert "line 3" in doc.findings[0].detail
    assert doc.broken


def test_duplicate_subsections_under_the_name_heading():
    doc = parse("# SPEC/x\n## Notes\n## notes\n# Public\n## A\na\n")
    assert rules(doc) == [("duplicate_subsections", 3)]


def test_headings_made_only_of_markup_have_empty_text():
    doc = parse("# SPEC/x\n# Public\n## *Alpha*\nA\n## *Beta*\nB\n")
    errors = [(f.rule, f.line) for f in doc.findings if f.severity == "error"]
    assert errors == [("duplicate_subsections", 5)]
    assert "duplicate subsection: ''" in doc.findings[1].detail


def test_same_subsection_in_two_sections_is_fine():
    assert parse("# SPEC/x\n# Public\n## A\na\n# Agent\n## A\nb\n").findings == ()


def test_no_break_space_makes_a_different_subsection():
    doc = parse("# SPEC/x\n# Public\n## A\u00a0B\na\n## A B\nb\n")
    assert doc.findings == ()
    assert [s.key for s in doc.public] == ["a\u00a0b", "a b"]
    assert doc.subsection("a b").text == "## A B\nb\n"
    assert doc.subsection("A\u00a0b").text == "## A\u00a0B\na\n"


def test_case_folding_makes_duplicates():
    doc = parse("# SPEC/x\n# Public\n## STRASSE\na\n## Straße\nb\n")
    assert rules(doc) == [("duplicate_subsections", 5)]


def test_line_numbers_count_the_frontmatter():
    doc = parse("---\noutput: o\n---\n# SPEC/x\n# Public\n## A\na\n## a\n")
    assert rules(doc) == [("duplicate_subsections", 8)]
    assert doc.public[0].line == 6


# -- what is a structural heading --------------------------------------------------------------

def test_headings_inside_blocks_are_content():
    doc = parse((DOCS / "not_headings.md").read_text(encoding="utf-8"), "SPEC/doc")
    assert doc.findings == ()
    assert [s.raw for s in doc.public] == ["## Example", "## Closing sequence ##",
                                           "## Hash#inside #"]
    example = doc.public[0].text
    for content in ("# Fenced, not a heading", "## Also fenced", "# Tilde fence",
                    "    # indented code", "> # quoted", "> ## quoted too", "- # in a list",
                    "- ## also in a list", "1. # ordered", "# inside an HTML block",
                    "the dashes\n\n---\n", "### Level three",
                    "#### Level four", "#hashtag", "\\# escaped"):
        assert content in example, content


def test_closing_sequence_is_not_part_of_the_text():
    doc = parse((DOCS / "not_headings.md").read_text(encoding="utf-8"), "SPEC/doc")
    assert [s.key for s in doc.public] == ["example", "closing sequence", "hash#inside"]
    # The raw line (what is hashed) keeps the closing sequence.
    assert doc.subsection("Closing Sequence").text == "## Closing sequence ##\nbody\n"


@pytest.mark.parametrize("raw, text", [
    ("# a", "a"),
    ("## a ##", "a"),
    ("## a ##   ", "a"),
    ("## a#", "a#"),
    ("## a \\#", "a \\#"),
    ("##", ""),
    ("## ###", ""),
    ("#\ta\t#", "a"),
    ("   ## a", "a"),
    ("## a  b  ", "a  b"),
])
def test_heading_text(raw, text):
    assert heading_text(raw) == text


def test_setext_public_section_draws_public_subsection_required():
    # Its underline is the section's first content line.
    doc = parse("# SPEC/x\nPublic\n======\n## A\na\n")
    assert rules(doc) == [("public_subsection_required", 3)]
    assert doc.public_text == "## A\na\n"


def test_setext_heading_under_public_opens_a_subsection():
    doc = parse("# SPEC/x\n# Public\n## A\ntext\n\nMore\n---\nbody\n")
    assert [(s.key, s.raw, s.line) for s in doc.public] == [("a", "## A", 3),
                                                            ("more", "More", 6)]
    # The underline is the first content line of the new subsection.
    assert doc.subsection("more").text == "More\n---\nbody\n"
    assert doc.subsection("a").text == "## A\ntext\n"
    (warning,) = doc.findings
    assert (warning.rule, warning.line, warning.severity) == ("setext_heading", 7, "warning")
    assert "SPEC/x(More)" in warning.detail and "empty line" in warning.detail


def test_setext_level_one_under_public_is_an_unrecognized_section():
    doc = parse("# SPEC/x\n# Public\n## A\nTitle\n=====\nmore\n")
    assert rules(doc) == [("unrecognized_section", 4)]
    assert "'===' is a level-1 heading" in doc.findings[0].detail
    assert doc.broken


def test_dashes_after_an_empty_line_are_a_thematic_break():
    doc = parse("# SPEC/x\n# Public\n## A\ntext\n\n---\nmore\n")
    assert doc.findings == ()
    assert doc.public_text == "## A\ntext\n\n---\nmore\n"


def test_multi_line_setext_heading():
    doc = parse("# SPEC/x\n# Public\n## A\n\nLine one  \n  Line two\t\nLine 3\n---\nbody\n")
    sub = doc.public[1]
    assert sub.key == "line oneline twoline 3"
    # The raw heading is the first two text lines; the rest is content.
    assert sub.raw == "Line one  \n  Line two"
    assert sub.text == "Line one  \n  Line two\nLine 3\n---\nbody\n"


def test_setext_agent_and_agent_subsection():
    doc = parse("SPEC/x\n======\n\nAgent\n=====\n\nintro\n\nStep one\n--------\n\ndo it\n")
    assert doc.findings == ()
    assert doc.has_agent and doc.agent_line == 4
    assert doc.agent == "=====\n\nintro\n\nStep one\n--------\n\ndo it\n"


@pytest.mark.parametrize("empty", ["#", "##", "## ", "## #", "## ##", "#\t#"])
def test_empty_atx_heading_is_content(empty):
    doc = parse(f"# SPEC/x\n# Public\n## A\ntext\n\n{empty}\n\nafter\n")
    assert doc.findings == ()
    assert doc.public_text == f"## A\ntext\n\n{empty.rstrip()}\n\nafter\n".replace(
        f"{empty.rstrip()}\n", f"{empty}\n")


@pytest.mark.parametrize("heading, key, kept", [
    ("## `Foo` API", "api", "API"),
    ("## [Spec](u) tail", "tail", "tail"),
    ("## [Spec][r] tail", "tail", "tail"),
    ("## auto <http://a.invalid> link", "auto link", "auto  link"),
    ("## pic ![img](p.png)", "pic", "pic"),
    ("## *em* and **strong**", "and", "and"),
])
def test_heading_text_loses_inline_markup_with_a_warning(heading, key, kept):
    doc = parse(f"# SPEC/x\n# Public\n{heading}\nbody\n\n[r]: /u\n")
    assert [s.key for s in doc.public] == [key]
    (warning,) = doc.findings
    assert (warning.rule, warning.line, warning.severity) == ("heading_text", 3, "warning")
    assert repr(kept) in warning.detail


@pytest.mark.parametrize("heading, key", [
    ("## A <b>bold</b> word", "a bold word"),
    ("## a\\_b &amp; c", "a\\_b &amp; c"),
    ("## a * b _c ~~d~~", "a * b _c ~~d~~"),
    ("## [not a link]", "[not a link]"),
    ("## a\\", "a\\"),
])
def test_heading_text_keeps_what_is_written(heading, key):
    doc = parse(f"# SPEC/x\n# Public\n{heading}\nbody\n")
    assert [s.key for s in doc.public] == [key]
    assert doc.findings == ()


def test_indented_heading_keeps_its_raw_line():
    doc = parse("# SPEC/x\n# Public\n   ## A  \t\na\n")
    assert doc.public[0].raw == "   ## A"
    assert doc.public_text == "   ## A\na\n"


def test_four_space_indent_is_code_not_a_heading():
    doc = parse("# SPEC/x\n# Public\n## A\n\n    ## B\n")
    assert [s.raw for s in doc.public] == ["## A"]


def test_cr_only_line_endings_make_one_line():
    # v5 splits at LF only: the name heading runs to the end of the file.
    doc = parse("# SPEC/x\r\r# Public\r\r## A\r\rtext\r")
    assert rules(doc) == [("name_heading", 1)]
    assert "'spec/x\\r\\r# public" in doc.findings[0].detail


def test_lone_cr_stays_inside_its_line():
    # A lone CR is not a v5 line end: the text keeps it and line numbers ignore it.
    doc = parse("# SPEC/x\n# Public\n## A\nx\ry\n## a\n")
    assert doc.public[0].text == "## A\nx\ry\n"
    assert rules(doc) == [("duplicate_subsections", 5)]



def test_a_cr_left_at_a_heading_lines_end_is_not_part_of_its_text():
    # CR CR LF endings: the read drops one CR, the other stays in the line. For v5's
    # Markdown reader (goldmark) a CR is white space, which a heading's text never ends
    # or starts with; the raw heading (v5's own trim of spaces and tabs) keeps it.
    doc = parse("# SPEC/x\r\r\n# Public\r\r\n## Api #\r\r\ntext\r\r\n"
                "\nTwo\r\r\nlines\r\r\n---\r\r\n## \r\r\n")
    assert rules(doc) == [("setext_heading", 8)]  # (a warning: the underline splits ## Api)
    assert [(s.key, s.raw) for s in doc.public] == [("api", "## Api #\r"),
                                                      ("twolines", "Two\r\nlines\r")]
    assert doc.subsection("API").text == "## Api #\r\ntext\r\n"
    assert doc.subsection("twolines") is doc.public[1]
    assert doc.public[1].text == "Two\r\nlines\r\n---\r\n## \r\n"
    assert heading_text("## A\r") == "A" and heading_text("## A #\r") == "A"

@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("line", ["\r## B", "  \r## B", "\r\t## B", "\r---"])
def test_a_cr_before_a_lines_first_character_makes_it_text(line, parser, monkeypatch):
    # goldmark measures indentation in spaces and tabs only: a CR before a line's first
    # other character is that character, so the line opens no heading, fence or
    # underline: it is paragraph text. (A line of spaces, tabs and CRs is blank.)
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\ntext\n{line}\n \r\n## C\n")
    assert [s.raw for s in doc.public] == ["## A", "## C"]
    assert doc.public[0].text == f"## A\ntext\n{line}\n"
    name = parse("\r# SPEC/x\n")
    assert rules(name) == [("text_before_name_heading", 1)]
    fence = parse("# SPEC/x\n# Public\n## A\n\r```\n## B\n")
    assert [s.raw for s in fence.public] == ["## A", "## B"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("lines, keys", [
    # CR CR LF endings leave a CR in the line. goldmark's parser/list.go (parseListItem)
    # wants a space, a tab or the line's end right after a list marker, and a CR is none
    # of them: the line is paragraph text, which `---` after it underlines ...
    ("-\r\r\nTitle\n---", ["a", "-title"]),
    ("-\r\r\n---", ["a", "-"]),
    ("1.\r\r\nTitle\n---", ["a", "1.title"]),
    ("* \r\r\n+\rb\nc\n---", ["a", "+\rbc"]),
    # ... and inside an item it continues the item's paragraph (`Title` lazily, `---`
    # a thematic break).
    ("- -\r\r\nTitle\n---", ["a"]),
    # Elsewhere the CR is white space: `-` then a CR is still an underline.
    ("Title\n-\r\r", ["a", "title"]),
])
def test_a_cr_right_after_a_list_marker_makes_no_list_item(lines, keys, parser, monkeypatch):
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{lines}\n")
    assert [sub.key for sub in doc.public] == keys, rules(doc)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("first, key", [
    # goldmark (parser/parser.go, parseBlock) breaks hard after a line ending in one
    # backslash and keeps what stands before that backslash, spaces included ...
    ("Line one  \\", "line one line two"),
    ("Line one\t\\", "line one line two"),
    # ... and strips any other line's trailing spaces and tabs: a backslash they
    # followed, or one after another backslash, stays text.
    ("Line one\\ ", "line one\\line two"),
    ("Line one\\\t", "line one\\line two"),
    ("Line one\\\\\\", "line one\\\\\\line two"),
    ("Line one\\\r", "line oneline two"),
])
def test_a_backslash_ending_a_setext_line_breaks_it_as_goldmark_does(first, key, parser,
                                                                      monkeypatch):
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{first}\nLine two\n---\n")
    assert [sub.key for sub in doc.public] == ["a", key]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("line", ["</pre>", "</style>", "  </SCRIPT >", "- </pre>",
                                  "<span>\t", "<img src='x'>\u00a0", "</b> \t"])
def test_a_lone_tag_goldmark_reads_as_text_does_not_hide_the_next_heading(line, parser,
                                                                          monkeypatch):
    # goldmark's parser/html_block.go never starts an HTML block of the lone-tag kind
    # with the tag names script, style and pre, nor with anything but spaces after the
    # tag: the line is paragraph text, and the heading after it is a heading.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{line}\n## B\ntext\n")
    assert [sub.raw for sub in doc.public] == ["## A", "## B"]
    assert doc.public[0].text == f"## A\n{line}\n"
    # A lone tag followed by spaces only, or of another name, opens an HTML block
    # that runs to the next empty line, as in CommonMark.
    block = parse("# SPEC/x\n# Public\n## A\n\n</textarea>\n## B\n<span>  \n## C\n")
    assert [sub.raw for sub in block.public] == ["## A"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("line", ["<!doctype html>", "<!a", "Text\n<!e x", "- <!doctype"])
def test_a_declaration_with_a_small_letter_is_text_for_goldmark(line, parser, monkeypatch):
    # goldmark's parser/html_block.go starts an HTML block of the 4th kind (a
    # declaration) only at `<!` and a capital letter (`<![A-Z]+`, in every version,
    # where CommonMark 0.31 takes any letter): `<!doctype` is paragraph text, and
    # the heading after it is a heading.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{line}\n## B\n>\n")
    assert [sub.raw for sub in doc.public] == ["## A", "## B"]
    # With a capital letter it is a declaration, running to the first line with a `>`.
    block = parse("# SPEC/x\n# Public\n## A\n\n<!DOCTYPE\n## B\n>\n")
    assert [sub.raw for sub in block.public] == ["## A"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_body_with_a_small_letter_declaration_is_read_by_the_rules_that_know_it(
        parser, monkeypatch):
    # No quote line here to send the body to markdown-it-py for another reason: under
    # markdown-it-pyrs the Rust port reads it, with no goldmark rules, and must still read
    # `<!a` as text (CommonMark 0.30, like goldmark, wants a capital letter after `<!`).
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse("# SPEC/x\n# Public\n## A\n\n<!a\n## B\nend>\n")
    assert [sub.raw for sub in doc.public] == ["## A", "## B"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("quote", ["> Text\n    >", ">Text\n\t>", "- > Text\n      > x"])
def test_a_quote_mark_indented_four_columns_continues_the_paragraph_lazily(quote, parser,
                                                                           monkeypatch):
    # goldmark's parser/blockquote.go takes a `>` only after at most three columns of
    # indentation past the container's content, on every line of a quote: the line is
    # a lazy line of the quote's paragraph, and so are the two after it (no heading).
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{quote}\nTitle\n---\n")
    assert [sub.raw for sub in doc.public] == ["## A"]
    # Three columns are a quote mark: a line with nothing after it ends the paragraph.
    ends = parse("# SPEC/x\n# Public\n## A\n\n> Text\n   >\nTitle\n---\n")
    assert [sub.raw for sub in ends.public] == ["## A", "Title"]


@pytest.mark.parametrize("parser", PARSERS)
def test_vertical_tab_and_form_feed_are_heading_text_not_white_space(parser, monkeypatch):
    # goldmark's util.IsSpace (its spaceTable) holds space, tab, LF and CR only: after
    # the #s a form feed is no separator (the line is content), at a heading's end it
    # stays in the text, before a closing sequence it makes the #s text; normalization
    # trims spaces and tabs only.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse("# SPEC/x\n# Public\n## A\n##\x0cB\n## C \x0b\n## D\x0c ##\n## E \x0c##\n")
    assert [(sub.key, sub.raw) for sub in doc.public] == [
        ("a", "## A"), ("c \x0b", "## C \x0b"), ("d\x0c", "## D\x0c ##"),
        ("e \x0c##", "## E \x0c##")]
    assert doc.public[0].text == "## A\n##\x0cB\n"
    section = parse("# SPEC/x\n# Public\x0c\n## A\n")
    assert rules(section) == [("unrecognized_section", 2)]
    assert "'public\\x0c'" in section.findings[0].detail


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("lines, keys", [
    # goldmark's list items and quotes take a line's indentation only up to their
    # content's column, and its HTML block patterns allow only spaces before the `<` in
    # what is left: a tab there makes the line paragraph text (here continuing the
    # item's paragraph, `Title` / `---` with it), not an HTML block ...
    ("* a\n  \t<div>\nTitle\n---", ["a"]),
    ("1. a\n   \t<!-- c\nTitle\n---", ["a"]),
    ("- a\n\n   \t<span>\nTitle\n---", ["a"]),
    ("> a\n> \t<div>\nTitle\n---", ["a"]),
    # ... while a tab reaching past the content's column is taken whole, as is a tab
    # right after a quote's `>`: the HTML block opens, and ends before `Title` here.
    ("* a\n \t<div>\nTitle\n---", ["a", "title"]),
    ("- \t<div>\nTitle\n---", ["a", "title"]),
    ("> a\n>\t<div>\nTitle\n---", ["a", "title"]),
])
def test_a_tab_left_before_an_html_tag_opens_no_html_block(lines, keys, parser,
                                                           monkeypatch):
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{lines}\n")
    assert [sub.key for sub in doc.public] == keys


@pytest.mark.parametrize("parser", PARSERS)
def test_search_not_source_opens_an_html_block_inside_a_paragraph(parser, monkeypatch):
    # CommonMark 0.31's list of block tag names, as goldmark's parser/html_block.go has
    # it: `<search>` interrupts the paragraph, `<source>` is a lone tag that cannot.
    monkeypatch.setenv("CFS_PARSER", parser)
    search = parse("# SPEC/x\n# Public\n## A\n\nText\n<search>\n---\n")
    assert [sub.raw for sub in search.public] == ["## A"]
    source = parse("# SPEC/x\n# Public\n## A\n\nText\n<source src='x'>\n---\n")
    assert [sub.raw for sub in source.public] == ["## A", "Text\n<source src='x'>"]
    assert source.public[1].key == "text"


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("lines, keys", [
    # goldmark takes link reference definitions off a paragraph once it is closed (a
    # paragraph transformer, parser/link_ref.go): the lines after a definition that
    # continue its paragraph are paragraph text, here a setext heading's text, where
    # markdown-it started a block of their own (a list, an indented code block) ...
    ("[r]: /u\n2. item\n---", ["a", "2. item"]),
    ("[r]: /u\n[s]: /v\n3) item\n---", ["a", "3) item"]),
    ("[r]: /u\n    indented\n---", ["a", "indented"]),
    # ... a lazy line after a definition in a list item stays in the item's paragraph ...
    ("- [r]: /u\nlazy\n---", ["a"]),
    # ... and a definition's own lines run as far as its paragraph: past a list item that
    # cannot interrupt a paragraph, not past an underline (that closes the paragraph)
    ("[r\n2. s]: /u\n---", ["a"]),
    ("[r]:\n-", ["a", "[r]:"]),
    # After a paragraph of definitions alone, goldmark (parser.go, RequireParagraph)
    # reads the underline again as the start of a block: an empty list item, a thematic
    # break, a paragraph `===` that the next underline makes a heading.
    ("[r]: /u\n-\n---\n## B", ["a", "b"]),
    ("[r]: /u\n===\n---", ["a", "==="]),
])
def test_the_lines_after_a_reference_definition_continue_its_paragraph(lines, keys, parser,
                                                                       monkeypatch):
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{lines}\n")
    assert [sub.key for sub in doc.public] == keys
    underlined = parse("# SPEC/x\n# Public\n## A\n\n[r]:\n=\n")  # not `[r]:` as `=`
    assert rules(underlined) == [("unrecognized_section", 5)]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("lines", [
    "   - a\n    ```\nTitle\n---",
    "100. a\n    <div>\nTitle\n---",
    "- x\n     - a\n      # y\nTitle\n---",
    "   - a\n\n     b\n    ~~~\nTitle\n---",
])
def test_a_lazy_line_indented_as_code_continues_a_list_items_paragraph(lines, parser,
                                                                       monkeypatch):
    # A line indented less than a list item's content is lazy: CommonMark and goldmark
    # read it from the container it belongs to, where four columns make it code, which
    # cannot interrupt a paragraph; so it and `Title` continue the item's paragraph and
    # `---` is a thematic break. markdown-it read it from the item's content, let it end
    # the paragraph, and `Title` / `---` became a heading.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{lines}\n## B\n")
    assert [sub.key for sub in doc.public] == ["a", "b"]
    assert "\nTitle\n---\n" in doc.public[0].text


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("lines", [">>a\n    #\n|\n---", ">>;\n    -\nt\n---",
                                   ">>b\n\t```\n|\n---", "- >>a\n      #\nb\n---"])
def test_a_lazy_line_indented_as_code_continues_a_nested_quotes_paragraph(lines, parser,
                                                                          monkeypatch):
    # The line leaves both quotes; measured from the container it is in, four columns
    # make it code, which cannot interrupt the inner quote's paragraph (CommonMark, and
    # goldmark's parser.go, which opens no block that does not accept an indented line
    # there): it, `|` and `---` continue it. markdown-it measured the line the outer
    # quote had marked lazy as not indented, let it end both quotes, and `|` / `---`
    # became a heading.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n## A\n\n{lines}\n")
    assert [sub.key for sub in doc.public] == ["a"]
    # Three columns past the list item's content: the `#` is a heading in the item.
    item = parse("# SPEC/x\n# Public\n## A\n\n- >>a\n     #\nb\n---\n")
    assert [sub.key for sub in item.public] == ["a", "b"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("heading, key", [
    ("## A *b\u2028*c", "a *b\u2028*c"),
    ("## A _b_\u2028c", "a \u2028c"),
    ("## a *b\x85*c", "a *b\x85*c"),
    ("## a\u2029_b_", "a\u2029"),
])
def test_line_separators_flank_emphasis_as_white_space(heading, key, parser, monkeypatch):
    # goldmark's delimiter scan (parser/delimiter.go) asks Go's unicode.IsSpace, which
    # takes NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR for white space; markdown-it
    # took them for letters: `*b\u2028*` was emphasis, `_b_\u2028c` was not.
    monkeypatch.setenv("CFS_PARSER", parser)
    doc = parse(f"# SPEC/x\n# Public\n{heading}\nbody\n")
    assert [sub.key for sub in doc.public] == [key]


def test_a_heading_of_many_runs_next_to_line_separators_reads_in_linear_time():
    # The emphasis rule got a copy of the whole text for each such run.
    def seconds(separator: str) -> float:
        started = time.perf_counter()
        parse(f"# SPEC/x\n# Public\n## {('a*' + separator) * 80_000}\nbody\n")
        return time.perf_counter() - started

    assert seconds("\u2028") < 4 * seconds(" ") + 0.5


def test_crlf_document_parses_like_lf():
    lf = "---\noutput: o\n---\n# SPEC/x\n# Public\n## A\na  \n# Agent\ndo\n"
    crlf = lf.replace("\n", "\r\n")
    one, two = parse(lf), parse(crlf)
    assert one == two
    assert one.public_text == "## A\na  \n"


# -- extract and the blocks --------------------------------------------------------------------

@pytest.mark.parametrize("lines, want", [
    ([], ""),
    (["", "  ", "\t"], ""),
    (["", " a ", ""], " a \n"),
    (["a", "", " \t", "b"], "a\n\n \t\nb\n"),
    (["\t", "a", "b  ", "", "  "], "a\nb  \n"),
    (["\u00a0"], "\u00a0\n"),
])
def test_extract(lines, want):
    assert extract(lines) == want


def test_public_content_is_the_rendered_subsections_joined_by_a_blank_line():
    doc = parse("# SPEC/x\n# Public\n\n## First\n\n\nalpha\n\n\n##   Second  \nbeta\n  \n"
                "## Empty\n\n# Private\n## Hidden\nsecret\n")
    assert doc.public_text == "## First\nalpha\n\n##   Second\nbeta\n\n## Empty\n"
    assert doc.subsection("second").text == "##   Second\nbeta\n"
    assert doc.subsection("  EMPTY ").text == "## Empty\n"
    assert doc.subsection("hidden") is None
    assert "secret" not in doc.public_text + doc.agent


def test_no_public_section_or_no_subsections_is_empty():
    assert parse("# SPEC/x\n# Agent\nx\n").public_text == ""
    assert parse("# SPEC/x\n# Public\n\n").public_text == ""


def test_agent_content():
    doc = parse((DOCS / "agent.md").read_text(encoding="utf-8"), "SPEC/doc")
    assert doc.findings == ()
    assert doc.has_agent and doc.agent_line == 21
    assert doc.agent == ("Direct text under Agent,\n  kept byte for byte.   \n\n"
                         "## Steps\n1. Do it.\n\n## Empty step\n")
    assert doc.public_text == ("## Interface\n  indented first line kept\nmiddle\n\n"
                               "\ttab-indented line kept   \n")
    assert "Never delivered" not in doc.public_text + doc.agent


def test_agent_with_only_direct_text_or_only_subsections():
    assert parse("# SPEC/x\n# Agent\n\n  do it  \n\n").agent == "  do it  \n"
    assert parse("# SPEC/x\n# Agent\n\n## Step\n").agent == "## Step\n"
    empty = parse("# SPEC/x\n# Agent\n\n")
    assert empty.has_agent and empty.agent == ""


def test_a_parse_is_the_node_doc_its_constructor_makes():
    # (_with_fields fills the fields in directly, in their declared order)
    from dataclasses import asdict
    from cfs_build.reading.node import NodeDoc, parse_node
    doc = parse_node("SPEC/a", "f", "---\ndepends_on:\n  - SPEC/b\noutput: x\n---\n# SPEC/a\n\n"
                     "Intent.\n\n# Public\n## A\nx\n\n# Agent\nDo.\n")
    made = NodeDoc(**asdict(doc) | {"public": doc.public, "findings": doc.findings})
    assert made == doc and doc.intent == "Intent." and doc.output == "x" and doc.has_agent
    assert doc.depends_on == ("SPEC/b",) and doc.dep_lines == (3,) and doc.agent == "Do.\n"


def _doubling(levels: int, merge: str) -> str:
    # Each mapping merges the one before twice: PyYAML's constructor copies 2**levels keys.
    lines = ["a0: &a0 {1: x}"] + [
        f"a{i}: &a{i} {{{merge.format(f'*a{i - 1}')}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\noutput: out/x.txt\n"


@pytest.mark.parametrize("merge, rule_line, said", [
    ("<<: {0}, <<: {0}", 25, "already defined"),    # refused by the repeated '<<' alone
    ("<<: [{0}, {0}]", 25, "more than 1000000 keys"),  # under a key v5 ignores
    ("!!m%65rge x: [{0}, {0}]", 25, "more than 1000000 keys"),  # the tag, escaped
])
def test_merges_doubling_at_each_level_are_refused_without_expanding_them(merge, rule_line,
                                                                          said):
    started = time.perf_counter()
    doc = parse(f"---\n{_doubling(24, merge)}---\n# SPEC/x\n")
    assert time.perf_counter() - started < 5  # expanded: 2**24 keys, tens of seconds
    assert ("malformed_frontmatter", rule_line) in rules(doc)
    assert said in doc.findings[0].detail


def test_a_long_chain_of_merges_each_once_is_read():
    lines = ["a0: &a0 {k0: x}"] + [
        f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: x}}" for i in range(1, 300)]
    doc = parse("---\n" + "\n".join(lines) + "\n<<: *a299\noutput: out/x.txt\n---\n# SPEC/x\n")
    assert doc.output == "out/x.txt"
    assert not doc.broken


@pytest.mark.parametrize("text, line, section", [
    ("---\noutput: a.py\n---\n# SPEC/x\n\n## Agent\n\nWrite it.\n", 6, "Agent"),
    ("# SPEC/x\n\nIntent.\n\n## Public\n\n## Interface\n\nf()\n", 5, "Public"),
])
def test_a_section_heading_written_with_two_hashes_is_warned_about(text, line, section):
    # One '#' too many: v5 reads it as the opening text, so the node has no such section
    # and a generator is sent nothing under it. A warning says so and how to write it.
    doc = parse(text)
    assert rules(doc) == [("section_level", line)]
    finding = doc.findings[0]
    assert finding.severity == "warning"
    assert f"not as the # {section} section" in finding.detail
    assert f"write '# {section}'" in finding.detail
    assert doc.has_agent is False and doc.public == ()


def test_a_subsection_named_agent_inside_a_section_is_no_mistake():
    doc = parse("# SPEC/x\n\n# Public\n\n## Agent\n\nwho acts\n\n# Private\n\n## Public\n\nx\n")
    assert rules(doc) == [] and [s.key for s in doc.public] == ["agent"]
