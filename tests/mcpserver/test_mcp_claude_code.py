"""The v5 workflow, unchanged, on cfs: the real Claude Code CLI starts `cfs mcp` from its MCP
config and a (loopback, scripted) model calls validate_specs, load_chain and write_file."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claude_cli import QUIET, MissingProgram, cli_env, clean_environ, install_claude_code
from conftest import VECTORS
from fake_messages_api import FakeMessagesAPI, Reply, scripted, text_of
from mcpkit import REPO

pytest.importorskip("mcp")

LEAF = "SPEC/payments/fees/rounding"
CONTENT = "def round_fee(cents):\n    return cents\n"
MODEL = "claude-sonnet-4-5"


@pytest.fixture(scope="module")
def claude_program() -> Path:
    try:
        return install_claude_code()
    except MissingProgram as exc:
        pytest.skip(str(exc))


def tool_use(number: int, name: str, tool_input: dict) -> Reply:
    return Reply([{"type": "tool_use", "id": f"toolu_{number:02d}FakeFakeFakeFakeFake",
                   "name": name, "input": tool_input}], stop_reason="tool_use")


def tool_results(body: dict) -> dict[str, dict]:
    """Every tool_result the CLI sent back, by tool_use id."""
    out = {}
    for message in body["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else ():
            if block.get("type") == "tool_result":
                out[block["tool_use_id"]] = block
    return out


@pytest.mark.slow
def test_claude_code_runs_the_v5_workflow_against_cfs_mcp(claude_program, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(VECTORS / "basic", root)
    (root / "expected.json").unlink()
    expected = json.loads((VECTORS / "basic" / "expected.json").read_text(encoding="utf-8"))
    # What a v5 project's .mcp.json says, with `cfs mcp` as the command (this checkout's).
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"cfs": {
        "type": "stdio", "command": sys.executable, "args": ["-m", "cfs_build.cli", "mcp"],
        "env": {"PYTHONPATH": str(REPO)}}}}))
    steps = [tool_use(1, "mcp__cfs__validate_specs", {}),
             tool_use(2, "mcp__cfs__load_chain", {"logical_name": LEAF}),
             tool_use(3, "mcp__cfs__write_file", {"logical_name": LEAF, "content": CONTENT}),
             Reply([{"type": "text", "text": "Generated SPEC/payments/fees/rounding."}])]
    home = tmp_path / "home"
    home.mkdir()
    tools = "mcp__cfs__validate_specs mcp__cfs__load_chain mcp__cfs__write_file"
    with FakeMessagesAPI(scripted(*steps)) as api:
        env = {**clean_environ(), **cli_env(api.url, home), **QUIET}
        done = subprocess.run([str(claude_program), "-p", "--model", MODEL,
                               "--strict-mcp-config", "--mcp-config", str(config),
                               # print mode asks no one: the workflow's tools are allowed
                               "--allowedTools", tools, "--", "Generate the stale artifacts."],
                              cwd=root, env=env, capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)
        requests = api.messages()
    assert done.returncode == 0, done.stderr
    assert "Generated SPEC/payments/fees/rounding." in done.stdout
    results = tool_results(requests[-1].body)
    texts = {number: text_of(results[f"toolu_{number:02d}FakeFakeFakeFakeFake"]["content"])
             for number in (1, 2, 3)}
    assert not any(result.get("is_error") for result in results.values())
    # The model saw v5's own answers: the report, the document byte for byte, the reply.
    assert texts[1] == expected["v5_report"]["text"]
    assert texts[2] == expected["documents"]["ARTIFACT/payments/fees/rounding"]
    assert texts[3] == "wrote src/fees/rounding.py"
    assert (root / "src/fees/rounding.py").read_text() == CONTENT
    manifest = (root / "code-from-spec/.manifest").read_text()
    assert "ARTIFACT/payments/fees/rounding;path:src/fees/rounding.py;" in manifest
    status = subprocess.run([sys.executable, "-m", "cfs_build.cli", "status", "--json"],
                            cwd=root, capture_output=True, text=True, timeout=60,
                            env={**clean_environ(), "PYTHONPATH": str(REPO)})
    flags = {a["name"]: a["status"] for a in json.loads(status.stdout)["artifacts"]}
    assert flags["ARTIFACT/payments/fees/rounding"] == ["up-to-date"]
