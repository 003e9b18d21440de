"""A file changed after it was read is caught, however the change was made to hide."""
from __future__ import annotations

import os
import shutil
from array import array
from pathlib import Path

import pytest

from buildkit import make_project
from cfs_build.reading import files
from cfs_build.reading.ledger import FIELDS, Ledger, signature, signature_of, signatures
from cfs_build.state.manifest import MANIFEST
from cfs_build.analysis.project import Project


@pytest.fixture
def read(tmp_path: Path):
    """A ledger that has read ``a.txt`` through files.read_inside, as the resolver does."""
    (tmp_path / "a.txt").write_bytes(b"first\n")
    ledger = Ledger(tmp_path)
    assert files.read_inside(os.path.realpath(tmp_path), "a.txt", ledger) == b"first\n"
    return ledger, tmp_path / "a.txt"


def _later_ctime(path: Path, before: int) -> None:
    """Wait (briefly, by touching) until the clock has moved past ``before`` for ``path``.

    The change time comes from the kernel's clock, which may tick coarsely; the tests
    must compare two distinct moments.
    """
    for _ in range(10_000):
        os.chmod(path, 0o644)
        if os.stat(path).st_ctime_ns != before:
            return
    raise AssertionError("the change time never moved")


def test_an_unchanged_file_is_unchanged(read):
    ledger, path = read
    assert not ledger.changed("a.txt")
    assert ledger.update(["a.txt"]) == []
    assert ledger.seen("a.txt") == signature(os.stat(path))


def test_a_rewrite_with_the_modification_time_restored_is_caught_by_the_change_time(read):
    ledger, path = read
    before = os.stat(path)
    _later_ctime(path, before.st_ctime_ns)
    path.write_bytes(b"other\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    now = os.stat(path)
    assert (now.st_mtime_ns, now.st_size, now.st_ino) == \
        (before.st_mtime_ns, before.st_size, before.st_ino)
    assert ledger.changed("a.txt")
    assert ledger.update(["a.txt"]) == ["a.txt"]
    assert not ledger.changed("a.txt")  # recorded anew


def test_a_same_size_rewrite_is_caught(read):
    ledger, path = read
    _later_ctime(path, os.stat(path).st_ctime_ns)
    path.write_bytes(b"fir5t\n")
    assert os.stat(path).st_size == ledger.seen("a.txt")[FIELDS.index("st_size")]
    assert ledger.changed("a.txt")


def test_a_file_replaced_by_a_rename_is_caught_through_its_inode(read, tmp_path):
    ledger, path = read
    before = os.stat(path)
    other = tmp_path / "a.txt.new"
    other.write_bytes(b"first\n")  # the same bytes, another file
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert os.stat(path).st_ino != before.st_ino
    ino = FIELDS.index("st_ino")
    assert ledger.seen("a.txt")[ino] == before.st_ino != ledger.now("a.txt")[ino]
    assert ledger.changed("a.txt")


def test_a_file_removed_or_created_after_it_was_looked_at(tmp_path):
    ledger = Ledger(tmp_path)
    assert ledger.look("b.txt") is None  # not there: recorded as absent
    assert "b.txt" in ledger and not ledger.changed("b.txt")
    (tmp_path / "b.txt").write_text("new")
    assert ledger.update(["b.txt"]) == ["b.txt"]
    (tmp_path / "b.txt").unlink()
    assert ledger.changed("b.txt")
    ledger.forget("b.txt")
    assert "b.txt" not in ledger and ledger.changed("b.txt")  # unknown counts as changed


def test_read_inside_records_only_what_it_opened(tmp_path):
    (tmp_path / "d").mkdir()
    ledger = Ledger(tmp_path)
    assert files.read_inside(os.path.realpath(tmp_path), "missing", ledger) is None
    with pytest.raises(files.NotRegular):
        files.read_inside(os.path.realpath(tmp_path), "d", ledger)
    assert ledger.paths() == []


def test_the_packed_signatures_hold_the_same_fields(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "d").mkdir()
    packed = signatures(tmp_path, ["a.txt", "d", "gone"])
    for i, rel in enumerate(["a.txt", "d"]):
        sig = list(packed[i * 4:i * 4 + 4])
        sig[3] %= 1 << 64  # the inode, stored signed
        assert tuple(sig) == signature_of(f"{tmp_path}/{rel}")
    assert list(packed[8:12])[1:] == [0, 0, 0] and packed[8] < 0


def test_the_resolver_records_into_the_projects_ledger(tmp_path):
    proj = make_project(tmp_path)
    project = Project(proj.root, use_index=False)
    report = project.report(keep=False)
    assert report.artifacts
    ledger = project.ledger
    assert project.resolver.ledger is ledger
    read = [rel for rel in ledger.paths() if rel != MANIFEST]
    assert read, ledger.paths()
    for rel in ledger.paths():
        assert project.seen_stamp(rel) == ledger.seen(rel)
        assert not ledger.changed(rel)
    project.resolver.forget(read[0])
    assert read[0] not in ledger


def test_a_build_notices_an_input_changed_since_the_analysis(tmp_path):
    """The build's ``judged`` ledger starts from what the project read: an output that
    a consumer reads, rewritten after the analysis, makes its status be judged again."""
    from cfs_build.building.generate import BuildState
    proj = make_project(tmp_path)
    assert proj.cfs("build").returncode == 0
    state = BuildState(proj.root)
    assert all(status.up_to_date for status in state.statuses().values())
    producers = [state.path(p) for p in state._all_producers]
    assert producers, "the fixture has an artifact made from another"
    rel = producers[0]
    assert state.judged.seen(rel) == signature_of(f"{proj.root}/{rel}")
    path = proj.root / rel
    path.write_text(path.read_text() + "edited by hand\n")
    changed = [a for a, s in state.statuses().items() if not s.up_to_date]
    assert changed, "the edited producer's file is seen as changed"
    assert not state.judged.changed(rel)  # recorded anew after being judged again


def test_the_manifest_is_recorded_before_it_is_read(tmp_path):
    proj = make_project(tmp_path)
    assert proj.cfs("build").returncode == 0
    shutil.rmtree(proj.root / ".cfs", ignore_errors=True)  # no snapshot: a full analysis
    project = Project(proj.root)
    _ = project.manifest
    assert project.ledger.seen(MANIFEST) == signature_of(f"{proj.root}/{MANIFEST}")
    assert project.seen_stamp(MANIFEST) == project.ledger.seen(MANIFEST)
    assert isinstance(signatures(proj.root, [MANIFEST]), array)
