"""Reading a tree on two processes gives exactly what one process gives."""
from __future__ import annotations

import os
import shutil

import pytest

from cfs_build.reading import parallel
from cfs_build.analysis.project import Project
from conftest import FIXTURES, VECTORS, make_unreadable, spec, write_tree

pytestmark = pytest.mark.skipif(not parallel.can_fork(), reason="needs Linux, 2 CPUs, fork")


def test_halves_come_back_in_order():
    assert parallel.in_two(lambda items, here: [(i * 2, here) for i in items], list(range(7))) \
        == [(0, True), (2, True), (4, True), (6, False), (8, False), (10, False), (12, False)]


def test_a_failing_child_is_redone_here():
    def work(items, here):
        if not here:
            raise RuntimeError("child trouble")
        return [i + 1 for i in items]

    assert parallel.in_two(work, [1, 2, 3, 4]) == [2, 3, 4, 5]


def test_results_that_cannot_cross_the_pipe_are_redone_here():
    assert parallel.in_two(lambda items, here: [object() if not here else i for i in items],
                           [1, 2]) == [1, 2]


def test_no_fork_when_told_not_to(monkeypatch):
    monkeypatch.setenv("CFS_NO_FORK", "1")
    assert parallel.in_two(lambda items, here: [here for _ in items], [1, 2, 3]) == [True] * 3


def projects():
    for base in (VECTORS, FIXTURES):
        for case in sorted(os.listdir(base)):
            if (base / case / "code-from-spec").is_dir():
                yield base / case


def reports(root, min_items, monkeypatch) -> list[dict]:
    """Cold (parsed), warm (from the index), then without any index."""
    monkeypatch.setattr(parallel, "MIN_ITEMS", min_items)
    dumps = [Project(root).report().as_dict() for _ in range(2)]
    dumps.append(Project(root, use_index=False).report().as_dict())
    for dump in dumps:
        dump["root"] = "ROOT"
    return dumps


@pytest.mark.parametrize("source", list(projects()), ids=lambda p: p.name)
def test_same_report_with_two_processes(source, tmp_path, monkeypatch):
    serial, forked = tmp_path / "serial", tmp_path / "forked"
    shutil.copytree(source, serial)
    shutil.copytree(source, forked)
    assert reports(serial, 10**9, monkeypatch) == reports(forked, 1, monkeypatch)


def test_unreadable_and_undecodable_nodes_read_in_the_child(tmp_path, monkeypatch):
    files = {f"SPEC/n{i}": spec(f"SPEC/n{i}", "# Public\n## A\nx\n", front=f"output: o/{i}")
             for i in range(6)}
    files["SPEC/n4"] = b"# SPEC/n4\n\xff\n"
    for name in ("serial", "forked"):
        write_tree(tmp_path / name, files)
        make_unreadable(tmp_path / name / "code-from-spec/n5/_node.md")
    serial = reports(tmp_path / "serial", 10**9, monkeypatch)
    assert serial == reports(tmp_path / "forked", 1, monkeypatch)
    linked = (tmp_path / "serial" / "code-from-spec/n5/_node.md").is_symlink()
    if linked:  # as root make_unreadable makes a link: the whole scan fails (FORMAT.md 1)
        assert [f["rule"] for f in serial[0]["errors"]] == ["scan"]
    else:
        assert {f["rule"] for f in serial[0]["errors"]} >= {"unreadable", "encoding"}


def test_a_symlink_met_in_the_child_fails_the_scan_as_in_one_process(tmp_path, monkeypatch):
    files = {f"SPEC/n{i}": spec(f"SPEC/n{i}", "# Public\n## A\nx\n") for i in range(6)}
    files["SPEC/n0/leaf"] = spec("SPEC/n0/leaf", front="output: o/leaf")
    for name in ("serial", "forked"):
        write_tree(tmp_path / name, files)
        (tmp_path / name / "code-from-spec/n5/alias").symlink_to(tmp_path / name / "code-from-spec/n0")
    serial = reports(tmp_path / "serial", 10**9, monkeypatch)
    assert serial == reports(tmp_path / "forked", 1, monkeypatch)
    assert [(f["rule"], f["file"]) for f in serial[0]["errors"]] == [
        ("scan", "code-from-spec/n5/alias")]
