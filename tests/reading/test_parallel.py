"""Reading a tree on two processes gives exactly what one process gives."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import types

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
        assert {f["rule"] for f in serial[0]["errors"]} >= {"unreadable", "not_utf8"}


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


def test_beside_gives_both_answers():
    assert parallel.beside(lambda: [os.getpid()], lambda: os.getpid()) != ([os.getpid()],
                                                                          os.getpid())
    there, here = parallel.beside(lambda: ("there", 1), lambda: "here")
    assert (there, here) == (("there", 1), "here")


def test_beside_a_failing_or_unsendable_child_gives_none():
    def fails():
        raise RuntimeError("child trouble")

    assert parallel.beside(fails, lambda: 2) == (None, 2)
    assert parallel.beside(lambda: object(), lambda: 2) == (None, 2)


def test_beside_without_fork_does_only_the_work_here(monkeypatch):
    monkeypatch.setenv("CFS_NO_FORK", "1")
    asked = []
    assert parallel.beside(lambda: asked.append("there"), lambda: 3) == (None, 3)
    assert asked == []


def test_beside_a_refused_fork_does_the_work_here(monkeypatch):
    # As under a limit on processes (ulimit -u, a container's pids.max): the command
    # runs on one process, it does not fail.
    def refuse():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    opened = len(os.listdir("/proc/self/fd"))
    assert parallel.beside(lambda: 1, lambda: 2) == (None, 2)
    assert parallel.in_two(lambda items, here: [here for _ in items], [1, 2]) == [True] * 2
    assert len(os.listdir("/proc/self/fd")) == opened  # (the pipe closed)


def test_validation_beside_statuses_records_what_one_process_records(tmp_path, monkeypatch):
    """Validation in the child reads EXTERNAL files the statuses never read (an inner node's
    references, one to a missing file): the parent records them as read, and the next
    run's snapshot answers as a full analysis does when one of them changes."""
    from cfs_build.analysis import project as project_module

    files = {"SPEC/a": spec("SPEC/a", "# Public\n## A\nx\n",
                            front="depends_on:\n  - EXTERNAL/notes.txt\n  - EXTERNAL/gone.txt"),
             "notes.txt": "notes\n", "leaf-input.txt": "in\n"}
    for i in range(4):
        files[f"SPEC/a/n{i}"] = spec(f"SPEC/a/n{i}", "# Public\n## A\nx\n# Agent\ndo\n",
                                     front=f"output: o/{i}\ninput: EXTERNAL/leaf-input.txt")
    validated_here = []
    real_validate = project_module.validate_parts
    monkeypatch.setattr(project_module, "validate_parts",
                        lambda *args: validated_here.append(1) or real_validate(*args))
    runs = {}
    for name, min_items in (("serial", 10**9), ("forked", 1)):
        write_tree(tmp_path / name, files)
        monkeypatch.setattr(parallel, "MIN_ITEMS", min_items)
        validated_here.clear()
        project = Project(tmp_path / name)
        report = {**project.report().as_dict(), "root": "ROOT"}
        assert validated_here == ([1] if name == "serial" else [])  # the child validated
        ledger = project.ledger
        runs[name] = (report, sorted(project.resolver.files_read()),
                      sorted((rel, ledger.seen(rel) is None) for rel in ledger.paths()))
    assert runs["serial"] == runs["forked"]
    assert {"notes.txt", "gone.txt", "leaf-input.txt"} <= set(runs["forked"][1])
    assert any("EXTERNAL/gone.txt" in f["detail"] for f in runs["forked"][0]["errors"])
    # A change to a file only the child read is seen: the snapshot watches it.
    forked = tmp_path / "forked"
    assert Project(forked).report().as_dict()["errors"] == runs["forked"][0]["errors"]
    (forked / "gone.txt").write_text("here now\n")
    after = Project(forked).report().as_dict()
    assert not any("EXTERNAL/gone.txt" in f["detail"] for f in after["errors"])
    assert after == Project(forked, use_index=False).report().as_dict()


def test_a_file_that_changed_between_the_processes_is_read_again_here(tmp_path, monkeypatch):
    """The child reads leaf-input.txt, which then changes before the parent reads it: the
    child's findings and statuses are not taken, and the parent's answer is the whole
    analysis of the files as they are now."""
    from cfs_build.analysis import project as project_module

    files = {"leaf-input.txt": "before\n"}
    for i in range(4):
        files[f"SPEC/n{i}"] = spec(f"SPEC/n{i}", "# Public\n## A\nx\n# Agent\ndo\n",
                                   front=f"output: o/{i}\ninput: EXTERNAL/leaf-input.txt")
    write_tree(tmp_path, files)
    marker = tmp_path / "child-done"
    real_beside = parallel.beside

    def racing(there, here):
        def there_then_change():
            answer = there()
            (tmp_path / "leaf-input.txt").write_text("after, longer\n")
            marker.touch()
            return answer

        def here_after_the_change():
            deadline = time.monotonic() + 20
            while not marker.exists():
                assert time.monotonic() < deadline
                time.sleep(0.01)
            return here()

        return real_beside(there_then_change, here_after_the_change)

    validated_here = []
    real_validate = project_module.validate_parts
    monkeypatch.setattr(project_module, "validate_parts",
                        lambda *args: validated_here.append(1) or real_validate(*args))
    # (The project's own view of the module: the tree's reading, in_two, forks as usual.)
    monkeypatch.setattr(project_module, "parallel",
                        types.SimpleNamespace(beside=racing, MIN_ITEMS=1))
    project = Project(tmp_path)
    report = project.report(keep=False).as_dict()
    assert validated_here == [1]  # the child's findings were not taken
    monkeypatch.setattr(project_module, "parallel",
                        types.SimpleNamespace(beside=real_beside, MIN_ITEMS=10**9))
    assert report == Project(tmp_path, use_index=False).report().as_dict()
    assert len(report["artifacts"]) == 4  # the last one's status made here again


def test_the_basis_a_child_wrote_brings_the_next_run_up_to_date(tmp_path, monkeypatch):
    # A new analysis of a big project has its basis made and written by a second process
    # while this one takes the signatures (snapshot.save): the next run, after an edit,
    # is brought up to date from it as from one written here.
    from cfs_build.analysis import snapshot
    from cfs_build.analysis.basis import decode_basis
    from cfs_build.state.dirs import SEAL_SIZE

    monkeypatch.setattr(snapshot, "MARGIN", 20_000_000)
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", 20_000_000)
    files = {f"SPEC/a/n{i}": spec(f"SPEC/a/n{i}", "# Public\n## A\nx\n# Agent\ndo\n",
                                  front=f"output: o/{i}") for i in range(5)}
    files["SPEC/a"] = spec("SPEC/a", "# Public\n## Rules\nkind\n")
    encoded_here = []
    real_encoded = snapshot._encoded
    monkeypatch.setattr(snapshot, "_encoded",
                        lambda snap: encoded_here.append(1) or real_encoded(snap))
    runs = {}
    for name, min_items in (("serial", 10**9), ("forked", 1)):
        root = write_tree(tmp_path / name, files)
        monkeypatch.setattr(parallel, "MIN_ITEMS", min_items)
        time.sleep(0.03)
        encoded_here.clear()
        Project(root).report()
        assert encoded_here == ([1] if name == "serial" else [])  # (the child's list is its own)
        # Compared decoded: marshal writes a value shared by two places once and refers
        # back to it, so equal bases can differ in bytes by which objects were shared.
        stored = decode_basis((root / snapshot.BASIS_FILE).read_bytes()[SEAL_SIZE:])
        basis = {**stored, "infos": list(stored["infos"].items())}  # (in node order)
        (root / "code-from-spec/a/n3/_node.md").write_text(
            spec("SPEC/a/n3", "# Public\n## A\ny\n# Agent\ndo more\n", front="output: o/3"))
        time.sleep(0.03)
        project = Project(root)
        assert project.update is not None  # brought up to date, not analysed anew
        runs[name] = ({**project.report().as_dict(), "root": "ROOT"}, basis)
    assert runs["serial"] == runs["forked"]
    fresh = Project(tmp_path / "forked", use_index=False).report().as_dict()
    assert runs["forked"][0] == {**fresh, "root": "ROOT"}


@pytest.mark.parametrize("share", [0.01, 0.3, 0.56, 0.99])
def test_any_share_for_the_child_gives_every_result_in_order(share):
    got = parallel.in_two(lambda items, here: [(i, here) for i in items], list(range(9)), share)
    assert [i for i, _ in got] == list(range(9))
    mine = [here for _, here in got]
    assert mine == sorted(mine, reverse=True) and True in mine and False in mine


def test_a_ctrl_c_across_a_fork_arrives_where_each_side_is_ready_for_it():
    # A Ctrl-C reaches both processes. Raised in the child before it is inside the code
    # that ends it, it would run the parent's handlers as its own (a second "cfs:
    # interrupted", the parent's cleanups); so fork() holds it back until interruptible().
    probe = """
import os, signal, sys
from cfs_build.reading import parallel
pid = parallel.fork()
os.kill(os.getpid(), signal.SIGINT)  # (held back on both sides, not lost)
try:
    parallel.interruptible()
    side = 3
except KeyboardInterrupt:
    side = 7
if pid == 0:
    os._exit(side)
_, status = os.waitpid(pid, 0)
print(side, os.waitstatus_to_exitcode(status))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert (done.stdout, done.stderr) == ("7 7\n", "")


@pytest.mark.parametrize("min_items", [1, 10**9], ids=["two processes", "one process"])
def test_each_summary_is_marshalled_once_as_the_node_reads(tmp_path, monkeypatch, min_items):
    # The index stores these bytes and a snapshot's basis keeps them: they must say what
    # the tree's nodes say, whether parsed here, in the child, or found in the index.
    import marshal
    from cfs_build.analysis.basis import NodeRows
    from cfs_build.analysis.chain import Resolver
    from cfs_build.analysis.incremental import basis_of
    from cfs_build.reading.index import Index
    from cfs_build.reading.ledger import Ledger
    from cfs_build.reading.tree import load_tree
    files = {f"SPEC/a/n{i}": spec(f"SPEC/a/n{i}", "# Public\n## A\nx\n", front=f"output: o/{i}")
             for i in range(6)}
    files["SPEC/a"] = spec("SPEC/a", "# Public\n## A\nx\n")
    files["SPEC/b"] = b"# SPEC/b\n\xff\n"
    write_tree(tmp_path, files)
    monkeypatch.setattr(parallel, "MIN_ITEMS", min_items)
    for _ in range(2):  # parsed, then from the index
        index = Index(tmp_path)
        tree = load_tree(tmp_path, index)
        index.save()
        assert list(tree.rows.keys()) != [] and set(tree.rows) == set(tree.nodes)
        assert all(marshal.loads(tree.rows[n]) == info.to_tuple() for n, info in tree.nodes.items())
        infos = basis_of(tree, Resolver(tree, Ledger(tmp_path)), ([], {}, []))["infos"]
        assert isinstance(infos, NodeRows) and list(infos) == list(tree.nodes)  # node order
        assert all(infos[name] == info.to_tuple() for name, info in tree.nodes.items())


def test_the_childs_part_is_used_when_its_nodes_have_findings(tmp_path, monkeypatch):
    # Its findings cross the pipe as plain values; a finding that could not would make
    # the child's whole part be read again here.
    from cfs_build.reading.tree import load_tree
    files = {f"SPEC/n{i}": spec(f"SPEC/x{i}", "# Public\n## A\nx\n", front="outptu: o/x")
             for i in range(8)}  # a wrong name heading (error) and an unknown key (warning)
    write_tree(tmp_path, files)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 10**9)
    alone = load_tree(tmp_path)
    monkeypatch.setattr(parallel, "MIN_ITEMS", 1)
    shared = load_tree(tmp_path)
    assert {f.severity for info in alone.nodes.values() for f in info.findings} \
        == {"error", "warning"}
    assert shared.nodes == alone.nodes
    assert len(shared._docs) < len(shared.nodes)  # the rest were parsed by the child
