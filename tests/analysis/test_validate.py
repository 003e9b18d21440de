"""Validation (FORMAT.md section 10): one minimal tree per rule id, with file and line."""
from __future__ import annotations

import os

import pytest

from cfs_build.analysis.project import Project
from conftest import chain_hash, make_unreadable, spec

F = "code-from-spec/{}/_node.md"


def findings(root, rule=None):
    found = Project(root, use_index=False).findings
    return [(f.node, f.rule, f.file, f.line) for f in found if rule is None or f.rule == rule]


def details(root, rule):
    return [f.detail for f in Project(root, use_index=False).findings if f.rule == rule]


def test_valid_tree_has_no_findings(fixture):
    # Only the warning that SPEC/lib(Errors) and SPEC/lib(errors) are two positions.
    assert findings(fixture("chains")) == [
        ("SPEC/app/svc/leaf", "qualifier_variants", F.format("app/svc/leaf"), 7)]


def test_missing_node_md(tree):
    root = tree({"SPEC/a/b/c": spec("SPEC/a/b/c"), "SPEC/a": spec("SPEC/a")})
    assert findings(root) == [("SPEC/a/b", "missing_node_md", "code-from-spec/a/b", None)]


def test_name_heading(tree):
    root = tree({"SPEC/a": spec("SPEC/a"),
                 "SPEC/a/b": "---\noutput: out/b\n---\n\n# SPEC/a/c\n"})
    assert findings(root) == [("SPEC/a/b", "name_heading", F.format("a/b"), 5)]
    assert "# SPEC/a/b" in details(root, "name_heading")[0]


def test_a_directory_name_v5_reads_as_qualified_cannot_be_a_node(tree):
    # v5 reads `SPEC/api(v2)` (and every name below it) as `SPEC/api` with a qualifier
    # and refuses to parse it before opening the file; a '(' without ')' is a name.
    leaf = "---\noutput: out/{0}.txt\n---\n# SPEC/{1}\n\n# Agent\nW\n"
    root = tree({"SPEC/api(v2)": spec("SPEC/api(v2)", "# Public\n\n## A\nx\n"),
                 "SPEC/api(v2)/l": leaf.format("l", "api(v2)/l"),
                 "SPEC/open(": leaf.format("o", "open(")})
    assert findings(root) == [
        ("SPEC/api(v2)", "qualified_node_name", F.format("api(v2)"), None),
        ("SPEC/api(v2)/l", "qualified_node_name", F.format("api(v2)/l"), None)]
    project = Project(root, use_index=False)
    assert project.resolver.parse_failure("SPEC/api(v2)/l") == "logical name has qualifier"
    assert project.resolver.chain("SPEC/open(").hash == chain_hash("W\n")


@pytest.mark.parametrize("front, line", [
    ("depends_on:\n  - EXTERNAL/x.txt\n", 3),
    ("input: EXTERNAL/x.txt\n", 2),
    ("# a comment\noutput: out/p.txt\n", 3),
])
def test_leaf_only_fields(tree, front, line):
    root = tree({"SPEC/p": spec("SPEC/p", front=front), "SPEC/p/c": spec("SPEC/p/c"),
                 "x.txt": "x"})
    assert findings(root) == [("SPEC/p", "leaf_only_fields", F.format("p"), line)]


def test_leaf_only_agent(tree):
    root = tree({"SPEC/p": spec("SPEC/p", "\n# Public\n## A\na\n\n# Agent\ndo\n"),
                 "SPEC/p/c": spec("SPEC/p/c")})
    assert findings(root) == [("SPEC/p", "leaf_only_agent", F.format("p"), 7)]


def deps_tree(tree, entry, key="depends_on"):
    value = f"\n  - {entry}" if key == "depends_on" else f" {entry}"
    return tree({
        "SPEC/a": spec("SPEC/a", "# Public\n## A\na\n"),
        "SPEC/a/b": spec("SPEC/a/b", front=f"output: out/b.txt\n{key}:{value}\n"),
        "SPEC/inner": spec("SPEC/inner"),
        "SPEC/inner/leaf": spec("SPEC/inner/leaf", front="output: out/leaf.txt"),
        "SPEC/nooutput": spec("SPEC/nooutput"),
        "bad.txt": b"\xff\xfeabc",
        "good.txt": "ok\n",
        "dir/x.txt": "x",
    })


TARGET_CASES = [
    ("SPEC", "cannot be used"),
    ("nonsense", "cannot be used"),
    ("WRONG/prefix", "unknown prefix"),
    ("spec/a", "unknown prefix"),
    ("ARTIFACT/inner/leaf(q)", "qualifier"),
    ("ARTIFACT/inner/leaf(q)tail", "qualifier"),
    ("SPEC/nowhere", "unknown SPEC node"),
    ("SPEC/a/", "invalid name"),
    ("ARTIFACT/nowhere", "unknown ARTIFACT"),
    ("ARTIFACT/inner", "unknown ARTIFACT"),
    ("ARTIFACT/nooutput", "unknown ARTIFACT"),
    ("EXTERNAL/no/such/file.txt", "unreadable EXTERNAL"),
    # (EXTERNAL/dir, a directory inside the project, passes as in v5: vector
    # external_is_directory; the chain fails instead)
    ("EXTERNAL/../outside.txt", "outside the project"),
    ("EXTERNAL/dir/../../outside.txt", "outside the project"),
    ("EXTERNAL//etc/passwd", "outside the project"),
    ("EXTERNAL/dir\\x.txt", "outside the project"),
]


@pytest.mark.parametrize("entry, why", [*TARGET_CASES, ("SPEC/a/b", "itself"),
                                        ("SPEC/a/b(A)", "itself"), ("SPEC/a", "ancestor"),
                                        ("SPEC/a(A)", "ancestor")])
def test_dependency_targets(tree, entry, why):
    root = deps_tree(tree, entry)
    assert findings(root) == [("SPEC/a/b", "dependency_targets", F.format("a/b"), 4)]
    assert why in details(root, "dependency_targets")[0]


@pytest.mark.parametrize("entry, why", TARGET_CASES)
def test_input_target(tree, entry, why):
    root = deps_tree(tree, entry, key="input")
    assert findings(root) == [("SPEC/a/b", "input_target", F.format("a/b"), 3)]
    assert why in details(root, "input_target")[0]


@pytest.mark.parametrize("entry", ["SPEC/a/b", "SPEC/a/b(A)"])
def test_input_naming_the_node_itself_is_a_cycle(tree, entry):
    root = deps_tree(tree, entry, key="input")
    assert findings(root) == [("SPEC/a/b", "cycle", F.format("a/b"), None)]
    assert "SPEC/a/b itself" in details(root, "cycle")[0]


@pytest.mark.parametrize("key", ["depends_on", "input"])
def test_own_artifact_is_a_cycle(tree, key):
    root = deps_tree(tree, "ARTIFACT/a/b", key)
    assert findings(root) == [("SPEC/a/b", "cycle", F.format("a/b"), None)]


@pytest.mark.parametrize("entry", ["SPEC/a", "SPEC/a(A)"])
def test_input_from_an_ancestor_is_fine(tree, entry):
    assert findings(deps_tree(tree, entry, key="input")) == []


@pytest.mark.parametrize("entry", ["EXTERNAL/bad.txt", "EXTERNAL/dir"])
@pytest.mark.parametrize("key", ["depends_on", "input"])
def test_external_that_opens_is_no_finding(tree, entry, key):
    # v5 only asks that the file opens: a directory does, and so does a file that is not
    # UTF-8. (The chain of a directory then fails; the status says so.)
    assert findings(deps_tree(tree, entry, key)) == []


@pytest.mark.parametrize("key", ["depends_on", "input"])
def test_unopenable_external(tree, key):
    root = deps_tree(tree, "EXTERNAL/good.txt", key)
    (root / "good.txt").unlink()
    (root / "good.txt").symlink_to("good.txt")  # a loop: no one can open it, root included
    rule = "dependency_targets" if key == "depends_on" else "input_target"
    assert [f[1] for f in findings(root)] == [rule]
    detail = details(root, rule)[0]
    # As root make_unreadable links to /proc/self/mem, which lies outside the project.
    assert "unreadable EXTERNAL file: EXTERNAL/good.txt" in detail or (
        "EXTERNAL/good.txt resolves outside the project" in detail)


@pytest.mark.parametrize("key", ["depends_on", "input"])
def test_external_that_opens_but_cannot_be_read_is_left_to_the_chain(tree, key):
    # v5 asks only that the file opens; reading it is the chain's business.
    root = deps_tree(tree, "EXTERNAL/good.txt", key)
    make_unreadable(root / "good.txt")
    if (root / "good.txt").is_symlink():
        # As root, make_unreadable links to /proc/self/mem: outside the project, so a
        # finding, and the file is never opened (test_confinement has the rest).
        rule = "dependency_targets" if key == "depends_on" else "input_target"
        assert [f[1] for f in findings(root)] == [rule]
        assert "resolves outside the project" in details(root, rule)[0]
        return
    if not os.access(root / "good.txt", os.R_OK):
        pytest.skip("this user cannot even open the file: test_unopenable_external's case")
    assert findings(root) == []
    statuses = {s.name: s for s in Project(root, use_index=False).report().artifacts}
    assert statuses["ARTIFACT/a/b"].chain is None
    assert "invalid" in statuses["ARTIFACT/a/b"].flags


@pytest.mark.parametrize("entry", ["SPEC/inner", "SPEC/inner/leaf", "SPEC/inner/leaf(A)",
                                   "ARTIFACT/inner/leaf", "EXTERNAL/good.txt",
                                   "EXTERNAL/dir/../good.txt", "EXTERNAL/./good.txt"])
@pytest.mark.parametrize("key", ["depends_on", "input"])
def test_good_targets(tree, entry, key):
    root = deps_tree(tree, entry, key)
    assert [f for f in findings(root) if f[1] != "reference"] == []


def test_descendant_is_a_dependency_target_error(tree):
    root = tree({"SPEC/p": spec("SPEC/p", front="depends_on:\n  - SPEC/p/c\n"),
                 "SPEC/p/c": spec("SPEC/p/c", "# Public\n## A\na\n")})
    found = findings(root)
    assert ("SPEC/p", "leaf_only_fields", F.format("p"), 3) in found
    assert ("SPEC/p", "dependency_targets", F.format("p"), 3) in found
    assert "descendant" in details(root, "dependency_targets")[0]


def test_input_from_a_descendant_is_a_cycle(tree):
    root = tree({"SPEC/p": spec("SPEC/p", front="input: SPEC/p/c/d\n"),
                 "SPEC/p/c": spec("SPEC/p/c"), "SPEC/p/c/d": spec("SPEC/p/c/d")})
    found = findings(root)
    assert not [f for f in found if f[1] == "input_target"]
    assert {f[0] for f in found if f[1] == "cycle"} == {"SPEC/p", "SPEC/p/c", "SPEC/p/c/d"}


def test_every_bad_entry_is_reported(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="depends_on:\n  - SPEC/x\n  - SPEC/a\n"
                                "  - WRONG/z\noutput: out/a\n")})
    assert findings(root) == [("SPEC/a", "dependency_targets", F.format("a"), line)
                              for line in (3, 4, 5)]


def test_qualifier_matching_no_subsection_is_a_warning(tree):
    root = tree({
        "SPEC/lib": spec("SPEC/lib", "# Public\n## Interface\nf()\n# Private\n## Notes\nn\n"),
        "SPEC/app": spec("SPEC/app", front="depends_on:\n  - SPEC/lib(Interface)\n"
                         "  - SPEC/lib(Notes)\ninput: SPEC/lib(nope)\noutput: out/app\n"),
    })
    project = Project(root, use_index=False)
    found = [(f.rule, f.line, f.severity) for f in project.findings]
    assert found == [("reference", 4, "warning"), ("reference", 5, "warning")]
    assert "Notes" in project.findings[0].detail
    report = project.report()
    assert report.errors == []
    assert report.exit_code == 1  # only because the artifact is missing


def test_text_after_qualifier_is_a_warning(tree):
    root = tree({"SPEC/lib": spec("SPEC/lib", "# Public\n## A\na\n"),
                 "SPEC/app": spec("SPEC/app", front="depends_on: [SPEC/lib(A)junk]\noutput: o")})
    found = Project(root, use_index=False).findings
    assert [(f.rule, f.line, f.severity) for f in found] == [("reference", 2, "warning")]


def outputs_tree(tree, *outputs):
    return tree({f"SPEC/o{i}": spec(f"SPEC/o{i}", front=f"output: {out}\n")
                 for i, out in enumerate(outputs)})


@pytest.mark.parametrize("output, why", [
    ("/etc/passwd", "absolute"),
    ("/abs/out.txt", "absolute"),
    ("C:/out.txt", "absolute"),
    ("../outside.txt", "traversal"),
    ("out/../../outside.txt", "traversal"),
    ("out\\\\win.txt", "backslash"),
    ("'out\\win.txt'", "backslash"),
    ("''", "empty"),
    ("out/a:b.txt", "absolute"),
    ("code-from-spec/.cache/x.txt", "inside code-from-spec/"),
    ("code-from-spec/a/.tools/x", "inside code-from-spec/"),
    ("code-from-spec/.manifest", "inside code-from-spec/"),
    ("code-from-spec/.manifest.lock", "inside code-from-spec/"),
    ("code-from-spec/.cache", "inside code-from-spec/"),
    ("code-from-spec/o0/_node.md", "inside code-from-spec/"),
    ("code-from-spec/o0/generated.txt", "inside code-from-spec/"),
    ("code-from-spec", "inside code-from-spec/"),
    (".git/hooks/pre-commit", "inside .git/"),
    ("./.cfs/x", "inside .cfs/"),
    ("'out/a;b.txt'", "manifest cannot record"),
    ('"out/a\\nb.txt"', "manifest cannot record"),
    ('"out/a\\rb.txt"', "manifest cannot record"),
])
def test_output_paths(tree, output, why):
    root = outputs_tree(tree, output)
    assert findings(root) == [("SPEC/o0", "output_paths", F.format("o0"), 2)]
    assert why in details(root, "output_paths")[0]


@pytest.mark.parametrize("output", ["a/../b.txt", "./out/x.txt", "out/.hidden", ".github/x.yml",
                                    "./out/../out/l.txt"])
def test_acceptable_output_paths(tree, output):
    assert findings(outputs_tree(tree, output)) == []


def test_two_leaves_with_the_same_output(tree):
    root = outputs_tree(tree, "out/same.txt", "out/x/../same.txt")
    assert findings(root) == [("SPEC/o1", "output_paths", F.format("o1"), 2)]
    assert "SPEC/o0" in details(root, "output_paths")[0]


def test_public_subsection_required(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "\n# Public\n\nloose\n\n## A\na\n")})
    assert findings(root) == [("SPEC/a", "public_subsection_required", F.format("a"), 5)]


def test_duplicate_subsections(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## Same\na\n## SAME \nb\n",
                                front="output: o")})
    assert findings(root) == [("SPEC/a", "duplicate_subsections", F.format("a"), 8)]


def test_cycle_of_two_through_artifacts(vector):
    root = vector("format_errors")
    cycles = [f for f in Project(root, use_index=False).findings if f.rule == "cycle"]
    assert [(f.node, f.file) for f in cycles] == [("SPEC/cyc/x", F.format("cyc/x")),
                                                  ("SPEC/cyc/y", F.format("cyc/y"))]


def test_cycle_of_three_through_spec_imports_names_every_member(fixture):
    root = fixture("cycles")
    found = {f.node: f for f in Project(root, use_index=False).findings if f.rule == "cycle"}
    members = {"SPEC/ring/a", "SPEC/ring/b", "SPEC/ring/c"}
    for member in members:
        assert found[member].file == F.format(member[5:])
        for other in members:
            assert other in found[member].detail
    # ring/d only imports ring/a: behind the ring, not on it (v5 lists it too, 10.3).
    assert set(found) == members | {"SPEC/ring/d"}
    assert "SPEC/ring/a, which is on a cycle" in found["SPEC/ring/d"].detail


def test_cycle_through_input(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n",
                                front="input: SPEC/b\noutput: out/a"),
                 "SPEC/b": spec("SPEC/b", "# Public\n## B\nb\n",
                                front="depends_on: [SPEC/a(A)]\noutput: out/b")})
    assert {(f[0], f[1]) for f in findings(root)} == {("SPEC/a", "cycle"), ("SPEC/b", "cycle")}


def test_self_import_is_not_also_a_cycle(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="depends_on: [SPEC/a]\noutput: out/a")})
    assert [f[1] for f in findings(root)] == ["dependency_targets"]


def test_malformed_frontmatter(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/a\ndepends_on: SPEC/b\n"),
                 "SPEC/b": spec("SPEC/b", front="output: [\n"),
                 "SPEC/c": "---\noutput: out/c\n# SPEC/c\n"})
    assert findings(root) == [("SPEC/a", "malformed_frontmatter", F.format("a"), 3),
                              ("SPEC/b", "malformed_frontmatter", F.format("b"), 2),
                              ("SPEC/c", "malformed_frontmatter", F.format("c"), 1)]


def test_unrecognized_and_duplicate_section(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n# Notes\nn\n# public\n")})
    assert findings(root) == [("SPEC/a", "unrecognized_section", F.format("a"), 5),
                              ("SPEC/a", "duplicate_section", F.format("a"), 7)]


def test_text_before_name_heading(tree):
    root = tree({"SPEC/a": "---\noutput: out/a\n---\nintro\n# SPEC/a\n"})
    assert findings(root) == [("SPEC/a", "text_before_name_heading", F.format("a"), 4)]


def test_importing_a_broken_node_adds_no_second_error(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="output: [\n"),
                 "SPEC/b": spec("SPEC/b", front="depends_on: [ARTIFACT/a, SPEC/a(X)]\n"
                                "input: ARTIFACT/a\noutput: out/b")})
    assert findings(root) == [("SPEC/a", "malformed_frontmatter", F.format("a"), 2)]
    # The chain still cannot be computed, and the status says so.
    (status,) = Project(root, use_index=False).report().artifacts
    assert status.chain is None and "invalid" in status.flags


def test_broken_node_is_not_checked_further(tree):
    # Its fields are not known, so no rule is guessed about them.
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n# Public\n",
                                front="depends_on: [SPEC/nowhere]\noutput: /abs")})
    assert [f[1] for f in findings(root)] == ["duplicate_section"]


def test_vector_findings_carry_lines(vector):
    root = vector("format_errors")
    got = set(findings(root))
    for want in [("SPEC/badsection", "unrecognized_section", F.format("badsection"), 3),
                 ("SPEC/badyaml", "malformed_frontmatter", F.format("badyaml"), 2),
                 ("SPEC/noname", "name_heading", F.format("noname"), 1),
                 ("SPEC/paths/abs", "output_paths", F.format("paths/abs"), 2),
                 ("SPEC/paths/up", "output_paths", F.format("paths/up"), 2),
                 ("SPEC/paths/dup2", "output_paths", F.format("paths/dup2"), 2),
                 ("SPEC/pub", "public_subsection_required", F.format("pub"), 5),
                 ("SPEC/pub", "duplicate_subsections", F.format("pub"), 11),
                 ("SPEC/inner", "leaf_only_fields", F.format("inner"), 2),
                 ("SPEC/inner", "leaf_only_agent", F.format("inner"), 6),
                 ("SPEC/deps/self", "dependency_targets", F.format("deps/self"), 3)]:
        assert want in got
    lines = sorted(f[3] for f in got if f[0] == "SPEC/deps/a")
    assert lines == [3, 4, 5, 6, 7]


def test_external_import_of_a_generated_file_is_a_warning(tree):
    from cfs_build.analysis.project import Project
    root = tree({"SPEC/a": spec("SPEC/a", front="output: gen/a.txt"),
                 "SPEC/b": spec("SPEC/b", front="depends_on:\n  - EXTERNAL/gen/a.txt\n"
                                                "output: gen/b.txt"),
                 "gen/a.txt": "a\n"})
    findings = [f for f in Project(root, use_index=False).findings if f.node == "SPEC/b"]
    assert [(f.rule, f.severity, f.line) for f in findings] == [("reference", "warning", 3)]
    assert "ARTIFACT/a" in findings[0].detail


def test_external_name_is_split_at_the_first_parenthesis_like_every_name(tree):
    from cfs_build.analysis.project import Project
    root = tree({"SPEC/a": spec("SPEC/a", front="depends_on:\n  - EXTERNAL/notes(v1).txt\n"
                                               "  - EXTERNAL/notes(v2).txt\n"
                                               "output: gen/a.txt"),
                 "notes": "the file v5 reads\n", "notes(v1).txt": "not read\n"})
    project = Project(root, use_index=False)
    found = [(f.rule, f.line, f.severity) for f in project.findings if f.node == "SPEC/a"]
    # Validation looks for the name as written, (v1) and all; there is no notes(v2).txt.
    assert found == [("qualifier_dropped", 3, "warning"), ("qualifier_dropped", 4, "warning"),
                     ("dependency_targets", 4, "error")]
    assert "v5 reads the file 'notes'" in project.findings[0].detail
    chain = project.chain("SPEC/a")
    # One position: both entries name the same file, "notes".
    assert [p.label for p in chain.positions] == ["EXTERNAL/notes"]
    assert chain.hash == chain_hash("the file v5 reads\n")


def test_artifact_qualifier_is_an_error_but_the_chain_reads_the_artifact(tree):
    root = tree({"SPEC/p": spec("SPEC/p", front="output: out/p.txt"), "out/p.txt": "p\n",
                 "SPEC/l": spec("SPEC/l", front="depends_on: [ARTIFACT/p(Interface)]\n"
                                "output: out/l.txt")})
    project = Project(root, use_index=False)
    assert findings(root) == [("SPEC/l", "dependency_targets", F.format("l"), 2)]
    assert "write ARTIFACT/p" in details(root, "dependency_targets")[0]
    chain = project.chain("SPEC/l")
    assert [p.label for p in chain.positions] == ["ARTIFACT/p"]
    assert chain.hash == chain_hash("p\n")


def test_two_spellings_of_one_qualifier_are_a_warning(tree):
    root = tree({"SPEC/lib": spec("SPEC/lib", "# Public\n## Errors\ne\n"),
                 "SPEC/app": spec("SPEC/app", front="depends_on:\n  - SPEC/lib(Errors)\n"
                                  "  - SPEC/lib( errors)\n  - SPEC/lib(Errors)\n"
                                  "output: out/app")})
    assert findings(root) == [("SPEC/app", "qualifier_variants", F.format("app"), 4)]
    assert "SPEC/lib(Errors)" in details(root, "qualifier_variants")[0]


def test_empty_tree_is_one_scan_finding(tree):
    root = tree({"code-from-spec/a/readme.txt": "no node here"})
    project = Project(root, use_index=False)
    assert [(f.node, f.rule, f.file) for f in project.findings] == [
        ("", "scan", "code-from-spec")]
    assert "no nodes found" in project.findings[0].detail
    assert project.report().exit_code == 2
