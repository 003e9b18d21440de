"""Helpers for the generator tests: the build fixture with a model backend in cfs.toml, run
through the real `cfs` entry point with an environment the test controls.

`cfs` runs in this process (the SDKs take seconds to import; once is enough), `cfs_process`
in a subprocess, for what only a fresh interpreter shows.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from buildkit import Proj, make_project

TESTS = Path(__file__).parent
# Nothing from the machine may steer a test: no real keys, endpoints or proxies.
CLEARED = {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
           "OPENAI_BASE_URL", "CI", "CLAUDECODE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
           "http_proxy", "https_proxy", "all_proxy"}


def model_project(tmp_path: Path, toml: str) -> Proj:
    proj = make_project(tmp_path)
    (proj.root / "cfs.toml").write_text(toml, encoding="utf-8")
    return proj


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    loopback = "127.0.0.1,localhost"
    env.update(PYTHONUNBUFFERED="1", NO_PROXY=loopback, no_proxy=loopback)
    env.update(extra or {})
    return env


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cfs(proj: Proj, *args: str, env: dict[str, str] | None = None) -> Ran:
    """`cfs -C ROOT ARGS` in this process, under ``environment(env)``; all restored after."""
    from doit import cmd_run

    from cfs_build.cli import main
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_outfile = cmd_run.opt_outfile["default"]
    os.environ.clear()
    os.environ.update(environment(env))
    out, err = io.StringIO(), io.StringIO()
    # doit took sys.stdout as its default output when it was imported; use this call's.
    cmd_run.opt_outfile["default"] = out
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["-C", str(proj.root), *args])
    finally:
        cmd_run.opt_outfile["default"] = saved_outfile
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Ran(code, out.getvalue(), err.getvalue())


def cfs_process(proj: Proj, *args: str, env: dict[str, str] | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=proj.root,
                          capture_output=True, text=True, timeout=timeout,
                          env=environment(env))


def document_of(proj: Proj, node: str) -> str:
    """The exact document `cfs chain` shows for a leaf (what a backend must receive)."""
    result = cfs(proj, "chain", node)
    assert result.returncode == 0, result.stderr
    return result.stdout


def prompt_text() -> str:
    return (TESTS.parent / "cfs_build" / "prompt.md").read_text(encoding="utf-8")
