"""Writing artifacts: paths that stay in the project, atomic writes, the crash journal."""
from __future__ import annotations

import os

import pytest

import cfs_build.state.manifest
from cfs_build.state.artifacts import PENDING, output_path, settle_pending, write_artifact
from cfs_build.errors import CfsError
from cfs_build.state.manifest import ManifestEntry, read_manifest, render_manifest
from cfs_build.analysis.project import Project
from conftest import checksum, spec

NAME = "ARTIFACT/leaf"
CHAIN = "c" * 27


@pytest.fixture
def root(tree):
    return tree({"SPEC/leaf": spec("SPEC/leaf", "# Agent\n\nWrite.\n", front="output: out/x.txt")})


def manifest_entries(root):
    return read_manifest(root).entries


def journals(root):
    directory = root / PENDING
    return sorted(os.listdir(directory)) if directory.exists() else []


# -- output_path ----------------------------------------------------------------------------

def test_output_path_is_clean_and_relative(root):
    assert output_path(root, "./out//x.txt") == ("out/x.txt", root / "out/x.txt")
    assert output_path(root, "out/sub/../x.txt")[0] == "out/x.txt"


@pytest.mark.parametrize("bad", ["../x.txt", "out/../../x.txt", "/etc/x.txt", "out\\x.txt",
                                 "", "."])
def test_output_path_refuses_paths_out_of_the_project(root, bad):
    with pytest.raises(CfsError):
        output_path(root, bad)


def test_output_path_refuses_a_symlinked_directory_leading_out(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "out").symlink_to(outside)
    with pytest.raises(CfsError, match="leads outside the project through a symbolic link"):
        output_path(root, "out/x.txt")
    with pytest.raises(CfsError, match="leads outside the project through a symbolic link"):
        output_path(root, "out/new/deeper/x.txt")


def test_output_path_refuses_a_dangling_symlink_leading_out(root, tmp_path):
    (root / "out").symlink_to(tmp_path / "not-yet")
    with pytest.raises(CfsError, match="leads outside the project through a symbolic link"):
        output_path(root, "out/x.txt")


def test_output_path_allows_a_symlinked_directory_inside(root):
    (root / "real").mkdir()
    (root / "out").symlink_to(root / "real")
    assert output_path(root, "out/x.txt")[0] == "out/x.txt"


def test_output_path_refuses_a_symlink_at_the_output(root):
    (root / "out").mkdir()
    (root / "elsewhere.txt").write_text("x\n")
    (root / "out/x.txt").symlink_to(root / "elsewhere.txt")
    with pytest.raises(CfsError, match="symlink"):
        output_path(root, "out/x.txt")
    (root / "out/x.txt").unlink()
    (root / "out/x.txt").symlink_to(root / "gone.txt")
    with pytest.raises(CfsError, match="symlink"):
        output_path(root, "out/x.txt")


# -- write_artifact -------------------------------------------------------------------------

def test_write_creates_directories_and_records_the_entry(root):
    changed, entry = write_artifact(root, NAME, "out/deep/er/x.txt", "a\r\nb", CHAIN, None)
    assert changed
    assert (root / "out/deep/er/x.txt").read_bytes() == b"a\r\nb"
    assert entry == ManifestEntry(NAME, "out/deep/er/x.txt", checksum("a\nb\n"), CHAIN)
    assert manifest_entries(root) == {NAME: entry}
    assert journals(root) == []
    assert not [n for n in os.listdir(root / "out/deep/er") if n != "x.txt"]


def test_rewrite_replaces_the_file_atomically(root):
    write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)
    inode = (root / "out/x.txt").stat().st_ino
    changed, entry = write_artifact(root, NAME, "out/x.txt", "two\n", "d" * 27, checksum("one\n"))
    assert changed and (root / "out/x.txt").read_text() == "two\n"
    assert (root / "out/x.txt").stat().st_ino != inode  # a new file renamed over the old
    assert manifest_entries(root)[NAME].chain == "d" * 27


def test_failed_write_leaves_the_old_file_and_no_temp(root, monkeypatch):
    write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_artifact(root, NAME, "out/x.txt", "two\n", "d" * 27, checksum("one\n"))
    monkeypatch.undo()
    assert (root / "out/x.txt").read_text() == "one\n"
    assert os.listdir(root / "out") == ["x.txt"]
    assert manifest_entries(root)[NAME].chain == CHAIN


def test_identical_file_is_left_untouched(root):
    write_artifact(root, NAME, "out/x.txt", "same\n", CHAIN, None)
    path = root / "out/x.txt"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    changed, entry = write_artifact(root, NAME, "out/x.txt", "same\n", "d" * 27,
                                    checksum("same\n"))
    assert not changed
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert manifest_entries(root)[NAME] == entry and entry.chain == "d" * 27


def test_file_edited_during_generation_is_not_overwritten(root):
    write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)
    manifest_before = (root / "code-from-spec/.manifest").read_bytes()
    (root / "out/x.txt").write_text("hand edit\n")
    with pytest.raises(CfsError, match="changed while it was being generated"):
        write_artifact(root, NAME, "out/x.txt", "two\n", "d" * 27, checksum("one\n"))
    assert (root / "out/x.txt").read_text() == "hand edit\n"
    assert (root / "code-from-spec/.manifest").read_bytes() == manifest_before
    assert journals(root) == []


def test_file_appearing_during_generation_is_not_overwritten(root):
    (root / "out").mkdir()
    (root / "out/x.txt").write_text("someone else's\n")
    with pytest.raises(CfsError):
        write_artifact(root, NAME, "out/x.txt", "mine\n", CHAIN, None)
    assert (root / "out/x.txt").read_text() == "someone else's\n"
    assert not (root / "code-from-spec/.manifest").exists()


def test_write_refuses_a_path_out_of_the_project(root, tmp_path):
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(CfsError):
        write_artifact(root, NAME, "out/x.txt", "x\n", CHAIN, None)
    assert not (tmp_path / "x.txt").exists()


# -- the journal ----------------------------------------------------------------------------

def crash_before_the_manifest(root, monkeypatch, content: str, expected: str | None):
    """Run a write that dies after the file is in place but before the manifest is."""

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cfs_build.state.manifest, "replace_at", dies)
    with pytest.raises(KeyboardInterrupt):
        write_artifact(root, NAME, "out/x.txt", content, "d" * 27, expected)
    monkeypatch.undo()
    assert len(journals(root)) == 1


def test_settle_records_a_write_whose_file_matches(root, monkeypatch):
    old = write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)[1]
    crash_before_the_manifest(root, monkeypatch, "two\n", checksum("one\n"))
    assert manifest_entries(root) == {NAME: old}
    assert settle_pending(root) == [NAME]
    assert manifest_entries(root)[NAME] == ManifestEntry(NAME, "out/x.txt", checksum("two\n"),
                                                         "d" * 27)
    assert journals(root) == []
    assert settle_pending(root) == []


def test_project_reads_a_pending_write_as_recorded_without_writing(root, monkeypatch):
    crash_before_the_manifest(root, monkeypatch, "two\n", None)
    manifest = root / "code-from-spec/.manifest"
    before = manifest.read_bytes() if manifest.exists() else None
    report = Project(root, use_index=False).report()
    assert "modified" not in report.artifacts[0].flags
    assert "untracked" not in report.artifacts[0].flags
    # Reading wrote nothing: the journal waits for a command that writes.
    assert len(journals(root)) == 1
    assert (manifest.read_bytes() if manifest.exists() else None) == before
    assert settle_pending(root) == [NAME]
    assert manifest_entries(root)[NAME].checksum == checksum("two\n")


def test_a_pending_write_whose_file_changed_is_not_read_as_recorded(root, monkeypatch):
    crash_before_the_manifest(root, monkeypatch, "two\n", None)
    (root / "out/x.txt").write_text("edited after the crash\n")
    report = Project(root, use_index=False).report()
    assert "untracked" in report.artifacts[0].flags


def test_settle_discards_a_journal_whose_file_does_not_match(root, monkeypatch):
    old = write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)[1]
    crash_before_the_manifest(root, monkeypatch, "two\n", checksum("one\n"))
    (root / "out/x.txt").write_text("edited after the crash\n")
    assert settle_pending(root) == []
    assert journals(root) == []
    assert manifest_entries(root) == {NAME: old}
    report = Project(root, use_index=False).report()
    assert "modified" in report.artifacts[0].flags


def test_settle_discards_a_journal_whose_file_is_gone(root, monkeypatch):
    crash_before_the_manifest(root, monkeypatch, "two\n", None)
    (root / "out/x.txt").unlink()
    assert settle_pending(root) == []
    assert journals(root) == [] and manifest_entries(root) == {}


def test_settle_discards_garbage_journals(root):
    (root / PENDING).mkdir(parents=True)
    (root / PENDING / ("a" * 40 + ".json")).write_text("{not json")
    (root / PENDING / ("b" * 40 + ".json")).write_text('{"name": "ARTIFACT/leaf"}')
    (root / PENDING / ("c" * 40 + ".json")).write_text(
        '{"name": "ARTIFACT/leaf", "path": "../x", "checksum": "x", "chain": "y"}')
    (root / PENDING / "mine.json").write_text("{}")  # not a name cfs makes: left alone
    assert settle_pending(root) == []
    assert journals(root) == ["mine.json"]


def test_settle_without_journals_does_not_touch_the_manifest(root):
    (root / "code-from-spec/.manifest").write_text(render_manifest({}))
    before = (root / "code-from-spec/.manifest").stat().st_mtime_ns
    assert settle_pending(root) == []
    (root / PENDING).mkdir(parents=True)
    assert settle_pending(root) == []
    assert (root / "code-from-spec/.manifest").stat().st_mtime_ns == before


def test_file_rewritten_with_non_utf8_bytes_during_generation_is_kept(root):
    write_artifact(root, NAME, "out/x.txt", "one\n", CHAIN, None)
    manifest_before = (root / "code-from-spec/.manifest").read_bytes()
    (root / "out/x.txt").write_bytes(b"\xff\xfe not text\n")
    with pytest.raises(CfsError, match="no longer UTF-8 text; nothing was written") as caught:
        write_artifact(root, NAME, "out/x.txt", "two\n", "d" * 27, checksum("one\n"))
    assert caught.value.file == "out/x.txt"
    assert (root / "out/x.txt").read_bytes() == b"\xff\xfe not text\n"
    assert (root / "code-from-spec/.manifest").read_bytes() == manifest_before
    assert journals(root) == []


def test_a_recorded_file_that_is_not_utf8_is_replaced_when_regenerated(tree):
    # FORMAT.md 7.6: write_file replaces a tracked, unedited artifact whatever its bytes
    # (X9 keeps only untracked and modified files). Bytes that are not UTF-8 and were
    # there, unchanged, since the generation started are no edit made meanwhile.
    from cfs_build.building import v5tools
    root = tree({"SPEC/leaf": spec("SPEC/leaf", "# Public\n\n## I\n\nx\n",
                                   front="output: out/x.txt"),
                 "out/x.txt": b"caf\xe9\n"})
    assert v5tools.accept(root, "SPEC/leaf") == "accepted out/x.txt"
    node = root / "code-from-spec/leaf/_node.md"
    node.write_text(node.read_text().replace("x\n", "y\n"))  # stale now, not modified
    assert v5tools.write_file(root, "SPEC/leaf", "new\n") == "wrote out/x.txt"
    assert (root / "out/x.txt").read_bytes() == b"new\n"
    entry = manifest_entries(root)[NAME]
    assert entry.checksum == checksum("new\n")
    assert entry.chain == Project(root, use_index=False).resolver.chain("SPEC/leaf").hash
