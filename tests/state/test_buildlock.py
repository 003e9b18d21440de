"""The project build lock: two builds of one project never generate the same artifact twice."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from buildkit import make_project
from cfs_build.state.buildlock import LOCK_FILE, build_lock
from cfs_build.errors import CfsError

HOLDER = ("import sys\nfrom pathlib import Path\nfrom cfs_build.state.buildlock import build_lock\n"
          "with build_lock(Path(sys.argv[1])):\n"
          "    print('held', flush=True)\n"
          "    sys.stdin.read()\n")


@pytest.fixture
def proj(tmp_path):
    return make_project(tmp_path)


class Holder:
    """Another process holding the build lock until ``release``."""

    def __init__(self, root):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "held\n"

    def release(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


@pytest.fixture
def holder(proj):
    held = Holder(proj.root)
    yield held
    if held.proc.poll() is None:
        held.release()


def generated(proj) -> Counter:
    """How often each leaf was generated (by the first line of its # Agent text)."""
    return Counter(proj.generated_nodes())


def wait_for(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


# -- the lock itself ------------------------------------------------------------------------

def test_no_wait_names_the_process_holding_the_lock(proj, holder):
    with pytest.raises(CfsError) as caught:
        with build_lock(proj.root, wait=False):
            pass
    assert f"another build of this project is running (pid {holder.proc.pid})" in str(caught.value)
    assert caught.value.file == LOCK_FILE and caught.value.exit_code == 3


def test_the_lock_is_free_again_after_the_block_and_holds_within_one_process(proj):
    with build_lock(proj.root, wait=False):
        assert (proj.root / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with build_lock(proj.root, wait=False):  # a build within a build: no self-deadlock
            pass
        assert (proj.root / LOCK_FILE).read_text() == f"{os.getpid()}\n"  # still held
    assert (proj.root / LOCK_FILE).read_text() == ""
    other = subprocess.run([sys.executable, "-c", HOLDER, str(proj.root)], input="",
                           capture_output=True, text=True, timeout=30)
    assert other.returncode == 0 and other.stdout == "held\n"


def test_a_waiting_build_says_who_it_waits_for_then_goes_on(proj, holder):
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "build"], cwd=proj.root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=proj.env())
    line = child.stderr.readline()
    assert line == f"cfs: waiting for the build lock held by pid {holder.proc.pid} " \
                   f"({LOCK_FILE})...\n"
    assert child.poll() is None and proj.calls() == []  # nothing generated while waiting
    holder.release()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, out + err
    assert "4 generated" in out


def test_no_wait_exits_at_once_building_nothing(proj, holder):
    result = proj.cfs("build", "--no-wait")
    assert result.returncode == 3
    assert result.stderr == (f"cfs: {LOCK_FILE}: another build of this project is running "
                             f"(pid {holder.proc.pid}); nothing was built. Run again when it is "
                             "done, or without --no-wait to wait for it\n")
    assert proj.calls() == []


def test_status_and_check_never_take_the_lock(proj, holder):
    for command in (("status",), ("check",), ("validate",)):
        result = proj.cfs(*command, timeout=30)
        assert result.returncode in (0, 1), result.stderr
        assert "waiting" not in result.stderr


def test_doit_waits_for_the_lock_too(proj, holder):
    child = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2", "-P", "process"],
                             cwd=proj.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=proj.env())
    assert child.stderr.readline().startswith(
        f"cfs: waiting for the build lock held by pid {holder.proc.pid}")
    assert proj.calls() == []
    holder.release()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, out + err
    assert sum(generated(proj).values()) == 4


# -- two real builds at once ----------------------------------------------------------------

@pytest.mark.parametrize("second", [["cfs_build.cli", "build", "-j", "4"],
                                    ["doit", "-n", "4", "-P", "thread"],
                                    ["doit", "-n", "4", "-P", "process"]],
                         ids=["cfs build", "doit threads", "doit processes"])
@pytest.mark.slow
def test_two_builds_at_once_generate_each_artifact_once(tmp_path, second):
    gate = tmp_path / "go"
    proj = make_project(tmp_path, gate=gate)
    first = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "build", "-j", "4"],
                             cwd=proj.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=proj.env())
    wait_for(lambda: proj.calls())  # the first build is generating
    later = subprocess.Popen([sys.executable, "-m", *second], cwd=proj.root,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=proj.env())
    # The first build's generations go on only once the later build says it waits: a
    # fixed generation time raced the later one's start on a busy machine.
    said = ""
    while "waiting for the build lock" not in said:
        line = later.stderr.readline()
        if not line:
            break
        said += line
    gate.touch()
    out, err = later.communicate(timeout=120)
    err = said + err
    first_out, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_out + first_err
    assert later.returncode == 0, out + err
    counts = generated(proj)
    assert len(proj.calls()) == 4 and all(n == 1 for n in counts.values()), counts
    assert f"waiting for the build lock held by pid {first.pid}" in err
    assert "4 generated" in first_out
    assert "0 generated" in out and "0 failed" in out
    assert all(f == ["up-to-date"] for f in proj.flags().values())


# -- never through a link ---------------------------------------------------------------------

def test_a_symlink_at_the_lock_path_is_refused_and_its_target_untouched(proj, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (proj.root / ".cfs").mkdir(exist_ok=True)
    (proj.root / LOCK_FILE).symlink_to(target)
    result = proj.cfs("build")
    assert result.returncode == 3
    assert result.stderr.startswith(f"cfs: {LOCK_FILE}: {LOCK_FILE} is not a regular file")
    assert "Remove it" in result.stderr
    assert target.read_text() == "keep me\n"
    assert proj.calls() == []


def test_a_symlinked_state_directory_is_refused(proj, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (proj.root / ".cfs").symlink_to(elsewhere)
    with pytest.raises(CfsError, match=r"\.cfs is not a directory"):
        with build_lock(proj.root):
            pass
    assert list(elsewhere.iterdir()) == []


def test_a_directory_at_the_lock_path_is_refused(proj):
    (proj.root / LOCK_FILE).mkdir(parents=True)
    with pytest.raises(CfsError, match="is not a regular file"):
        with build_lock(proj.root):
            pass
