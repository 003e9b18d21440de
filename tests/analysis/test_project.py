"""Project: whatever the files say, a report always comes back (property tests), and discovery."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build.errors import CfsError
from cfs_build.reading.files import normalize_text
from cfs_build.reading.node import parse_node
from cfs_build.analysis import snapshot
from cfs_build.analysis.project import Project, find_root
from conftest import spec, write_tree

FRAGMENTS = ["\n", "\r", "\r\n", "\ufeff", "#", "# ", "## ", "### ", "---", "---\n", "```", "~~~",
             "    ", "\t", " ", "> ", "- ", "1. ", "<div>", "</div>", "=", "(", ")", "\u00a0",
             "\x00", "SPEC/a", "SPEC/a/b", "# SPEC/a\n", "# SPEC/a/b\n", "# Public\n", "# Agent\n",
             "# Private\n", "## Interface\n", "## interface \n", "text", ":", "[", "{", "*", "&",
             "!", "|", "'", '"']
CHARS = st.characters(blacklist_categories=("Cs",))
TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, max_size=4)),
                max_size=30).map("".join)
YAMLISH = st.lists(st.sampled_from(list(":-[]{}&*!|>'\"%@`#,?\n\t ~.0aZ\r") + [
    "depends_on", "input", "output", "SPEC/a", "- ", ": ", "\n  - ", "<<: ", "!!set ", "\ufeff"]),
    max_size=30).map("".join)
NAMES = st.sampled_from(["SPEC/a", "SPEC/a/b", "SPEC/a(Interface)", "SPEC/a( INTERFACE )",
                         "SPEC/c", "SPEC/c(x)", "ARTIFACT/a/b", "ARTIFACT/c", "EXTERNAL/ext.txt",
                         "EXTERNAL/../x", "EXTERNAL/bad.txt", "EXTERNAL/dir", "WRONG/x", "",
                         "SPEC/", "/abs", "out/a.txt", "../up", "a\\b", "code-from-spec/.cache/x",
                         "out/c.txt"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    NAMES, st.text(CHARS, max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(CHARS, max_size=5), inner, max_size=3)),
    max_leaves=8)
FIELDS = st.dictionaries(st.one_of(st.sampled_from(["depends_on", "input", "output"]),
                                   st.text(CHARS, max_size=6)), VALUES, max_size=4)
FRONTMATTER = st.one_of(YAMLISH, FIELDS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)))
NODE_BYTES = st.one_of(
    st.tuples(FRONTMATTER, TEXT).map(lambda p: ("---\n" + p[0] + "\n---\n" + p[1]).encode()),
    TEXT.map(str.encode),
    st.binary(max_size=40),
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(TEXT)
def test_parser_never_raises_on_arbitrary_text(text):
    doc = parse_node("SPEC/a", "code-from-spec/a/_node.md", normalize_text(text))
    for finding in doc.findings:
        assert finding.rule and finding.detail
        assert finding.line is None or finding.line >= 1


@pytest.mark.slow
@SETTINGS
@given(FRONTMATTER, TEXT)
def test_parser_never_raises_on_arbitrary_frontmatter(front, body):
    text = normalize_text("---\n" + front + "\n---\n" + body)
    doc = parse_node("SPEC/a", "code-from-spec/a/_node.md", text)
    assert all(isinstance(dep, str) for dep in doc.depends_on)
    assert doc.input is None or isinstance(doc.input, str)
    assert doc.output is None or isinstance(doc.output, str)
    # A line named in a finding is a line of the file.
    last = text.count("\n") + 1
    assert all(f.line is None or 1 <= f.line <= last for f in doc.findings)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@pytest.mark.slow
@given(NODE_BYTES, NODE_BYTES, st.one_of(st.none(), st.binary(max_size=20), TEXT.map(str.encode)))
def test_project_report_always_comes_back(parent, leaf, artifact):
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "SPEC/a": parent,
            "SPEC/a/b": leaf,
            "SPEC/c": spec("SPEC/c", "# Public\n## X\nx\n",
                           front="depends_on: [SPEC/a/b, ARTIFACT/a/b]\noutput: out/c.txt"),
            "ext.txt": "external\n",
            "bad.txt": b"\xff",
            "dir/x": "x",
            "code-from-spec/.manifest": "code-from-spec: v5\nARTIFACT/a/b;path:out/a.txt;"
                                        "checksum:b8-d-9R57YJpf-5xm5-MYQoR_yo;"
                                        "chain:2jmj7l5rSw0yVb_vlWAYkK_YBwk\n",
        }
        if artifact is not None:
            files["out/a.txt"] = artifact
        root = write_tree(Path(tmp), files)
        project = Project(root, use_index=False)
        report = project.report()
        json.dumps(report.as_dict())
        for finding in report.findings:
            finding.render()
        assert report.exit_code in (0, 1, 2)
        for name in project.tree.leaves():
            chain = project.chain(name)
            assert chain.hash is None or len(chain.hash) == 27


# -- discovery ---------------------------------------------------------------------------------

def test_find_root_walks_up(tree):
    root = tree({"SPEC/a/b": spec("SPEC/a/b"), "SPEC/a": spec("SPEC/a"), "src/deep/x.py": ""})
    assert find_root(root / "src" / "deep") == root.resolve()
    assert find_root(root / "code-from-spec" / "a" / "b") == root.resolve()
    assert Project.discover(root / "src").root == root.resolve()


def test_no_project(tmp_path):
    with pytest.raises(CfsError, match="no code-from-spec/ directory"):
        find_root(tmp_path)
    with pytest.raises(CfsError):
        Project(tmp_path)


def test_index_notices_an_edit(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\none\n")})
    first = Project(root).nodes["SPEC/a"].public_digest
    (root / "code-from-spec" / "a" / "_node.md").write_text(spec("SPEC/a", "# Public\n## A\ntwo\n"))
    second = Project(root).nodes["SPEC/a"]
    assert second.public_digest != first
    assert second == Project(root, use_index=False).nodes["SPEC/a"]


@pytest.mark.parametrize("read", ["docs/notes/more/words/_node.md", ".github/x/_node.md"])
def test_a_file_named_like_a_node_outside_the_tree_is_no_node(tree, read):
    # The snapshot watches a file an EXTERNAL/ entry reads and the directories on the way
    # to it; node_names must take only the tree's _node.md files for nodes.
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\nx\n", f"depends_on:\n  - EXTERNAL/{read}\n"
                                "output: out/a.txt"),
                 read: "words\n"})
    saved = snapshot.MARGIN, snapshot.COARSE_MARGIN
    snapshot.MARGIN = snapshot.COARSE_MARGIN = 5_000_000
    try:
        for _ in range(3):  # (a loaded machine can keep a step from recording it)
            time.sleep(0.03)
            Project(root).report()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        project = Project(root)
        assert project.snapshot is not None and read in project.snapshot.paths
        assert project.node_names() == ["SPEC/a"] and project.leaf_names() == ["SPEC/a"]
    finally:
        snapshot.MARGIN, snapshot.COARSE_MARGIN = saved
