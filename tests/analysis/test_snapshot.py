"""The snapshot: the last analysis, used only while nothing it read has changed."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build.analysis import snapshot
from cfs_build.reading import tree as tree_module
from cfs_build.reading.ledger import signature_of
from cfs_build.state.manifest import MANIFEST, ManifestEntry, update_manifest
from cfs_build.analysis.project import Project
from conftest import SNAPSHOT_MARGIN, SNAPSHOT_TREE, settle, spec, write_tree

pytestmark = pytest.mark.usefixtures("short_margin")
MARGIN = SNAPSHOT_MARGIN


FILES = {**SNAPSHOT_TREE,  # and a leaf whose output is not made yet
         "SPEC/app/later": spec("SPEC/app/later", "Not made yet.\n\n# Agent\nWrite it.\n",
                                "output: out/later.py")}


def accept_all(root):
    """Record every existing output as made from its current chain."""
    project = Project(root, use_index=False)
    with update_manifest(root) as entries:
        for status in project.report().artifacts:
            if status.checksum is not None:
                entries[status.name] = ManifestEntry(status.name, status.path,
                                                     status.checksum, status.chain)


@pytest.fixture
def project_root(tmp_path):
    root = write_tree(tmp_path / "proj", FILES)
    accept_all(root)
    settle()
    Project(root).report()  # the analysis that writes the snapshot
    return root


def fresh(root) -> dict:
    return Project(root, use_index=False).report().as_dict()


def test_an_unchanged_project_is_answered_from_the_snapshot(project_root, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("the tree was read although nothing changed")

    expected = fresh(project_root)
    monkeypatch.setattr(tree_module, "load_tree", no_reading)
    import cfs_build.analysis.project as project_module
    monkeypatch.setattr(project_module, "load_tree", no_reading)
    project = Project(project_root)
    assert project.snapshot is not None
    assert project.report().as_dict() == expected
    assert project.findings == tuple(project.report().findings)
    assert project.producers == {"ARTIFACT/app/cli": ("ARTIFACT/app/store",)}
    assert project.intent("SPEC/app/cli") == "Talks."


def _edit_same_size_same_mtime(root):
    path = root / "code-from-spec/app/_node.md"
    before = path.stat()
    path.write_text(path.read_text().replace("Be kind.", "Be fair."))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def _write(rel, text):
    def change(root):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return change


def _write_bytes(rel, data):
    def change(root):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return change


def _remove(rel):
    def change(root):
        path = root / rel
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    return change


CHANGES = {
    "spec edited, size and mtime kept": _edit_same_size_same_mtime,
    "spec edited": _write("code-from-spec/app/store/_node.md",
                          spec("SPEC/app/store", "# Agent\nWrite it better.\n",
                               "output: out/store.py")),
    "node added": _write("code-from-spec/app/extra/_node.md",
                         spec("SPEC/app/extra", "# Agent\nMore.\n", "output: out/extra.py")),
    # (with a file in it: an empty directory is no finding, FORMAT.md 1)
    "directory without _node.md added": _write("code-from-spec/app/bare/notes.txt", "x\n"),
    "node removed": _remove("code-from-spec/app/later"),
    "output edited": _write("out/store.py", "store = 2\n"),
    "output removed": _remove("out/cli.py"),
    "missing output appears": _write("out/later.py", "later = 1\n"),
    "external file edited": _write("docs/usage.txt", "usage, longer\n"),
    "external file removed": _remove("docs/usage.txt"),
    # What the parser reads since it stopped refusing it: bytes that are no UTF-8 in a
    # heading, the text and the frontmatter; numbers and booleans in depends_on; a tab
    # after a frontmatter line's text; a line opened by a CR; odd directory names.
    "spec with bytes that are no UTF-8": _write_bytes(
        "code-from-spec/app/store/_node.md",
        b"---\noutput: out/store.py\ndepends_on:\n  - EXTERNAL/docs/us\xffage.txt\n---\n"
        b"# SPEC/app/store\nKeeps \xc3things.\n\n# Public\n## R\xe2\x82ules\nx\n"
        b"\n# Agent\nWrite it.\n"),
    "depends_on numbers, tabs, a CR line": _write_bytes(
        "code-from-spec/app/cli/_node.md",
        b"---\ndepends_on:\t\n  - ARTIFACT/app/store\t\n  - 1\n  - true\n"
        b"output: out/cli.py \t\n---\n# SPEC/app/cli\nTalks.\n\r## Hidden\n\r---\n"
        b"\n# Agent\nWrite it.\n"),
    "node added under a name with ';' and non-ASCII": _write(
        "code-from-spec/app/\u00e9;x/_node.md",
        spec("SPEC/app/\u00e9;x", "# Agent\nMore.\n", "output: out/extra.py")),
    "output gets bytes that are no UTF-8": _write_bytes("out/store.py", b"store = \xff\n"),
    "external file gets bytes that are no UTF-8": _write_bytes("docs/usage.txt", b"us\xc3\n"),
    # (The path a manifest line records is not looked at for status: drop a line instead.)
    "manifest rewritten": lambda root: (root / MANIFEST).write_text("".join(
        line for line in (root / MANIFEST).read_text().splitlines(keepends=True)
        if "out/cli.py" not in line)),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_what_was_read_is_seen(project_root, change):
    before = fresh(project_root)
    change(project_root)
    project = Project(project_root)
    assert project.update is not None  # the snapshot did not hold: brought up to date
    after = project.report().as_dict()
    assert after == fresh(project_root)
    assert after != before  # the change shows: the old answer would have been wrong


def test_a_file_changed_within_the_margin_is_never_trusted(project_root):
    # Written just now: another write in the same clock tick could keep its signature,
    # so its signature is not recorded until the file is older than the margin; the
    # rest of the snapshot is (the next run looks at that one file again).
    (project_root / "out/store.py").write_text("store = 3\n")
    Project(project_root).report()
    recorded, _ = snapshot.load_previous(project_root)
    assert recorded.stamp("out/store.py") == snapshot.UNSURE
    assert recorded.stamp("out/cli.py") not in (None, snapshot.UNSURE)
    assert snapshot.load(project_root) is None  # it does not hold as it is
    (project_root / "out/store.py").write_text("store = 4\n")  # same size, same tick
    project = Project(project_root)
    assert project.update is not None and project.update.files_read == 1
    assert project.report().as_dict() == fresh(project_root)
    settle()
    Project(project_root).report()
    assert snapshot.load(project_root) is not None


def test_the_manifest_lock_made_by_the_first_run_costs_the_next_no_whole_analysis(tmp_path):
    # Reading the manifest makes code-from-spec/.manifest.lock, changing the tree's
    # directory while the first analysis runs: only that directory is looked at again.
    root = write_tree(tmp_path / "proj", FILES)
    accept_all(root)
    (root / "code-from-spec" / ".manifest.lock").unlink()
    settle()
    Project(root).report()
    assert (root / "code-from-spec" / ".manifest.lock").exists()
    recorded, _ = snapshot.load_previous(root)
    assert recorded.stamp("code-from-spec") == snapshot.UNSURE
    settle()
    project = Project(root)
    assert project.update is not None and project.update.files_read == 0
    assert project.report().as_dict() == fresh(root)
    assert snapshot.load(root) is not None  # and from then on it holds


def test_file_systems_with_whole_second_times_get_the_wider_margin(monkeypatch):
    monkeypatch.setattr(snapshot, "MARGIN", snapshot.SECOND // 10)
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", 2 * snapshot.SECOND)
    began = 100 * snapshot.SECOND + 12345

    def recent(*sig, absent=frozenset()):
        return snapshot.too_recent(array("q", sig), began, ["some/file"], absent)

    assert not recent(began - snapshot.SECOND // 5, began - snapshot.SECOND // 5, 1, 1)
    assert recent(began - snapshot.SECOND // 20, began - snapshot.SECOND, 1, 1)
    assert recent(began - snapshot.SECOND // 20 - 12345, began - snapshot.SECOND, 1, 1)
    # Whole seconds: the file system may round, so two seconds back is needed.
    assert recent(99 * snapshot.SECOND, 99 * snapshot.SECOND, 1, 1)
    assert not recent(97 * snapshot.SECOND, 97 * snapshot.SECOND, 1, 1)
    # The change time counts too: a program can set the modification time back.
    assert recent(50 * snapshot.SECOND + 1, began - 1000, 1, 1)
    # A path that cannot be looked at: fine if the analysis found it missing too,
    # a change if the analysis read it.
    assert not recent(-2, 0, 0, 0, absent={"some/file"})
    assert recent(-2, 0, 0, 0)


def test_new_code_or_a_damaged_file_means_no_snapshot(project_root, monkeypatch):
    assert Project(project_root).snapshot is not None
    real = snapshot._fingerprint
    monkeypatch.setattr(snapshot, "_fingerprint", lambda: b"other code")
    assert Project(project_root).snapshot is None
    monkeypatch.setattr(snapshot, "_fingerprint", real)
    (project_root / snapshot.SNAPSHOT_FILE).write_bytes(b"\x00not marshal")
    project = Project(project_root)
    assert project.snapshot is None
    assert project.report().as_dict() == fresh(project_root)


@pytest.mark.slow
def test_cfs_status_from_a_subprocess_uses_and_keeps_the_snapshot(project_root):
    # Real processes with the real margin: the second run answers from the snapshot.
    command = [sys.executable, "-m", "cfs_build.cli", "-C", str(project_root), "status",
               "--json"]
    (project_root / snapshot.SNAPSHOT_FILE).unlink()
    time.sleep(0.12)  # the margin a real process uses, 0.1 s
    first = subprocess.run(command, capture_output=True, text=True)
    written = (project_root / snapshot.SNAPSHOT_FILE).stat().st_mtime_ns
    second = subprocess.run(command, capture_output=True, text=True)
    assert first.stdout == second.stdout and first.returncode == second.returncode == 1
    # Used, not made again: a rejected snapshot would have been replaced.
    assert (project_root / snapshot.SNAPSHOT_FILE).stat().st_mtime_ns == written


EDITS = st.lists(st.sampled_from(sorted(CHANGES)), min_size=1, max_size=3)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@given(edits=EDITS)
def test_after_any_sequence_of_changes_the_answer_is_the_fresh_one(tmp_path_factory, edits):
    root = write_tree(tmp_path_factory.mktemp("seq") / "proj", FILES)
    accept_all(root)
    for name in edits:
        settle()
        Project(root).report()
        try:
            CHANGES[name](root)
        except (FileNotFoundError, FileExistsError):
            pass  # e.g. removing what an earlier edit already removed
        assert Project(root).report().as_dict() == fresh(root)


@pytest.mark.slow
def test_a_build_from_a_snapshot_of_stale_artifacts_generates_them(tmp_path):
    # The snapshot says what is stale; generating needs the tree, read only then.
    from buildkit import make_project
    proj = make_project(tmp_path)
    time.sleep(0.12)  # older than the real margin of the processes below
    proj.cfs("status")
    assert (proj.root / snapshot.SNAPSHOT_FILE).exists()
    result = proj.cfs("build")
    assert "cfs: 4 generated" in result.stdout, result.stdout + result.stderr
    assert set(map(tuple, proj.flags().values())) == {("up-to-date",)}


def _built_and_settled(tmp_path, monkeypatch):
    from buildkit import make_project
    proj = make_project(tmp_path)
    proj.cfs("build", check=True)
    settle()
    Project(proj.root).report()
    assert Project(proj.root).snapshot is not None

    def no_reading(*args, **kwargs):
        raise AssertionError("the tree was read although nothing changed")

    import cfs_build.analysis.project as project_module
    monkeypatch.setattr(project_module, "load_tree", no_reading)
    monkeypatch.chdir(proj.root)
    return proj


@pytest.mark.slow
def test_a_no_op_cfs_build_reads_no_spec_file(tmp_path, monkeypatch, capsys):
    from cfs_build import cli
    proj = _built_and_settled(tmp_path, monkeypatch)
    assert cli.main(["-C", str(proj.root), "build", "-v"]) == 0
    out = capsys.readouterr().out
    assert "cfs: 0 generated, 4 up to date, 0 failed" in out
    assert "up to date gen:app/cli" in out


def test_a_no_op_doit_reads_no_spec_file(tmp_path, monkeypatch, capsys):
    import importlib

    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain
    _built_and_settled(tmp_path, monkeypatch)
    dodo = importlib.import_module("cfs_build.dodo")
    assert DoitMain(ModuleTaskLoader(vars(dodo))).run(["list"]) == 0
    assert "gen:app/cli" in capsys.readouterr().out
    # doit's default output stream is the sys.stdout it saw when first imported.
    out = tmp_path / "doit-output.txt"
    assert DoitMain(ModuleTaskLoader(vars(dodo))).run(["-o", str(out)]) == 0
    assert "cfs: 0 generated, 4 up to date, 0 failed" in out.read_text()


def test_another_parser_library_version_discards_index_and_snapshot(project_root, monkeypatch):
    from cfs_build.reading import index as index_module
    assert Project(project_root).snapshot is not None
    assert index_module.Index(project_root).entries
    monkeypatch.setattr(index_module, "libraries_stamp", lambda: b"markdown_it 99")
    # As a new process would: the fingerprints are taken once per process.
    monkeypatch.setattr(index_module, "_fingerprint",  # a fresh per-process cache
                        functools.cache(index_module._fingerprint.__wrapped__))
    assert index_module.Index(project_root).entries == {}  # made by other code: dropped
    assert Project(project_root).snapshot is None


def _linked_node_target_appears(root):
    target = root.parent / "late_node.md"
    (root / "code-from-spec/app/late").mkdir()
    os.symlink(target, root / "code-from-spec/app/late/_node.md")
    return lambda: target.write_text(spec("SPEC/app/late", "# Agent\nW.\n",
                                          "output: out/late.py"))


def _linked_directory_appears(root):
    target = root.parent / "elsewhere"
    os.symlink(target, root / "code-from-spec/app/linked")

    def change():
        target.mkdir()
        (target / "_node.md").write_text(spec("SPEC/app/linked", "# Agent\nW.\n",
                                              "output: out/linked.py"))
    return change


def _stray_link_target_goes(root):
    target = root.parent / "stray.md"
    target.write_text("# stray\n")
    os.symlink(target, root / "code-from-spec/_node.md")
    return target.unlink


LINKS = {"dangling _node.md link, target made later": _linked_node_target_appears,
         "dangling directory link, target made later": _linked_directory_appears,
         "stray _node.md link, target removed": _stray_link_target_goes}


@pytest.mark.parametrize("setup", LINKS.values(), ids=LINKS.keys())
def test_a_tree_with_a_symlink_is_never_snapshotted(project_root, setup):
    # A link fails the whole scan (FORMAT.md 1), whatever it points at, now or later.
    change = setup(project_root)
    settle()
    Project(project_root).report()
    assert not (project_root / snapshot.SNAPSHOT_FILE).exists()
    before = fresh(project_root)
    assert [(f["rule"], f["node"]) for f in before["errors"]] == [("scan", "")]
    assert before["artifacts"] == [] and before["orphans"] == []
    change()
    assert Project(project_root).report().as_dict() == fresh(project_root) == before
    assert not (project_root / snapshot.SNAPSHOT_FILE).exists()


def test_a_file_deleted_while_the_analysis_runs_is_never_trusted(project_root, monkeypatch):
    import cfs_build.analysis.project as project_module
    (project_root / snapshot.SNAPSHOT_FILE).unlink()
    real = project_module.artifact_statuses

    def then_deleted(*args, **kwargs):
        found = real(*args, **kwargs)
        (project_root / "out/store.py").unlink()  # another process, just after the read
        return found

    monkeypatch.setattr(project_module, "artifact_statuses", then_deleted)
    Project(project_root).report()
    recorded, _ = snapshot.load_previous(project_root)
    # Recorded as it was read: a path that is gone differs from it (looked at again).
    assert recorded.stamp("out/store.py") is not None
    assert signature_of(project_root / "out/store.py") is None
    monkeypatch.setattr(project_module, "artifact_statuses", real)
    assert Project(project_root).report().as_dict() == fresh(project_root)


def test_a_file_edited_after_it_was_read_is_never_trusted(project_root, monkeypatch):
    # The signature recorded is the one taken as the file was read: an edit after the
    # read (same size, modification time put back) shows next time even where the
    # check for too recent times would not see it (here: a clock that says nothing is).
    import cfs_build.analysis.project as project_module
    (project_root / snapshot.SNAPSHOT_FILE).unlink()
    monkeypatch.setattr(snapshot, "file_system_clock", lambda directory: 60 * snapshot.SECOND)
    real = project_module.artifact_statuses
    path = project_root / "out/store.py"

    def then_edited(*args, **kwargs):
        found = real(*args, **kwargs)
        before = path.stat()
        path.write_bytes(bytes(b ^ 1 for b in path.read_bytes()))  # another process
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        return found

    monkeypatch.setattr(project_module, "artifact_statuses", then_edited)
    kept = Project(project_root).report().as_dict()
    monkeypatch.setattr(project_module, "artifact_statuses", real)
    assert kept != fresh(project_root)  # the edit changed the answer
    assert Project(project_root).report().as_dict() == fresh(project_root)


def test_a_file_system_clock_behind_this_one_is_allowed_for(project_root, monkeypatch):
    # File times come from the machine holding the files. Were its clock ten seconds
    # behind, files changed just before the analysis would look ten seconds old.
    (project_root / snapshot.SNAPSHOT_FILE).unlink()
    monkeypatch.setattr(snapshot, "file_system_clock", lambda directory: -10 * snapshot.SECOND)
    Project(project_root).report()
    recorded, _ = snapshot.load_previous(project_root)
    # Nothing trusted (a path the analysis found absent is recorded as absent).
    assert recorded.stamp("out/store.py") == snapshot.UNSURE
    assert all(recorded.stamp(path) in (None, snapshot.UNSURE) for path in recorded.paths)


def test_the_file_system_clock_of_a_local_directory_is_this_one(tmp_path):
    assert abs(snapshot.file_system_clock(tmp_path)) < snapshot.SECOND
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_an_output_shared_by_two_nodes_names_the_same_node_either_way(tmp_path):
    root = write_tree(tmp_path / "proj", {
        "SPEC/app": spec("SPEC/app", "Root.\n"),
        "SPEC/app/gen": spec("SPEC/app/gen", "# Public\n## R\nx\n", "output: out/x.py"),
        "SPEC/app/gen/leaf": spec("SPEC/app/gen/leaf", "# Agent\nW.\n", "output: out/x.py"),
    })
    settle()
    Project(root).report()
    assert Project(root).snapshot is not None
    assert Project(root).node_name("out/x.py") == \
        Project(root, use_index=False).node_name("out/x.py")


@pytest.mark.parametrize("from_snapshot", [True, False], ids=["snapshot", "no snapshot"])
def test_a_build_notices_a_producer_regenerated_after_the_project_was_read(
        project_root, from_snapshot):
    # Another cfs process rewrites out/store.py and records it between this process
    # reading the project and planning its build: the consumer out/cli.py is stale.
    from cfs_build.building.generate import BuildState
    from cfs_build.reading.hashing import checksum
    project = Project(project_root, use_index=from_snapshot)
    assert (project.snapshot is not None) == from_snapshot
    project.report()
    (project_root / "out/store.py").write_text("store = 2\n")
    with update_manifest(project_root) as entries:
        old = entries["ARTIFACT/app/store"]
        entries[old.name] = ManifestEntry(old.name, old.path, checksum("store = 2\n"),
                                          old.chain)
    state = BuildState(project_root, project=project, generator=object())
    now = {a: s.flags for a, s in state.statuses().items()}
    expected = {a["name"]: tuple(a["status"]) for a in fresh(project_root)["artifacts"]}
    assert now == expected
    assert now["ARTIFACT/app/cli"] == ("stale",)
    assert "ARTIFACT/app/cli" in state.may_run()


def test_the_fingerprint_is_taken_once_per_process(monkeypatch):
    from cfs_build.reading import index as index_module
    first = snapshot._fingerprint()
    monkeypatch.setattr(index_module, "libraries_stamp", lambda: b"changed while running")
    assert snapshot._fingerprint() == first
    monkeypatch.setattr(index_module, "_fingerprint",  # a fresh per-process cache
                        functools.cache(index_module._fingerprint.__wrapped__))  # a new process
    assert snapshot._fingerprint() != first


def _flip(path, at: int) -> None:
    """Damage one byte of ``path``, keeping its times (the stat pass cannot notice)."""
    st_before = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x55
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))


def _edit_store(root) -> None:
    store = root / "code-from-spec" / "app" / "store" / "_node.md"
    store.write_text(store.read_text().replace("Write it.", "Write it well."))
    settle()


def test_the_basis_is_a_file_of_its_own_read_only_after_a_change(project_root, monkeypatch):
    assert (project_root / snapshot.BASIS_FILE).is_file()
    read = []
    real = snapshot._read_basis
    monkeypatch.setattr(snapshot, "_read_basis", lambda found: read.append(1) or real(found))
    Project(project_root).report()
    assert read == []  # the snapshot holds: its basis is not read
    basis_before = (project_root / snapshot.BASIS_FILE).stat().st_mtime_ns
    _edit_store(project_root)
    project = Project(project_root)
    assert project.update is not None and read == [1]
    assert project.report().as_dict() == fresh(project_root)
    # A small change is written as changes to the basis, not as a new basis.
    assert (project_root / snapshot.BASIS_FILE).stat().st_mtime_ns == basis_before
    again = Project(project_root)
    assert again.update is None and again.snapshot is not None
    assert again.snapshot.basis()["infos"]["SPEC/app/store"] == \
        project.snapshot.basis()["infos"]["SPEC/app/store"]


def test_a_damaged_basis_is_discarded_with_one_line(project_root, capsys):
    _flip(project_root / snapshot.BASIS_FILE, 40)
    _edit_store(project_root)
    project = Project(project_root)
    assert project.update is None  # analysed in full
    assert project.report().as_dict() == fresh(project_root)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "discarded .cfs/basis.v4: damaged" in err[0]
    settle()
    assert Project(project_root).snapshot is not None  # made whole again


def test_a_damaged_snapshot_is_discarded_with_one_line(project_root, capsys):
    _flip(project_root / snapshot.SNAPSHOT_FILE, 40)
    project = Project(project_root)
    assert project.snapshot is None
    assert project.report().as_dict() == fresh(project_root)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "discarded .cfs/snapshot.v4: damaged" in err[0]


def test_a_basis_another_run_wrote_is_not_taken_for_this_snapshots(project_root):
    # The snapshot names the seal of its basis: another (sealed, whole) basis is ignored.
    old = (project_root / snapshot.SNAPSHOT_FILE).read_bytes()
    old_basis = (project_root / snapshot.BASIS_FILE).read_bytes()
    extra = project_root / "code-from-spec" / "app" / "extra"
    extra.mkdir()
    (extra / "_node.md").write_text(spec("SPEC/app/extra", "More.\n"))
    settle()
    Project(project_root).report()  # a node added: a new snapshot and a new basis
    assert (project_root / snapshot.BASIS_FILE).read_bytes() != old_basis
    (extra / "_node.md").unlink()
    extra.rmdir()
    (project_root / snapshot.SNAPSHOT_FILE).write_bytes(old)  # the older snapshot back
    _edit_store(project_root)
    project = Project(project_root)
    assert project.update is None  # its basis is gone: analysed in full, correctly
    assert project.report().as_dict() == fresh(project_root)


def test_a_snapshot_changed_other_than_through_its_rows_is_saved_whole(project_root):
    # The loaded payload's bytes are written again only while they (with the changes
    # recorded since) still say what the snapshot holds: any other change is marshalled.
    from dataclasses import replace
    loaded = snapshot.load(project_root)
    assert loaded is not None and loaded._described()
    first = loaded.statuses[0]
    changed = replace(loaded, statuses=(replace(first, reasons=("changed by hand",)),
                                        *loaded.statuses[1:]))
    assert not changed._described()
    assert snapshot.save(project_root, changed, list(loaded.paths), snapshot.now() + 10**9,
                         sigs=loaded.recorded, fresh=[])
    again = snapshot.load(project_root)
    assert again.statuses[0].reasons == ("changed by hand",)
    assert again.statuses[1:] == loaded.statuses[1:]
    # And one made through with_rows is written as the old bytes plus the one row.
    rows = replace(loaded, statuses=changed.statuses).with_rows(loaded, [0])
    assert rows._described() and rows._stored()[0] == loaded._rows["data"]
    assert snapshot.save(project_root, rows, list(loaded.paths), snapshot.now() + 10**9,
                         sigs=loaded.recorded, fresh=[])
    assert snapshot.load(project_root).statuses == changed.statuses
