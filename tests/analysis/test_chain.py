"""Chains and chain hashes (FORMAT.md section 6), with every expected hash recomputed here."""
from __future__ import annotations

import hashlib

import pytest

from cfs_build.analysis.chain import BadReference, chain_reference, order_dependencies
from cfs_build.reading.files import safe_relpath
from cfs_build.analysis.project import Project
from conftest import chain_hash, digest, spec

APP = "## Context\nEverything is in cents.\n\n## Style\nSmall functions.\n"
LIB = "## Interface\nload() -> dict\n\n## Errors\nLoadError\n"
LEAF_PUBLIC = "## Interface\nrun() -> int\n"
LEAF_AGENT = "Write it.\n\n## Checks\nTest it.\n"


def chain_of(root, node):
    return Project(root, use_index=False).chain(node)


def leaf_hash(notes="notes\n", artifact="generated library\n", input_text="input text\n"):
    # Qualifiers sort by their raw text ("  interface " before "Errors" before "errors"),
    # and only identical raw qualifiers are one position.
    return chain_hash(APP, artifact, notes, "## Interface\nload() -> dict\n",
                      "## Errors\nLoadError\n", "## Errors\nLoadError\n", LEAF_PUBLIC, LEAF_AGENT,
                      b"I", input_text)


def test_full_chain(fixture):
    chain = chain_of(fixture("chains"), "SPEC/app/svc/leaf")
    assert chain.hash == leaf_hash()
    assert [p.label for p in chain.positions] == [
        "SPEC/app", "ARTIFACT/lib/gen", "EXTERNAL/ext/notes.txt", "SPEC/lib(  interface )",
        "SPEC/lib(Errors)", "SPEC/lib(errors)", "SPEC/app/svc/leaf", "AGENT[SPEC/app/svc/leaf]",
        "INPUT[EXTERNAL/ext/input.txt]"]
    assert chain.positions[0].digest == digest(APP)


def test_ancestor_public_then_agent(fixture):
    chain = chain_of(fixture("chains"), "SPEC/lib/gen")
    assert chain.hash == chain_hash(LIB, "Generate the library.\n")
    assert not chain.has_input


def test_unqualified_import_covers_the_qualified_ones(fixture):
    chain = chain_of(fixture("chains"), "SPEC/twice")
    assert [p.label for p in chain.positions] == ["SPEC/lib"]
    assert chain.hash == chain_hash(LIB)


def test_files_are_read_normalized(fixture):
    root = fixture("chains")
    (root / "ext" / "notes.txt").write_bytes(b"notes\r\n")
    (root / "gen" / "lib.txt").write_bytes(b"generated library")
    assert chain_of(root, "SPEC/app/svc/leaf").hash == leaf_hash()


def test_lone_cr_in_a_file_is_content(fixture):
    root = fixture("chains")
    (root / "ext" / "notes.txt").write_bytes(b"no\rtes\n")
    assert chain_of(root, "SPEC/app/svc/leaf").hash == leaf_hash(notes="no\rtes\n")


def test_empty_file_delivers_one_newline(fixture):
    root = fixture("chains")
    (root / "ext" / "input.txt").write_bytes(b"")
    (root / "gen" / "lib.txt").write_bytes(b"")
    assert chain_of(root, "SPEC/app/svc/leaf").hash == leaf_hash(artifact="\n", input_text="\n")


def test_private_and_name_section_never_enter_the_hash(fixture):
    root = fixture("chains")
    node = root / "code-from-spec" / "app" / "_node.md"
    text = node.read_text()
    node.write_text(text.replace("The application.", "Another intro.")
                    .replace("Not delivered.", "Changed."))
    assert chain_of(root, "SPEC/app/svc/leaf").hash == leaf_hash()


def test_missing_artifact_makes_the_chain_wait(fixture):
    root = fixture("chains")
    (root / "gen" / "lib.txt").unlink()
    chain = chain_of(root, "SPEC/app/svc/leaf")
    assert chain.hash is None and chain.blocked == ()
    assert len(chain.waiting) == 1 and "ARTIFACT/lib/gen" in chain.waiting[0]


def test_a_directory_as_external_blocks_and_names_the_file(fixture):
    root = fixture("chains")
    notes = root / "ext" / "notes.txt"
    notes.unlink()
    notes.mkdir()
    chain = chain_of(root, "SPEC/app/svc/leaf")
    assert chain.hash is None
    assert any("ext/notes.txt" in reason and "directory" in reason for reason in chain.blocked)
    assert chain.failure == ("computing chain hash: reading file ext/notes.txt: failed to read "
                             "line: error reading file: file I/O error")


def test_invalid_utf8_in_a_file_is_hashed_as_bytes(fixture):
    root = fixture("chains")
    (root / "ext" / "notes.txt").write_bytes(b"caf\xe9\r\n")
    chain = chain_of(root, "SPEC/app/svc/leaf")
    raw = hashlib.sha1(b"caf\xe9\n").digest()
    assert chain.positions[2].digest == raw
    assert chain.hash is not None


def test_no_positions_hash_the_empty_string(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/a.txt")})
    assert chain_of(root, "SPEC/a").hash == "2jmj7l5rSw0yVb_vlWAYkK_YBwk" == chain_hash()


def test_empty_positions_are_left_out(tree):
    root = tree({
        "SPEC/r": spec("SPEC/r", "# Public\n\n# Private\n## P\np\n"),
        "SPEC/r/l": spec("SPEC/r/l", "# Public\n# Agent\n\n", front="output: out/l.txt"),
        "SPEC/s": spec("SPEC/s", "# Public\n## Only\nx\n"),
        "SPEC/t": spec("SPEC/t", front="depends_on: [SPEC/s(nothing here), SPEC/r, SPEC/s]\n"
                       "output: out/t.txt"),
    })
    assert chain_of(root, "SPEC/r/l").positions == ()
    chain = chain_of(root, "SPEC/t")
    assert [p.label for p in chain.positions] == ["SPEC/s"]
    assert chain.hash == chain_hash("## Only\nx\n")


def test_input_marker_even_when_the_input_is_empty(tree):
    root = tree({
        "SPEC/src": spec("SPEC/src", "# Public\n## A\na\n"),
        "SPEC/empty": spec("SPEC/empty"),
        "SPEC/x": spec("SPEC/x", "# Agent\ndo\n", front="input: SPEC/empty\noutput: out/x"),
        "SPEC/y": spec("SPEC/y", front="input: SPEC/src(missing)\noutput: out/y"),
        "SPEC/z": spec("SPEC/z", front="input: SPEC/src( a )\noutput: out/z"),
    })
    project = Project(root, use_index=False)
    x = project.chain("SPEC/x")
    assert x.has_input
    assert [p.label for p in x.positions] == ["AGENT[SPEC/x]"]
    assert x.hash == chain_hash("do\n", b"I")
    assert project.chain("SPEC/y").hash == chain_hash(b"I")
    z = project.chain("SPEC/z")
    assert z.hash == chain_hash(b"I", "## A\na\n")
    assert [p.label for p in z.positions] == ["INPUT[SPEC/src( a )]"]


def test_qualifiers_differing_in_case_or_spacing_are_separate_imports(tree):
    # FORMAT.md section 6 (M1): sorted and de-duplicated by the raw qualifier text.
    root = tree({
        "SPEC/lib": spec("SPEC/lib", "# Public\n## Error  Codes\nE1\n## Interface\nf()\n"),
        "SPEC/app": spec("SPEC/app", front="depends_on:\n  - SPEC/lib(error codes)\n"
                         "  - SPEC/lib(Interface)\n  - \"SPEC/lib( ERROR\\tCODES )\"\n"
                         "  - SPEC/lib(Interface)\noutput: out/app"),
    })
    chain = chain_of(root, "SPEC/app")
    assert [p.label for p in chain.positions] == [
        "SPEC/lib( ERROR\tCODES )", "SPEC/lib(Interface)", "SPEC/lib(error codes)"]
    assert chain.hash == chain_hash("## Error  Codes\nE1\n", "## Interface\nf()\n",
                                    "## Error  Codes\nE1\n")


def names(*raw):
    return [chain_reference(r) for r in raw]


@pytest.mark.parametrize("given, want", [
    (["SPEC/b", "SPEC/a", "ARTIFACT/z", "EXTERNAL/m"],
     ["ARTIFACT/z", "EXTERNAL/m", "SPEC/a", "SPEC/b"]),
    (["SPEC/a(Zeta)", "SPEC/a(alpha)", "SPEC/a"], ["SPEC/a"]),
    (["SPEC/a(alpha)", "SPEC/a(Zeta)"], ["SPEC/a(Zeta)", "SPEC/a(alpha)"]),
    (["SPEC/a(B)", "SPEC/a(b)", "SPEC/a( b )", "SPEC/a(b)"],
     ["SPEC/a( b )", "SPEC/a(B)", "SPEC/a(b)"]),
    (["SPEC/a(b)", "SPEC/a(B)"], ["SPEC/a(B)", "SPEC/a(b)"]),
    (["ARTIFACT/p(Interface)", "EXTERNAL/n(v1).txt", "ARTIFACT/p"], ["ARTIFACT/p", "EXTERNAL/n"]),
    (["SPEC/a/b", "SPEC/a-b", "SPEC/a"], ["SPEC/a", "SPEC/a-b", "SPEC/a/b"]),
    (["SPEC/é", "SPEC/z", "SPEC/Z"], ["SPEC/Z", "SPEC/z", "SPEC/é"]),
    (["EXTERNAL/x", "EXTERNAL/x", "ARTIFACT/y", "ARTIFACT/y"], ["ARTIFACT/y", "EXTERNAL/x"]),
    ([], []),
])
def test_order_dependencies(given, want):
    assert [n.label for n in order_dependencies(names(*given))] == want


@pytest.mark.parametrize("path, want", [
    ("a/b", "a/b"), ("./a//b/", "a/b"), ("a/../b", "b"), ("a/./b/..", "a"),
    ("../a", None), ("a/../../b", None), ("/etc/x", None), ("a\\b", None), ("", None),
    (".", None), ("a/..", None),
])
def test_safe_relpath(path, want):
    assert safe_relpath(path) == want


def test_reads_carried_to_another_resolver_only_while_the_files_are_the_same(tmp_path):
    from conftest import write_tree
    from cfs_build.analysis.chain import Resolver
    from cfs_build.reading.tree import load_tree

    write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "# Public\n## A\nx\n"), "x.txt": "one\n",
                          "d/y.txt": "y\n"})
    tree = load_tree(tmp_path)
    there, here = Resolver(tree), Resolver(tree)
    there.file_digest("x.txt")
    there.file_digest("absent.txt")
    reads = there.reads()
    assert [(rel, found is None) for rel, found, _ in reads] == [("x.txt", False),
                                                                ("absent.txt", True)]
    assert here.adopt(reads)
    assert here.file_text("x.txt") == "one\n" and here.file_digest("absent.txt") is None
    assert here.ledger.seen("x.txt") == there.ledger.seen("x.txt")
    # A file read on both sides that changed in between: what the other side made of it
    # does not hold.
    other = Resolver(tree)
    (tmp_path / "x.txt").write_text("two, longer\n")
    other.file_digest("x.txt")
    assert not other.adopt(reads)
    # A file that could not be read is not carried.
    from cfs_build.reading.files import UnreadableFile
    with pytest.raises(UnreadableFile):
        there.file_digest("d")  # a directory
    assert there.reads(2) is None


def test_an_external_name_may_end_with_a_slash(tree):
    # v5 refuses only an empty EXTERNAL/ name; the path it opens is cleaned on the way to
    # the file (FORMAT.md 10.1 opens it the same way), so `EXTERNAL/ext.txt/` reads ext.txt
    # and is a position of its own, labelled as written.
    root = tree({"ext.txt": "e\n",
                 "SPEC/l": spec("SPEC/l", front="depends_on: ['EXTERNAL/ext.txt/']\n"
                                "input: 'EXTERNAL/ext.txt/'\noutput: out/l.txt")})
    chain = chain_of(root, "SPEC/l")
    assert chain.hash == chain_hash("e\n", b"I", "e\n")
    assert [p.label for p in chain.positions] == ["EXTERNAL/ext.txt/", "INPUT[EXTERNAL/ext.txt/]"]
    assert chain_reference("EXTERNAL/ext.txt/").path == "ext.txt/"
    for raw in ("SPEC/x/", "EXTERNAL/", "ARTIFACT/"):
        with pytest.raises(BadReference):
            chain_reference(raw)
