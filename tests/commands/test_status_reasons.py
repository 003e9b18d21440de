"""After an edit, `cfs status` words why each stale artifact is stale (its chain against
the cached one) by reading only those chains, not the whole tree; the words are the
whole analysis's."""
from __future__ import annotations

import contextlib
import io
import time

import pytest

from cfs_build import cli
from cfs_build.analysis import snapshot
from cfs_build.commands.status import FEW, status_document
from cfs_build.analysis.project import Project
from conftest import spec, write_tree

MARGIN = 0.005
SETTLE = 0.03


@pytest.fixture(autouse=True)
def small_margin(monkeypatch):
    monkeypatch.setattr(snapshot, "MARGIN", int(MARGIN * 1e9))
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", int(MARGIN * 1e9))


def cfs(root, *args) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli.main(["-C", str(root), *args])


def project_with(leaves: int, tmp_path):
    files = {"SPEC/lib": spec("SPEC/lib", "Lib.\n\n# Public\n\n## Api\n\nShared.\n")}
    for i in range(leaves):
        files[f"SPEC/lib/l{i}"] = spec(f"SPEC/lib/l{i}", f"Leaf {i}.\n\n# Agent\nDo {i}.\n",
                                       f"output: out/{i}.py")
        files[f"out/{i}.py"] = f"made {i}\n"
    root = write_tree(tmp_path, files)
    for i in range(leaves):
        assert cfs(root, "accept", f"ARTIFACT/lib/l{i}") == 0
    assert cfs(root, "cache", "reconstruct") == 0  # (each chain cached: accept caches nothing)
    for _ in range(5):  # (a loaded machine may keep no snapshot: files too recent)
        time.sleep(SETTLE)
        Project(root).report()
        if (root / snapshot.SNAPSHOT_FILE).exists():
            break
    return root


def edit(root, *leaves: int) -> None:
    for i in leaves:
        path = root / "code-from-spec" / "lib" / f"l{i}" / "_node.md"
        path.write_text(path.read_text().replace(f"Do {i}.", f"Do {i} better."))
    time.sleep(SETTLE)


def test_reasons_of_a_few_stale_artifacts_come_without_reading_the_tree(tmp_path):
    root = project_with(4, tmp_path)
    edit(root, 1, 2)
    project = Project(root)
    assert project.snapshot is not None  # brought up to date
    _, document = status_document(project)
    assert "tree" not in vars(project)  # the two chains were read on their own
    _, full = status_document(Project(root, use_index=False))
    assert document == full
    stale = [a for a in document["artifacts"] if "stale" in a["status"]]
    assert [a["reasons"] for a in stale] == [["AGENT[SPEC/lib/l1] changed"],
                                             ["AGENT[SPEC/lib/l2] changed"]]


def test_many_stale_artifacts_are_explained_from_the_tree(tmp_path):
    root = project_with(FEW + 1, tmp_path)
    lib = root / "code-from-spec" / "lib" / "_node.md"
    lib.write_text(lib.read_text().replace("Shared.", "Shared by all."))  # every leaf stale
    time.sleep(SETTLE)
    project = Project(root)
    _, document = status_document(project)
    assert "tree" in vars(project)
    assert document == status_document(Project(root, use_index=False))[1]


def test_a_recorded_artifact_waiting_for_another_is_listed_as_waiting(tmp_path):
    # FORMAT.md 7.4 gives it no flag (its chain is unknown), so the summary counts it
    # up to date; the listing still says what it waits for, so nobody takes it for done.
    root = write_tree(tmp_path, {
        "SPEC/a": spec("SPEC/a", "A.\n\n# Agent\nA.\n", "output: out/a.txt"),
        "SPEC/b": spec("SPEC/b", "B.\n\n# Agent\nB.\n", "output: out/b.txt\ninput: ARTIFACT/a"),
        "out/a.txt": "a\n", "out/b.txt": "b\n"})
    assert cfs(root, "accept", "SPEC/a") == 0 and cfs(root, "accept", "SPEC/b") == 0
    (root / "out/a.txt").unlink()
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        cli.main(["-C", str(root), "status"])
    text = shown.getvalue()
    assert "waiting (1):" in text
    assert "  ARTIFACT/b  out/b.txt\n      waiting for ARTIFACT/a: out/a.txt does not exist" \
        in text
    assert "1 up-to-date, 0 stale, 1 missing" in text
