"""A crash at every point of writing an artifact: the process dies (os._exit, no cleanup)
at the K-th file-system call once the write has begun, for every K. Whatever point it
died at, the file is the old one or the new one, reading commands never see it as edited
by hand, and the next build leaves everything up to date with no leftovers."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildkit import make_project

# Run as a program in the project: `cfs build SPEC/other`, dying at the K-th call of
# these os functions made after write_artifact has started.
CHILD = """import os, sys
from cfs_build.building import generate

K = int(sys.argv[1])
state = {"armed": False, "count": 0}


def hook(real):
    def call(*args, **kwargs):
        if state["armed"]:
            state["count"] += 1
            if state["count"] == K:
                os._exit(137)
        return real(*args, **kwargs)
    return call


for name in ("open", "write", "fsync", "rename", "replace", "unlink", "close", "mkdir",
             "fchmod"):
    setattr(os, name, hook(getattr(os, name)))
real_write = generate.write_artifact


def armed_write(*args, **kwargs):
    state["armed"] = True
    try:
        return real_write(*args, **kwargs)
    finally:
        state["armed"] = False


generate.write_artifact = armed_write
from cfs_build import cli
sys.exit(cli.main(["build", "SPEC/other"]))
"""
POINTS = 50  # a few more than a write makes today (47): the last ones do not crash
OUTPUT = "gen/other.txt"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A built project whose SPEC/other was edited since: the next build rewrites it."""
    base = tmp_path_factory.mktemp("crash")
    proj = make_project(base)
    assert proj.cfs("build").returncode == 0
    old = (proj.root / OUTPUT).read_bytes()
    proj.edit("SPEC/other", "Say hello.", "Say hello again.")
    (base / "child.py").write_text(CHILD)
    done = base / "done"
    shutil.copytree(proj.root, done, symlinks=True)
    assert subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"], cwd=done,
                          capture_output=True, env=proj.env()).returncode == 0
    new = (done / OUTPUT).read_bytes()
    assert new != old
    return proj, old, new


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, POINTS + 1))
def test_a_crash_at_any_point_of_a_write_leaves_everything_consistent(template, tmp_path, k):
    proj, old, new = template
    root = tmp_path / "proj"
    shutil.copytree(proj.root, root, symlinks=True)
    env = proj.env()
    run = lambda *argv: subprocess.run(argv, cwd=root, capture_output=True, text=True,
                                       timeout=60, env=env)
    child = run(sys.executable, str(proj.root.parent / "child.py"), str(k))
    assert child.returncode in (0, 137), child.stdout + child.stderr
    if k == 1:
        assert child.returncode == 137  # the injection works: the first call kills it
    if k == POINTS:
        assert child.returncode == 0  # past the last call of a write: every point was tried
    written = (root / OUTPUT).read_bytes()
    assert written in (old, new)  # never a half-written file
    manifest = root / "code-from-spec" / ".manifest"
    before = manifest.read_bytes()
    status = run(sys.executable, "-m", "cfs_build.cli", "status", "--json")
    assert "Traceback" not in status.stderr
    flags = {a["name"]: a["status"] for a in json.loads(status.stdout)["artifacts"]}
    assert not {"modified", "untracked"} & set(flags["ARTIFACT/other"]), flags
    assert manifest.read_bytes() == before  # reading wrote nothing
    again = run(sys.executable, "-m", "cfs_build.cli", "build")
    assert again.returncode == 0, again.stdout + again.stderr
    final = json.loads(run(sys.executable, "-m", "cfs_build.cli", "status", "--json").stdout)
    assert {a["name"]: a["status"] for a in final["artifacts"]} == \
        {name: ["up-to-date"] for name in flags}
    assert leftovers(root) == []
    pending = root / ".cfs" / "pending"
    assert not pending.exists() or list(pending.iterdir()) == []
