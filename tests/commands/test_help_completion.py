"""Every command has --help with an example; completion scripts come from the real parser."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from cfs_build.cli import COMMANDS, main


def cfs(*args):
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(command, capsys):
    # In this process: the text comes from the parser alone (the subprocess path is below).
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert "cfs " in out.split("example:", 1)[1]


def test_top_level_help_lists_every_command():
    result = cfs("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_bash_completion_script_completes_commands(tmp_path):
    script = tmp_path / "cfs.bash"
    script.write_text(cfs("completion", "bash").stdout)
    probe = (f"source {script}\n"
             "COMP_WORDS=(cfs sta); COMP_CWORD=1; COMP_LINE='cfs sta'; COMP_POINT=7\n"
             "_shtab_cfs\n"
             "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert "status" in result.stdout.split()


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_a_script_naming_every_command(shell):
    text = cfs("completion", shell).stdout
    for command in ("build", "status", "verify"):
        assert command in text


def test_completion_needs_no_project(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "completion", "bash"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "_shtab_cfs" in result.stdout
    assert shutil.which("bash")
