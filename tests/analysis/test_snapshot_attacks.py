"""Edits made to defeat the snapshot: each run's answer stays the full analysis's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from cfs_build.analysis import snapshot
from cfs_build.analysis.project import Project
from cfs_build.state.manifest import ManifestEntry, update_manifest
from conftest import SNAPSHOT_MARGIN, SNAPSHOT_TREE, settle, write_tree

pytestmark = pytest.mark.usefixtures("short_margin")
MARGIN = SNAPSHOT_MARGIN


FILES = SNAPSHOT_TREE


def full(root) -> dict:
    return Project(root, use_index=False).report(keep=False).as_dict()


@pytest.fixture
def root(tmp_path):
    root = write_tree(tmp_path / "proj", FILES)
    project = Project(root, use_index=False)
    with update_manifest(root) as entries:
        for status in project.report(keep=False).artifacts:
            entries[status.name] = ManifestEntry(status.name, status.path, status.checksum,
                                                 status.chain)
    settle()
    Project(root).report()  # records the snapshot
    assert snapshot.load(root) is not None
    return root


def check(root) -> dict:
    """The answer of a run with the snapshot equals a full analysis's."""
    expected = full(root)
    assert Project(root).report().as_dict() == expected
    settle()
    assert Project(root).report().as_dict() == expected  # and what that run kept
    return expected


def test_an_output_directory_moved_out_behind_a_link(root, tmp_path):
    # The output file keeps its inode and every time; only the way to it changed.
    (root / "out").rename(tmp_path / "elsewhere")
    (root / "out").symlink_to(tmp_path / "elsewhere")
    answer = check(root)
    assert "outside" in json.dumps(answer)


def test_an_external_directory_moved_out_behind_a_link(root, tmp_path):
    (root / "docs").rename(tmp_path / "docs")
    (root / "docs").symlink_to(tmp_path / "docs")
    answer = check(root)
    assert "outside" in json.dumps(answer)


def test_a_missing_output_directory_leaves_the_snapshot_holding(root, tmp_path):
    # The ways to outputs are watched; one not there yet counts as found absent, so the
    # snapshot still holds the run after.
    for name in ("store.py", "cli.py"):
        (root / "out" / name).unlink()
    (root / "out").rmdir()
    check(root)
    assert snapshot.load(root) is not None
    # ... and a link put there later is seen.
    (tmp_path / "away").mkdir()
    (tmp_path / "away" / "store.py").write_text("store = 1\n")
    (root / "out").symlink_to(tmp_path / "away")
    assert "outside" in json.dumps(check(root))


def _times(path):
    st = os.stat(path)
    return st.st_atime_ns, st.st_mtime_ns


def _rewrite_keeping_times(rel, old, new):
    """Same size, the modification time set back (as touch -r or os.utime would)."""
    def change(root, tmp_path):
        path = root / rel
        times = _times(path)
        text = path.read_text()
        assert len(old) == len(new) and old in text
        path.write_text(text.replace(old, new))
        os.utime(path, ns=times)
    return change


def _replace_by_rename(rel, old, new):
    """A new file (another inode) renamed over the old one, with its times."""
    def change(root, tmp_path):
        path = root / rel
        times = _times(path)
        fresh = path.with_name(path.name + ".tmp")
        fresh.write_text(path.read_text().replace(old, new))
        os.utime(fresh, ns=times)
        fresh.rename(path)
    return change


def _swap(a, b):
    """Two files' contents swapped by renames; each keeps its times (and size here)."""
    def change(root, tmp_path):
        pa, pb = root / a, root / b
        pa.rename(root / "swap.tmp")
        pb.rename(pa)
        (root / "swap.tmp").rename(pb)
    return change


def _swap_dirs(root, tmp_path):
    # Two nodes' directories swapped: each _node.md now names the other's node.
    base = root / "code-from-spec/app"
    (base / "store").rename(base / "swap")
    (base / "cli").rename(base / "store")
    (base / "swap").rename(base / "cli")


def _to_dot_and_back_edited(root, tmp_path):
    base = root / "code-from-spec/app"
    (base / "store").rename(base / ".away")
    _rewrite_keeping_times("code-from-spec/app/.away/_node.md", "Write it.", "Wrote it!")(
        root, tmp_path)
    (base / ".away").rename(base / "store")


def _node_to_link(root, tmp_path):
    # _node.md moved out of the tree, a link to it in its place: v5 refuses the scan.
    path = root / "code-from-spec/app/store/_node.md"
    path.rename(root / "store_node.md")
    path.symlink_to(root / "store_node.md")


def _node_to_fifo(root, tmp_path):
    path = root / "code-from-spec/app/store/_node.md"
    path.unlink()
    os.mkfifo(path)


def _manifest_edited_times_kept(root, tmp_path):
    from cfs_build.state.manifest import MANIFEST
    path = root / MANIFEST
    times = _times(path)
    text = path.read_text()
    # One recorded checksum changed by one character (v5 or a checkout did it).
    at = text.index("ARTIFACT/app/store")
    line_end = text.index("\n", at)
    line = text[at:line_end]
    flipped = line[:-1] + ("A" if line[-1] != "A" else "B")
    path.write_text(text[:at] + flipped + text[line_end:])
    os.utime(path, ns=times)


def _output_becomes_directory(root, tmp_path):
    (root / "out/store.py").unlink()
    (root / "out/store.py").mkdir()


def _case_only_rename(root, tmp_path):
    base = root / "code-from-spec/app"
    (base / "store").rename(base / "Store")


def _future_times(root, tmp_path):
    # An edit whose modification time is a year ahead (a skewed clock elsewhere).
    path = root / "out/store.py"
    path.write_text("store = 2\n")
    ahead = time.time_ns() + 365 * 86400 * 10**9
    os.utime(path, ns=(ahead, ahead))


def _external_link_retargeted(root, tmp_path):
    # docs/usage.txt becomes a link to another file inside the project with the same
    # size and times; then that file's link is pointed at a third one.
    (root / "notes").mkdir()
    for name, text in (("a.txt", "usagA\n"), ("b.txt", "usagB\n")):
        (root / "notes" / name).write_text(text)
        os.utime(root / "notes" / name, ns=_times(root / "docs/usage.txt"))
    (root / "docs/usage.txt").unlink()
    (root / "docs/usage.txt").symlink_to("../notes/a.txt")


def _output_directory_into_git(root, tmp_path):
    (root / ".git").mkdir()
    (root / "out").rename(root / ".git/out")
    (root / "out").symlink_to(".git/out")


ATTACKS = {
    "spec same size, mtime set back": _rewrite_keeping_times(
        "code-from-spec/app/_node.md", "Be kind.", "Be fair."),
    "output same size, mtime set back": _rewrite_keeping_times(
        "out/store.py", "store = 1", "store = 2"),
    "external same size, mtime set back": _rewrite_keeping_times(
        "docs/usage.txt", "usage", "USAGE"),
    "spec replaced by rename with its times": _replace_by_rename(
        "code-from-spec/app/store/_node.md", "Write it.", "Fill it."),
    "output replaced by rename with its times": _replace_by_rename(
        "out/cli.py", "cli = 1", "cli = 2"),
    "two outputs swapped by renames": _swap("out/store.py", "out/cli.py"),
    "two specs swapped by renames": _swap("code-from-spec/app/store/_node.md",
                                          "code-from-spec/app/cli/_node.md"),
    "two node directories swapped": _swap_dirs,
    "node moved to a dot directory, edited, moved back": _to_dot_and_back_edited,
    "_node.md turned into a link": _node_to_link,
    "_node.md turned into a FIFO": _node_to_fifo,
    "manifest edited with its times restored": _manifest_edited_times_kept,
    "output turned into a directory": _output_becomes_directory,
    "case-only rename of a node directory": _case_only_rename,
    "output time in the future": _future_times,
    "external replaced by an in-project link": _external_link_retargeted,
    "output directory moved into .git/ behind a link": _output_directory_into_git,
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_an_attack_on_the_signatures_changes_nothing_but_the_answer(root, tmp_path, attack):
    before = full(root)
    attack(root, tmp_path)
    after = check(root)
    assert after != before  # the attack changed the answer: the old one would be wrong


def test_a_link_out_of_the_project_pointed_at_another_name_of_its_file(root, tmp_path):
    # The finding names where the link leads; the two names are one file (a hard link),
    # so only the link itself tells the answers apart.
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("usage\n")
    os.link(first, second)
    (root / "docs/usage.txt").unlink()
    (root / "docs/usage.txt").symlink_to(first)
    settle()
    assert "first.txt" in json.dumps(check(root))
    (root / "docs/new").symlink_to(second)
    (root / "docs/new").rename(root / "docs/usage.txt")
    assert "second.txt" in json.dumps(check(root))


def test_a_link_recorded_as_read_holds_after_one_update(root):
    # A cold run records the target's signature as read; the next one takes the link's
    # too, re-reads that one file, and from then on the snapshot holds.
    import shutil
    (root / "notes").mkdir()
    (root / "notes/a.txt").write_text("usage\n")
    (root / "docs/usage.txt").unlink()
    (root / "docs/usage.txt").symlink_to("../notes/a.txt")
    shutil.rmtree(root / ".cfs")
    settle()
    Project(root).report()
    settle()
    again = Project(root)
    assert again.update is not None and again.update.files_read <= 1
    again.report()
    settle()
    third = Project(root)
    assert third.update is None and third.snapshot is not None
    assert third.report().as_dict() == full(root)


def _status(root) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "status",
                           "--json"], capture_output=True, text=True)
    return done.stdout, done.returncode


def _full_status(root, tmp_path) -> tuple[str, int]:
    """`cfs status --json` of a copy without .cfs/ (a full analysis), told as of ``root``."""
    import shutil
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)
    shutil.copytree(root, clean, symlinks=True, ignore=shutil.ignore_patterns(".cfs"))
    out, code = _status(clean)
    return out.replace(str(clean), str(root)), code


@pytest.mark.slow
def test_cfs_status_sees_an_output_directory_moved_out_behind_a_link(root, tmp_path):
    time.sleep(0.12)  # the margin a real process uses
    _status(root)
    time.sleep(0.12)
    assert snapshot.load(root) is not None
    (root / "out").rename(tmp_path / "elsewhere")
    (root / "out").symlink_to(tmp_path / "elsewhere")
    expected = _full_status(root, tmp_path)
    assert "outside" in expected[0]
    assert _status(root) == expected
    time.sleep(0.12)
    assert _status(root) == expected


@pytest.mark.parametrize("whole", [True, False], ids=["whole .cfs", "snapshot and basis"])
def test_a_cfs_directory_restored_from_a_backup_answers_as_a_full_analysis(root, tmp_path,
                                                                          whole):
    import shutil
    from cfs_build.analysis.snapshot import BASIS_FILE, SNAPSHOT_FILE
    backup = tmp_path / "backup"
    shutil.copytree(root / ".cfs", backup)  # (copy2: times kept)
    before = full(root)
    _replace_by_rename("code-from-spec/app/store/_node.md", "Write it.", "Fill it.")(
        root, tmp_path)
    _rewrite_keeping_times("out/cli.py", "cli = 1", "cli = 2")(root, tmp_path)
    settle()
    check(root)  # a run records the edits
    if whole:
        shutil.rmtree(root / ".cfs")
        shutil.copytree(backup, root / ".cfs")
    else:
        for rel in (SNAPSHOT_FILE, BASIS_FILE):
            shutil.copy2(backup / rel.split("/", 1)[1], root / rel)
    assert check(root) != before


def test_the_way_to_an_output_replaced_while_the_analysis_runs(root, tmp_path, monkeypatch):
    # Its signature is taken when the snapshot is recorded, after the read: the change
    # is too recent to trust then, so the next run looks at it again.
    def replace_it():  # another process, after the read
        (root / "out").rename(tmp_path / "elsewhere")
        (root / "out").symlink_to(tmp_path / "elsewhere")

    _changed_after_the_read(root, monkeypatch, replace_it)


def test_a_node_moved_to_a_dot_directory_and_back_between_runs(root):
    base = root / "code-from-spec/app"
    (base / "store").rename(base / ".away")
    check(root)
    (base / ".away").rename(base / "store")
    check(root)


def test_the_spec_tree_replaced_by_a_link_to_it(root, tmp_path):
    (root / "code-from-spec").rename(tmp_path / "specs")
    (root / "code-from-spec").symlink_to(tmp_path / "specs")
    check(root)


def test_the_project_moved_elsewhere(root, tmp_path):
    moved = tmp_path / "moved"
    root.rename(moved)
    check(moved)
    assert Project(moved).snapshot is not None


def test_the_parse_index_is_not_fooled_by_an_edit_keeping_size_and_times(root):
    # Without the snapshot only the parse index is left to reuse: it keys on the bytes.
    (root / snapshot.SNAPSHOT_FILE).unlink()
    before = full(root)
    _rewrite_keeping_times("code-from-spec/app/store/_node.md", "Write it.", "Wrote it!")(
        root, None)
    assert check(root) != before


def test_a_spec_edited_again_while_an_update_reads_it(root, monkeypatch):
    # The update re-reads the edited _node.md; another edit right after that read (same
    # size, times set back) is seen by the next run: the signature kept is the one taken
    # before the read.
    from cfs_build.analysis import incremental
    rel = "code-from-spec/app/store/_node.md"
    _replace_by_rename(rel, "Write it.", "Wrote it!")(root, None)
    settle()
    real = incremental.read_nodes

    def then_edited(*args, **kwargs):
        found = real(*args, **kwargs)
        _rewrite_keeping_times(rel, "Wrote it!", "Wrote it?")(root, None)
        return found

    monkeypatch.setattr(incremental, "read_nodes", then_edited)
    project = Project(root)
    assert project.update is not None
    project.report()
    monkeypatch.setattr(incremental, "read_nodes", real)
    settle()
    check(root)
    assert "Wrote it?" in (root / rel).read_text()


def test_a_directory_named_as_a_file_read_moved_out_behind_a_link(root, tmp_path):
    # What is there is no file (a finding that says so); moved out of the project, the
    # finding is that the path leads outside, though nothing below changed.
    (root / "docs/usage.txt").unlink()
    (root / "docs/usage.txt").mkdir()
    settle()
    assert "is a directory, not a file" in json.dumps(check(root))
    (root / "docs").rename(tmp_path / "docs")
    (root / "docs").symlink_to(tmp_path / "docs")
    assert "outside" in json.dumps(check(root))


def test_a_spec_edited_after_the_tree_was_read_is_never_trusted(root, monkeypatch):
    # A _node.md's signature is taken when the snapshot is recorded, after the read: the
    # edit is too recent then (the file system's clock is the one .cfs/ is on).
    _changed_after_the_read(root, monkeypatch, lambda: _rewrite_keeping_times(
        "code-from-spec/app/store/_node.md", "Write it.", "Wrote it!")(root, None))


def _changed_after_the_read(root, monkeypatch, change) -> None:
    """A cold analysis during which ``change`` happens (as another process would make
    it) once the files were read: the answer it keeps is not a full analysis of what is
    there now, and the next run must not trust it (check compares with one)."""
    import cfs_build.analysis.project as project_module
    (root / snapshot.SNAPSHOT_FILE).unlink()
    real = project_module.artifact_statuses

    def then_changed(*args, **kwargs):
        found = real(*args, **kwargs)
        change()
        return found

    monkeypatch.setattr(project_module, "artifact_statuses", then_changed)
    kept = Project(root).report().as_dict()
    monkeypatch.setattr(project_module, "artifact_statuses", real)
    assert kept != full(root)
    settle()
    check(root)
