"""`cfs mcp` in the corners of its contract (MCP.md, FORMAT.md 1, 10.3; JSON-RPC 2.0): the
project changing under a running server, and requests the protocol cannot take."""
from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildkit import make_project, still_running
from conftest import VECTORS
from mcpkit import REPO, TRACEBACK, only_text, sync_client

pytest.importorskip("mcp")

NOT_FOUND = "Format errors:\n  [] scan: listing files: directory not found: code-from-spec/\n"


def _copy(case: str, root: Path) -> Path:
    shutil.copytree(VECTORS / case, root)
    (root / "expected.json").unlink()
    return root


@pytest.mark.slow
def test_validate_specs_is_never_an_error_even_when_the_tree_went_away(tmp_path):
    """MCP.md: validate_specs is never an error result; FORMAT.md 1: without
    code-from-spec/ its report is the scan line. The server started on a tree, so the
    tree going away (a checkout of another branch, a rename) is what it must answer."""
    root = _copy("basic", tmp_path / "basic")
    tree = root / "code-from-spec"
    with sync_client(root) as client:
        before = client.result("validate_specs")
        tree.rename(root / "moved")
        gone = client.result("validate_specs")
        tree.write_text("")  # a file where the directory was: no directory either
        a_file = client.result("validate_specs")
        tree.unlink()
        (root / "moved").rename(tree)
        back = client.result("validate_specs")
    assert not before.is_error and only_text(before).startswith("Staleness:\n")
    for answer in (gone, a_file):
        assert not answer.is_error
        assert only_text(answer) == NOT_FOUND
    assert not back.is_error and only_text(back) == only_text(before)


def _raw_server(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=root,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _answer(child: subprocess.Popen) -> dict:
    # A server that drops a request leaves its client waiting: give it 20 s.
    with selectors.DefaultSelector() as waiting:
        waiting.register(child.stdout, selectors.EVENT_READ)
        assert waiting.select(timeout=20), "no answer"
    return json.loads(child.stdout.readline())


@pytest.mark.slow
def test_a_request_json_rpc_cannot_take_is_answered_with_its_id_not_dropped(tmp_path):
    """JSON-RPC 2.0: a request that is no valid Request object gets an Invalid Request
    error. A line that is JSON and names its id (a wrong "jsonrpc", none at all, params
    that are no object) must not leave the client waiting for that id."""
    root = _copy("basic", tmp_path / "basic")
    child = _raw_server(root)

    def send(message) -> None:
        child.stdin.write(json.dumps(message).encode("ascii") + b"\n")

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}})
        assert _answer(child)["id"] == 1
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        refused = []
        for ident, broken in ((2, {"jsonrpc": "1.0", "method": "ping"}),
                              ("three", {"method": "ping"}),
                              (4, {"jsonrpc": "2.0", "method": "tools/call", "params": [1]})):
            send({"id": ident, **broken})
            refused.append(_answer(child))
        send({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
              "params": {"name": "version", "arguments": {}}})
        after = _answer(child)
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        err = child.stderr.read().decode("utf-8", "replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert [(a["id"], a["error"]["code"]) for a in refused] == \
        [(2, -32600), ("three", -32600), (4, -32600)]
    assert all(a["error"]["message"].startswith("invalid request: ") for a in refused)
    assert "params" in refused[2]["error"]["message"]
    assert after["id"] == 5 and after["result"]["content"][0]["text"] == "5.0.0"
    assert TRACEBACK not in err


@pytest.mark.slow
def test_requests_read_before_the_input_ends_are_answered_before_the_server_stops(tmp_path):
    """Closing stdin ends the server (MCP's stdio shutdown), but what it already read
    is done and answered truthfully: a write_file that was made and recorded is never
    answered "Connection closed", which tells the client it failed."""
    root = _copy("basic", tmp_path / "basic")
    leaf = "SPEC/payments/fees/rounding"
    lines = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "pipe", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "write_file", "arguments": {"logical_name": leaf, "content": "x\n"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "validate_specs", "arguments": {}}}]
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=root,
                          input="".join(json.dumps(line) + "\n" for line in lines),
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and TRACEBACK not in done.stderr
    answers = {m["id"]: m for m in map(json.loads, done.stdout.splitlines())}
    assert sorted(answers) == [1, 2, 3]
    assert answers[2]["result"] == {"content": [{"type": "text",
                                                 "text": "wrote src/fees/rounding.py"}]}
    assert "isError" not in answers[3]["result"]
    assert (root / "src/fees/rounding.py").read_bytes() == b"x\n"
    assert "ARTIFACT/payments/fees/rounding;" in \
        (root / "code-from-spec/.manifest").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_end_of_input_still_stops_a_running_build_at_once(tmp_path):
    """Only the quick tools are waited for: a build running when the input ends is
    cancelled as before, its generations killed and nothing recorded."""
    proj = make_project(tmp_path, sleep=30)
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=proj.root,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0, env=proj.env())
    try:
        for line in ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "pipe", "version": "0"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                    "name": "build", "arguments": {"jobs": 2}}}):
            child.stdin.write(json.dumps(line).encode("ascii") + b"\n")
        deadline = time.monotonic() + 30
        while len(proj.calls()) < 2:
            assert time.monotonic() < deadline, "the build did not start"
            time.sleep(0.05)
        started = time.monotonic()
        child.stdin.close()
        assert child.wait(timeout=20) == 0
        took = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert took < 10
    assert not any(still_running(call["pid"], wait=0.01) for call in proj.calls())
    assert not (proj.root / "code-from-spec/.manifest").exists()
    assert TRACEBACK.encode() not in child.stderr.read()


@pytest.mark.slow
def test_a_null_argument_is_one_given_that_is_no_string(tmp_path):
    """The v5 tools' argument errors are the words of v5's MCP library (the Go SDK's
    schema check): a key that is absent is missing, a key that is present with another
    JSON type, null included, is of the wrong type. A null optional argument of cfs's
    own tools still means its default."""
    root = _copy("basic", tmp_path / "basic")
    leaf = "SPEC/payments/fees/rounding"
    with sync_client(root) as client:
        answers = [client.result("load_chain", logical_name=None),
                   client.result("write_file", logical_name=leaf, content=None),
                   client.result("accept", logical_name=None),
                   client.result("load_chain")]
        status = client.result("status", all=None)
    wrong = ('validating "arguments": validating root: validating /properties/{}: type: '
             '<invalid reflect.Value> has type "null", want "string"')
    assert [(a.is_error, only_text(a)) for a in answers] == [
        (True, wrong.format("logical_name")),
        (True, wrong.format("content")),
        (True, wrong.format("logical_name")),
        (True, 'validating "arguments": validating root: required: missing properties: '
               '["logical_name"]')]
    assert not status.is_error
    assert not (root / "src/fees/rounding.py").exists()
