"""State files a hostile repository plants in .cfs/: never trusted, never fatal, never a way out.

The checksum in front of a state file (dirs.seal) is known to anyone, so every planted
file here carries a valid one, computed as an attacker would, or the whole .cfs/ of a
real run of the same cfs is copied. Each test runs the real commands on the project
with the planted file and on the same project without it, and wants the same answers
(at most one line on stderr saying what was discarded), no traceback, and nothing
outside the project touched.
"""
from __future__ import annotations

import json
import marshal
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildkit import make_project
from cfs_build.analysis import snapshot
from cfs_build.reading import index
from cfs_build.reading.ledger import signatures
from cfs_build.state import dirs

TRACEBACK = "Traceback (most recent call last)"
READING = [("status",), ("status", "--json"), ("check",), ("chain", "SPEC/app/cli"),
           ("explain", "ARTIFACT/app/cli"), ("runs",)]


def cfs(root: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess:
    """``limit``: the most address space the command may take, in bytes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(root.parent)}
    cap = None if limit is None else (
        lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60, env=env, preexec_fn=cap)


def answers(root: Path, commands=READING, limit: int | None = None) -> list[tuple]:
    out = []
    for args in commands:
        done = cfs(root, *args, limit=limit)
        assert TRACEBACK not in done.stderr, (args, done.stderr)
        stdout = done.stdout.replace(str(root), "ROOT")
        lines = [line for line in done.stderr.replace(str(root), "ROOT").splitlines()
                 if not line.startswith("cfs: discarded .cfs/")]
        out.append((args, done.returncode, stdout, lines))
    return out


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files beside the project that a planted path names: never to be read or written."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep.txt").write_text("mine\n")
    os.mkfifo(home / "fifo")  # opening it to read would block
    os.utime(home / "keep.txt", ns=(1_000_000_000, 2_000_000_000))
    return home


def untouched(home: Path) -> None:
    assert sorted(p.name for p in home.iterdir()) == ["fifo", "keep.txt"]
    assert (home / "keep.txt").read_text() == "mine\n"
    assert (home / "keep.txt").stat().st_mtime_ns == 2_000_000_000


def twins(tmp_path: Path):
    """Two copies of the same project: the victim's (no state yet) and one an attacker
    ran cfs in, whose real .cfs/ is there to copy or to forge from."""
    victim = make_project(tmp_path / "victim")
    attacker = make_project(tmp_path / "attacker")
    return victim.root, attacker


def old_enough(root: Path) -> None:
    """Every file of the project far in the past, so a snapshot of it is written."""
    for path in root.rglob("*"):
        if ".cfs" not in path.parts:
            os.utime(path, ns=(1, 1), follow_symlinks=False)
    time.sleep(0.15)  # past the snapshot's margin for the change times just set


def real_snapshot(attacker) -> Path:
    """The attacker's project built and snapshotted (every artifact up to date)."""
    assert attacker.cfs("build").returncode == 0
    old_enough(attacker.root)
    report = attacker.status()
    assert {tuple(a["status"]) for a in report["artifacts"]} == {("up-to-date",)}
    snap = attacker.root / ".cfs" / snapshot.SNAPSHOT_NAME
    assert snap.exists()
    return snap


def unsealed(path: Path) -> bytes:
    """A state file's bytes without its seal: what anyone can read and seal again."""
    return path.read_bytes()[16:]


def forged_snapshot(payload: bytes, paths: list[str], root: Path, dirs_: int = 0,
                    ref: bytes = b"", patch: bytes = b"") -> bytes:
    """A snapshot the current code would take for its own if seals were not this copy's:
    the real fingerprint, and signatures that hold for ``paths`` in ``root`` (paths that
    do not exist give the same signature on any machine)."""
    recorded = signatures(root, paths).tobytes()
    data = marshal.dumps((snapshot.FORMAT, snapshot._fingerprint(), "\0".join(paths),
                          recorded, dirs_, payload, b"", ref, patch))
    return dirs.seal(data)


def swap(value, old: str, new: str):
    """``value`` (marshalled data) with every string ``old`` in it replaced by ``new``."""
    if value == old:
        return new
    if isinstance(value, (tuple, list)):
        return type(value)(swap(item, old, new) for item in value)
    if isinstance(value, dict):
        return {swap(k, old, new): swap(v, old, new) for k, v in value.items()}
    return value


def plant(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- the snapshot ----------------------------------------------------------------------------

@pytest.mark.slow
def test_planted_snapshot_claiming_up_to_date_hides_no_missing_artifact(tmp_path, outside):
    victim, attacker = twins(tmp_path)
    snap = real_snapshot(attacker)
    clean = tmp_path / "clean"
    shutil.copytree(victim, clean)
    expected = answers(clean)
    version, fingerprint, joined, recorded, dirs_, payload, rows_patch, ref, patch = \
        marshal.loads(unsealed(snap))
    assert b"up-to-date" in payload
    forgeries = {
        # A snapshot that watches nothing, or only paths that are not there, holds.
        "nothing watched": forged_snapshot(payload, [""], victim),
        "absent only": forged_snapshot(payload, ["code-from-spec/gone/_node.md"], victim),
        "outside paths": forged_snapshot(payload, [
            "code-from-spec", os.path.relpath(outside / "fifo", victim),
            f"{outside}/keep.txt"], victim, dirs_=1),
    }
    for what, data in forgeries.items():
        plant(victim, f".cfs/{snapshot.SNAPSHOT_NAME}", data)
        got = answers(victim)
        assert got == expected, what
        # The discarded file is said in one line.
        done = cfs(victim, "status")
        assert done.stderr.count("cfs: discarded .cfs/snapshot.v4") <= 1
        shutil.rmtree(victim / ".cfs")
    untouched(outside)


@pytest.mark.slow
def test_whole_state_directory_of_a_real_run_is_not_taken_for_this_copys(tmp_path):
    """A teammate commits .cfs/ (snapshot, basis, index, anchor) made by the same cfs on
    the same tree, then the victim's tree is made stale: it is found stale."""
    victim, attacker = twins(tmp_path)
    real_snapshot(attacker)
    shutil.copytree(attacker.root / ".cfs", victim / ".cfs")
    # The victim has the outputs too, one of them hand-edited: modified, not up to date.
    shutil.copytree(attacker.root / "gen", victim / "gen")
    shutil.copy2(attacker.root / "code-from-spec" / ".manifest",
                 victim / "code-from-spec" / ".manifest")
    (victim / "gen" / "cli.txt").write_text("edited by hand\n")
    clean = tmp_path / "clean"
    shutil.copytree(victim, clean, ignore=shutil.ignore_patterns(".cfs"))
    commands = [args for args in READING if args[0] != "runs"]  # the log is only a log
    assert answers(victim, commands) == answers(clean, commands)
    report = json.loads(cfs(victim, "status", "--json").stdout)
    assert {a["name"]: a["status"] for a in report["artifacts"]}["ARTIFACT/app/cli"] \
        == ["modified"]


@pytest.mark.slow
def test_planted_basis_with_a_lying_summary_is_not_used(tmp_path):
    """A forged snapshot that watches only the tree's directory (so it changed) sends
    cfs to bring it up to date from a planted basis whose node summary lies about the
    output path: neither is used."""
    victim, attacker = twins(tmp_path)
    snap = real_snapshot(attacker)
    basis_path = attacker.root / ".cfs" / snapshot.BASIS_NAME
    basis = marshal.loads(unsealed(basis_path))
    rows = {name: swap(marshal.loads(raw), "gen/cli.txt", "gen/EVL.txt")
            for name, raw in basis["infos"].items()}
    assert "gen/EVL.txt" in str(rows)
    basis["infos"] = {name: marshal.dumps(row) for name, row in rows.items()}
    sealed_basis = dirs.seal(marshal.dumps(basis))
    *_, payload, _, _, _ = marshal.loads(unsealed(snap))
    clean = tmp_path / "clean"
    shutil.copytree(victim, clean)
    expected = answers(clean)
    plant(victim, f".cfs/{snapshot.BASIS_NAME}", sealed_basis)
    plant(victim, f".cfs/{snapshot.SNAPSHOT_NAME}",
          forged_snapshot(payload, ["code-from-spec"], victim, dirs_=1,
                          ref=sealed_basis[:16]))
    assert answers(victim) == expected
    assert b"EVL" not in b"".join(p.read_bytes() for p in victim.rglob("*") if p.is_file()
                                  and ".cfs" not in p.parts)


def test_snapshot_paths_outside_the_project_are_never_looked_at(tmp_path, outside):
    """Even sealed with this copy's own key (as if it had leaked), a snapshot naming a
    directory outside (with ..) or an absolute path is not this code's: the directory
    is never listed."""
    root = make_project(tmp_path / "p").root
    commands = [("chain", "SPEC/app/cli"), ("status", "--json"), ("check",)]
    expected = answers(root, commands)
    anchor = (root / ".cfs" / dirs.ANCHOR).stat()
    key = f"{anchor.st_dev}:{anchor.st_ino}:{anchor.st_ctime_ns}".encode()
    up = os.path.relpath(outside, root)
    assert up.startswith("../")
    for paths in (["code-from-spec", up], ["code-from-spec", str(outside)],
                  ["code-from-spec", f"code-from-spec/../{up}"]):
        recorded = bytes(32 * len(paths))  # changed: what is below would be listed again
        data = marshal.dumps((snapshot.FORMAT, snapshot._fingerprint(), "\0".join(paths),
                              recorded, 2, marshal.dumps(([], [], [], {}, {})), b"", b""))
        plant(root, f".cfs/{snapshot.SNAPSHOT_NAME}", dirs.seal(data, key))
        os.utime(outside, ns=(1, 2_000_000_000))  # a listing would set the access time
        assert answers(root, commands) == expected, paths
        assert outside.stat().st_atime_ns == 1, paths
    untouched(outside)


@pytest.mark.parametrize("payload", [
    marshal.dumps(()),
    marshal.dumps((1, 2, 3, 4, 5)),
    marshal.dumps(([("x",)], [], [], {}, {})),
    marshal.dumps(([], [("ARTIFACT/app/cli",) * 10], [], {}, {})),
    marshal.dumps(([], [(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)], [(None, None)], [], None)),
    marshal.dumps(([], [], [], {}, {}, (lambda: 0).__code__)),
    marshal.dumps(((lambda: 0).__code__,)),
    marshal.dumps([[[[[]]]]] * 1000),
    b"\xff" * 64,
    b"",
])
def test_planted_snapshot_of_any_shape_is_discarded_quietly(tmp_path, payload):
    root = make_project(tmp_path / "p").root
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    plant(root, f".cfs/{snapshot.SNAPSHOT_NAME}",
          forged_snapshot(payload, ["code-from-spec/none"], root))
    commands = [("status", "--json"), ("check",), ("chain", "SPEC/app/cli")]
    assert answers(root, commands) == answers(clean, commands)


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 40, marshal.dumps(None), marshal.dumps((3,)),
    marshal.dumps((3, b"", "", b"", -1, b"", b"", b"")),
    marshal.dumps(tuple(range(8))), marshal.dumps("x" * 100_000),
])
def test_planted_snapshot_head_of_any_shape_is_discarded_quietly(tmp_path, data):
    root = make_project(tmp_path / "p").root
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    plant(root, f".cfs/{snapshot.SNAPSHOT_NAME}", dirs.seal(data))
    plant(root, f".cfs/{snapshot.BASIS_NAME}", dirs.seal(data))
    commands = [("status", "--json"), ("check",)]
    assert answers(root, commands) == answers(clean, commands)


# -- the parse index -------------------------------------------------------------------------

@pytest.mark.slow
def test_planted_index_entry_for_the_real_spec_bytes_is_not_trusted(tmp_path, outside):
    """An entry keyed by the size and hash of the real _node.md (anyone can compute
    them) whose summary names an output outside the project."""
    victim, attacker = twins(tmp_path)
    assert attacker.cfs("status").returncode == 1
    stored = attacker.root / ".cfs" / index.INDEX_FILE
    fmt, fingerprint, entries = marshal.loads(unsealed(stored))
    # (each entry's summary is marshalled on its own)
    entries = {rel: (key, marshal.dumps(swap(marshal.loads(row), "gen/cli.txt",
                                                "../home/keep.txt")))
               for rel, (key, row) in entries.items()}
    assert "../home/keep.txt" in str({rel: marshal.loads(row) for rel, (_, row) in entries.items()})
    forged = marshal.dumps((fmt, fingerprint, entries))
    clean = tmp_path / "clean"
    shutil.copytree(victim, clean)
    expected = answers(clean)
    plant(victim, f".cfs/{index.INDEX_FILE}", dirs.seal(forged))
    assert answers(victim) == expected
    # Nor does a build write anything outside: every output is where the spec says.
    built = cfs(victim, "build")
    assert built.returncode == 0, built.stderr
    assert TRACEBACK not in built.stderr
    assert (victim / "gen" / "cli.txt").exists()
    untouched(outside)


@pytest.mark.parametrize("entries", [
    {"code-from-spec/app/cli/_node.md": "x"},
    {"code-from-spec/app/cli/_node.md": (1,)},
    {"code-from-spec/app/cli/_node.md": ((1, 2), None)},
    {1: 2, None: [], "": {}},
    [],
])
def test_planted_index_of_any_shape_is_discarded_quietly(tmp_path, entries):
    root = make_project(tmp_path / "p").root
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    fingerprint = index.code_fingerprint(f"index {index.FORMAT}", index.producers())
    plant(root, f".cfs/{index.INDEX_FILE}",
          dirs.seal(marshal.dumps((index.FORMAT, fingerprint, entries))))
    commands = [("status", "--json"), ("check",)]
    assert answers(root, commands) == answers(clean, commands)


def test_a_state_file_too_big_to_hold_is_read_as_unusable(tmp_path):
    """A damaged file, or a sparse one an archive unpacks, whose size no memory can hold:
    taken as unusable and made again, not a command failing on "internal error"."""
    root = make_project(tmp_path / "p").root
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    commands = [("status", "--json"), ("check",), ("runs",)]
    answers(root, commands)  # (this copy's state directory, its key, its files)
    answers(clean, commands)
    names = ("snapshot.v4", "basis.v4", index.INDEX_FILE, "runs.jsonl")
    assert snapshot.SNAPSHOT_NAME in names and snapshot.BASIS_NAME in names
    for name in names:
        with open(root / ".cfs" / name, "ab") as file:
            file.truncate(64 << 30)  # (sparse: nothing is written)
    # Whatever the machine's overcommit, no allocation of 64 GiB succeeds here.
    assert answers(root, commands, limit=8 << 30) == answers(clean, commands, limit=8 << 30)
    assert (root / ".cfs" / snapshot.SNAPSHOT_NAME).stat().st_size < 1 << 30  # made again


# -- verify.json, runs.jsonl, doit-state -----------------------------------------------------

@pytest.mark.slow
def test_planted_verify_record_does_not_claim_the_tests_passed(tmp_path):
    """A verify.json naming the checksums of the files as they are (anyone can compute
    them) and `passed`, with the anchor of the run it was copied from."""
    victim, attacker = twins(tmp_path)
    assert cfs(victim, "build").returncode == 0
    report = json.loads(cfs(victim, "status", "--json").stdout)
    assert cfs(attacker.root, "status").returncode == 1  # makes its .cfs/.gitignore
    st = (attacker.root / ".cfs" / ".gitignore").stat()
    lie = {"time": time.time(), "passed": True, "copy": f"{st.st_dev}:{st.st_ino}:{st.st_ctime_ns}",
           "artifacts": {a["name"]: [a["chain"], a["checksum"]] for a in report["artifacts"]},
           "results": []}
    before = cfs(victim, "status")
    assert "tests: never verified" in before.stdout
    plant(victim, ".cfs/verify.json", json.dumps(lie).encode())
    after = cfs(victim, "status")
    assert after.stdout == before.stdout and after.returncode == before.returncode
    assert json.loads(cfs(victim, "status", "--json").stdout)["verification"] \
        == report["verification"]


@pytest.mark.parametrize("record", [
    [], "x", {"artifacts": []}, {"artifacts": {"A": 1}, "results": [{"failures": 3}]},
    {"artifacts": {}, "results": [{"failures": [{"test_node": []}]}]},
    {"artifacts": {}, "results": [], "time": {"a": 1}, "passed": [1]},
])
def test_planted_verify_record_of_any_shape_reads_as_never_verified(tmp_path, record):
    root = make_project(tmp_path / "p").root
    plant(root, ".cfs/verify.json", json.dumps(record).encode())
    done = cfs(root, "status")
    assert TRACEBACK not in done.stderr
    assert "tests: never verified" in done.stdout


def test_hostile_run_log_lines_are_skipped_or_shown_never_fatal(tmp_path):
    root = make_project(tmp_path / "p").root
    lines = [
        {"run": "r1", "outcome": ["not", "hashable"]},
        {"run": "r1", "input_tokens": "12", "output_tokens": [1], "cost_usd": "free",
         "seconds": {"a": 1}},
        {"run": "r2", "time": {"nested": [1, 2]}, "backend": None, "model": 5},
        {"run": ["r3"]}, ["run", "r4"], {"run": "r5", "node": "\x1b[2J\x1b]0;pwned\x07"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n" + "{" * 100_000 + "\n" \
        + "x" * 5_000_000 + "\n\xff\xfe\n"
    plant(root, ".cfs/runs.jsonl", text.encode("utf-8", "surrogateescape"))
    for args in (("runs",), ("runs", "--json"), ("runs", "--show", "r1"),
                 ("runs", "--show", "r5"), ("runs", "-n", "1")):
        done = cfs(root, *args)
        assert TRACEBACK not in done.stderr, (args, done.stderr)
        assert done.returncode in (0, 2, 3), (args, done.returncode, done.stderr)
        assert "\x1b" not in done.stdout


@pytest.mark.parametrize("content", [
    {"cfs:app/cli": "text"},
    {"cfs:app/cli": {"_values_:": 5, "result:": [1]}, "x": None},
    {"": {}, "cfs:other": [1, 2]},
    {"cfs:app/cli": {"checker:": {"deep": [[[]]]}}},
])
@pytest.mark.slow
def test_odd_doit_state_entries_never_break_a_build(tmp_path, content):
    proj = make_project(tmp_path / "p")
    clean = make_project(tmp_path / "clean")
    plant(proj.root, ".cfs/doit-state", json.dumps(content).encode())
    got, want = cfs(proj.root, "build"), cfs(clean.root, "build")
    assert TRACEBACK not in got.stderr, got.stderr
    assert got.returncode == want.returncode == 0, got.stderr
    assert sorted(p.name for p in (proj.root / "gen").iterdir()) \
        == sorted(p.name for p in (clean.root / "gen").iterdir())
    again = cfs(proj.root, "build")
    assert again.returncode == 0 and TRACEBACK not in again.stderr, again.stderr


def test_hostile_cache_files_never_break_chain_or_explain(tmp_path):
    """code-from-spec/.cache is v5's and unsealed: what it holds only feeds explain's diffs."""
    root = make_project(tmp_path / "p").root
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    name = "." + "A" * 27
    plant(root, f"code-from-spec/.cache/.chains/{name}", b"\xff\x00: ../../etc\n" * 1000)
    plant(root, f"code-from-spec/.cache/.content/{name}", b"\x00" * 100_000)
    commands = [("chain", "SPEC/app/cli"), ("explain", "ARTIFACT/app/cli"),
                ("status", "--json")]
    assert answers(root, commands) == answers(clean, commands)
