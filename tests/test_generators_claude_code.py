"""The claude-code generator against a stand-in `claude` that parses flags like the real CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_claude import COST, USAGE
from genkit import TESTS, cfs, document_of, model_project, prompt_text

OTHER = "SPEC/other"
ARTIFACTS = 4


@pytest.fixture
def claude(tmp_path):
    """A `claude` program on a PATH of its own; returns the env to run cfs with and the log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "claude"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{TESTS / "fake_claude.py"}" "$@"\n')
    program.chmod(0o755)
    log = tmp_path / "claude-calls.jsonl"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_CLAUDE_LOG": str(log)}

    class Claude:
        def __init__(self):
            self.env, self.log, self.program = env, log, program

        def calls(self) -> list[dict]:
            if not log.exists():
                return []
            return [json.loads(line) for line in log.read_text().splitlines()]

    return Claude()


TOML = '[generator]\nkind = "claude-code"\nretry_delay = 0.01\n'


def test_every_confinement_flag_an_empty_directory_and_the_document_verbatim(tmp_path, claude):
    proj = model_project(tmp_path, TOML)
    expected = document_of(proj, OTHER)
    result = cfs(proj, "build", env=claude.env)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = claude.calls()
    assert len(calls) == ARTIFACTS
    for call in calls:
        options = call["options"]
        assert options["-p"] is True
        assert options["--tools"] == [""]  # no built-in tool at all
        assert options["--strict-mcp-config"] is True
        (mcp,) = options["--mcp-config"]
        assert json.loads(mcp) == {"mcpServers": {}}
        assert options["--setting-sources"] == ""
        assert options["--no-session-persistence"] is True
        assert options["--system-prompt"] == prompt_text()
        assert (options["--input-format"], options["--output-format"]) == ("stream-json",
                                                                           "stream-json")
        assert "--bare" not in options  # no API key in the environment
        assert not {"--allowedTools", "--add-dir", "--settings", "--permission-mode",
                    "--dangerously-skip-permissions"} & set(options)
        assert call["auto_memory_off"]
        assert call["cwd_files"] == []
        assert not call["cwd"].startswith(str(proj.root)) and not Path(call["cwd"]).exists()
        # The prompt is one stream-json user message, never an argument.
        (line,) = call["stdin"].splitlines()
        assert json.loads(line)["type"] == "user"
        assert call["files_read"] == []
    assert expected in [call["prompt"] for call in calls]
    tokens_in = sum(USAGE[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                       "cache_read_input_tokens"))
    assert f"tokens {ARTIFACTS * tokens_in} in / {ARTIFACTS * USAGE['output_tokens']} out" \
        in result.stdout
    assert f"${ARTIFACTS * COST:.4f}" in result.stdout
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())


def test_an_at_path_in_a_spec_reaches_the_model_as_text_and_no_file_is_read(tmp_path, claude):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    line = f"Say hello. see @/etc/hostname and @{secret}"
    proj = model_project(tmp_path, TOML)
    proj.edit(OTHER, "Say hello.", line)
    result = cfs(proj, "build", "gen/other.txt", env=claude.env)
    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = claude.calls()
    assert line in call["prompt"]
    assert "TOP-SECRET-CONTENT" not in call["prompt"]
    assert call["files_read"] == []
    # The control: the same text sent as a plain prompt is expanded, by the stand-in as by
    # the real CLI; so the test above would catch an invocation that let it expand.
    control = subprocess.run([str(claude.program), "-p", "--output-format", "json", line],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, **claude.env}, cwd=tmp_path)
    assert control.returncode == 0, control.stderr
    assert str(secret) in claude.calls()[-1]["files_read"]
    assert "TOP-SECRET-CONTENT" in claude.calls()[-1]["prompt"]


def test_bare_when_an_api_key_is_set_unless_turned_off(tmp_path, claude):
    proj = model_project(tmp_path, TOML + 'model = "sonnet"\nextra_args = ["--effort", "high"]\n')
    result = cfs(proj, "build", "gen/other.txt",
                 env={**claude.env, "ANTHROPIC_API_KEY": "sk-ant-test"})
    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = claude.calls()
    assert call["options"]["--bare"] is True and call["api_key_set"]
    assert call["options"]["--model"] == "sonnet" and call["options"]["--effort"] == "high"
    (proj.root / "cfs.toml").write_text(TOML + "bare = false\n")
    proj.edit(OTHER, "Say hello.", "Say hello again.")
    result = cfs(proj, "build", "gen/other.txt",
                 env={**claude.env, "ANTHROPIC_API_KEY": "sk-ant-test"})
    assert result.returncode == 0
    assert "--bare" not in claude.calls()[-1]["options"]


def test_an_overloaded_result_is_retried(tmp_path, claude):
    proj = model_project(tmp_path, TOML)
    result = cfs(proj, "build", "gen/other.txt",
                 env={**claude.env, "FAKE_CLAUDE_PLAN": "overloaded,overloaded"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["step"] for c in claude.calls()] == ["overloaded", "overloaded", "ok"]
    log = [json.loads(x) for x in (proj.root / ".cfs/runs.jsonl").read_text().splitlines()]
    assert log[-1]["attempts"] == 3 and log[-1]["backend"] == "claude-code"


@pytest.mark.parametrize("plan, message", [
    ("cut", "cut off at the output token limit"),
    ("error", "exited with status 2: Error: something broke"),
])
def test_a_cut_off_reply_or_a_crash_is_a_failure(tmp_path, claude, plan, message):
    proj = model_project(tmp_path, TOML)
    result = cfs(proj, "build", "gen/other.txt", env={**claude.env, "FAKE_CLAUDE_PLAN": plan})
    assert result.returncode == 1
    assert message in result.stdout
    assert len(claude.calls()) == 1
    assert not (proj.root / "gen/other.txt").exists()


def test_a_run_past_its_timeout_is_killed_and_retried(tmp_path, claude):
    proj = model_project(tmp_path, TOML + "timeout = 1\n")
    result = cfs(proj, "build", "gen/other.txt", env={**claude.env, "FAKE_CLAUDE_PLAN": "hang"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c["step"] for c in claude.calls()] == ["hang", "ok"]


@pytest.mark.parametrize("extra", ['["--tools", "Bash"]', '["--add-dir=/"]',
                                   '["--dangerously-skip-permissions"]'])
def test_extra_args_may_not_undo_the_confinement(tmp_path, claude, extra):
    proj = model_project(tmp_path, TOML + f"extra_args = {extra}\n")
    result = cfs(proj, "build", env=claude.env)
    assert result.returncode == 3
    assert "extra_args may not contain" in result.stderr
    assert claude.calls() == []


def test_a_missing_program_is_one_line(tmp_path, claude):
    proj = model_project(tmp_path, TOML + 'executable = "no-such-claude"\n')
    result = cfs(proj, "build", env=claude.env)
    assert result.returncode == 3
    assert len(result.stderr.splitlines()) == 1 and "'no-such-claude'" in result.stderr
    assert result.stderr.startswith("cfs: cfs.toml:") and "generator.executable" in \
        result.stderr


def test_nothing_stale_needs_no_generator_program(tmp_path, claude):
    proj = model_project(tmp_path, TOML)
    assert cfs(proj, "build", env=claude.env).returncode == 0
    (proj.root / "cfs.toml").write_text(TOML + 'executable = "no-such-claude"\n')
    result = cfs(proj, "build", env=claude.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 up to date" in result.stdout
