"""The real Claude Code CLI for tests: installed once with npm, pointed at a loopback fake API.

``install_claude_code()`` installs the npm package `@anthropic-ai/claude-code` at ``VERSION``
into a cache directory outside the repository (``~/.cache/cfs-build-tests/claude-code-V``, or
under ``$XDG_CACHE_HOME``) and returns the path of its `claude` program; a second call, from
this process or another, reuses it (a file lock keeps concurrent callers from installing
twice). It raises ``MissingProgram`` when npm is not installed, and ``InstallFailed`` (which
a test must not hide) when npm is there but the install does not give a working `claude`.

``cli_env(api, home, ...)`` is the environment that makes the CLI talk only to a
``FakeMessagesAPI``: ``ANTHROPIC_BASE_URL`` is the fake's URL, the credential is fake, ``HOME``
is a directory the test owns, and every proxy variable points at the fake as well, so any
attempt to reach another host arrives there as a `CONNECT` request (``api.others()``) instead
of leaving the machine. ``QUIET`` holds the CLI's own switches for attachments and traffic
besides the model call; the claude-code generator sets them itself, so tests of cfs must not
pass them, while a test driving the CLI directly (e.g. with an MCP server) should.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGE = "@anthropic-ai/claude-code"
# Pinned so that what the tests observe is reproducible; set CFS_TEST_CLAUDE_CODE_VERSION
# to try another release.
VERSION = os.environ.get("CFS_TEST_CLAUDE_CODE_VERSION", "2.1.332")
FAKE_API_KEY = "sk-ant-api03-fake-key-for-a-loopback-server"
FAKE_AUTH_TOKEN = "fake-bearer-token-for-a-loopback-server"
QUIET = {"CLAUDE_CODE_DISABLE_ATTACHMENTS": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
# Everything that could steer the CLI elsewhere: credentials, endpoints, other providers.
STEERING = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
            "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY",
            "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDECODE")


class MissingProgram(Exception):
    """A program the install needs (npm) is not on PATH."""


class InstallFailed(Exception):
    """npm is there but did not give a working `claude`."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfs-build-tests"


def install_claude_code(version: str = VERSION, timeout: float = 600) -> Path:
    """The `claude` program of ``PACKAGE@version``, installed into the cache when missing."""
    npm = shutil.which("npm")
    if npm is None:
        raise MissingProgram("npm is not installed (needed to install the real Claude Code CLI)")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"claude-code-{version}"
    program = target / "node_modules" / ".bin" / "claude"
    with open(root / f"claude-code-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent caller waits, then reuses
        if _works(program, version):
            return program
        staging = Path(tempfile.mkdtemp(prefix=f"claude-code-{version}.", dir=root))
        done = subprocess.run([npm, "install", "--prefix", str(staging), "--no-audit",
                               "--no-fund", "--no-save", "--loglevel=error",
                               f"{PACKAGE}@{version}"],
                              capture_output=True, text=True, timeout=timeout,
                              cwd=staging, stdin=subprocess.DEVNULL)
        staged = staging / "node_modules" / ".bin" / "claude"
        if done.returncode != 0 or not _works(staged, version):
            shutil.rmtree(staging, ignore_errors=True)
            raise InstallFailed(f"npm install {PACKAGE}@{version} did not give a working "
                                f"claude (status {done.returncode}):\n{done.stdout}\n"
                                f"{done.stderr}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # whole or not at all: a killed install is never reused
    return program


def _works(program: Path, version: str) -> bool:
    if not program.exists():
        return False
    try:
        done = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.startswith(version)


def cli_env(api_url: str, home: Path, *, credential: str = "key") -> dict[str, str]:
    """Variables that point the CLI at the fake API at ``api_url`` and at ``home``.

    ``credential`` "key" sets ANTHROPIC_API_KEY (sent as `x-api-key`), "token" sets only
    ANTHROPIC_AUTH_TOKEN (sent as `Authorization: Bearer`), the no-key path a subscription
    login takes. Meant to be laid over an environment without STEERING's variables.
    """
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "ANTHROPIC_BASE_URL": api_url,
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy",
                 "all_proxy"):
        env[name] = api_url
    if credential == "key":
        env["ANTHROPIC_API_KEY"] = FAKE_API_KEY
    elif credential == "token":
        env["ANTHROPIC_AUTH_TOKEN"] = FAKE_AUTH_TOKEN
    else:
        raise ValueError(f"credential must be 'key' or 'token', not {credential!r}")
    return env


def clean_environ() -> dict[str, str]:
    """This process's environment without anything that could steer the CLI."""
    return {k: v for k, v in os.environ.items() if k not in STEERING}
