"""The claude-code generator against the real Claude Code CLI, talking to a loopback fake API.

The CLI is installed once with npm into a cache outside the repository (tests/claude_cli.py);
without npm these tests are skipped, and a failed install fails them. Each test gives the CLI
a HOME, a temporary directory and proxies of its own, and plants bait wherever Claude Code
looks for context: files named by `@` mentions in the spec, CLAUDE.md, `.mcp.json` and
`.claude/settings.json` with hooks in the project, in $HOME and in the temporary directory's
parent. What the model would have received is read from the fake API's record.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildkit import Proj
from cfs_build.generators.claude_code import ClaudeCodeGenerator
from claude_cli import (FAKE_API_KEY, FAKE_AUTH_TOKEN, STEERING, MissingProgram, cli_env,
                        clean_environ, install_claude_code)
from fake_messages_api import (TOKENS_IN, TOKENS_OUT, FakeMessagesAPI, Reply, error_reply,
                               scripted, text_of, tool_use_reply)
from genkit import cfs_process, document_of, model_project, prompt_text

OTHER = "SPEC/other"
ARTIFACTS = 4
# A model whose list price the CLI has long known, so the recorded cost can be checked
# against the recorded tokens.
MODEL = "claude-sonnet-4-5"
USD_IN, USD_OUT = 3 / 1e6, 15 / 1e6
BAIT = "BAIT-CONTENT"


@pytest.fixture(scope="session")
def claude_program() -> Path:
    try:
        return install_claude_code()
    except MissingProgram as exc:
        pytest.skip(str(exc))


def plant(where: Path, tag: str, marks: Path) -> None:
    """Context Claude Code would pick up from ``where``, each piece visible if it is taken.

    CLAUDE.md text would show in the request; a hook or an MCP server would leave a file
    in ``marks``; the settings' env would add a header to the request.
    """
    where.mkdir(parents=True, exist_ok=True)
    (where / "CLAUDE.md").write_text(f"{BAIT}-memory-{tag}\n")
    (where / f"note-{tag}.txt").write_text(f"{BAIT}-file-{tag}\n")
    hook = {"type": "command", "command": f"touch {marks}/hook-{tag}"}
    settings = {"hooks": {event: [{"hooks": [hook]}] for event in
                          ("SessionStart", "UserPromptSubmit", "PreToolUse", "Stop")},
                "enableAllProjectMcpServers": True,
                "env": {"ANTHROPIC_CUSTOM_HEADERS": f"x-bait: {tag}"}}
    (where / ".claude").mkdir(exist_ok=True)
    (where / ".claude" / "settings.json").write_text(json.dumps(settings))
    server = {"command": "sh", "args": ["-c", f"touch {marks}/mcp-{tag}; sleep 1"]}
    (where / ".mcp.json").write_text(json.dumps({"mcpServers": {f"bait-{tag}": server}}))


@dataclass
class Stage:
    """A project, a fake API, bait all around, and a `claude` that logs how it was started."""

    tmp: Path
    proj: Proj
    api: FakeMessagesAPI
    home: Path
    temp_parent: Path
    marks: Path
    program: Path
    real: Path

    def toml(self, extra: str = "") -> None:
        (self.proj.root / "cfs.toml").write_text(
            f'[generator]\nkind = "claude-code"\nexecutable = "{self.program}"\n'
            f'model = "{MODEL}"\nretry_delay = 0.01\n{extra}')

    def env(self, credential: str = "key") -> dict[str, str]:
        return {**cli_env(self.api.url, self.home, credential=credential),
                "TMPDIR": str(self.temp_parent)}

    def build(self, *args: str, credential: str = "key") -> subprocess.CompletedProcess:
        return cfs_process(self.proj, "build", *args, env=self.env(credential))

    def calls(self) -> list[dict]:
        """How cfs started `claude`: argv, working directory and what it held."""
        out = []
        for run in sorted(self.tmp.joinpath("calls").iterdir(), key=lambda p: int(p.name)):
            argv = run.joinpath("argv").read_bytes().split(b"\0")[:-1]
            out.append({"argv": [a.decode() for a in argv],
                        "cwd": run.joinpath("cwd").read_text().strip(),
                        "cwd_files": run.joinpath("cwd_files").read_text().split()})
        return out

    def runs(self) -> list[dict]:
        path = self.proj.root / ".cfs/runs.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def stage(tmp_path, claude_program, monkeypatch):
    for name in STEERING:  # nothing from this machine may steer the CLI
        monkeypatch.delenv(name, raising=False)
    marks = tmp_path / "marks"
    marks.mkdir()
    home, temp_parent = tmp_path / "home", tmp_path / "tmp"
    proj = model_project(tmp_path, "")
    for where, tag in ((home, "home"), (temp_parent, "parent"), (proj.root, "project")):
        plant(where, tag, marks)
    (home / ".claude" / "CLAUDE.md").write_text(f"{BAIT}-memory-user\n")
    user_mcp = {"command": "sh", "args": ["-c", f"touch {marks}/mcp-user; sleep 1"]}
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"bait-user": user_mcp}}))
    (tmp_path / "abs-note.txt").write_text(f"{BAIT}-file-absolute\n")
    calls = tmp_path / "calls"
    calls.mkdir()
    # The real CLI, started exactly as cfs starts it, after noting how that was.
    program = tmp_path / "bin" / "claude"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nd="{calls}/$$"\nmkdir "$d"\npwd > "$d/cwd"\n'
                       f'ls -A > "$d/cwd_files"\nprintf \'%s\\0\' "$@" > "$d/argv"\n'
                       f'exec "{claude_program}" "$@"\n')
    program.chmod(0o755)
    with FakeMessagesAPI() as api:
        st = Stage(tmp_path, proj, api, home, temp_parent, marks, program, claude_program)
        st.toml()
        yield st


def mentions(st: Stage) -> str:
    """A spec line with an `@` mention of a bait file by every kind of path."""
    return (f"Say hello. See @{st.tmp / 'abs-note.txt'}, @~/note-home.txt, "
            "@./note-project.txt and @../note-parent.txt.")


def assert_untouched(st: Stage) -> None:
    """No hook ran and no MCP server started, and nothing of the machine's left the test."""
    assert sorted(os.listdir(st.marks)) == []
    assert st.api.others() == [], [(r.method, r.path) for r in st.api.others()]


def sent_document(body: dict) -> tuple[list[str], str]:
    """The CLI's reminders before the document, and the document: the one user message."""
    (user,) = [m for m in body["messages"] if m["role"] == "user"]
    *before, last = user["content"]
    return [text_of([block]) for block in before], text_of([last])


@pytest.mark.slow
@pytest.mark.parametrize("credential", ["key", "token"])
def test_the_model_gets_our_prompt_and_the_document_and_nothing_else(stage, credential):
    stage.proj.edit(OTHER, "Say hello.", mentions(stage))
    expected = document_of(stage.proj, OTHER)
    result = stage.build(credential=credential)
    assert result.returncode == 0, result.stdout + result.stderr
    requests = stage.api.messages()
    assert len(requests) == ARTIFACTS  # one Messages request per generation, no title request
    received = set()
    for request in requests:
        body = request.body
        raw = json.dumps(body)
        assert BAIT not in raw  # no @ file, no CLAUDE.md from anywhere
        assert not body.get("tools") and "tool_choice" not in body
        assert body["model"] == MODEL
        # The CLI's two short blocks (a billing header line, one sentence naming the agent
        # SDK), then our prompt, whole.
        *theirs, ours = body["system"]
        assert ours["text"] == prompt_text()
        assert len(theirs) == 2 and all(len(b["text"]) < 120 for b in theirs)
        # Without --bare the CLI puts short reminders (its empty working directory, the
        # platform, the model's name, today's date) before the document; never a file.
        reminders, document = sent_document(body)
        assert all(r.startswith("<system-reminder>") and len(r) < 1500 for r in reminders)
        assert not reminders if credential == "key" else len(reminders) == 3
        assert document.startswith("<chain>")
        received.add(document)
        assert not any(k.startswith("x-bait") for k in request.headers)
        if credential == "key":
            assert request.headers["x-api-key"] == FAKE_API_KEY
        else:
            assert request.headers["authorization"] == f"Bearer {FAKE_AUTH_TOKEN}"
    assert expected in received and len(received) == ARTIFACTS
    assert_untouched(stage)
    # cfs wrote what the model answered, for the document it was sent.
    digest = hashlib.sha1(expected.encode("utf-8")).hexdigest()
    assert f"seen sha1 {digest}" in (stage.proj.root / "gen/other.txt").read_text()
    calls = stage.calls()
    assert len(calls) == ARTIFACTS
    for call in calls:
        # --bare needs an API key; with a token (a subscription login) it cannot be used.
        assert ("--bare" in call["argv"]) == (credential == "key")
        assert call["argv"][call["argv"].index("--max-turns") + 1] == "1"
        assert call["cwd_files"] == []
        cwd = Path(call["cwd"])
        assert cwd.parent == stage.temp_parent and not cwd.exists()
    assert not list(stage.home.glob(".claude/projects/**/*.jsonl"))  # no session kept
    # Tokens and cost: the one request's, and the cost is what those tokens cost.
    for entry in stage.runs():
        assert (entry["input_tokens"], entry["output_tokens"]) == (TOKENS_IN, TOKENS_OUT)
        assert entry["cost_usd"] == pytest.approx(TOKENS_IN * USD_IN + TOKENS_OUT * USD_OUT)
    assert f"tokens {ARTIFACTS * TOKENS_IN} in / {ARTIFACTS * TOKENS_OUT} out" in result.stdout


@pytest.mark.slow
def test_the_bait_is_taken_when_the_confinement_is_left_out(stage):
    """The control: without cfs's flags and variables the same CLI takes every bait above,
    so the test above would catch an invocation that let any of it through."""
    line = mentions(stage)
    run_dir = stage.temp_parent / "run"
    run_dir.mkdir()
    (run_dir / "note-project.txt").write_text(f"{BAIT}-file-project\n")
    env = {**clean_environ(), **stage.env("token")}
    # cfs's own flags and message, without its environment: the @ files are sent along.
    flags_only = ClaudeCodeGenerator(str(stage.real), model=MODEL)
    done = subprocess.run(flags_only.argv(), input=flags_only.message(line), cwd=run_dir,
                          env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (request,) = stage.api.messages()
    raw = json.dumps(request.body)
    for tag in ("absolute", "home", "project", "parent"):
        assert f"{BAIT}-file-{tag}" in raw
    assert stage.api.others()  # and something went to another host, through the "proxy"
    stage.api.clear()
    # A plain run: CLAUDE.md, settings, hooks and MCP servers are all taken.
    done = subprocess.run([str(stage.real), "-p", "--model", MODEL, "Say hello."],
                          cwd=run_dir, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    request = stage.api.messages()[0]
    raw = json.dumps(request.body)
    assert f"{BAIT}-memory-parent" in raw and f"{BAIT}-memory-user" in raw
    assert request.body["tools"]
    assert request.headers.get("x-bait") == "home"
    assert {"hook-home", "mcp-user", "mcp-parent"} <= set(os.listdir(stage.marks))


@pytest.mark.slow
def test_a_model_asking_for_a_tool_fails_the_generation_and_nothing_runs(stage):
    pwned, written = stage.tmp / "pwned", stage.tmp / "written.txt"
    reply = tool_use_reply("Bash", {"command": f"touch {pwned}"})
    reply.content.append({"type": "tool_use", "id": "toolu_02FakeFakeFakeFakeFake",
                          "name": "Write", "input": {"file_path": str(written),
                                                     "content": "x"}})
    stage.api.answer = scripted(reply)  # a second turn would get a proper answer
    result = stage.build("gen/other.txt", credential="token")
    assert result.returncode == 1
    assert "the model asked to use a tool instead of answering" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert len(stage.api.messages()) == 1  # no second turn with the tools' errors
    assert not pwned.exists() and not written.exists()
    assert not (stage.proj.root / "gen/other.txt").exists()
    assert_untouched(stage)
    (entry,) = stage.runs()
    assert entry["outcome"] != "generated"
    assert (entry["input_tokens"], entry["output_tokens"]) == (TOKENS_IN, TOKENS_OUT)


@pytest.mark.slow
def test_an_overloaded_api_is_retried_by_cfs_not_by_the_cli(stage):
    stage.api.answer = scripted(error_reply(529), error_reply(529))
    result = stage.build("gen/other.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(stage.api.messages()) == 3
    (entry,) = stage.runs()
    assert entry["attempts"] == 3 and entry["backend"] == "claude-code"


@pytest.mark.slow
def test_a_reply_cut_off_at_the_output_limit_fails_and_is_paid_for(stage):
    cut = Reply([{"type": "text", "text": "<artifact>\nhalf a fi"}], stop_reason="max_tokens")
    stage.api.answer = lambda body: cut
    result = stage.build("gen/other.txt")
    assert result.returncode == 1
    assert "output token maximum" in result.stdout
    assert not (stage.proj.root / "gen/other.txt").exists()
    # The CLI asks the model to continue a few times before it gives up: all paid for.
    sent = len(stage.api.messages())
    (entry,) = stage.runs()
    assert (entry["input_tokens"], entry["output_tokens"]) == (sent * TOKENS_IN,
                                                               sent * TOKENS_OUT)
    assert entry["cost_usd"] == pytest.approx(sent * (TOKENS_IN * USD_IN + TOKENS_OUT * USD_OUT))


@pytest.mark.slow
def test_a_broken_stream_is_asked_again_and_both_requests_are_counted(stage):
    """The CLI repeats a request whose stream broke off, without streaming: the tokens
    recorded are both requests', as is the cost."""
    stage.api.answer = scripted(Reply([{"type": "text", "text": "<arti"}], broken_stream=True))
    result = stage.build("gen/other.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.body.get("stream") for r in stage.api.messages()] == [True, False]
    (entry,) = stage.runs()
    assert entry["input_tokens"] == 2 * TOKENS_IN
    assert entry["output_tokens"] == 1 + TOKENS_OUT  # the broken stream had reported one
    assert entry["cost_usd"] == pytest.approx(entry["input_tokens"] * USD_IN +
                                              entry["output_tokens"] * USD_OUT)


@pytest.mark.slow
def test_a_run_past_its_timeout_is_killed_and_retried(stage):
    stage.toml("timeout = 3\n")
    stage.api.answer = scripted(Reply([{"type": "text", "text": "late"}], delay=10))
    result = stage.build("gen/other.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(stage.api.messages()) == 2
    assert stage.runs()[-1]["attempts"] == 2


@pytest.mark.slow
def test_a_cli_that_refuses_its_arguments_is_a_failure_with_its_message(stage):
    stage.toml('extra_args = ["--no-such-option"]\n')
    result = stage.build("gen/other.txt")
    assert result.returncode == 1
    assert "exited with status 1: error: unknown option '--no-such-option'" in result.stdout
    assert stage.api.messages() == []


@pytest.mark.slow
def test_nothing_stale_needs_no_generator_program(stage):
    assert stage.build().returncode == 0
    (stage.proj.root / "cfs.toml").write_text(
        '[generator]\nkind = "claude-code"\nexecutable = "no-such-claude"\n')
    result = stage.build()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 up to date" in result.stdout


# -- refused before anything runs: no CLI needed --------------------------------------------

@pytest.mark.parametrize("extra", ['["--tools", "Bash"]', '["--add-dir=/"]',
                                   '["--dangerously-skip-permissions"]', '["--max-turns", "9"]',
                                   '["--max-turns=9"]', '["--json-schema", "{}"]',
                                   '["--plugin-url", "http://example.invalid/p.zip"]'])
def test_extra_args_may_not_undo_the_confinement(tmp_path, extra):
    proj = model_project(tmp_path, '[generator]\nkind = "claude-code"\n'
                                   f'executable = "/bin/true"\nextra_args = {extra}\n')
    result = cfs_process(proj, "build")
    assert result.returncode == 3
    assert "extra_args may not contain" in result.stderr
    assert not (proj.root / "gen").exists()


@pytest.mark.slow
def test_a_missing_program_is_one_line(tmp_path):
    proj = model_project(tmp_path, '[generator]\nkind = "claude-code"\n'
                                   'executable = "no-such-claude"\n')
    result = cfs_process(proj, "build")
    assert result.returncode == 3
    assert len(result.stderr.splitlines()) == 1 and "'no-such-claude'" in result.stderr
    # Named by its setting and line, not by a path in the generator's temp directory.
    assert result.stderr.startswith("cfs: cfs.toml:3: generator.executable: 'no-such-claude' "
                                    "is not a program on PATH"), result.stderr


@pytest.mark.slow
def test_a_model_named_like_a_flag_is_sent_as_the_model_s_name(stage):
    """The model from cfs.toml goes to the CLI as one word (`--model=VALUE`): a value that
    starts with a dash stays the model's name and never becomes one of the CLI's flags."""
    model = "--dangerously-skip-permissions"
    generator = ClaudeCodeGenerator(str(stage.real), model=model)
    assert f"--model={model}" in generator.argv()
    run_dir = stage.temp_parent / "run"
    run_dir.mkdir()
    done = subprocess.run(generator.argv(), input=generator.message("Say hello."), cwd=run_dir,
                          env={**clean_environ(), **stage.env("key")}, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    (request,) = stage.api.messages()
    assert request.body["model"] == model
    assert not request.body.get("tools")
