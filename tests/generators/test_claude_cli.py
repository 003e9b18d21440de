"""The npm install of the real Claude Code CLI for tests: once, cached, never hidden when broken.

A stand-in `npm` on PATH plays the registry, so these run without a network.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from claude_cli import InstallFailed, MissingProgram, install_claude_code

VERSION = "9.9.9"


def fake_npm(tmp_path: Path, monkeypatch, *, works: bool = True) -> Path:
    """An `npm` that installs a `claude` printing VERSION (or fails), logging each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "npm.log"
    install = (f'mkdir -p "$prefix/node_modules/.bin"\n'
               f'printf \'#!/bin/sh\\necho "{VERSION} (Claude Code)"\\n\' '
               f'> "$prefix/node_modules/.bin/claude"\n'
               f'chmod +x "$prefix/node_modules/.bin/claude"\nsleep 0.3\n') if works else \
        'echo "npm error 404 Not Found" >&2\nexit 1\n'
    (bin_dir / "npm").write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix="$2"; shift; done\n'
        f'echo call >> "{log}"\n{install}')
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return log


def test_installed_once_into_the_cache_and_reused_by_concurrent_callers(tmp_path, monkeypatch):
    log = fake_npm(tmp_path, monkeypatch)
    found: list[Path] = []
    threads = [threading.Thread(target=lambda: found.append(install_claude_code(VERSION)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 3
    assert found[0] == tmp_path / "cache/cfs-build-tests/claude-code-9.9.9/node_modules/.bin/claude"
    assert install_claude_code(VERSION) == found[0]
    assert log.read_text().splitlines() == ["call"]


def test_a_failed_install_is_an_error_with_npms_message_and_leaves_nothing(tmp_path,
                                                                         monkeypatch):
    fake_npm(tmp_path, monkeypatch, works=False)
    with pytest.raises(InstallFailed, match="404 Not Found"):
        install_claude_code(VERSION)
    assert [p.name for p in (tmp_path / "cache/cfs-build-tests").iterdir()] == \
        ["claude-code-9.9.9.lock"]


def test_without_npm_the_missing_program_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingProgram, match="npm is not installed"):
        install_claude_code(VERSION)
