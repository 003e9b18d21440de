"""The v5 tool operations as use cases: what the vectors cannot show (X8, X9, refusal order)."""
from __future__ import annotations

import os

import pytest

from cfs_build.building import v5tools
from conftest import chain_hash, checksum, spec

LEAF = spec("SPEC/l", "# Agent\nWrite it.\n", front="output: out/l.txt")


def manifest(root) -> str:
    path = root / "code-from-spec" / ".manifest"
    return path.read_text() if path.exists() else ""


def refused(call, *args) -> str:
    with pytest.raises(v5tools.Refusal) as caught:
        call(*args)
    return caught.value.message


def test_write_file_writes_bytes_as_given_and_records_them(tree):
    root = tree({"SPEC/l": LEAF})
    assert v5tools.write_file(root, "SPEC/l", "a\r\nb\r\n") == "wrote out/l.txt"
    assert (root / "out/l.txt").read_bytes() == b"a\r\nb\r\n"
    assert manifest(root) == (f"code-from-spec: v5\nARTIFACT/l;path:out/l.txt;checksum:"
                              f"{checksum('a' + chr(10) + 'b' + chr(10))};"
                              f"chain:{chain_hash('Write it.' + chr(10))}\n")
    listing = root / "code-from-spec/.cache/.chains" / f".{chain_hash('Write it.' + chr(10))}"
    assert listing.read_text() == f"AGENT[SPEC/l]: {checksum('Write it.' + chr(10))}\n"


@pytest.mark.parametrize("recorded", [False, True])
def test_write_file_never_replaces_a_file_cfs_did_not_write(tree, recorded):
    # X9: an untracked file, or one edited after it was recorded, is never overwritten.
    root = tree({"SPEC/l": LEAF})
    if recorded:
        v5tools.write_file(root, "SPEC/l", "generated\n")
    (root / "out").mkdir(exist_ok=True)
    (root / "out/l.txt").write_text("hand written\n")
    before = manifest(root)
    message = refused(v5tools.write_file, root, "SPEC/l", "generated again\n")
    assert ("modified" if recorded else "untracked") in message
    assert "accept SPEC/l" in message and "delete it" in message
    assert (root / "out/l.txt").read_text() == "hand written\n"
    assert manifest(root) == before


def test_write_file_of_the_bytes_already_there_is_no_overwrite(tree):
    root = tree({"SPEC/l": LEAF, "out/l.txt": "same\n"})
    assert v5tools.write_file(root, "SPEC/l", "same\n") == "wrote out/l.txt"
    assert "ARTIFACT/l;path:out/l.txt" in manifest(root)


@pytest.mark.parametrize("output, reason", [
    ("code-from-spec/l/_node.md", "path is inside code-from-spec/"),
    ("code-from-spec/.cache/x", "path is inside code-from-spec/"),
    (".git/hooks/pre-commit", "path is inside .git/"),
    (".cfs/x", "path is inside .cfs/"),
    ("../x", "path contains directory traversal"),
    ("a:b", "path is absolute"),
])
def test_outputs_cfs_never_touches(tree, output, reason):
    # X8: refused everywhere, never opened or written; the chain is still computed.
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nWrite it.\n", front=f"output: '{output}'")})
    def files():  # cfs's own index under .cfs/ aside
        rels = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return {rel: (root / rel).read_bytes() for rel in rels
                if not rel.startswith(".cfs/") or rel == ".cfs/x"}

    before = files()
    assert refused(v5tools.load_chain, root, "SPEC/l") == "output path is invalid"
    assert refused(v5tools.write_file, root, "SPEC/l", "x\n") == reason
    assert files() == before


def test_output_through_a_link_out_of_the_project_or_not_a_file(tree, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = tree({"SPEC/l": LEAF, "SPEC/d": spec("SPEC/d", front="output: adir")})
    os.symlink(outside, root / "out")
    (root / "adir").mkdir()
    assert refused(v5tools.write_file, root, "SPEC/l", "x\n") == \
        "path leads outside the project through a symbolic link"
    assert refused(v5tools.load_chain, root, "SPEC/d") == "output path is invalid"
    assert list(outside.iterdir()) == []


def test_load_chain_refuses_in_v5_order(tree):
    root = tree({"SPEC/l": spec("SPEC/l", front="depends_on: [WRONG/x]\noutput: out/l.txt"),
                 "SPEC/n": spec("SPEC/n")})
    assert refused(v5tools.load_chain, root, "ARTIFACT/l") == \
        "parsing target node: not a SPEC/ reference"
    assert refused(v5tools.load_chain, root, "SPEC/l(x)") == \
        "parsing target node: logical name has qualifier"
    assert refused(v5tools.load_chain, root, "SPEC/n") == "target node has no output field"
    assert refused(v5tools.load_chain, root, "SPEC/l") == \
        'resolving chain: unresolvable artifact: unrecognized prefix: "WRONG/x"'
    assert refused(v5tools.load_chain, root, "SPEC/none").startswith(
        'parsing target node: file unreadable: cannot open file "')


@pytest.mark.parametrize("entry, words", [
    ("ARTIFACT/p(Interface)", 'no output declared: "ARTIFACT/p(Interface)"'),
    ("ARTIFACT/bad(Interface)",
     'resolving artifact "ARTIFACT/bad(Interface)": duplicate subsection: "i"'),
    ("ARTIFACT/p/",
     'resolving artifact "ARTIFACT/p/": not a SPEC/ reference: invalid name: "SPEC/p/"'),
    ("ARTIFACT/none/(I)",
     'resolving artifact "ARTIFACT/none/(I)": not a SPEC/ reference: invalid name: '
     '"SPEC/none/"'),
])
def test_an_artifact_that_does_not_resolve_is_named_as_written(tree, entry, words):
    # v5 quotes an ARTIFACT/ name it cannot resolve as it was written, qualifier
    # included; a trailing '/' fails as the SPEC/ name of its node. An input has no
    # "unresolvable artifact: " before it.
    root = tree({"SPEC/p": spec("SPEC/p", "# Public\n\n## I\nx\n"),
                 "SPEC/bad": spec("SPEC/bad", "# Public\n\n## I\nx\n## I\n"),
                 "SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front=f"depends_on: ['{entry}']\noutput: out/l.txt"),
                 "SPEC/i": spec("SPEC/i", "# Agent\nW\n",
                                front=f"input: '{entry}'\noutput: out/i.txt")})
    assert refused(v5tools.load_chain, root, "SPEC/l") == \
        f"resolving chain: unresolvable artifact: {words}"
    assert refused(v5tools.load_chain, root, "SPEC/i") == f"resolving chain: {words}"


def test_nodes_in_a_directory_named_with_parentheses_do_not_parse(tree):
    # v5's scan names the node `SPEC/api(v2)`, which its parser reads as qualified
    # (`logical name has qualifier`) or, with nothing before the '(', as invalid.
    root = tree({"SPEC/api(v2)/l": LEAF.replace("SPEC/l", "SPEC/api(v2)/l"),
                 "SPEC/a/(x)": LEAF.replace("SPEC/l", "SPEC/a/(x)"), "SPEC/a": spec("SPEC/a"),
                 "SPEC/l": LEAF})
    assert v5tools.validate_specs(root) == (
        "Format errors:\n"
        '  [SPEC/a/(x)] parse: not a SPEC/ reference: invalid name: "SPEC/a/(x)"\n'
        "  [SPEC/api(v2)/l] parse: logical name has qualifier\n"
        "  [code-from-spec/api(v2)] missing_node_md: subdirectory has no _node.md\n"
        "Staleness:\n"
        "  [missing] SPEC/l (out/l.txt) rank=0: no manifest entry\n")
    assert refused(v5tools.load_chain, root, "SPEC/api(v2)/l") == \
        "parsing target node: logical name has qualifier"


@pytest.mark.parametrize("entry, path, problem", [
    ("EXTERNAL/a:b.txt", "a:b.txt", "path is absolute"),
    ("EXTERNAL//etc/hostname", "/etc/hostname", "path is absolute"),
    ("EXTERNAL/../x.txt", "../x.txt", "path contains directory traversal"),
])
def test_an_external_path_v5_will_not_open_stops_the_chain(tree, entry, path, problem):
    # v5 checks an imported file's path as it checks an output (FORMAT.md 10.1) before
    # it opens it: a ':' anywhere is absolute to it, even when such a file exists.
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front=f"depends_on: ['{entry}']\noutput: out/l.txt"),
                 "a:b.txt": "there\n"})
    why = f"reading file {path}: failed to open file: {problem}"
    assert v5tools.validate_specs(root) == (
        "Format errors:\n"
        f"  [SPEC/l] dependency_targets: depends_on references unreadable EXTERNAL file: "
        f"{entry}\n"
        f"Staleness:\n  [missing] SPEC/l (out/l.txt) rank=0: {why}\n")
    assert refused(v5tools.load_chain, root, "SPEC/l") == f"computing chain hash: {why}"


def test_accept_refusals_and_answer(tree):
    root = tree({"SPEC/l": LEAF, "SPEC/n": spec("SPEC/n")})
    assert refused(v5tools.accept, root, "ARTIFACT/l") == "not a SPEC/ reference"
    assert refused(v5tools.accept, root, "SPEC/n") == "node has no output field"
    # 7.5: the file is opened as every v5 reader opens one, naming its absolute path.
    assert refused(v5tools.accept, root, "SPEC/l") == \
        (f'opening artifact file: cannot open file "{root}/out/l.txt" for reading: '
         "file unreadable")
    (root / "out").mkdir()
    (root / "out/l.txt").write_text("mine\n")
    assert v5tools.accept(root, "SPEC/l") == "accepted out/l.txt"
    assert refused(v5tools.accept, root, "SPEC/l") == "artifact is already up to date"


def test_an_empty_output_is_an_invalid_path_not_a_missing_one(tree):
    # 4.1: `output: ''` is declared and empty; 9.4 and 11 refuse it as an invalid path
    # (10.1: `path is empty`), "no output field" being for a node without the key.
    root = tree({"SPEC/e": spec("SPEC/e", front="output: ''")})
    assert refused(v5tools.load_chain, root, "SPEC/e") == "output path is invalid"
    assert refused(v5tools.write_file, root, "SPEC/e", "x\n") == "path is empty"
    assert refused(v5tools.accept, root, "SPEC/e").startswith("opening artifact file: ")
    assert manifest(root) == ""


def test_a_qualified_name_is_refused_before_any_file_is_read(tree):
    # 7.5 and 9.4: a name with a qualifier does not parse as a node (`logical name has
    # qualifier`), whether or not a directory of that name exists; write_file (11) refuses
    # any name holding a '(' as qualified.
    root = tree({"SPEC/l": LEAF})
    assert refused(v5tools.accept, root, "SPEC/l(q)") == \
        "unreadable frontmatter: logical name has qualifier"
    assert refused(v5tools.write_file, root, "SPEC/l(", "x\n") == \
        "logical name must not contain a qualifier"
    assert not (root / "out").exists()


def test_a_name_ending_in_a_slash_is_invalid_not_a_missing_node(tree):
    # Section 2: `SPEC/` alone or ending with `/` is an invalid name, so it is refused as a
    # name that does not parse (9.4, 7.5, 11), before any _node.md is looked for.
    root = tree({"SPEC/l": LEAF})
    for name in ("SPEC/", "SPEC/l/"):
        why = f'not a SPEC/ reference: invalid name: "{name}"'
        assert refused(v5tools.load_chain, root, name) == f"parsing target node: {why}"
        assert refused(v5tools.accept, root, name) == f"unreadable frontmatter: {why}"
        assert refused(v5tools.write_file, root, name, "x\n") == \
            f"node frontmatter cannot be parsed: {why}"
    assert refused(v5tools.load_chain, root, "SPEC/l/(q)") == \
        'parsing target node: not a SPEC/ reference: invalid name: "SPEC/l/(q)"'


def test_write_file_reports_a_chain_error_in_the_bare_words_of_validation(tree):
    # 11: write_file answers the chain's own error, without load_chain's and accept's
    # "resolving chain: " / "computing chain hash: " (the words validate_specs shows).
    root = tree({"SPEC/b": spec("SPEC/b", front="depends_on: [WRONG/x]\noutput: out/b.txt"),
                 "SPEC/c": spec("SPEC/c", front="depends_on: [EXTERNAL/no.txt]\n"
                                "output: out/c.txt")})
    assert refused(v5tools.write_file, root, "SPEC/b", "x\n") == \
        'unresolvable artifact: unrecognized prefix: "WRONG/x"'
    assert refused(v5tools.write_file, root, "SPEC/c", "x\n") == \
        (f'reading file no.txt: failed to open file: cannot open file "{root}/no.txt" '
         "for reading: file unreadable")
    (root / "out").mkdir()
    (root / "out/b.txt").write_text("x\n")
    assert refused(v5tools.accept, root, "SPEC/b") == \
        'resolving chain: unresolvable artifact: unrecognized prefix: "WRONG/x"'


def test_prune_and_reconstruct_answers(tree):
    root = tree({"SPEC/l": LEAF})
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 0 entries processed, "
                                               "0 content files written, 0 chain files written")
    v5tools.load_chain(root, "SPEC/l")
    assert v5tools.prune_cache(root) == "pruned cache: 1 chain files deleted, 1 content files deleted"


def test_validate_specs_text(tree):
    root = tree({"SPEC/l": LEAF})
    assert v5tools.validate_specs(root) == (
        "Staleness:\n  [missing] SPEC/l (out/l.txt) rank=0: no manifest entry\n")
    v5tools.write_file(root, "SPEC/l", "x\n")
    assert v5tools.validate_specs(root) == "All specs are valid.\n"


def test_x8_places_are_findings_and_invalid_statuses(tree, tmp_path):
    from cfs_build.analysis.project import Project
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "l.txt").write_text("not ours\n")
    root = tree({"SPEC/l": LEAF, "SPEC/d": spec("SPEC/d", front="output: adir")})
    os.symlink(outside, root / "out")
    (root / "adir").mkdir()
    report = Project(root, use_index=False).report()
    found = {(f.node, f.rule) for f in report.errors}
    assert found == {("SPEC/l", "output_paths"), ("SPEC/d", "output_paths")}
    for status in report.artifacts:
        assert status.flags == ("invalid", "stale") and status.checksum is None
        assert status.chain is not None


def test_nothing_is_read_through_a_link_out_of_the_project(tree, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "l.txt").write_text("secret\n")
    root = tree({"SPEC/l": LEAF,
                 "SPEC/m": spec("SPEC/m", front="depends_on: [ARTIFACT/l]\noutput: m.txt")})
    os.symlink(outside, root / "out")
    from cfs_build.analysis.document import render_document
    from cfs_build.analysis.project import Project
    project = Project(root, use_index=False)
    assert "secret" not in render_document(project.resolver, project.resolver.chain("SPEC/l"))
    chain = project.resolver.chain("SPEC/m")
    assert chain.hash is None and chain.failure.startswith("computing chain hash: reading file")


def test_an_entry_not_named_artifact_slash_belongs_to_no_node(tree):
    # A hand-written first field is read as it is (FORMAT.md 7.2); "artifact/l" has the
    # length of "ARTIFACT/" but names no node's artifact: an orphan, processed by nothing.
    root = tree({"SPEC/l": LEAF, "SPEC/bad": "no heading\n"})
    (root / "code-from-spec/.manifest").write_text(
        "code-from-spec: v5\nartifact/l;path:out/l.txt;checksum:c;chain:h\n"
        "artifact/bad;path:out/b.txt;checksum:c;chain:h\n")
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 0 entries processed, "
                                               "0 content files written, 0 chain files written")
    report = v5tools.validate_specs(root)
    for name, path in (("artifact/bad", "out/b.txt"), ("artifact/l", "out/l.txt")):
        assert (f"  [orphan] {name} ({path}) rank=0: manifest entry has no corresponding "
                "spec node\n") in report
