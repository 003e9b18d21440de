"""Findings and flags where cfs must say what v5 says (FORMAT.md 7.4, 10.1-10.3, 12 X4):
the corners a tree rarely reaches, each on the smallest tree that reaches it."""
from __future__ import annotations

import os

import pytest

from cfs_build.analysis.project import Project
from cfs_build.building.v5tools import Refusal, load_chain, validate_specs
from conftest import chain_hash, checksum, spec


def errors(root) -> set[tuple[str, str]]:
    return {(f.node, f.rule) for f in Project(root, use_index=False).findings
            if f.severity == "error"}


def flags(root) -> dict[str, tuple[str, ...]]:
    return {s.name: tuple(s.flags) for s in Project(root, use_index=False).report().artifacts}


# -- cycles: v5 lists what is on a cycle and what needs one (10.3) -----------------------

def cycle_tree(tree):
    """a and b need each other; c imports a, d takes c's artifact; e stands apart."""
    return tree({"SPEC/a": spec("SPEC/a", front="depends_on: [SPEC/b]\noutput: out/a"),
                 "SPEC/b": spec("SPEC/b", front="input: ARTIFACT/a\noutput: out/b"),
                 "SPEC/c": spec("SPEC/c", front="depends_on: [SPEC/a]\noutput: out/c"),
                 "SPEC/d": spec("SPEC/d", front="input: ARTIFACT/c\noutput: out/d"),
                 "SPEC/e": spec("SPEC/e", front="depends_on: [SPEC/c]\noutput: out/e"),
                 "SPEC/f": spec("SPEC/f", front="output: out/f")})


def test_what_needs_a_cycle_is_reported_as_v5_lists_it(tree):
    # v5's Cycles block names the nodes whose rank still grew in its last round: those
    # on a cycle and those behind one (each of them in some call: the vectors pin the
    # union), never what stands apart.
    root = cycle_tree(tree)
    assert errors(root) == {(n, "cycle") for n in ("SPEC/a", "SPEC/b", "SPEC/c", "SPEC/d",
                                                   "SPEC/e")}
    found = {f.node: f.detail for f in Project(root, use_index=False).findings}
    assert "SPEC/a" in found["SPEC/d"] and "cycle" in found["SPEC/d"]
    assert "Cycles:\n  SPEC/a\n  SPEC/b\n  SPEC/c\n  SPEC/d\n  SPEC/e\n" in validate_specs(root)


# -- output_paths: X4 adds two LEAVES writing one output, nothing more --------------------

def test_a_leaf_sharing_the_output_of_its_parent_is_no_duplicate(tree):
    # The parent's output is leaf_only_fields (v5 too); cfs never makes it, so the leaf
    # does not share its file with anything that is built.
    root = tree({"SPEC/p": spec("SPEC/p", front="output: out/x"),
                 "SPEC/p/c": spec("SPEC/p/c", front="output: out/x")})
    assert errors(root) == {("SPEC/p", "leaf_only_fields")}


def test_two_leaves_sharing_an_output_still_are(tree):
    root = tree({"SPEC/p": spec("SPEC/p", front="output: out/x"),
                 "SPEC/q": spec("SPEC/q", front="output: ./out/x")})
    assert errors(root) == {("SPEC/q", "output_paths")}


# -- 7.4: a chain waiting for an imported artifact -------------------------------------

def waiting_tree(tree, files):
    """b's input is a's artifact, which is not there: b's chain cannot be computed yet.
    b's entry was recorded when out/a.txt held "a\n"."""
    entry = ("ARTIFACT/b;path:out/b.txt;checksum:" + checksum("b\n") + ";chain:"
             + chain_hash(b"I", "a\n"))
    return tree({"SPEC/a": spec("SPEC/a", front="output: out/a.txt"),
                 "SPEC/b": spec("SPEC/b", front="input: ARTIFACT/a\noutput: out/b.txt"),
                 "code-from-spec/.manifest": f"code-from-spec: v5\n{entry}\n", **files})


def test_waiting_with_an_entry_flags_only_the_file(tree):
    # 7.4: an uncomputable chain adds `stale` only without an entry, and waiting for an
    # artifact adds no flag of its own: the file alone speaks.
    root = waiting_tree(tree, {"out/b.txt": "b\n"})
    assert flags(root)["ARTIFACT/b"] == ("up-to-date",)
    (root / "out" / "b.txt").write_text("edited\n")
    assert flags(root)["ARTIFACT/b"] == ("modified",)
    (root / "out" / "b.txt").unlink()
    assert flags(root)["ARTIFACT/b"] == ("missing",)


def test_waiting_without_an_entry_is_stale(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/a.txt"),
                 "SPEC/b": spec("SPEC/b", front="input: ARTIFACT/a\noutput: out/b.txt"),
                 "out/b.txt": "b\n"})
    assert flags(root)["ARTIFACT/b"] == ("stale", "untracked")


# -- 10.3: v5's words for a reference it cannot use -------------------------------------

def test_v5_words_for_an_input_it_cannot_parse_and_an_empty_external(tree):
    # v5 names an unparsable SPEC/ input "input entry cannot be parsed", and never parses an
    # EXTERNAL/ name: what follows the prefix, even nothing, is a file it cannot open.
    root = tree({"SPEC/l": spec("SPEC/l", front="depends_on: [EXTERNAL/]\ninput: SPEC/x/\n"
                                "output: out/l.txt")})
    text = validate_specs(root)
    assert "[SPEC/l] dependency_targets: depends_on references unreadable EXTERNAL file: " \
           "EXTERNAL/\n" in text
    assert "[SPEC/l] input_target: input entry cannot be parsed: SPEC/x/\n" in text
    root = tree({"SPEC/m": spec("SPEC/m", front="input: EXTERNAL/\noutput: out/m.txt")})
    assert "[SPEC/m] input_target: input references unreadable EXTERNAL file: EXTERNAL/\n" \
        in validate_specs(root)


# -- 1 and 10.1: a child across a directory without _node.md ------------------------------

def test_a_node_with_a_descendant_across_a_bare_directory_is_no_leaf(tree):
    # v5 calls a node a leaf when no other node's name starts with its own and '/', so a
    # node below a directory that lacks _node.md still makes p an inner node.
    root = tree({"SPEC/p": spec("SPEC/p", front="depends_on: [SPEC/q]\noutput: out/p.txt"),
                 "SPEC/p/gap/c": spec("SPEC/p/gap/c", front="output: out/c.txt"),
                 "SPEC/q": spec("SPEC/q")})
    found = errors(root)
    assert ("SPEC/p", "leaf_only_fields") in found
    assert ("SPEC/p/gap", "missing_node_md") in found
    project = Project(root, use_index=False)
    assert not project.tree.is_leaf("SPEC/p")
    assert "[SPEC/p] leaf_only_fields: depends_on is only permitted on leaf nodes\n" \
           "  [SPEC/p] leaf_only_fields: output is only permitted on leaf nodes\n" \
        in validate_specs(root)


# -- 6: an ARTIFACT/ whose node declares `output: ''` -----------------------------------

def test_the_artifact_of_an_empty_output_is_a_file_v5_cannot_open(tree):
    # The name is declared (v5 knows ARTIFACT/x once x has an output, even an empty one);
    # its chain resolves to the path '' and fails when that is opened.
    for key in ("depends_on: [ARTIFACT/x]", "input: ARTIFACT/x"):
        root = tree({"SPEC/x": spec("SPEC/x", front="output: ''"),
                     "SPEC/l": spec("SPEC/l", front=f"{key}\noutput: out/l.txt")})
        assert errors(root) == {("SPEC/x", "output_paths")}
        assert "[missing] SPEC/l (out/l.txt) rank=0: reading file : failed to open file: " \
               "path is empty\n" in validate_specs(root)


def test_v5_never_parses_an_artifact_name_it_does_not_know(tree):
    # 10.1: an ARTIFACT/ reference is unknown when its whole text is not the artifact of a
    # node with an output; v5 looks it up as it is, so an empty or badly formed one is
    # "unknown", never "cannot be parsed" (that is said of SPEC/ names alone).
    root = tree({"SPEC/l": spec("SPEC/l", front="depends_on: [ARTIFACT/, ARTIFACT/x/]\n"
                                "output: out/l.txt")})
    text = validate_specs(root)
    assert "[SPEC/l] dependency_targets: depends_on references unknown ARTIFACT: " \
           "ARTIFACT/\n" in text
    assert "[SPEC/l] dependency_targets: depends_on references unknown ARTIFACT: " \
           "ARTIFACT/x/\n" in text
    for raw in ("ARTIFACT/", "ARTIFACT/x/"):
        root = tree({"SPEC/m": spec("SPEC/m", front=f"input: {raw}\noutput: out/m.txt")})
        assert f"[SPEC/m] input_target: input references unknown ARTIFACT: {raw}\n" \
            in validate_specs(root)


# -- 7.4: the detail of an artifact whose file cannot be opened ------------------------

def test_a_file_that_cannot_be_opened_is_named_by_its_cleaned_absolute_path(tree):
    # v5 opens the output at the project root joined with it, which cleans the path, and
    # names that path in its error (9.4: messages that name a file carry its absolute path).
    root = tree({"SPEC/l": spec("SPEC/l", front="output: ./out//l.txt")})
    entry = f"ARTIFACT/l;path:out/l.txt;checksum:{chain_hash()};chain:{chain_hash()}"
    (root / "code-from-spec/.manifest").write_text(f"code-from-spec: v5\n{entry}\n")
    assert (f'[missing] SPEC/l (./out//l.txt) rank=0: cannot open file "{root}/out/l.txt" '
            "for reading: file unreadable\n") in validate_specs(root)


# -- 4.1: frontmatter of several YAML documents ------------------------------------------

def test_a_second_yaml_document_in_the_frontmatter_is_ignored_as_v5_ignores_it(tree):
    # '--- ' (trailing space) does not close the frontmatter; a thematic break further
    # down does. v5's YAML reads the first document only, so the node fails on its body,
    # not on its YAML (v5 then also reports code-from-spec/l as missing_node_md: X4).
    root = tree({"SPEC/l": "---\noutput: out/l.txt\n--- \n# SPEC/l\n\n# Agent\n\nx\n\n"
                           "---\n\nmore\n"})
    assert validate_specs(root) == ("Format errors:\n  [SPEC/l] parse: unexpected content "
                                    "before first heading\n")


# -- 10.2: a SPEC/ name with '(' and no ')' -----------------------------------------------

def paren_tree(tree, also=None):
    """`SPEC/a(b` is a node (a '(' without ')' is part of the name); c imports it."""
    leaf = "---\n{}output: out/{}.txt\n---\n# SPEC/{}\n\n# Public\n\n## A\nx\n"
    files = {"SPEC/a(b": leaf.format("", "ab", "a(b"),
             "SPEC/c": leaf.format("depends_on:\n  - SPEC/a(b\n", "c", "c")}
    return tree({**files, **(also or {})})


def test_v5_ranks_a_spec_name_by_the_text_before_its_first_parenthesis(tree):
    # v5's ranking cuts a SPEC/ reference at its first '(' even without a ')': SPEC/a is no
    # node, so it ranks nothing and reports the reference alone (FORMAT.md 10.2).
    root = paren_tree(tree)
    found = [f for f in Project(root, use_index=False).findings if f.rule == "ranking"]
    assert [(f.node, f.file, f.line) for f in found] == [("", "code-from-spec/c/_node.md", 3)]
    assert "SPEC/a(b" in found[0].detail and "rename" in found[0].detail
    assert validate_specs(root) == (
        "Format errors:\n  [] ranking: unresolvable reference: SPEC/a(b\n"
        "Staleness:\n"
        "  [missing] SPEC/a(b (out/ab.txt) rank=0: no manifest entry\n"
        "  [missing] SPEC/c (out/c.txt) rank=0: no manifest entry\n")


def test_v5_ranks_such_a_reference_as_the_node_before_the_parenthesis(tree):
    # With a node SPEC/a, v5's edge goes there: c ranks above a's artifact, not a(b's.
    leaf = "---\n{}output: out/{}.txt\n---\n# SPEC/{}\n\n# Public\n\n## A\nx\n"
    root = paren_tree(tree, {"SPEC/z": leaf.format("", "z", "z"),
                             "SPEC/a": leaf.format("input: ARTIFACT/z\n", "a", "a")})
    project = Project(root, use_index=False)
    assert not [f for f in project.findings if f.severity == "error"]
    assert project.ranks == {"SPEC/a": 2, "SPEC/a(b": 0, "SPEC/c": 3, "SPEC/z": 0}


def test_v5_words_for_each_bad_entry_of_a_flow_list(tree):
    # All entries on one line: each line of the report still names its own entry, even one
    # cfs's detail quotes with escapes (a backslash, both kinds of quotes).
    front = 'depends_on: ["src\\\\a.py", "SPEC/some/long/name", "it\'s\\"q"]\noutput: out/a.txt\n'
    root = tree({"SPEC/a": spec("SPEC/a", front=front)})
    assert validate_specs(root).split("Staleness:")[0] == (
        "Format errors:\n"
        "  [SPEC/a] dependency_targets: depends_on entry has unrecognized prefix: src\\a.py\n"
        "  [SPEC/a] dependency_targets: depends_on references unknown SPEC node: "
        "SPEC/some/long/name\n"
        "  [SPEC/a] dependency_targets: depends_on entry has unrecognized prefix: it's\"q\n")


def test_no_ranking_finding_for_a_node_v5_cannot_parse(tree):
    # v5 reports the import of an unparsable SPEC/a(b as an unknown node, never ranks.
    root = paren_tree(tree, {"SPEC/a(b": "# SPEC/a(b\n\n# Bogus\n"})
    assert "ranking" not in {f.rule for f in Project(root, use_index=False).findings}


# -- a NUL in the frontmatter: v5 reads it as text; no file name can hold it ---------------

def nul_tree(tree):
    """An output, an EXTERNAL/ entry and an input holding NUL, and a leaf importing the
    artifact that can never be written."""
    return tree({"SPEC/r": spec("SPEC/r"),
                 "SPEC/r/out": spec("SPEC/r/out", front="output: a\x00b.py"),
                 "SPEC/r/dir": spec("SPEC/r/dir", front="output: d\x00/b.py"),
                 "SPEC/r/ext": spec("SPEC/r/ext", front="output: ext.py\n"
                                    "depends_on: [EXTERNAL/x\x00y]"),
                 "SPEC/r/inp": spec("SPEC/r/inp", front="output: inp.py\ninput: SPEC/x\x00y"),
                 "SPEC/r/use": spec("SPEC/r/use", front="output: use.py\n"
                                    "depends_on: [ARTIFACT/r/out]"),
                 "a": "not the output"})


def test_an_output_holding_nul_is_missing_as_v5_says_and_never_written(tree):
    # v5's path rules pass the text (oslayer/path.go ValidateCfsPath); its open fails, so
    # the artifact is `missing` (mcpvalidatespecs.go): cfs's stale + missing, no traceback.
    root = nul_tree(tree)
    found = flags(root)
    assert found["ARTIFACT/r/out"] == ("stale", "missing")
    assert found["ARTIFACT/r/dir"] == ("stale", "missing")
    assert errors(root) >= {("SPEC/r/out", "unwritable_output"),
                            ("SPEC/r/dir", "unwritable_output")}
    report = validate_specs(root)
    assert "[missing] SPEC/r/out (a\x00b.py) rank=0: no manifest entry\n" in report
    # cfs's own rule for it is not one of v5's: v5 lists no format error for the path.
    assert "unwritable_output" not in report and "[SPEC/r/out]" not in report
    # The importer waits for it, with v5's failure to read it.
    assert ('[missing] SPEC/r/use (use.py) rank=0: reading file a\x00b.py: failed to open '
            f'file: cannot open file "{root}/a\\x00b.py" for reading: file unreadable\n') \
        in report


@pytest.mark.parametrize("output, why", [
    ("../x\\0.py", "path contains directory traversal"),
    ("/abs/x\\0.py", "path is absolute"),
    ("code-from-spec/x\\0.py", "path is inside code-from-spec/")])
def test_an_output_holding_nul_that_v5s_rules_refuse_is_that_refusal(tree, output, why):
    # v5 checks the text of the path before it opens anything: the NUL changes nothing.
    root = tree({"SPEC/o": spec("SPEC/o", front=f'output: "{output}"')})
    assert errors(root) == {("SPEC/o", "output_paths")}
    assert f"  [SPEC/o] output_paths: output path is invalid: {why}\n" in validate_specs(root)


@pytest.mark.parametrize("output", ["12:30:00", "1:30", "-1:30"])
def test_an_output_pyyaml_reads_as_base_60_is_v5s_path_refusal(tree, output):
    # A number to PyYAML (YAML 1.1), a text to v5's YAML, whose path rules refuse it (a ':'
    # makes it absolute): v5 lists that format error, not a malformed frontmatter, and so
    # does not rank the tree.
    root = tree({"SPEC/o": spec("SPEC/o", front=f"output: {output}")})
    assert errors(root) == {("SPEC/o", "output_paths")}
    assert validate_specs(root) == (
        "Format errors:\n  [SPEC/o] output_paths: output path is invalid: path is absolute\n"
        f"Staleness:\n  [missing] SPEC/o ({output}) rank=0: no manifest entry\n")


def test_a_reference_holding_nul_is_v5s_finding_and_names_the_character(tree):
    root = nul_tree(tree)
    project = Project(root, use_index=False)
    details = {(f.node, f.rule): f.detail for f in project.findings}
    assert "NUL character" in details[("SPEC/r/ext", "dependency_targets")]
    assert ("SPEC/r/inp", "input_target") in details
    # (an EXTERNAL/ name no file can have is no other leaf's output either)
    assert not any(f.rule == "reference" for f in project.findings)
    report = validate_specs(root)
    assert "[SPEC/r/ext] dependency_targets: depends_on references unreadable EXTERNAL " \
        "file: EXTERNAL/x\x00y\n" in report
    assert "[SPEC/r/inp] input_target: input references unknown SPEC node: SPEC/x\x00y\n" \
        in report


def test_write_file_to_an_output_holding_nul_fails_as_v5s_open_does(tree):
    # mcpwritefile.go opens the file for overwrite before anything else is done;
    # oslayer/file.go: MkdirAll of its directory, then the open, each failing on NUL.
    from cfs_build.building.v5tools import Refusal, accept, write_file
    import pytest
    root = nul_tree(tree)
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(Refusal) as refused:
        write_file(root, "SPEC/r/out", "x\n")
    assert str(refused.value) == \
        f'cannot open file "{root}/a\\x00b.py" for overwrite: cannot open file'
    with pytest.raises(Refusal) as refused:
        write_file(root, "SPEC/r/dir", "x\n")
    assert str(refused.value) == \
        f'cannot create directories for "{root}/d\\x00/b.py": cannot create directory'
    with pytest.raises(Refusal) as refused:
        accept(root, "SPEC/r/out")
    assert str(refused.value) == (f'opening artifact file: cannot open file '
                                  f'"{root}/a\\x00b.py" for reading: file unreadable')
    assert sorted(p.name for p in root.iterdir()) == before
    assert not (root / "code-from-spec" / ".manifest").exists()


# -- 1, 10.3: the order of names that are not all UTF-8 ----------------------------------

def test_names_holding_bytes_that_are_no_utf8_are_listed_in_byte_order(tree):
    # v5 sorts nodes, directories and report rows as Go compares strings: byte by byte.
    # A byte that is no UTF-8 (0x80, 0xff) then stands where its value puts it, before
    # 'é' (0xc3) or after '😀' (0xf0), where a code point order of the text cfs reads
    # (U+DC80, U+DCFF) put it elsewhere.
    root = tree({"SPEC/b": spec("SPEC/b", front="output: out/b.txt")})
    names = [b"\x80x", "é".encode(), b"\xffz", "😀".encode()]
    for raw in names:
        node = os.fsencode(root / "code-from-spec") + b"/" + raw
        os.mkdir(node)
        with open(node + b"/_node.md", "wb") as handle:
            handle.write(b"---\noutput: out/n.txt\n---\n# SPEC/" + raw + b"\n")
    for raw in (b"\x81gap", "égap".encode()):
        os.makedirs(os.fsencode(root / "code-from-spec") + b"/" + raw + b"/sub")
        open(os.fsencode(root / "code-from-spec") + b"/" + raw + b"/sub/f", "wb").close()
    want = ["b", "\udc80x", "é", "😀", "\udcffz"]
    project = Project(root, use_index=False)
    assert list(project.tree.nodes) == [f"SPEC/{n}" for n in want]
    assert [s.name for s in project.report().artifacts] == [f"ARTIFACT/{n}" for n in want]
    text = validate_specs(root)
    rows = [line.split("] ", 1)[1].split(" (")[0] for line in text.splitlines()
            if line.startswith("  [missing]")]
    assert rows == [f"SPEC/{n}" for n in want]
    gaps = [line.split("]")[0] for line in text.splitlines() if "missing_node_md" in line]
    assert gaps == ["  [code-from-spec/\udc81gap", "  [code-from-spec/\udc81gap/sub",
                    "  [code-from-spec/égap", "  [code-from-spec/égap/sub"]


def test_v5_words_for_flow_list_entries_whose_text_is_in_each_other_s_detail(tree):
    # '' is in every detail, and cfs's detail for it names the prefixes SPEC/ and
    # EXTERNAL/: each line must still name its own entry, in v5's words for that entry.
    front = "depends_on: ['', 'SPEC/', ARTIFACT/x, 'EXTERNAL/']\noutput: out/l.txt\n"
    root = tree({"SPEC/x": spec("SPEC/x", front="output: out/x.txt"),
                 "SPEC/l": spec("SPEC/l", front=front)})
    assert validate_specs(root).split("Staleness:")[0] == (
        "Format errors:\n"
        "  [SPEC/l] dependency_targets: depends_on entry has unrecognized prefix: \n"
        "  [SPEC/l] dependency_targets: depends_on entry cannot be parsed: SPEC/\n"
        "  [SPEC/l] dependency_targets: depends_on references unreadable EXTERNAL file: "
        "EXTERNAL/\n")


# -- 4.1 and X4: an output that is no string spoils only that output ---------------------

def non_string_output_tree(tree):
    """p (an inner node) and a declare outputs v5 takes as text (`yes`, `123`) and cfs
    refuses; each has other problems too, and others read their public content."""
    return tree({
        "SPEC/p": spec("SPEC/p", "# Public\n## P\np\n# Agent\ndo\n",
                       front="output: yes\ndepends_on: [SPEC/nowhere]"),
        "SPEC/p/c": spec("SPEC/p/c", front="output: out/c.txt"),
        "SPEC/a": spec("SPEC/a", "# Public\nloose\n## A\na\n",
                       front="output: 123\ninput: EXTERNAL/missing.txt"),
        "SPEC/r": spec("SPEC/r", front="depends_on: [SPEC/a(A)]\noutput: out/r.txt")})


def test_a_node_whose_output_is_no_string_is_still_checked_for_everything_else(tree):
    # v5 reads such a node: it reports the node's other problems, which cfs must report
    # too; cfs adds that the output is malformed (X4).
    root = non_string_output_tree(tree)
    assert errors(root) == {
        ("SPEC/p", "malformed_frontmatter"), ("SPEC/p", "leaf_only_fields"),
        ("SPEC/p", "leaf_only_agent"), ("SPEC/p", "dependency_targets"),
        ("SPEC/a", "malformed_frontmatter"), ("SPEC/a", "input_target"),
        ("SPEC/a", "public_subsection_required")}
    text = validate_specs(root)
    for line in ("[SPEC/p] leaf_only_fields: depends_on is only permitted on leaf nodes\n"
                 "  [SPEC/p] leaf_only_fields: output is only permitted on leaf nodes\n"
                 "  [SPEC/p] leaf_only_agent: # Agent section is only permitted on leaf nodes\n"
                 "  [SPEC/p] dependency_targets: depends_on references unknown SPEC node: "
                 "SPEC/nowhere\n",
                 "[SPEC/a] input_target: input references unreadable EXTERNAL file: "
                 "EXTERNAL/missing.txt\n"
                 "  [SPEC/a] public_subsection_required: content in # Public must be under "
                 "a ## subsection\n"):
        assert line in text


def test_what_reads_the_public_content_of_such_a_node_reads_it_as_v5_does(tree):
    # Its child inherits its # Public and an importer reads a subsection: both chains are
    # computed, as in v5, where the output's text changes nothing of them.
    root = non_string_output_tree(tree)
    chains = {s.name: s for s in Project(root, use_index=False).report().artifacts}
    assert chains["ARTIFACT/p/c"].chain == chain_hash("## P\np\n")
    assert chains["ARTIFACT/r"].chain == chain_hash("## A\na\n")
    assert flags(root)["ARTIFACT/p/c"] == ("stale", "missing")
    assert "ARTIFACT/p" not in flags(root) and "ARTIFACT/a" not in flags(root)


def test_v5_names_the_parse_error_it_meets_not_an_output_it_takes_as_text(tree):
    # With a real parse error further down, that error is v5's, for the node and for
    # what inherits from it; cfs still reports the output too.
    root = tree({"SPEC/p": spec("SPEC/p", "# Public\n## A\n## a\n", front="output: 123"),
                 "SPEC/p/c": spec("SPEC/p/c", front="output: out/c.txt")})
    assert errors(root) == {("SPEC/p", "malformed_frontmatter"),
                            ("SPEC/p", "duplicate_subsections")}
    text = validate_specs(root)
    assert '[SPEC/p] parse: duplicate subsection: "a"\n' in text
    assert 'rank=0: parse failure: ancestor SPEC/p: duplicate subsection: "a"\n' in text
    with pytest.raises(Refusal, match='^parsing target node: duplicate subsection: "a"$'):
        load_chain(root, "SPEC/p")


def test_the_artifact_of_such_a_node_is_unknown_and_its_importer_is_told_why(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n", front="output: 123"),
                 "SPEC/s": spec("SPEC/s", front="input: ARTIFACT/a\noutput: out/s.txt")})
    (status,) = Project(root, use_index=False).report().artifacts
    assert status.chain is None and "invalid" in status.flags
    assert status.reasons[0] == ("ARTIFACT/a: the output of SPEC/a is no string; quote it "
                                 "in its frontmatter")


def test_v5_ranks_a_node_whose_output_it_takes_as_text(tree):
    # v5 parses SPEC/a(b (its output 123 is text to it), finds no format error, and so
    # ranks, stopping at the reference it cannot rank (see paren_tree).
    root = paren_tree(tree, {"SPEC/a(b": "---\noutput: 123\n---\n# SPEC/a(b\n\n# Public\n\n"
                                         "## A\nx\n"})
    found = [f for f in Project(root, use_index=False).findings if f.rule == "ranking"]
    assert [(f.node, f.file, f.line) for f in found] == [("", "code-from-spec/c/_node.md", 3)]


# -- 10.2, 10.3: what cfs alone reports does not take v5's ranks away -----------------

def test_ranks_stay_v5_s_when_only_cfs_finds_format_errors(tree):
    # Two leaves writing one file, an output inside code-from-spec/ and an output v5
    # takes as text are no error to v5: it ranks the tree (c needs z's public: rank 1).
    # cfs adds its lines (X4, X8) and keeps v5's ranks and order.
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/same.txt"),
                 "SPEC/b": spec("SPEC/b", front="output: out/same.txt"),
                 "SPEC/i": spec("SPEC/i", front="output: code-from-spec/i.txt"),
                 "SPEC/n": spec("SPEC/n", front="output: 123"),
                 "SPEC/c": spec("SPEC/c", front="input: SPEC/z\noutput: out/c.txt"),
                 "SPEC/z": spec("SPEC/z", "# Public\n## Z\nz\n", front="output: out/z.txt")})
    text = validate_specs(root)
    assert "[SPEC/b] output_paths: " in text and "[SPEC/i] output_paths: " in text
    assert text.split("Staleness:\n")[1] == (
        "  [missing] SPEC/a (out/same.txt) rank=0: no manifest entry\n"
        "  [missing] SPEC/b (out/same.txt) rank=0: no manifest entry\n"
        "  [missing] SPEC/i (code-from-spec/i.txt) rank=0: no manifest entry\n"
        "  [missing] SPEC/z (out/z.txt) rank=0: no manifest entry\n"
        "  [missing] SPEC/c (out/c.txt) rank=1: no manifest entry\n")


def test_v5_s_ranking_line_stays_when_only_cfs_finds_format_errors(tree):
    # v5, finding no format error, ranks and stops at the reference it cannot rank
    # (see paren_tree): that line is v5's, whatever cfs adds.
    root = paren_tree(tree, {"SPEC/d": spec("SPEC/d", front="output: out/c.txt")})
    text = validate_specs(root)
    assert "[SPEC/d] output_paths: " in text
    assert "  [] ranking: unresolvable reference: SPEC/a(b\n" in text
