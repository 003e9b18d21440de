"""Build output: plain lines off a terminal or in CI, a live display on a terminal, -q/-v."""
from __future__ import annotations

import os
import pty
import subprocess
import sys

from buildkit import make_project


def run_on_pty(proj, argv, env) -> str:
    """Run with a pseudo-terminal as stdout, the way a person at a terminal would."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(argv, cwd=proj.root, stdout=follower, stderr=follower,
                             stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    child.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_plain_output_when_piped(tmp_path):
    proj = make_project(tmp_path)
    result = proj.cfs("build")
    lines = result.stdout.splitlines()
    assert "generating gen:other" in lines
    assert "generated gen:other" in result.stdout
    assert "\x1b[" not in result.stdout
    assert lines[-1].startswith("cfs: 4 generated, 0 up to date, 0 failed")


def test_live_display_on_a_terminal(tmp_path):
    proj = make_project(tmp_path, sleep=0.6)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build", "-j", "2"], env)
    assert "running" in out and "/4 done" in out
    assert "\x1b[" in out
    assert "cfs: 4 generated" in out


def test_ci_gets_plain_lines_even_on_a_terminal(tmp_path):
    proj = make_project(tmp_path, sleep=0.3)
    env = {**os.environ, "CI": "true", "TERM": "xterm"}
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build"], env)
    assert "/4 done" not in out
    assert "generating gen:other" in out


def test_quiet_prints_only_failures_and_the_summary(tmp_path):
    proj = make_project(tmp_path)
    proj.edit("SPEC/other", "Say hello.", "CANNED-FAIL")
    result = proj.cfs("build", "-q")
    assert "generating" not in result.stdout and "generated gen:" not in result.stdout
    assert "FAILED gen:other" in result.stdout
    assert "cfs: 3 generated" in result.stdout


def test_verbose_lists_up_to_date_tasks(tmp_path):
    proj = make_project(tmp_path)
    proj.cfs("build", check=True)
    result = proj.cfs("build", "-v")
    assert "up to date gen:app/cli" in result.stdout


def test_plain_doit_uses_the_same_reporter(tmp_path):
    proj = make_project(tmp_path)
    result = proj.doit()
    assert "generating gen:app/cli" in result.stdout
    assert "cfs: 4 generated" in result.stdout
