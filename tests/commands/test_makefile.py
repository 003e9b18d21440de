"""The make fragment with real GNU make: outputs as targets, restat-style rebuilds, -j."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from buildkit import make_project

MAKEFILE = """\
include cfs.mk

all: out/bundle.txt

out/bundle.txt: gen/model.txt gen/cli.txt
\t@mkdir -p out
\tcat gen/model.txt gen/cli.txt > $@
\t@echo bundled >> make-log.txt
"""


@pytest.fixture
def proj(tmp_path):
    proj = make_project(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cfs = bin_dir / "cfs"
    cfs.write_text(f"#!/bin/sh\nexec {sys.executable} -m cfs_build.cli \"$@\"\n")
    cfs.chmod(0o755)
    proj.make_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proj.cfs("makefile", "-o", "cfs.mk", check=True)
    (proj.root / "Makefile").write_text(MAKEFILE)
    return proj


def make(proj, *args):
    result = subprocess.run(["make", *args], cwd=proj.root, capture_output=True, text=True,
                            env=proj.make_env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def bundles(proj) -> int:
    log = proj.root / "make-log.txt"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_first_make_generates_and_builds_on_the_outputs(proj):
    make(proj)
    assert len(proj.calls()) == 4
    assert bundles(proj) == 1
    assert all(f == ["up-to-date"] for f in proj.flags().values())


def test_nothing_changed_remakes_nothing(proj):
    make(proj)
    stamp = (proj.root / "gen/model.txt").stat().st_mtime_ns
    proj.reset_log()
    make(proj)
    assert proj.calls() == []
    assert bundles(proj) == 1
    assert (proj.root / "gen/model.txt").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_private_edit_remakes_nothing_agent_edit_remakes_that_artifact(proj):
    make(proj)
    proj.reset_log()
    proj.edit("SPEC/app", "Reviewed by the platform team.", "Reviewed twice.")
    make(proj)
    assert proj.calls() == [] and bundles(proj) == 1
    proj.edit("SPEC/app/cli", "Parse arguments", "Parse the arguments")
    time.sleep(0.01)
    make(proj)
    assert len(proj.calls()) == 1
    assert bundles(proj) == 2


@pytest.mark.slow
def test_identical_regeneration_does_not_remake_dependents(proj):
    proj.edit("SPEC/app/cli", "Parse arguments", "CANNED-CONSTANT Parse arguments")
    make(proj)
    proj.reset_log()
    proj.edit("SPEC/app/cli", "CANNED-CONSTANT", "CANNED-CONSTANT again")
    make(proj)
    assert len(proj.calls()) == 1
    assert bundles(proj) == 1


def test_parallel_make_is_safe(proj):
    result = make(proj, "-j", "4", "gen/model.txt", "gen/store.txt", "gen/cli.txt",
                  "gen/other.txt", "all")
    assert len(proj.calls()) == 4
    assert result.stdout.count("generated") >= 1
    assert all(f == ["up-to-date"] for f in proj.flags().values())


@pytest.mark.slow
def test_fragment_remakes_itself_when_a_leaf_is_added(proj):
    make(proj)
    node = proj.root / "code-from-spec/extra/_node.md"
    node.parent.mkdir()
    node.write_text("---\noutput: gen/extra.txt\n---\n# SPEC/extra\n\n# Agent\n\nExtra.\n")
    make(proj, "gen/extra.txt")
    assert "gen/extra.txt" in (proj.root / "cfs.mk").read_text()
    assert (proj.root / "gen/extra.txt").exists()


@pytest.mark.slow
def test_cfs_check_target_fails_when_stale(proj):
    make(proj)
    proj.edit("SPEC/other", "Say hello.", "Say hi.")
    result = subprocess.run(["make", "cfs-check"], cwd=proj.root, capture_output=True,
                            text=True, env=proj.make_env, timeout=60)
    assert result.returncode != 0
    assert "ARTIFACT/other (gen/other.txt): stale" in result.stdout
