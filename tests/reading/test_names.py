"""Logical names, qualifiers and heading normalization (FORMAT.md sections 2 and 4)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfs_build.reading.names import (BadName, artifact_of, dotted_node_dir, in_dot_dir,
                                     outside_dots, tree_node_dir, is_within, node_file, normalize,
                                     parent_of, parse_name, spec_of)


@pytest.mark.parametrize("text, want", [
    ("Interface", "interface"),
    ("  Spaced \t  Heading\t", "spaced heading"),
    ("a\t\tb", "a b"),
    ("STRASSE", "strasse"),
    ("Straße", "strasse"),
    ("Testes   de ACEITAÇÃO", "testes de aceitação"),
    # A no-break space is text: neither trimmed nor collapsed.
    ("\u00a0a\u00a0\u00a0b\u00a0", "\u00a0a\u00a0\u00a0b\u00a0"),
    ("a \u00a0 b", "a \u00a0 b"),
    ("", ""),
])
def test_normalize(text, want):
    assert normalize(text) == want


def test_normalize_only_spaces_and_tabs_are_whitespace():
    assert normalize("a\nb") == "a\nb"
    assert normalize("\u2003a") == "\u2003a"


def test_spec_name_with_qualifier():
    name = parse_name("SPEC/a/b(Interface)")
    assert (name.prefix, name.path, name.qualifier) == ("SPEC", "a/b", "Interface")
    assert name.base == "SPEC/a/b"
    assert name.norm_qualifier == "interface"
    assert name.label == "SPEC/a/b(Interface)"


def test_qualifier_is_between_first_open_and_following_close():
    name = parse_name("SPEC/x(a(b)c)")
    assert name.base == "SPEC/x"
    assert name.qualifier == "a(b"
    assert name.trailing == "c)"


def test_open_paren_without_close_is_part_of_the_name():
    name = parse_name("SPEC/x(q")
    assert name.qualifier is None
    assert name.base == "SPEC/x(q"


@pytest.mark.parametrize("raw", ["ARTIFACT/a/b", "EXTERNAL/proto/api.proto", "SPEC/a"])
def test_plain_names(raw):
    name = parse_name(raw)
    assert name.base == raw and name.qualifier is None


def test_external_path_may_contain_parentheses():
    # FORMAT.md section 2 splits every name at the first "(", as the v5 tooling does.
    name = parse_name("EXTERNAL/docs/a(1).txt")
    assert (name.path, name.qualifier, name.trailing) == ("docs/a", "1", ".txt")
    assert name.label == "EXTERNAL/docs/a"


def test_artifact_qualifier_is_dropped():
    name = parse_name("ARTIFACT/p(Interface)")
    assert (name.base, name.qualifier, name.label) == ("ARTIFACT/p", "Interface", "ARTIFACT/p")


@pytest.mark.parametrize("raw, why", [
    ("WRONG/prefix", "unknown prefix"),
    ("spec/lowercase", "unknown prefix"),
    ("SPEC", "not PREFIX/path"),
    ("SPEC/", "not PREFIX/path"),
    ("", "not PREFIX/path"),
    ("SPEC/x/", "invalid name"),
])
def test_bad_names(raw, why):
    with pytest.raises(BadName, match=why):
        parse_name(raw)


def test_family():
    assert parent_of("SPEC/a/b/c") == "SPEC/a/b"
    assert parent_of("SPEC/a") is None
    assert artifact_of("SPEC/a/b") == "ARTIFACT/a/b"
    assert spec_of("ARTIFACT/a/b") == "SPEC/a/b"
    assert node_file("SPEC/a/b") == "code-from-spec/a/b/_node.md"
    assert is_within("SPEC/a/b", "SPEC/a")
    assert is_within("SPEC/a", "SPEC/a")
    assert not is_within("SPEC/ab", "SPEC/a")


# -- dot directories -----------------------------------------------------------------
_SEGMENTS = st.lists(st.sampled_from(["a", ".b", "..", ".", "", "c.d", "\0"]), min_size=1,
                     max_size=4).map("/".join)


@given(_SEGMENTS)
def test_in_dot_dir_is_any_segment_starting_with_a_dot(rel):
    assert in_dot_dir(rel) == any(part.startswith(".") for part in rel.split("/"))
    parts = rel.split("/")
    first = next((at for at, part in enumerate(parts) if part.startswith(".")), len(parts))
    assert outside_dots(rel) == "/".join(parts[:first])


@pytest.mark.parametrize("name, dotted, walked", [
    ("SPEC/.shared/x", ".shared/x", None),
    ("SPEC/a/.b", "a/.b", None),
    ("SPEC/a/b", None, "a/b"),
    ("SPEC/a/../.b", None, None),  # `..` names no directory of its own
    ("SPEC/./.b", None, None),
    ("SPEC/a//.b", None, None),
    ("SPEC/.b\0", None, None),
    ("ARTIFACT/.b", None, None),
    ("SPEC/", None, None),
])
def test_node_dirs_of_spec_names(name, dotted, walked):
    assert dotted_node_dir(name) == dotted
    assert tree_node_dir(name) == walked
