"""v5's words for a node it cannot parse (FORMAT.md 4.5, 9.4), made from cfs's findings."""
from __future__ import annotations

import pytest

from cfs_build.reading.files import normalize_text
from cfs_build.reading.node import parse_node
from cfs_build.reading.unparsed import go_quote, parse_error_text, parse_finding


def v5_error(text: str | bytes, name: str = "SPEC/a") -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    doc = parse_node(name, "code-from-spec/a/_node.md", normalize_text(text))
    return parse_error_text("/root", name, parse_finding(doc.findings))


@pytest.mark.parametrize("text, error", [
    # The heading's normalized text, as it is: a '#' at its start is text, not markup.
    ("# #SPEC/x\n", 'node name does not match: got "#spec/x", want "spec/a"'),
    ("# ##x\n", 'node name does not match: got "##x", want "spec/a"'),
    ("# SPEC/*b*\n", 'node name does not match: got "spec/", want "spec/a"'),
    ("# SPEC/a\n# #Notes\n", 'unrecognized section: "#notes"'),
    ("# SPEC/a\n# Public\n## #A\n## #a\n", 'duplicate subsection: "#a"'),
    # A duplicate section is named by what it normalizes to, whatever markup it holds.
    ("# SPEC/a\n# Public\n# Public <!-- again -->\n", "duplicate # Public section"),
    ("# SPEC/a\n# Agent\nAGENT\n===\n", "duplicate # Agent section"),
    ("## SPEC/a\n", "unexpected content before first heading"),
])
def test_parse_errors_in_v5_words(text, error):
    assert v5_error(text) == error


def test_bytes_that_are_not_utf8_are_quoted_as_go_does():
    # Go's %q writes a byte that is no UTF-8 as \xNN; cfs holds it as a lone surrogate.
    assert go_quote(b"a\xff\xe9".decode("utf-8", "surrogateescape")) == '"a\\xff\\xe9"'
