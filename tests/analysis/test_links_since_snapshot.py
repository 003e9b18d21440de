"""`cfs chain` in a fresh process lists only the tree directories that changed since the
last snapshot (lean.links_below): its answer equals a walk of the whole tree after any
sequence of directory changes, links made in new or replaced directories included."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build.analysis import lean
from cfs_build.analysis import snapshot
from cfs_build.analysis.project import Project
from conftest import spec, write_tree

MARGIN = 0.005
SETTLE = 0.03  # longer than MARGIN by more than a coarse kernel clock tick


@pytest.fixture
def small_margin():
    saved = snapshot.MARGIN, snapshot.COARSE_MARGIN
    snapshot.MARGIN = snapshot.COARSE_MARGIN = int(MARGIN * 1e9)
    yield
    snapshot.MARGIN, snapshot.COARSE_MARGIN = saved


def make(root: Path) -> Path:
    return write_tree(root, {
        "SPEC/a": spec("SPEC/a", "A.\n\n# Public\n\n## Api\n\nShared.\n"),
        "SPEC/a/b": spec("SPEC/a/b", "B.\n\n# Agent\nDo it.\n", "output: out/b.py"),
        "SPEC/c": spec("SPEC/c", "C.\n\n# Agent\nDo it.\n", "output: out/c.py"),
        "out/b.py": "made\n", "out/c.py": "made\n"})


def snapshotted(root: Path, required: bool = True) -> None:
    for _ in range(5):  # (a loaded machine may keep no snapshot: files too recent)
        time.sleep(SETTLE)
        Project(root).report()
        if (root / snapshot.SNAPSHOT_FILE).exists():
            return
    assert not required, "no snapshot kept"


def verdict(found: tuple[bool, bool]) -> str:
    """What LeanProject makes of links_below's answer (whether a node was seen before a
    link was met depends on the order of listing)."""
    linked, nodes = found
    return "link" if linked else "nodes" if nodes else "no node"


def walked(root: Path) -> str:
    return verdict(lean.links_below(root, {}))  # an empty record: every directory is listed


def from_snapshot(root: Path) -> str:
    found = lean._links_since_snapshot(root)
    assert found is not None  # the snapshot's record was used
    return verdict(found)


def test_the_snapshot_answers_when_nothing_changed(tmp_path, small_margin):
    root = make(tmp_path)
    snapshotted(root)
    assert from_snapshot(root) == walked(root) == "nodes"
    assert verdict(lean.links_below(root, None)) == "nodes"


def test_a_link_in_a_new_subdirectory_of_an_unchanged_looking_tree(tmp_path, small_margin):
    root = make(tmp_path)
    snapshotted(root)
    deep = root / "code-from-spec" / "a" / "b" / "new" / "deeper"
    deep.mkdir(parents=True)
    (deep / "link").symlink_to(root / "out")
    assert from_snapshot(root) == walked(root) == "link"


def test_a_link_in_a_new_directory_below_a_dot_directory(tmp_path, small_margin):
    root = make(tmp_path)
    (root / "code-from-spec" / ".notes").mkdir()
    snapshotted(root)
    deep = root / "code-from-spec" / ".notes" / "x"
    deep.mkdir()
    time.sleep(SETTLE)
    snapshotted(root)  # the new directory taken in by an update of the snapshot
    (deep / "link").symlink_to(root / "out")
    assert from_snapshot(root) == walked(root) == "link"


def test_a_directory_replaced_by_one_with_the_same_times(tmp_path, small_margin):
    root = make(tmp_path)
    snapshotted(root)
    node = root / "code-from-spec" / "c"
    before = node.stat()
    shutil.rmtree(node)
    node.mkdir()
    (node / "_node.md").write_text(spec("SPEC/c", "C.\n"))
    (node / "link").symlink_to(root / "out")
    os.utime(node, ns=(before.st_atime_ns, before.st_mtime_ns))
    parent = root / "code-from-spec"
    os.utime(parent, ns=(parent.stat().st_atime_ns, parent.stat().st_mtime_ns))
    assert from_snapshot(root) == walked(root) == "link"


def test_every_node_gone_is_the_failed_scan_too(tmp_path, small_margin):
    root = make(tmp_path)
    (root / "code-from-spec" / "bare" / "below").mkdir(parents=True)  # unchanged, no node
    snapshotted(root)
    for name in ("a/b", "a", "c"):
        (root / "code-from-spec" / name / "_node.md").unlink()
    assert from_snapshot(root) == walked(root) == "no node"


def test_cfs_chain_in_a_fresh_process_refuses_a_new_link_as_the_whole_analysis_does(tmp_path):
    root = make(tmp_path)
    time.sleep(0.12)  # the margin a real process uses, 0.1 s
    command = [sys.executable, "-m", "cfs_build.cli", "-C", str(root), "chain", "SPEC/a/b"]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    for _ in range(5):  # (a loaded machine may keep no snapshot: files too recent)
        status = subprocess.run(command[:-2] + ["status"], capture_output=True, text=True)
        if (root / snapshot.SNAPSHOT_FILE).exists():
            break
        time.sleep(0.12)
    assert (root / snapshot.SNAPSHOT_FILE).exists(), status.stderr
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.stdout == first.stdout and again.returncode == 0
    (root / "code-from-spec" / "a" / "new").mkdir()
    (root / "code-from-spec" / "a" / "new" / "link").symlink_to(root / "out")
    linked = subprocess.run(command, capture_output=True, text=True)
    assert linked.returncode != 0 and "symbolic link" in linked.stderr, linked.stderr


# -- random directory changes ----------------------------------------------------------

_PLACES = ["code-from-spec", "code-from-spec/a", "code-from-spec/a/b", "code-from-spec/c",
           "code-from-spec/.notes", "code-from-spec/a/n1", "code-from-spec/a/n1/n2",
           "code-from-spec/.notes/d",
           # names beyond ASCII: ';', decomposed, a byte that is no UTF-8
           "code-from-spec/a/\u00e9;x", "code-from-spec/e\u0301", "code-from-spec/c/x\udcff"]
_CHANGES = st.tuples(st.sampled_from(["mkdir", "link", "unlink", "rmtree", "node", "unnode",
                                      "rename", "record"]),
                     st.sampled_from(_PLACES))


def _change(root: Path, kind: str, place: str) -> None:
    path = root / place
    if kind == "record":
        snapshotted(root, required=False)  # (none is kept of a tree with a link)
    elif kind == "mkdir":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "link" and path.is_dir() and not (path / "link").exists():
        (path / "link").symlink_to(root / "out")
    elif kind == "unlink" and (path / "link").is_symlink():
        (path / "link").unlink()
    elif kind == "rmtree" and path.is_dir() and place != "code-from-spec":
        shutil.rmtree(path)
    elif kind == "node" and path.is_dir() and place != "code-from-spec":
        (path / "_node.md").write_text("# anything\n")
    elif kind == "unnode" and (path / "_node.md").is_file():
        (path / "_node.md").unlink()
    elif kind == "rename" and path.is_dir() and place != "code-from-spec":
        moved = path.with_name(path.name + "m")
        if not moved.exists():
            path.rename(moved)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_CHANGES, min_size=1, max_size=8))
def test_the_answer_equals_a_walk_after_random_directory_changes(changes):
    import tempfile
    saved = snapshot.MARGIN, snapshot.COARSE_MARGIN
    snapshot.MARGIN = snapshot.COARSE_MARGIN = int(MARGIN * 1e9)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = make(Path(tmp))
            (root / "code-from-spec" / ".notes").mkdir()
            snapshotted(root)
            for kind, place in changes:
                _change(root, kind, place)
                found = lean._links_since_snapshot(root)
                if found is not None:  # (a snapshot is removed once the scan fails)
                    assert verdict(found) == walked(root), (kind, place)
                assert verdict(lean.links_below(root, None)) == walked(root), (kind, place)
    finally:
        snapshot.MARGIN, snapshot.COARSE_MARGIN = saved
