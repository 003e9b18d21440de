"""A scan that fails as a whole (FORMAT.md section 1): a symbolic link anywhere under
code-from-spec/, a tree without nodes, no code-from-spec/ at all. v5 then reports that one
error and nothing else; cfs never follows the link nor lists what it points at."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfs_build.analysis import snapshot
from cfs_build.building import v5tools
from cfs_build.analysis.project import Project, find_root
from cfs_build.errors import CfsError
from conftest import spec, write_tree

LINKS_REPORT = "Format errors:\n  [] scan: listing files: symlinks are not allowed in the spec tree\n"
LINKS_REFUSAL = "scan: listing files: symlinks are not allowed in the spec tree"
# A manifest entry whose node is gone: an orphan whenever the scan succeeds.
ORPHAN = ("code-from-spec: v5\nARTIFACT/gone/node;path:src/gone.py;"
          "checksum:b8-d-9R57YJpf-5xm5-MYQoR_yo;chain:lcsL_Sl3x2EpjZYk5LTUxyo5l0o\n")
# Names of what lies outside the project: none may ever appear in an answer.
OUTSIDE_NAMES = ("outside-dir-name-q7", "outside-file-name-k2", "OUTSIDE-SECRET-z9")


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def outside(tmp_path):
    home = tmp_path / "home"
    (home / "outside-dir-name-q7" / "deeper").mkdir(parents=True)
    (home / "outside-dir-name-q7" / "_node.md").write_text("# SPEC/x\n\n# Public\n\n## A\n\n"
                                                           "OUTSIDE-SECRET-z9\n")
    (home / "outside-file-name-k2").write_text("OUTSIDE-SECRET-z9\n")
    return home


def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n", front="output: out/leaf.txt"),
        "code-from-spec/.manifest": ORPHAN,
    })


def link_to_file(root, outside):
    (root / "code-from-spec/a/notes.md").symlink_to(outside / "outside-file-name-k2")
    return "code-from-spec/a/notes.md"


def link_to_directory_inside(root, outside):
    (root / "docs").mkdir()
    (root / "docs" / "guide.txt").write_text("guide\n")
    (root / "code-from-spec/a/docs").symlink_to(root / "docs")
    return "code-from-spec/a/docs"


def link_to_a_node_of_the_tree(root, outside):
    (root / "code-from-spec/alias").symlink_to(root / "code-from-spec/a")
    return "code-from-spec/alias"


def link_to_directory_outside(root, outside):
    (root / "code-from-spec/a/linked").symlink_to(outside)
    return "code-from-spec/a/linked"


def dangling_link(root, outside):
    (root / "code-from-spec/a/gone").symlink_to(outside / "not-there")
    return "code-from-spec/a/gone"


def node_file_link(root, outside):
    (root / "code-from-spec/b").mkdir()
    (root / "code-from-spec/b/_node.md").symlink_to(outside / "outside-dir-name-q7/_node.md")
    return "code-from-spec/b/_node.md"


def link_in_the_content_cache(root, outside):
    (root / "code-from-spec/.cache/.content").mkdir(parents=True)
    (root / "code-from-spec/.cache/.content/x").symlink_to(outside / "outside-file-name-k2")
    return "code-from-spec/.cache/.content/x"


def dot_directory_linked(root, outside):
    (root / "code-from-spec/a/.scratch").symlink_to(outside)
    return "code-from-spec/a/.scratch"


def tree_itself_a_link(root, outside):
    os.rename(root / "code-from-spec", root / "specs")
    (root / "code-from-spec").symlink_to(root / "specs")
    return "code-from-spec"


LINKS = {f.__name__: f for f in (link_to_file, link_to_directory_inside,
                                 link_to_a_node_of_the_tree, link_to_directory_outside,
                                 dangling_link, node_file_link, link_in_the_content_cache,
                                 dot_directory_linked, tree_itself_a_link)}


def test_without_a_link_the_project_has_statuses_and_an_orphan(tmp_path):
    # What the failed scans below must drop is there when the scan succeeds.
    document = json.loads(cfs(project(tmp_path), "status", "--json").stdout)
    assert document["errors"] == []
    assert [a["name"] for a in document["artifacts"]] == ["ARTIFACT/a/leaf"]
    assert [o["name"] for o in document["orphans"]] == ["ARTIFACT/gone/node"]


@pytest.mark.slow
@pytest.mark.parametrize("make_link", LINKS.values(), ids=LINKS.keys())
def test_a_link_in_the_tree_fails_the_whole_scan(tmp_path, outside, make_link):
    root = project(tmp_path)
    where = make_link(root, outside)
    said = []

    status = cfs(root, "status", "--json")
    said.append(status.stdout + status.stderr)
    assert status.returncode == 2, status.stderr
    document = json.loads(status.stdout)
    assert document["errors"] == [{
        "node": "", "rule": "scan", "file": where, "line": None, "severity": "error",
        "detail": document["errors"][0]["detail"]}]
    assert "replace this link with a real directory or file" in document["errors"][0]["detail"]
    assert document["artifacts"] == [] and document["orphans"] == []

    validate = cfs(root, "validate")
    said.append(validate.stdout + validate.stderr)
    assert validate.returncode == 2
    assert validate.stdout.splitlines()[0].startswith(f"{where}: scan: symbolic links are not "
                                                      "allowed in the spec tree")
    assert len(validate.stdout.splitlines()) == 1

    assert v5tools.validate_specs(root) == LINKS_REPORT
    for call in (lambda: v5tools.load_chain(root, "SPEC/a/leaf"),
                 lambda: v5tools.write_file(root, "SPEC/a/leaf", "x\n"),
                 lambda: v5tools.accept(root, "SPEC/a/leaf"),
                 lambda: v5tools.reconstruct_cache(root),
                 lambda: v5tools.prune_cache(root)):
        with pytest.raises(v5tools.Refusal) as refused:
            call()
        assert refused.value.message == LINKS_REFUSAL

    build = cfs(root, "build")
    said.append(build.stdout + build.stderr)
    assert build.returncode == 2
    assert f"{where}: scan: symbolic links are not allowed" in build.stderr
    assert not (root / "out").exists()

    for args in (("chain", "SPEC/a/leaf"), ("accept", "SPEC/a/leaf"), ("graph",),
                 ("cache", "prune")):
        refused = cfs(root, *args)
        said.append(refused.stdout + refused.stderr)
        assert refused.returncode == 2, args
        assert refused.stderr.startswith(f"cfs: {where}: scan: "), args

    text = "".join(said)
    for name in OUTSIDE_NAMES:
        assert name not in text
    assert "guide.txt" not in text  # not even a directory inside the project is listed
    assert not (root / snapshot.SNAPSHOT_FILE).exists()


@pytest.mark.slow
def test_the_mcp_server_answers_v5s_scan_texts(tmp_path, outside):
    from mcpkit import sync_client
    root = project(tmp_path)
    link_to_directory_outside(root, outside)
    with sync_client(root) as client:
        assert client.call("validate_specs") == LINKS_REPORT
        with pytest.raises(v5tools.Refusal) as refused:
            client.call("load_chain", logical_name="SPEC/a/leaf")
        assert refused.value.message == LINKS_REFUSAL
        status = client.result("status")
        assert OUTSIDE_NAMES[0] not in status.content[0].text
        assert [e["rule"] for e in json.loads(status.content[0].text)["errors"]] == ["scan"]


def test_a_tree_without_nodes_reports_that_alone(tmp_path):
    root = write_tree(tmp_path / "proj", {"code-from-spec/.manifest": ORPHAN,
                                          "code-from-spec/empty/notes.txt": "x\n"})
    status = cfs(root, "status", "--json")
    assert status.returncode == 2
    document = json.loads(status.stdout)
    assert [(e["node"], e["rule"], e["file"]) for e in document["errors"]] == [
        ("", "scan", "code-from-spec")]
    assert document["artifacts"] == [] and document["orphans"] == []
    validate = cfs(root, "validate")
    assert validate.returncode == 2
    assert validate.stdout.startswith("code-from-spec: scan: no nodes found: add ")
    assert v5tools.validate_specs(root) == "Format errors:\n  [] scan: no nodes found\n"
    build = cfs(root, "build")
    assert build.returncode == 2 and "scan: no nodes found" in build.stderr


def test_without_the_tree_directory(tmp_path):
    assert v5tools.validate_specs(tmp_path) == (
        "Format errors:\n  [] scan: listing files: directory not found: code-from-spec/\n")
    done = cfs(tmp_path, "validate")
    assert done.returncode == 3
    assert "no code-from-spec/ directory" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_find_root_stops_at_a_linked_tree_even_a_dangling_one(tmp_path):
    outer = write_tree(tmp_path, {"SPEC/outer": spec("SPEC/outer")})
    inner = tmp_path / "inner"
    (inner / "here").mkdir(parents=True)
    (inner / "code-from-spec").symlink_to(tmp_path / "not-there")
    assert find_root(inner / "here") == inner.resolve()
    assert find_root(tmp_path / "code-from-spec") == outer.resolve()
    with pytest.raises(CfsError):
        find_root(Path("/"))
    project_ = Project(inner, use_index=False)
    assert [f.file for f in project_.findings] == ["code-from-spec"]


@pytest.mark.slow
def test_a_link_made_after_a_snapshot_is_seen_by_the_next_status(tmp_path):
    root = project(tmp_path)
    chains = root / "code-from-spec/.cache/.chains"
    chains.mkdir(parents=True)
    (chains / "kept").write_text("x\n")
    for _ in range(2):  # the first run may make the manifest's lock file: too recent then
        time.sleep(snapshot.MARGIN / snapshot.SECOND * 1.5)
        assert cfs(root, "status").returncode == 1
    assert Project(root).snapshot is not None  # the next run would answer from it
    (chains / "new").symlink_to(root / "out")
    status = cfs(root, "status", "--json")
    assert status.returncode == 2
    assert [e["file"] for e in json.loads(status.stdout)["errors"]] == [
        "code-from-spec/.cache/.chains/new"]


def test_a_snapshot_watches_every_dot_directory_of_the_tree(tmp_path):
    root = project(tmp_path)
    for rel in (".cache/.content", ".cache/.chains", "a/.scratch/deep"):
        (root / "code-from-spec" / rel).mkdir(parents=True)
    dirs = set(Project(root, use_index=False).tree.dirs)
    assert {"code-from-spec/.cache", "code-from-spec/.cache/.content",
            "code-from-spec/.cache/.chains", "code-from-spec/a/.scratch",
            "code-from-spec/a/.scratch/deep"} <= dirs


@pytest.mark.slow
def test_removing_the_link_restores_the_report(tmp_path, outside):
    root = project(tmp_path)
    link_in_the_content_cache(root, outside)
    assert cfs(root, "status").returncode == 2
    (root / "code-from-spec/.cache/.content/x").unlink()
    shutil.rmtree(root / "code-from-spec/.cache")
    document = json.loads(cfs(root, "status", "--json").stdout)
    assert document["errors"] == []
    assert [o["name"] for o in document["orphans"]] == ["ARTIFACT/gone/node"]


def test_a_dot_directory_listed_again_after_it_became_a_link_is_not_followed(tmp_path):
    # The incremental update lists a changed dot directory again (walk_dots): replaced by
    # a link meanwhile, it is the link the scan fails on, and its target is never listed.
    from cfs_build.reading.walk import LinkInTree, walk_dots
    outside = tmp_path / "outside"
    (outside / "outside-dir-name-q7").mkdir(parents=True)
    dot = tmp_path / "code-from-spec" / "lib" / ".cache"
    dot.parent.mkdir(parents=True)
    dot.symlink_to(outside)
    with pytest.raises(LinkInTree) as raised:
        walk_dots([("lib/.cache", str(dot))])
    assert raised.value.rel == "lib/.cache"
