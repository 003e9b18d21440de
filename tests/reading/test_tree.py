"""Discovering the spec tree (FORMAT.md section 1): nodes, dot dirs, unreadable files."""
from __future__ import annotations

import hashlib
from pathlib import Path

from cfs_build.analysis.project import Project
from cfs_build.errors import WARNING
from cfs_build.reading.tree import load_tree
from conftest import b64, make_unreadable, spec


def load(root):
    return load_tree(Path(root))


def test_forest_parents_and_leaves(tree):
    root = tree({"SPEC/a": spec("SPEC/a"), "SPEC/a/b": spec("SPEC/a/b"),
                 "SPEC/a/c": spec("SPEC/a/c"), "SPEC/z": spec("SPEC/z")})
    t = load(root)
    assert list(t.nodes) == ["SPEC/a", "SPEC/a/b", "SPEC/a/c", "SPEC/z"]
    assert t.children == {"SPEC/a": ["SPEC/a/b", "SPEC/a/c"]}
    assert t.leaves() == ["SPEC/a/b", "SPEC/a/c", "SPEC/z"]
    assert t.ancestors("SPEC/a/b") == ["SPEC/a"]
    assert t.findings == []


def test_directory_without_node_md(tree):
    root = tree({"SPEC/a/b": spec("SPEC/a/b"), "code-from-spec/notes/todo.txt": "x"})
    findings = load(root).findings
    assert [(f.node, f.rule, f.file, f.line) for f in findings] == [
        ("SPEC/a", "missing_node_md", "code-from-spec/a", None),
        ("SPEC/notes", "missing_node_md", "code-from-spec/notes", None),
    ]


def test_a_directory_with_no_file_below_it_is_not_seen(tree):
    # FORMAT.md 1: v5 lists files, so a directory with no file anywhere below it (empty
    # directories only) is no finding; a dot file such as .gitkeep is a file, and so is
    # a file inside a dot directory: v5 lists it and leaves out only the directories whose
    # own path has a dot segment (code-from-spec/hidden/.d, not code-from-spec/hidden).
    root = tree({"SPEC/a": spec("SPEC/a"), "code-from-spec/a/kept/.gitkeep": "",
                 "code-from-spec/hidden/.d/f.txt": "x",
                 "code-from-spec/deep/er/est/file": "x"})
    for empty in ("empty", "nested/empty", "a/empty", "void/.d/.e"):
        (root / "code-from-spec" / empty).mkdir(parents=True)
    assert [(f.node, f.rule) for f in load(root).findings] == [
        ("SPEC/a/kept", "missing_node_md"), ("SPEC/deep", "missing_node_md"),
        ("SPEC/deep/er", "missing_node_md"), ("SPEC/deep/er/est", "missing_node_md"),
        ("SPEC/hidden", "missing_node_md")]


def test_dot_directories_are_never_walked(tree):
    root = tree({"SPEC/a": spec("SPEC/a"),
                 "code-from-spec/.cache/.content/.x": "x",
                 "code-from-spec/.tools/bin/tool": "x",
                 "code-from-spec/a/.scratch/deep/_node.md": spec("SPEC/a/.scratch/deep"),
                 "code-from-spec/a/.empty/readme.txt": "x"})
    t = load(root)
    assert list(t.nodes) == ["SPEC/a"]
    assert t.findings == []
    assert t.leaves() == ["SPEC/a"]


def test_other_files_in_a_node_directory_are_ignored(tree):
    root = tree({"SPEC/a": spec("SPEC/a"), "code-from-spec/a/notes.txt": "x",
                 "code-from-spec/a/image.png": b"\x89PNG\xff"})
    assert load(root).findings == []


def test_tree_directory_itself_is_not_a_node(tree):
    root = tree({"SPEC/a": spec("SPEC/a"), "code-from-spec/_node.md": "# SPEC\n"})
    t = load(root)
    assert list(t.nodes) == ["SPEC/a"]
    assert [(f.rule, f.severity) for f in t.findings] == [("stray_node_md", "warning")]


def test_crlf_node_reads_like_lf(tree):
    text = spec("SPEC/a", "# Public\n## A\na\n# Agent\ndo\n", front="output: out/a.txt")
    root = tree({"SPEC/a": text, "SPEC/b": text.replace("SPEC/a", "SPEC/b").replace("\n", "\r\n")})
    t = load(root)
    a, b = t.nodes["SPEC/a"], t.nodes["SPEC/b"]
    assert a.findings == b.findings == ()
    assert (a.public_digest, a.agent_digest) == (b.public_digest, b.agent_digest)
    assert b.output == "out/a.txt"


def test_byte_order_mark_is_reported_not_raised(tree):
    root = tree({"SPEC/a": b"\xef\xbb\xbf# SPEC/a\n"})
    project = Project(root, use_index=False)
    report = project.report()
    assert [(f.node, f.rule, f.file, f.line) for f in report.findings] == [
        ("SPEC/a", "encoding", "code-from-spec/a/_node.md", 1)]
    assert report.exit_code == 2


def test_non_utf8_node_is_read_as_its_bytes(tree):
    # FORMAT.md 3: bytes are not decoded; invalid UTF-8 is hashed as it is. v5 parses such
    # a node (only a BOM is cfs's `encoding` error, X4), so its chain is computed over the
    # raw bytes; cfs only warns, naming the file and the byte.
    body = b"# SPEC/a/b\n# Public\n## X\ncaf\xe9 \xff\n"
    root = tree({"SPEC/a": spec("SPEC/a"),
                 "SPEC/a/b": b"---\noutput: out/b.txt\n---\n" + body})
    project = Project(root, use_index=False)
    assert [(f.node, f.rule, f.severity, f.file, f.line) for f in project.findings] == [
        ("SPEC/a/b", "not_utf8", WARNING, "code-from-spec/a/b/_node.md", 7)]
    assert "byte" in project.findings[0].detail
    raw = hashlib.sha1(b"## X\ncaf\xe9 \xff\n").digest()
    assert project.status_of("ARTIFACT/a/b").chain == b64(hashlib.sha1(raw).digest())


def test_non_utf8_frontmatter_reads_each_bad_byte_as_a_replacement_character(tree):
    # v5's YAML reads its text as runes: a byte that is no UTF-8 is U+FFFD there, while
    # the body is hashed as its bytes.
    root = tree({"SPEC/a": b"---\noutput: out/caf\xe9.txt\ndepends_on:\n  - EXTERNAL/\xff\xfe\n"
                           b"---\n# SPEC/a\n"})
    project = Project(root, use_index=False)
    info = project.tree.nodes["SPEC/a"]
    assert (info.output, info.depends_on) == ("out/caf\ufffd.txt", ("EXTERNAL/\ufffd\ufffd",))
    assert [f.rule for f in project.findings if f.severity != WARNING] == ["dependency_targets"]


def test_empty_node_file(tree):
    root = tree({"SPEC/a": b""})
    findings = Project(root, use_index=False).findings
    assert [(f.rule, f.line) for f in findings] == [("text_before_name_heading", 1)]


def test_node_md_that_is_a_directory_is_no_node_and_no_crash(tree):
    root = tree({"code-from-spec/a/_node.md/readme.txt": "x", "SPEC/b": spec("SPEC/b")})
    report = Project(root, use_index=False).report()
    assert report.artifacts == ()
    assert {(f.node, f.rule) for f in report.findings} == {
        ("SPEC/a", "missing_node_md"), ("SPEC/a/_node.md", "missing_node_md")}
    (said,) = [f.detail for f in report.findings if f.node == "SPEC/a"]
    assert said == ("code-from-spec/a/_node.md is a directory, not a file, so this directory "
                    "is no node; make it a regular file (every directory in the tree is a "
                    "node) or rename the directory to start with '.'")


def test_node_md_that_is_a_fifo_is_named_as_such_and_never_opened(tree):
    import os
    from test_hostile_reads import Waiter
    root = tree({"SPEC/b": spec("SPEC/b")})
    (root / "code-from-spec/a").mkdir()
    os.mkfifo(root / "code-from-spec/a/_node.md")
    waiter = Waiter(root / "code-from-spec/a/_node.md")
    for use_index in (False, True):
        findings = Project(root, use_index=use_index).findings
        assert [(f.node, f.rule, f.file, f.detail) for f in findings] == [
            ("SPEC/a", "missing_node_md", "code-from-spec/a",
             "code-from-spec/a/_node.md is a FIFO, not a regular file, so this directory is "
             "no node (cfs never opens it); make it a regular file (every directory in the "
             "tree is a node) or rename the directory to start with '.'")]
    assert not waiter.opened_by_someone_else()


def test_unreadable_node_file_is_a_finding(tree):
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/a.txt"), "SPEC/b": spec("SPEC/b")})
    path = root / "code-from-spec" / "a" / "_node.md"
    make_unreadable(path)
    if path.is_symlink():
        # As root make_unreadable makes a link, which fails the whole scan (FORMAT.md 1).
        report = Project(root, use_index=False).report()
        assert [(f.node, f.rule, f.file) for f in report.findings] == [
            ("", "scan", "code-from-spec/a/_node.md")]
        assert report.exit_code == 2 and report.artifacts == ()
        return
    for use_index in (False, True):
        report = Project(root, use_index=use_index).report()
        assert [(f.node, f.rule, f.file) for f in report.findings] == [
            ("SPEC/a", "unreadable", "code-from-spec/a/_node.md")]
        assert report.findings[0].detail.startswith("cannot read")
        assert report.exit_code == 2
        assert list(Project(root, use_index=use_index).nodes) == ["SPEC/a", "SPEC/b"]
