"""A hostile checkout: links, special files and damaged state never make cfs read, write or
delete anything outside the project, and never stop it for good."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfs_build.analysis.snapshot import SNAPSHOT_NAME
from cfs_build.reading.index import INDEX_FILE
from cfs_build.state.artifacts import PENDING, settle_pending, write_artifact
from cfs_build.reading.files import NotRegular, Outside, read_inside, temp_name
from cfs_build.state.manifest import read_manifest
from conftest import spec, write_tree

SECRET = "SECRET-7f3a-not-for-any-model"


def cfs(root: Path, *args: str, timeout: float = 60, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def outside(tmp_path):
    """A directory beside the project: the user's files, which cfs must never touch."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep.json").write_text('{"mine": true}\n')
    (home / ".bashrc").write_text("export PATH\n")
    (home / "secret.txt").write_text(SECRET + "\n")
    return home


def project(tmp_path: Path, **extra: str) -> Path:
    files = {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n", front="output: out/leaf.txt"),
    }
    files.update(extra)
    return write_tree(tmp_path / "proj", files)


def untouched(home: Path) -> None:
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", "keep.json", "secret.txt"]
    assert (home / "keep.json").read_text() == '{"mine": true}\n'
    assert (home / ".bashrc").read_text() == "export PATH\n"


# -- 2. read only what the spec names, inside the project ------------------------------------

def leaf_with(front: str) -> dict[str, str]:
    return {"SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n",
                                front=f"{front}\noutput: out/leaf.txt")}


@pytest.mark.parametrize("key, rule", [("depends_on: [EXTERNAL/notes.txt]", "dependency_targets"),
                                       ("input: EXTERNAL/notes.txt", "input_target")])
@pytest.mark.slow
def test_external_link_to_a_file_outside_is_a_format_error_never_content(tmp_path, outside,
                                                                          key, rule):
    root = project(tmp_path, **leaf_with(key))
    (root / "notes.txt").symlink_to(outside / "secret.txt")
    done = cfs(root, "status", "--json")
    findings = json.loads(done.stdout)["errors"]
    assert [(f["rule"], "resolves outside the project" in f["detail"]) for f in findings] == \
        [(rule, True)]
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert SECRET not in chain.stdout + chain.stderr + done.stdout + done.stderr


@pytest.mark.slow
def test_external_link_to_proc_environ_is_refused(tmp_path):
    root = project(tmp_path, **leaf_with("depends_on: [EXTERNAL/env]"))
    (root / "env").symlink_to("/proc/self/environ")
    done = cfs(root, "status", "--json", env={"CFS_BAIT": SECRET})
    assert [f["rule"] for f in json.loads(done.stdout)["errors"]] == ["dependency_targets"]
    assert "resolves outside the project" in done.stdout
    chain = cfs(root, "chain", "SPEC/a/leaf", env={"CFS_BAIT": SECRET})
    assert SECRET not in chain.stdout + chain.stderr


@pytest.mark.slow
def test_external_link_to_a_directory_outside_is_a_format_error(tmp_path, outside):
    root = project(tmp_path, **leaf_with("depends_on: [EXTERNAL/docs]"))
    (root / "docs").symlink_to(outside)
    findings = json.loads(cfs(root, "status", "--json").stdout)["errors"]
    assert [f["rule"] for f in findings] == ["dependency_targets"]
    assert "resolves outside the project" in findings[0]["detail"]


@pytest.mark.slow
def test_external_fifo_is_a_format_error_found_without_blocking(tmp_path):
    root = project(tmp_path, **leaf_with("input: EXTERNAL/pipe"))
    os.mkfifo(root / "pipe")
    done = cfs(root, "status", "--json", timeout=20)  # a blocking open would hang here
    findings = json.loads(done.stdout)["errors"]
    assert [f["rule"] for f in findings] == ["input_target"]
    assert "FIFO" in findings[0]["detail"]


@pytest.mark.slow
def test_external_directory_inside_passes_validation_as_v5_does(tmp_path):
    root = project(tmp_path, **leaf_with("depends_on: [EXTERNAL/docs]"))
    (root / "docs").mkdir()
    report = json.loads(cfs(root, "status", "--json").stdout)
    assert report["errors"] == []
    assert "invalid" in report["artifacts"][0]["status"]


@pytest.mark.slow
def test_external_link_inside_the_project_is_read(tmp_path):
    root = project(tmp_path, **leaf_with("depends_on: [EXTERNAL/alias.txt]"))
    (root / "notes.txt").write_text("inside notes\n")
    (root / "alias.txt").symlink_to("notes.txt")
    assert json.loads(cfs(root, "status", "--json").stdout)["errors"] == []
    assert "inside notes" in cfs(root, "chain", "SPEC/a/leaf").stdout


def test_read_inside_types_its_refusals(tmp_path, outside):
    root = tmp_path / "r"
    root.mkdir()
    (root / "out").symlink_to(outside / "secret.txt")
    (root / "d").mkdir()
    os.mkfifo(root / "p")
    (root / "f").write_bytes(b"ok")
    with pytest.raises(Outside):
        read_inside(root, "out")
    with pytest.raises(NotRegular) as info:
        read_inside(root, "d")
    assert info.value.kind == "directory"
    with pytest.raises(NotRegular) as info:
        read_inside(root, "p")
    assert info.value.kind == "FIFO"
    assert read_inside(root, "f") == b"ok"
    assert read_inside(root, "absent") is None
    assert read_inside(root, "f/below") is None


@pytest.mark.slow
def test_spec_file_linked_outside_is_never_read(tmp_path, outside):
    root = project(tmp_path)
    (outside / "evil.md").write_text(f"# SPEC/b\n\n# Public\n\n{SECRET}\n")
    (root / "code-from-spec" / "b").mkdir()
    (root / "code-from-spec" / "b" / "_node.md").symlink_to(outside / "evil.md")
    done = cfs(root, "status", "--json")
    # A link in the tree fails the whole scan (FORMAT.md 1): that finding alone.
    assert done.returncode == 2
    findings = json.loads(done.stdout)["errors"]
    assert [(f["node"], f["rule"], f["file"]) for f in findings] == [
        ("", "scan", "code-from-spec/b/_node.md")]
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert chain.returncode == 2
    assert SECRET not in done.stdout + done.stderr + chain.stdout + chain.stderr


def test_spec_directory_linked_outside_is_never_read(tmp_path, outside):
    root = project(tmp_path)
    (outside / "tree" / "c").mkdir(parents=True)
    (outside / "tree" / "c" / "_node.md").write_text(f"# SPEC/c\n\n# Public\n\n{SECRET}\n")
    (root / "code-from-spec" / "a" / "linked").symlink_to(outside / "tree" / "c")
    done = cfs(root, "status", "--json")
    assert done.returncode == 2
    assert SECRET not in done.stdout + done.stderr
    assert [f["file"] for f in json.loads(done.stdout)["errors"]] == ["code-from-spec/a/linked"]


@pytest.mark.slow
def test_output_linked_outside_is_not_read_for_the_document(tmp_path, outside):
    root = project(tmp_path)
    (root / "out").mkdir()
    (root / "out" / "leaf.txt").symlink_to(outside / "secret.txt")
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert SECRET not in chain.stdout + chain.stderr


@pytest.mark.slow
def test_manifest_linked_outside_is_refused_and_never_written(tmp_path, outside):
    root = project(tmp_path)
    (root / "code-from-spec" / ".manifest").symlink_to(outside / "secret.txt")
    done = cfs(root, "status")
    # A link in the tree, dot entries included, fails the whole scan (FORMAT.md 1).
    assert done.returncode == 2
    assert "code-from-spec/.manifest: scan: symbolic links are not allowed" in done.stdout
    assert SECRET not in done.stdout + done.stderr
    assert cfs(root, "accept", "SPEC/a/leaf").returncode == 2
    assert (outside / "secret.txt").read_text() == SECRET + "\n"


@pytest.mark.slow
def test_manifest_lock_link_is_not_followed(tmp_path, outside):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    (root / "code-from-spec" / ".manifest").write_text("code-from-spec: v5\n")
    (root / "code-from-spec" / ".manifest.lock").symlink_to(outside / "made-by-cfs")
    for args in (("status",), ("accept", "SPEC/a/leaf")):
        done = cfs(root, *args)
        assert done.returncode == 2, done.stderr
        assert "code-from-spec/.manifest.lock: scan: " in done.stdout + done.stderr
    untouched(outside)


# -- 3. cfs's own state never follows a link ------------------------------------------------

@pytest.mark.slow
def test_linked_pending_directory_is_refused_and_nothing_is_deleted(tmp_path, outside):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    (root / ".cfs").mkdir()
    (root / PENDING).symlink_to(outside)
    # Reading commands pass it over (they never settle journals) ...
    assert cfs(root, "status").returncode == 1
    untouched(outside)
    # ... and the first command that writes refuses it.
    done = cfs(root, "accept", "SPEC/a/leaf")
    assert done.returncode == 3
    assert ".cfs/pending is a symbolic link" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (root / "code-from-spec" / ".manifest").exists()
    untouched(outside)


def test_linked_state_directory_is_refused(tmp_path, outside):
    root = project(tmp_path)
    (root / ".cfs").symlink_to(outside)
    done = cfs(root, "status")
    assert done.returncode == 3
    assert ".cfs is a symbolic link" in done.stderr
    untouched(outside)


@pytest.mark.slow
def test_state_files_linked_outside_are_neither_read_nor_written_through(tmp_path, outside):
    root = project(tmp_path)
    (root / ".cfs").mkdir()
    for name in (INDEX_FILE, SNAPSHOT_NAME, ".gitignore"):
        (root / ".cfs" / name).symlink_to(outside / "keep.json")
    done = cfs(root, "status")
    assert done.returncode == 1, done.stderr  # the leaf is missing: nothing else wrong
    untouched(outside)
    assert not (root / ".cfs" / SNAPSHOT_NAME).is_symlink()  # replaced by cfs's own file
    assert cfs(root, "status").returncode == 1


def test_cache_prune_through_a_linked_content_directory_deletes_nothing(tmp_path, outside):
    root = project(tmp_path)
    cache = root / "code-from-spec" / ".cache"
    cache.mkdir()
    (cache / ".content").symlink_to(outside)
    (cache / ".chains").symlink_to(outside)
    done = cfs(root, "cache", "prune")
    assert done.returncode == 2, done.stderr  # a link in the tree: the scan fails
    assert "scan: symbolic links are not allowed" in done.stderr
    untouched(outside)


def test_cache_prune_deletes_only_names_cfs_makes(tmp_path):
    root = project(tmp_path)
    content = root / "code-from-spec" / ".cache" / ".content"
    content.mkdir(parents=True)
    mine = "." + "A" * 27
    for name in (mine, ".bashrc", ".profile", "." + "A" * 26, "notes"):
        (content / name).write_text("x")
    assert cfs(root, "cache", "prune").returncode == 0
    assert sorted(os.listdir(content)) == sorted([".bashrc", ".profile", "." + "A" * 26,
                                                  "notes"])


def test_cache_store_never_writes_through_linked_cache_directories(tmp_path, outside):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    cache = root / "code-from-spec" / ".cache"
    cache.mkdir()
    (cache / ".content").symlink_to(outside)
    (cache / ".chains").symlink_to(outside)
    done = cfs(root, "accept", "SPEC/a/leaf")
    assert done.returncode == 2, done.stderr  # a link in the tree: the scan fails
    untouched(outside)
    assert not (root / "code-from-spec" / ".manifest").exists()


def test_linked_runs_log_is_refused(tmp_path, outside):
    root = project(tmp_path)
    (root / ".cfs").mkdir()
    (root / ".cfs" / "runs.jsonl").symlink_to(outside / "keep.json")
    done = cfs(root, "runs")
    assert done.returncode == 3
    assert ".cfs/runs.jsonl" in done.stderr and "symbolic link" in done.stderr
    untouched(outside)


# -- 4. damaged state is never trusted and never fatal --------------------------------------

@pytest.mark.slow
def test_flipped_byte_in_the_snapshot_discards_it(tmp_path):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    assert cfs(root, "accept", "SPEC/a/leaf").returncode == 0
    os.utime(root / "out" / "leaf.txt", ns=(1, 1))  # old enough to be snapshotted
    os.utime(root / "code-from-spec" / ".manifest", ns=(1, 1))
    time.sleep(0.15)  # past the snapshot's margin for what accept wrote into the cache
    first = json.loads(cfs(root, "status", "--json").stdout)
    assert first["artifacts"][0]["status"] == ["up-to-date"]
    snap = root / ".cfs" / SNAPSHOT_NAME
    data = snap.read_bytes()
    assert b"up-to-date" in data
    stat = snap.stat()
    snap.write_bytes(data.replace(b"up-to-date", b"up-uo-date"))
    os.utime(snap, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = json.loads(cfs(root, "status", "--json").stdout)
    assert again["artifacts"][0]["status"] == ["up-to-date"]


@pytest.mark.slow
def test_flipped_byte_in_the_index_discards_it(tmp_path):
    root = project(tmp_path)
    assert cfs(root, "status").returncode == 1
    index = root / ".cfs" / INDEX_FILE
    data = index.read_bytes()
    assert data.count(b"out/leaf.txt") == 1
    index.write_bytes(data.replace(b"out/leaf.txt", b"out/evil.txt"))
    (root / ".cfs" / SNAPSHOT_NAME).unlink(missing_ok=True)
    report = json.loads(cfs(root, "status", "--json").stdout)
    assert report["artifacts"][0]["path"] == "out/leaf.txt"


@pytest.mark.parametrize("journal", [
    {"name": "ARTIFACT/a/leaf", "path": ["out/leaf.txt"], "checksum": "x", "chain": "y"},
    {"name": 3, "path": "out/leaf.txt", "checksum": None, "chain": "y"},
    ["not", "an", "object"],
    "text",
])
@pytest.mark.slow
def test_pending_journal_with_wrong_types_is_discarded_with_one_line(tmp_path, journal):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    pending = root / PENDING
    pending.mkdir(parents=True)
    name = "0" * 40 + ".json"
    (pending / name).write_text(json.dumps(journal))
    done = cfs(root, "status")  # reads only: the journal is passed over, kept
    assert done.returncode == 1 and done.stderr == ""
    assert (pending / name).exists()
    done = cfs(root, "accept", "SPEC/a/leaf")  # writes: settles (discards) first
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "discarded" in lines[0] and name in lines[0]
    assert not (pending / name).exists()
    entry = read_manifest(root).entries["ARTIFACT/a/leaf"]
    assert entry.path == "out/leaf.txt" and entry.checksum != "x"


def test_settling_leaves_foreign_names_in_the_journal_directory(tmp_path):
    root = project(tmp_path)
    pending = root / PENDING
    pending.mkdir(parents=True)
    (pending / "notes.json").write_text("{}")
    (pending / "README").write_text("mine")
    settle_pending(root)
    assert sorted(os.listdir(pending)) == ["README", "notes.json"]


@pytest.mark.slow
def test_leftover_temporary_files_of_a_killed_write_are_removed(tmp_path):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    assert cfs(root, "accept", "SPEC/a/leaf").returncode == 0
    # As a kill between journaling and renaming leaves it: a journal, a temp beside the
    # output and one beside the manifest.
    manifest = read_manifest(root).entries["ARTIFACT/a/leaf"]
    pending = root / PENDING
    pending.mkdir(parents=True, exist_ok=True)
    (pending / ("1" * 40 + ".json")).write_text(json.dumps(manifest.__dict__))
    left = [root / "out" / temp_name("leaf.txt"),
            root / "code-from-spec" / temp_name(".manifest")]
    for path in left:
        path.write_text("half")
    foreign = [root / "out" / ".leaf.txt.backup.tmp", root / "out" / ".other.abcdefgh.tmp",
               root / "code-from-spec" / ".manifest.orig"]
    for path in foreign:
        path.write_text("mine")
    assert cfs(root, "status").returncode == 0
    assert all(path.exists() for path in left)  # reading tidies nothing
    assert cfs(root, "build").returncode == 0  # nothing to generate; a build settles first
    assert not any(path.exists() for path in left)
    assert all(path.exists() for path in foreign)


def test_a_leftover_beside_the_manifest_alone_is_removed(tmp_path):
    root = project(tmp_path, **{"out/leaf.txt": "made\n"})
    left = root / "code-from-spec" / temp_name(".manifest")
    left.write_text("half")
    assert cfs(root, "accept", "SPEC/a/leaf").returncode == 0
    assert not left.exists()


def test_any_legal_output_name_can_be_written(tmp_path):
    name = "é" * 120 + "x" * 15  # 255 bytes
    assert len(name.encode()) == 255
    root = project(tmp_path, **{"SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n",
                                                    front=f"output: out/{name}")})
    (root / "out").mkdir()
    changed, _ = write_artifact(root, "ARTIFACT/a/leaf", f"out/{name}", "text\n", "c" * 27,
                                None)
    assert changed and (root / "out" / name).read_text() == "text\n"
    assert os.listdir(root / "out") == [name]


def test_output_that_is_a_hard_link_is_replaced_not_written_through(tmp_path, outside):
    root = project(tmp_path)
    (root / "out").mkdir()
    os.link(outside / "keep.json", root / "out" / "leaf.txt")
    from conftest import checksum
    write_artifact(root, "ARTIFACT/a/leaf", "out/leaf.txt", "generated\n", "c" * 27,
                   checksum('{"mine": true}\n'))
    assert (root / "out" / "leaf.txt").read_text() == "generated\n"
    untouched(outside)


@pytest.mark.slow
def test_output_that_is_a_hard_link_is_read_as_the_existing_file_the_known_limit(tmp_path,
                                                                                 outside):
    # docs/confinement.md, "Where the guarantee ends": a hard link is the file itself, so
    # nothing tells it from one made in the project; its content is read, never written.
    root = project(tmp_path)
    (root / "out").mkdir()
    os.link(outside / "secret.txt", root / "out" / "leaf.txt")
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert f"<existing_artifact>\n{SECRET}\n</existing_artifact>" in chain.stdout
    built = cfs(root, "build")  # untracked (X9): refused, no generator is asked
    assert built.returncode != 0 and "refusing to overwrite it" in built.stdout + built.stderr
    assert (outside / "secret.txt").read_text() == SECRET + "\n"


def test_output_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    root = project(tmp_path)
    (root / "out").mkdir()
    os.mkfifo(root / "out" / "leaf.txt")
    from cfs_build.errors import CfsError
    with pytest.raises(CfsError, match="FIFO"):
        write_artifact(root, "ARTIFACT/a/leaf", "out/leaf.txt", "text\n", "c" * 27, None)


# -- doit's state file -----------------------------------------------------------------------

@pytest.fixture
def built(tmp_path):
    from buildkit import make_project
    proj = make_project(tmp_path)
    assert proj.cfs("build").returncode == 0
    return proj


@pytest.mark.slow
@pytest.mark.parametrize("damage", [b"", b'{"gen:app/cli": {"result:": "ab', b"\x00garbage"])
@pytest.mark.parametrize("runner", ["cfs", "doit"])
def test_damaged_doit_state_is_discarded_with_one_line(built, damage, runner):
    state = built.root / ".cfs" / "doit-state"
    state.write_bytes(damage)
    built.edit("SPEC/other", "Say hello.", "Say hello again.")
    done = built.cfs("build") if runner == "cfs" else built.doit()
    assert done.returncode == 0, done.stdout + done.stderr
    notes = [line for line in done.stderr.splitlines() if "doit-state" in line]
    assert len(notes) == 1 and "discarded" in notes[0], done.stderr
    assert "Traceback" not in done.stderr
    assert built.flags()["ARTIFACT/other"] == ["up-to-date"]
    json.loads(state.read_text())  # doit wrote a whole new one
    again = built.cfs("build")
    assert again.returncode == 0 and "doit-state" not in again.stderr


def test_unwritable_doit_state_is_said_once_and_the_build_goes_on(built):
    state = built.root / ".cfs" / "doit-state"
    state.unlink()
    state.mkdir()
    (state / "x").write_text("a directory where doit's file belongs")
    built.edit("SPEC/other", "Say hello.", "Say hello again.")
    done = built.cfs("build")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cannot use .cfs/doit-state" in done.stderr and "Traceback" not in done.stderr
    assert built.flags()["ARTIFACT/other"] == ["up-to-date"]
    assert (state / "x").exists()


@pytest.mark.slow
def test_linked_doit_state_is_never_written_through(built, outside):
    state = built.root / ".cfs" / "doit-state"
    state.unlink()
    state.symlink_to(outside / "keep.json")
    built.edit("SPEC/other", "Say hello.", "Say hello again.")
    for done in (built.cfs("build"), built.doit()):
        assert done.returncode == 0, done.stdout + done.stderr
    untouched(outside)
    assert not state.is_symlink()


# -- cfs makefile -o -------------------------------------------------------------------------

def test_makefile_rewrites_its_own_fragment(tmp_path):
    root = project(tmp_path)
    assert cfs(root, "makefile", "-o", "cfs.mk").returncode == 0
    (root / "cfs.mk").write_text((root / "cfs.mk").read_text() + "# left from before\n")
    assert cfs(root, "makefile", "-o", "cfs.mk").returncode == 0
    assert "# left from before" not in (root / "cfs.mk").read_text()
    assert cfs(root, "makefile", "-o", "build/deep/cfs.mk").returncode == 0  # inside: made


@pytest.mark.parametrize("where", ["code-from-spec/.manifest", "code-from-spec/a/_node.md",
                                   "Makefile", "code-from-spec/cfs.mk"])
def test_makefile_refuses_to_overwrite_what_it_did_not_write(tmp_path, where):
    root = project(tmp_path)
    (root / "code-from-spec" / ".manifest").write_text("code-from-spec: v5\n")
    (root / "Makefile").write_text("all:\n\techo mine\n")
    before = (root / where).read_bytes() if (root / where).exists() else None
    done = cfs(root, "makefile", "-o", where)
    assert done.returncode == 3, done.stderr
    assert "nothing was written" in done.stderr or "inside code-from-spec/" in done.stderr
    assert ((root / where).read_bytes() if (root / where).exists() else None) == before


def test_makefile_never_writes_through_a_link(tmp_path, outside):
    root = project(tmp_path)
    (root / "cfs.mk").symlink_to(outside / "keep.json")
    done = cfs(root, "makefile", "-o", "cfs.mk")
    assert done.returncode == 3 and "symbolic link" in done.stderr
    untouched(outside)


def test_makefile_never_makes_directories_outside_the_project(tmp_path, outside):
    root = project(tmp_path)
    done = cfs(root, "makefile", "-o", str(outside / "new" / "dir" / "cfs.mk"))
    assert done.returncode == 3 and "does not exist" in done.stderr
    untouched(outside)
    (root / "escape").symlink_to(outside)
    done = cfs(root, "makefile", "-o", "escape/new/cfs.mk")
    assert done.returncode == 3 and "does not exist" in done.stderr
    untouched(outside)


@pytest.mark.slow
def test_reports_and_verification_record_never_written_through_links(built, outside):
    reports = built.root / ".cfs" / "reports"
    if reports.exists():
        import shutil
        shutil.rmtree(reports)
    reports.symlink_to(outside)
    (built.root / ".cfs" / "verify.json").symlink_to(outside / "keep.json")
    built.edit("SPEC/other", "Say hello.", "Say hello again.")
    done = built.cfs("build")
    assert ".cfs/reports is a symbolic link" in done.stdout + done.stderr
    assert built.cfs("status").returncode in (0, 1)  # verify.json through a link: not read
    untouched(outside)


def test_accept_never_reads_an_output_linked_outside(tmp_path, outside):
    root = project(tmp_path)
    (root / "out").mkdir()
    (root / "out" / "leaf.txt").symlink_to(outside / "secret.txt")
    done = cfs(root, "accept", "SPEC/a/leaf")
    assert done.returncode != 0
    assert not (root / "code-from-spec" / ".manifest").exists()
    untouched(outside)
