"""The v5 tool operations as use cases: what the vectors cannot show (X8, X9, refusal order)."""
from __future__ import annotations

import base64
import hashlib
import os
import shutil

import pytest

from cfs_build.analysis.project import Project
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


OTHER = "ARTIFACT/a;path:a.txt;checksum:c;chain:h\n"


@pytest.mark.parametrize("kept, others", [
    (lambda text: text.replace("\n", "\r\n"), ""),                         # CRLF (autocrlf)
    (lambda text: text + OTHER, OTHER),                                   # unsorted
    (lambda text: text + text.split("\n", 1)[1], ""),                      # a line twice
    (lambda text: text.replace(";path:", ";").replace(";chain:", ";"), ""),  # bare fields
])
def test_write_file_saves_the_manifest_in_v5_s_form_even_for_the_same_entry(tree, kept,
                                                                            others):
    # v5 saves the whole manifest on every write_file: writing the artifact it already
    # records still leaves the manifest sorted, once per name, prefixed, with LF.
    root = tree({"SPEC/l": LEAF})
    v5tools.write_file(root, "SPEC/l", "x\n")
    path = root / "code-from-spec" / ".manifest"
    recorded = path.read_text()
    path.write_bytes(kept(recorded).encode("utf-8"))
    assert v5tools.write_file(root, "SPEC/l", "x\n") == "wrote out/l.txt"
    header, line = recorded.split("\n", 1)
    assert path.read_bytes() == f"{header}\n{others}{line}".encode("utf-8")


def _v5_checksum_of_file(data: bytes) -> str:
    # Validation and accept (FORMAT.md 7.3): SHA-1 over each line of section 3, plus LF.
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return _b64(hashlib.sha1(b"".join(
        (line[:-1] if line.endswith(b"\r") else line) + b"\n" for line in lines)).digest())


def _v5_checksum_written(content: bytes) -> str:
    # write_file (FORMAT.md 7.6): every CRLF made LF, an LF added when missing.
    content = content.replace(b"\r\n", b"\n")
    return _b64(hashlib.sha1(content if content.endswith(b"\n") else content + b"\n")
                .digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@pytest.mark.parametrize("content", ["\ufeffa\r\n", "\ufeff", "a", "a\r\nb", "a\r\r\n",
                                     "\n", "a\n\n", "a\rb", "x\u2028y\n", "a\r", "\r",
                                     "\n\r"])
def test_write_file_content_edges_record_and_read_back_as_v5(tree, content):
    # The bytes go out as given (a BOM and a lone CR included); the record is v5's; and
    # validation agrees with v5 on whether the file is still the one recorded: a
    # content ending in a lone CR records a checksum no read of the file gives.
    root = tree({"SPEC/l": LEAF})
    data = content.encode("utf-8")
    v5tools.write_file(root, "SPEC/l", content)
    assert (root / "out/l.txt").read_bytes() == data
    assert f";checksum:{_v5_checksum_written(data)};" in manifest(root)
    (status,) = Project(root, use_index=False).report().artifacts
    assert status.checksum == _v5_checksum_of_file(data)
    v5_modified = _v5_checksum_of_file(data) != _v5_checksum_written(data)
    assert status.flags == (("modified",) if v5_modified else ("up-to-date",))
    assert ("[modified]" in v5tools.validate_specs(root)) is v5_modified


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


@pytest.mark.parametrize("name", ["SPEC/a//l", "SPEC/./a/l", "SPEC/a/../a/l", "SPEC/a/l/.",
                                  "SPEC//a/l"])
def test_a_name_that_spells_another_nodes_path_fails_on_its_name_heading(tree, name):
    # v5 opens code-from-spec/<name>/_node.md, which the OS reads as SPEC/a/l's file, and
    # stops at its name heading; no entry is recorded under the odd name.
    root = tree({"SPEC/a": spec("SPEC/a"), "SPEC/a/l": LEAF.replace("SPEC/l", "SPEC/a/l"),
                 "SPEC/b": spec("SPEC/b", "# Agent\nW\n",
                                front=f"depends_on: ['{name}']\noutput: out/b.txt"),
                 "out/l.txt": "x\n"})
    why = f'node name does not match: got "spec/a/l", want "{name.lower()}"'
    assert refused(v5tools.load_chain, root, name) == f"parsing target node: {why}"
    assert refused(v5tools.write_file, root, name, "y\n") == \
        f"node frontmatter cannot be parsed: {why}"
    assert refused(v5tools.accept, root, name) == f"unreadable frontmatter: {why}"
    assert refused(v5tools.load_chain, root, "SPEC/b") == \
        f"computing chain hash: parse failure: {name}: {why}"
    assert (root / "out/l.txt").read_text() == "x\n"
    assert not (root / "code-from-spec/.manifest").exists()


def test_a_name_that_spells_another_nodes_path_stops_where_that_node_does(tree):
    # Before its name heading, v5 reads the frontmatter: a node whose YAML does not parse
    # fails the same way under any name that spells its path.
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n", front="output: [x")})
    assert refused(v5tools.load_chain, root, "SPEC/./l") == \
        refused(v5tools.load_chain, root, "SPEC/l")


def test_an_unreadable_node_is_named_by_the_path_v5_opened(tree):
    root = tree({"SPEC/l": LEAF})
    assert refused(v5tools.load_chain, root, "SPEC/none//x") == (
        f'parsing target node: file unreadable: cannot open file '
        f'"{root}/code-from-spec/none/x/_node.md" for reading: file unreadable')


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


def test_reconstruct_counts_only_the_entries_whose_chain_it_computed(tree):
    # v5 counts an entry as processed after its chain hash is computed: an entry whose
    # chain fails (an imported file deleted since) is passed over uncounted. A node with
    # `output: ''` declares an output: it is processed.
    root = tree({"SPEC/a": LEAF.replace("SPEC/l", "SPEC/a").replace("l.txt", "a.txt"),
                 "SPEC/b": spec("SPEC/b", "# Agent\nW\n",
                                front="depends_on: [ARTIFACT/a]\noutput: out/b.txt"),
                 "SPEC/c": spec("SPEC/c", "# Agent\nW\n",
                                front="depends_on: [EXTERNAL/notes.txt]\noutput: out/c.txt"),
                 "SPEC/e": spec("SPEC/e", "# Agent\nW\n", front="output: ''"),
                 "notes.txt": "n\n"})
    for node in ("SPEC/a", "SPEC/b", "SPEC/c"):
        v5tools.write_file(root, node, "x\n")
    path = root / "code-from-spec/.manifest"
    path.write_text(path.read_text() + "ARTIFACT/e;path:;checksum:c;chain:h\n")
    (root / "out/a.txt").unlink()
    (root / "notes.txt").unlink()
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 2 entries processed, "
                                               "2 content files written, 1 chain files written")


def test_reconstruct_processes_an_entry_of_a_node_in_a_dot_directory(tree):
    # v5's reconstruct_cache parses each entry's node from its path, as its write_file
    # and load_chain do: a node under a dot directory (no part of the tree) is processed.
    root = tree({"SPEC/.x": spec("SPEC/.x", ""),
                 "SPEC/.x/l": spec("SPEC/.x/l", "# Agent\nDo.\n", front="output: out/l.txt")})
    assert v5tools.write_file(root, "SPEC/.x/l", "x\n") == "wrote out/l.txt"
    shutil.rmtree(root / "code-from-spec/.cache")
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 1 entries processed, "
                                               "1 content files written, 1 chain files written")
    agent = checksum("Do.\n")  # the one position: the agent text
    assert (root / f"code-from-spec/.cache/.content/.{agent}").read_text() == "Do.\n"


def test_reconstruct_writes_no_text_for_a_label_that_reads_back_as_another_name(tree):
    # v5's reconstruct_cache takes each position's text from its label, splitting a
    # `SPEC/` label ending in `)` at its LAST `(`: the import `SPEC/x(a(b))` (qualifier
    # `a(b`, label `SPEC/x(a(b)`) reads back as node `SPEC/x(a`, which does not exist,
    # so its text is not written (nor counted); the chain file still is. Its other
    # positions, `SPEC/x()` (qualifier "") included, are written as load_chain writes them.
    root = tree({"SPEC/x": spec("SPEC/x", "# Public\n## a(b\nparen\n## A\ntext\n## *e*\nem\n"),
                 "SPEC/l": spec("SPEC/l", "# Agent\nW\n", front="depends_on: [SPEC/x(a(b)), "
                                "SPEC/x(), SPEC/x(A)]\noutput: out/l.txt")})
    v5tools.write_file(root, "SPEC/l", "x\n")
    shutil.rmtree(root / "code-from-spec/.cache")
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 1 entries processed, "
                                               "3 content files written, 1 chain files written")
    content = root / "code-from-spec/.cache/.content"
    assert sorted(os.listdir(content)) == sorted(
        f".{checksum(text)}" for text in ("## *e*\nem\n", "## A\ntext\n", "W\n"))
    # load_chain writes the text it delivers under every label.
    v5tools.load_chain(root, "SPEC/l")
    assert (content / f".{checksum('## a(b' + chr(10) + 'paren' + chr(10))}").exists()


def test_a_trailing_space_in_a_manifest_line_is_part_of_its_field(tree):
    # v5 splits a line at ';' and trims nothing: a chain with a trailing space is another
    # chain (stale), a name with one names no node (an orphan, and no entry for SPEC/l).
    root = tree({"SPEC/l": LEAF})
    v5tools.write_file(root, "SPEC/l", "x\n")
    path = root / "code-from-spec/.manifest"
    recorded = path.read_text()
    chain = recorded.rstrip("\n").rsplit("chain:", 1)[1]
    path.write_text(recorded[:-1] + " \n")
    assert v5tools.validate_specs(root) == (
        f"Staleness:\n  [stale] SPEC/l (out/l.txt) rank=0: manifest chain hash {chain}  does "
        f"not match expected hash {chain}\n")
    path.write_text(recorded.replace("ARTIFACT/l;", "ARTIFACT/l ;"))
    assert v5tools.validate_specs(root) == (
        "Staleness:\n  [orphan] ARTIFACT/l  (out/l.txt) rank=0: manifest entry has no "
        "corresponding spec node\n  [missing] SPEC/l (out/l.txt) rank=0: no manifest entry\n")


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
    # Nor does validation report it: v5 looks for orphans among ARTIFACT/ entries only.
    assert "[orphan]" not in v5tools.validate_specs(root)


@pytest.mark.parametrize("name", ["artifact/l", "VERDICT/l", "garbage", "SPEC/gone"])
def test_validate_specs_reports_no_orphan_for_an_entry_not_named_artifact_slash(tree, name):
    root = tree({"SPEC/l": LEAF})
    v5tools.write_file(root, "SPEC/l", "x\n")
    path = root / "code-from-spec/.manifest"
    path.write_text(path.read_text() + f"{name};path:out/x.txt;checksum:c;chain:h\n"
                    + "ARTIFACT/gone;path:out/g.txt;checksum:c;chain:h\n")
    assert v5tools.validate_specs(root) == (
        "Staleness:\n  [orphan] ARTIFACT/gone (out/g.txt) rank=0: manifest entry has no "
        "corresponding spec node\n")
    # cfs's own status still names the line, so that `cfs forget` can drop it.
    orphans = [o.name for o in Project(root, use_index=False).report().orphans]
    assert orphans == sorted(["ARTIFACT/gone", name])


def test_write_file_never_waits_on_a_fifo_swapped_in_after_the_check(tree, monkeypatch):
    # The untracked file was compared with the content by reading its path again after
    # the check: a FIFO put there meanwhile held the tool call (and the server) forever.
    import threading
    from cfs_build.analysis.chain import Resolver
    root = tree({"SPEC/l": LEAF, "out/l.txt": "hand written\n"})
    checked = Resolver.file_checksum

    def then_swapped(self, rel):
        found = checked(self, rel)
        os.unlink(root / rel)
        os.mkfifo(root / rel)
        return found

    monkeypatch.setattr(Resolver, "file_checksum", then_swapped)
    said = []
    call = threading.Thread(target=lambda: said.append(
        refused(v5tools.write_file, root, "SPEC/l", "generated\n")), daemon=True)
    call.start()
    call.join(10)
    if call.is_alive():
        os.close(os.open(root / "out/l.txt", os.O_WRONLY | os.O_NONBLOCK))  # let it go
        call.join(10)
        pytest.fail("write_file waited on the FIFO")
    assert said == ["out/l.txt: is a FIFO, not a regular file"]
    assert manifest(root) == ""


@pytest.mark.parametrize("target", ["file", "directory"])
def test_an_external_link_out_of_the_project_is_refused_in_v5_s_words(tree, tmp_path, target):
    # v5 resolves the links of a path it opens and refuses one that lands outside the
    # project before opening it (oslayer CfsPathToOs): "path resolves outside project
    # root", whether the link leads to a file or to a directory (whose name must not turn
    # the refusal into a read failure).
    outside = tmp_path / "some directory"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front="depends_on: [EXTERNAL/k]\noutput: out/l.txt")})
    os.symlink(outside / "secret.txt" if target == "file" else outside, root / "k")
    why = "reading file k: failed to open file: path resolves outside project root"
    assert refused(v5tools.load_chain, root, "SPEC/l") == f"computing chain hash: {why}"
    assert v5tools.validate_specs(root) == (
        "Format errors:\n"
        "  [SPEC/l] dependency_targets: depends_on references unreadable EXTERNAL file: "
        "EXTERNAL/k\n"
        f"Staleness:\n  [missing] SPEC/l (out/l.txt) rank=0: {why}\n")


def test_a_missing_file_s_path_is_quoted_as_go_quotes_it(tree):
    # v5 names the file it could not open with Go's %q: a '"' in it is escaped.
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front="depends_on: ['EXTERNAL/a\"b.txt']\noutput: out/l.txt")})
    assert refused(v5tools.load_chain, root, "SPEC/l") == (
        'computing chain hash: reading file a"b.txt: failed to open file: cannot open file '
        f'"{root}/a\\"b.txt" for reading: file unreadable')


def test_an_output_that_cannot_be_opened_is_named_as_go_quotes_it(tree):
    # The status detail and accept's refusal name the output v5 could not open with %q.
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n", front="output: 'out/a\"b.txt'")})
    chain = Project(root).resolver.chain("SPEC/l").hash
    (root / "code-from-spec/.manifest").write_text(
        f'code-from-spec: v5\nARTIFACT/l;path:out/a"b.txt;checksum:x;chain:{chain}\n')
    where = f'"{root}/out/a\\"b.txt"'
    assert v5tools.validate_specs(root) == (
        f'Staleness:\n  [missing] SPEC/l (out/a"b.txt) rank=0: cannot open file {where} for '
        "reading: file unreadable\n")
    assert refused(v5tools.accept, root, "SPEC/l") == (
        f"opening artifact file: cannot open file {where} for reading: file unreadable")


@pytest.mark.parametrize("field", ["depends_on: [EXTERNAL/.]", "input: EXTERNAL/out/.."])
def test_an_external_naming_the_project_directory_opens_but_reads_no_line(tree, field):
    # v5 joins the path to the root: `.` (or a path that cleans to it) is the project
    # directory, which opens (no validation finding) and yields no line (the chain fails).
    root = tree({"SPEC/l": spec("SPEC/l", "# Agent\nW\n", front=f"{field}\noutput: out/l.txt")})
    path = field.split("EXTERNAL/")[1].rstrip("]")
    why = f"reading file {path}: failed to read line: error reading file: file I/O error"
    assert v5tools.validate_specs(root) == \
        f"Staleness:\n  [missing] SPEC/l (out/l.txt) rank=0: {why}\n"
    assert refused(v5tools.load_chain, root, "SPEC/l") == f"computing chain hash: {why}"


def test_an_imported_artifact_whose_output_is_a_directory_reads_no_line(tree):
    # cfs never opens such an output (X8), but v5 opens the directory and fails on its
    # first line: an importer's chain fails in those words (FORMAT.md 9.4, 6).
    root = tree({"SPEC/p": spec("SPEC/p", "# Agent\np\n", front="output: out/p.txt"),
                 "SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front="depends_on: [ARTIFACT/p]\noutput: out/l.txt")})
    (root / "out/p.txt").mkdir(parents=True)
    why = "reading file out/p.txt: failed to read line: error reading file: file I/O error"
    assert refused(v5tools.load_chain, root, "SPEC/l") == f"computing chain hash: {why}"
    assert refused(v5tools.load_chain, Project(root), "SPEC/l") == \
        f"computing chain hash: {why}"
    # (v5 finds no format error, so it ranks: l needs p's artifact, rank 2)
    assert f"[missing] SPEC/l (out/l.txt) rank=2: {why}\n" in v5tools.validate_specs(root)
    (status,) = [s for s in Project(root).report().artifacts if s.node == "SPEC/l"]
    assert "ARTIFACT/p: out/p.txt is a directory, not a file (move it away to have " \
        "ARTIFACT/p generated there)" in status.reasons


def test_an_imported_output_behind_a_link_out_of_the_project_is_not_looked_at(tree, tmp_path):
    # The way to the output leads out of the project: what lies there (a directory of
    # that name) is never looked at, so the importer is told only that cfs cannot open it.
    root = tree({"SPEC/p": spec("SPEC/p", "# Agent\np\n", front="output: out/p.txt"),
                 "SPEC/l": spec("SPEC/l", "# Agent\nW\n",
                                front="depends_on: [ARTIFACT/p]\noutput: gen/l.txt")})
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "p.txt").mkdir(parents=True)
    (root / "out").symlink_to(elsewhere)
    (status,) = [s for s in Project(root).report().artifacts if s.node == "SPEC/l"]
    assert "ARTIFACT/p: out/p.txt is not a file cfs may read" in status.reasons
    assert "failed to open file" in refused(v5tools.load_chain, Project(root), "SPEC/l")
