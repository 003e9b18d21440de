"""The lookahead: signatures a second process takes while `cfs` starts, used only for
the very snapshot the command then loads."""
from __future__ import annotations

import marshal
import os
import subprocess
import sys
import time
from array import array

import pytest

from cfs_build.analysis import lookahead, snapshot
from cfs_build.analysis.project import Project
from cfs_build.reading.ledger import signatures
from cfs_build.reading.parallel import can_fork
from cfs_build.state import dirs
from conftest import checksum, spec, write_tree

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs fork and two CPUs")

LEAVES = {f"SPEC/app/n{i}": spec(f"SPEC/app/n{i}", "N.\n\n# Agent\nDo it.\n",
                                 f"output: out/n{i}.py") for i in range(6)}
FILES = {"SPEC/app": spec("SPEC/app", "App.\n\n# Public\n## Rules\nBe kind.\n"), **LEAVES,
         **{f"out/n{i}.py": f"n = {i}\n" for i in range(6)}}


MARGIN = 20_000_000  # 20 ms: above a kernel clock tick, so tests need not wait long


def settle():
    """Let every file written so far become older than the margin."""
    time.sleep(MARGIN * 1.5 / 1e9)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with a snapshot, and lookaheads for projects this small."""
    monkeypatch.setattr(lookahead, "MIN_PATHS", 1)  # (the forked child inherits it)
    monkeypatch.setattr(snapshot, "MARGIN", MARGIN)
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", MARGIN)
    root = write_tree(tmp_path / "p", FILES)
    (root / "out" / "deeper").mkdir()
    for _ in range(5):  # (on a loaded machine a run may record nothing: it says so)
        settle()
        Project(root).report()
        if snapshot.load(root) is not None:
            return root
    pytest.fail("no run recorded a snapshot")


def watched(root) -> tuple[bytes, list[str]]:
    sealed = (root / snapshot.SNAPSHOT_FILE).read_bytes()
    paths = list(snapshot.load_previous(root)[0].paths)
    return sealed, paths


def looked(ahead: lookahead.Lookahead) -> None:
    """Wait until the child has sent its answer and ended (left for take() to reap): all
    it looked at, it looked at before now. (Its answer, a few hundred bytes here, fits
    in the pipe: it does not wait for a reader.)"""
    os.waitid(os.P_PID, ahead.pid, os.WEXITED | os.WNOWAIT)


def test_the_child_takes_the_signatures_this_process_would(project):
    ahead = lookahead.start(str(project / "out" / "deeper"))  # found from below, as cfs does
    assert ahead is not None and ahead.began <= time.time_ns()
    pid = ahead.pid
    sealed, paths = watched(project)
    taken = ahead.take(str(project), sealed, len(paths))
    cut = lookahead.cut_at(len(paths))
    assert 0 < cut < len(paths)
    assert taken == signatures(project, paths[cut:]).tobytes()
    with pytest.raises(ChildProcessError):  # reaped: not even a zombie is left
        os.waitpid(pid, os.WNOHANG)


def test_an_edit_made_after_the_child_looked_is_seen_by_the_next_run(project, monkeypatch):
    # A command shows the project as it was when it was started, more or less: an edit
    # made meanwhile may or may not show. What it records must not hide that edit from
    # the next command.
    ahead = lookahead.start(str(project))
    answers = []
    real_take = lookahead.Lookahead.take
    monkeypatch.setattr(lookahead.Lookahead, "take",
                        lambda self, *a: answers.append(real_take(self, *a)) or answers[-1])
    looked(ahead)  # at the project as it was
    edited = project / "code-from-spec" / "app" / "_node.md"
    edited.write_text(edited.read_text().replace("Be kind.", "Be brief."))
    (project / "out" / "n3.py").write_text("n = 'hand edit'\n")
    Project(project, ahead=ahead).report()  # records its snapshot
    ahead.close()
    assert answers and answers[0] is not None  # the same snapshot: its signatures taken
    fresh = Project(project, use_index=False).report()
    assert Project(project).report().as_dict() == fresh.as_dict()
    hand = next(s for s in fresh.artifacts if s.name == "ARTIFACT/app/n3")
    assert hand.checksum == checksum("n = 'hand edit'\n")


def test_an_analysis_with_a_lookahead_began_when_the_lookahead_did(project):
    # A path changed just before the child looked at it may change again, unseen, within
    # the same clock tick after this process read it: so it is recorded as unsure. The
    # analysis began when the child was started, not when this process got to it.
    edited = project / "out" / "n2.py"
    edited.write_text("n = 'edited'\n")
    ahead = lookahead.start(str(project))
    looked(ahead)
    time.sleep(MARGIN * 2 / 1e9)  # this process starts its analysis well after the edit
    Project(project, ahead=ahead).report()
    ahead.close()
    snap = snapshot.load_previous(project)[0]
    at = snap.paths.index("out/n2.py")
    assert tuple(array("q", snap.recorded[at * 32:at * 32 + 32])) == snapshot.UNSURE


def test_a_snapshot_saved_again_meanwhile_is_not_taken_for_the_one_it_looked_at(project):
    ahead = lookahead.start(str(project))
    sealed_then, paths = watched(project)
    looked(ahead)  # at the snapshot as it was
    (project / "code-from-spec" / "app" / "n0" / "_node.md").write_text(
        spec("SPEC/app/n0", "N.\n\n# Agent\nDo it twice.\n", "output: out/n0.py"))
    Project(project).report()  # another run records its own snapshot meanwhile
    sealed_now, paths_now = watched(project)
    assert sealed_now[:16] != sealed_then[:16] and paths_now == paths
    assert ahead.take(str(project), sealed_now, len(paths)) is None


def test_the_answer_is_for_one_project_and_one_list_of_paths(project, tmp_path):
    sealed, paths = watched(project)
    for root, count in ((str(tmp_path), len(paths)), (str(project), len(paths) + 1)):
        ahead = lookahead.start(str(project))
        assert ahead.take(root, sealed, count) is None


def test_an_unasked_child_is_stopped_and_reaped(project):
    ahead = lookahead.start(str(project))
    pid = ahead.pid
    ahead.close()
    ahead.close()  # (twice is harmless)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert ahead.take(str(project), b"", 0) is None


def test_a_snapshot_naming_paths_outside_the_project_is_not_looked_through(project):
    # Sealed with the project's own key, as only cfs can: even so the child looks at
    # nothing outside the project (it checks the list before looking).
    key = dirs.anchor(project, snapshot.INDEX_DIR)
    sealed, paths = watched(project)
    outer = list(marshal.loads(dirs.unseal(sealed, key)))
    for planted in ([*paths[:-1], "../secret"], [*paths[:-1], "/etc/passwd"]):
        outer[lookahead.PATHS_AT] = "\0".join(planted)
        forged = dirs.seal(marshal.dumps(tuple(outer)), key)
        (project / snapshot.SNAPSHOT_FILE).write_bytes(forged)
        ahead = lookahead.start(str(project))
        assert ahead.take(str(project), forged, len(planted)) is None


PROBE = """
import os, sys
from cfs_build.analysis import lookahead
lookahead.MIN_PATHS = 1
real = lookahead.Lookahead.take
def take(self, *args):
    got = real(self, *args)
    os.write(2, b"TAKEN " + (b"yes" if got is not None else b"no") + b"\\n")
    return got
lookahead.Lookahead.take = take
from cfs_build.cli import entry
sys.argv[0] = "cfs"
entry()
"""


def test_cfs_status_says_the_same_with_its_lookahead_as_without(project):
    kept = {rel: (project / rel).read_bytes() for rel in (snapshot.SNAPSHOT_FILE,
                                                          snapshot.BASIS_FILE)}
    edited = project / "code-from-spec" / "app" / "n2" / "_node.md"
    edited.write_text(edited.read_text() + "More.\n")
    (project / "out" / "n4.py").unlink()
    env = dict(os.environ)
    env.pop("CFS_NO_FORK", None)
    runs = []
    for extra in ({}, {"CFS_NO_FORK": "1"}):
        for rel, data in kept.items():  # each run updates the snapshot made before the edits
            (project / rel).write_bytes(data)
        runs.append(subprocess.run([sys.executable, "-c", PROBE, "-C", str(project), "status",
                                    "--all"], capture_output=True, text=True, timeout=60,
                                   env={**env, **extra}))
    with_it, without = runs
    assert "TAKEN yes" in with_it.stderr and "TAKEN" not in without.stderr
    assert with_it.returncode == without.returncode == 1
    assert with_it.stdout == without.stdout
    assert "ARTIFACT/app/n4" in with_it.stdout and "missing" in with_it.stdout
    assert with_it.stdout == subprocess.run(
        [sys.executable, "-m", "cfs_build.cli", "-C", str(project), "status", "--all"],
        capture_output=True, text=True, timeout=60, env={**env, "CFS_NO_INDEX": "1"}).stdout


# The PROBE, saying what became of its lookahead in a file (its standard streams may be
# closed), and whether one was started at all.
NOTED = PROBE.replace("os.write(2, ", "note(").replace("import os, sys\n", """import os, sys
def note(line):
    with open(os.environ["PROBE_NOTES"], "ab") as notes:
        notes.write(line)
""").replace("lookahead.Lookahead.take = take\n", """lookahead.Lookahead.take = take
real_start = lookahead.start
lookahead.start = lambda *a: note(b"STARTED\\n") or real_start(*a)
""")


def noted(root, *argv: str, env=(), **kwargs) -> tuple[subprocess.CompletedProcess, str]:
    """`cfs -C root ARGV` run as NOTED (``kwargs``: for subprocess.run), and its notes."""
    notes = root.parent / "notes.txt"
    notes.write_bytes(b"")
    base = {k: v for k, v in os.environ.items() if k != "CFS_NO_FORK"}
    done = subprocess.run([sys.executable, "-c", NOTED, "-C", str(root), *argv], timeout=60,
                          env={**base, "PROBE_NOTES": str(notes), **dict(env)}, **kwargs)
    return done, notes.read_text()


def test_noted_says_what_became_of_the_lookahead(project):
    done, notes = noted(project, "status", capture_output=True)
    assert done.returncode == 1 and notes == "STARTED\nTAKEN yes\n"


@pytest.mark.parametrize("closed", [(0, 1), (1, 2), (0, 2), (0, 1, 2)])
def test_closed_standard_streams_leave_the_answer_its_pipe(project, closed):
    # The pipe's ends would else be made where the caller closed a stream; the child,
    # pointing its own streams at /dev/null, would then lose its answer.
    done, notes = noted(project, "status", preexec_fn=lambda: [os.close(fd) for fd in closed])
    assert done.returncode == 1 and notes == "STARTED\nTAKEN yes\n"


def test_no_lookahead_when_the_index_is_not_used(project):
    # CFS_NO_INDEX: the snapshot is not read, its paths not looked at through it.
    done, notes = noted(project, "status", capture_output=True, env={"CFS_NO_INDEX": "1"})
    assert done.returncode == 1 and notes == ""


REFUSED = """
import os
def refuse():
    raise BlockingIOError(11, "Resource temporarily unavailable")
os.fork = refuse  # as under a limit on processes (ulimit -u, a container's pids.max)
"""


def test_a_refused_fork_runs_the_command_without_a_second_process(project):
    edited = project / "out" / "n1.py"
    edited.write_text("n = 'edited'\n")
    env = {k: v for k, v in os.environ.items() if k != "CFS_NO_FORK"}
    runs = [subprocess.run([sys.executable, "-c", refused + NOTED, "-C", str(project), "status",
                            "--all"], capture_output=True, text=True, timeout=60,
                           env={**env, "PROBE_NOTES": os.devnull})
            for refused in (REFUSED, "")]
    assert "Traceback" not in runs[0].stderr and runs[0].stderr == runs[1].stderr == ""
    assert runs[0].returncode == runs[1].returncode == 1
    assert runs[0].stdout == runs[1].stdout and "n1" in runs[0].stdout


KILLED = """
import os, signal, sys, time
from cfs_build.analysis import lookahead
lookahead.MIN_PATHS, lookahead.CHUNK = 1, 1
real = lookahead.signatures
def slow(root, paths):  # one path at a time, slowly: the child would look for seconds
    time.sleep(0.2)
    return real(root, paths)
lookahead.signatures = slow
ahead = lookahead.start(sys.argv[1])
print(ahead.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def ended(pid: int) -> bool:
    """The process is gone, or a zombie (its new parent may not reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_killed_command_leaves_no_lookahead_looking(project):
    # A SIGKILL runs none of the command's cleanup; the child notices its parent is gone
    # at its next chunk of paths and stops, instead of looking through all of them.
    done = subprocess.run([sys.executable, "-c", KILLED, str(project)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == -9
    child = int(done.stdout)
    _, paths = watched(project)
    assert len(paths) - lookahead.cut_at(len(paths)) >= 5  # at least a second of looking
    deadline = time.monotonic() + 0.6
    while not ended(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended(child)
