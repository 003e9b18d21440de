"""`cfs mcp` and JSON-RPC batches, as v5's server (Go SDK 1.6.1, mcp/transport.go ioConn)
answers them: a line that is an array is read as its members below protocol version
2025-06-18 (before initialize too), the answers to its requests written as one array in
the batch's order; from 2025-06-18 on, or for an empty array or an id twice, the session
ends. Never a batch left unanswered with the client waiting."""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys

import pytest

from mcpkit import REPO, TRACEBACK, RawClient

pytest.importorskip("mcp")

VERSION = {"name": "version", "arguments": {}}


def _request(ident, method: str, params: dict | list | None = None) -> dict:
    message = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        message["params"] = params
    return message


def _ended(raw: RawClient) -> str:
    """The server's exit, which must come though the client keeps its input open."""
    with selectors.DefaultSelector() as waiting:
        waiting.register(raw.child.stdout, selectors.EVENT_READ)
        assert waiting.select(timeout=20), "the session did not end"
    assert raw.child.stdout.read() == b""
    assert raw.child.wait(timeout=20) == 1
    said = raw.child.stderr.read().decode("utf-8", "replace")
    assert TRACEBACK not in said
    return said


@pytest.fixture
def root(vector):
    root = vector("basic")
    (root / "expected.json").unlink()
    return root


@pytest.fixture
def client(root):
    raw = RawClient(root)
    yield raw
    if raw.child.poll() is None:
        assert TRACEBACK not in raw.close()


@pytest.mark.slow
def test_a_batch_of_two_calls_is_answered_as_one_array_in_its_order(client):
    client.initialize("2025-03-26")
    client.send([_request("b", "tools/call", VERSION),
                 _request(7, "tools/call", {"name": "nope", "arguments": {}})])
    answers = client.answer()
    assert [answer["id"] for answer in answers] == ["b", 7]
    assert answers[0]["result"]["content"][0]["text"] == "5.0.0"
    assert answers[1]["error"]["message"] == 'unknown tool "nope"'
    # The session goes on, one line at a time.
    assert client.call("version", {"arguments": {}})["result"]["content"][0]["text"] == "5.0.0"


@pytest.mark.slow
def test_a_notification_in_a_batch_gets_no_answer(client):
    client.initialize("2024-11-05")
    client.send([{"jsonrpc": "2.0", "method": "notifications/whatever"},
                 _request(1, "ping"), {"jsonrpc": "2.0", "method": "notifications/other"}])
    assert client.answer() == [{"jsonrpc": "2.0", "id": 1, "result": {}}]
    client.send([{"jsonrpc": "2.0", "method": "notifications/whatever"}])  # no line back
    assert client.request("ping")["result"] == {}


@pytest.mark.slow
def test_a_batch_before_initialize_is_answered_as_each_request_would_be(client):
    client.send([_request(1, "ping"), _request(2, "tools/list")])
    assert client.answer() == [
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": 2, "error": {
            "code": 0, "message": 'method "tools/list" is invalid during session '
                                  'initialization'}}]
    # initialize inside a batch initializes the session for the members after it.
    client.send([_request(3, "initialize", {"protocolVersion": "2025-03-26",
                                            "capabilities": {},
                                            "clientInfo": {"name": "b", "version": "0"}}),
                 {"jsonrpc": "2.0", "method": "notifications/initialized"},
                 _request(4, "tools/call", VERSION)])
    answers = client.answer()
    assert [answer["id"] for answer in answers] == [3, 4]
    assert answers[0]["result"]["protocolVersion"] == "2025-03-26"
    assert answers[1]["result"]["content"][0]["text"] == "5.0.0"


@pytest.mark.slow
def test_a_batch_at_2025_06_18_ends_the_session(client):
    client.initialize("2025-06-18")
    client.send([_request(1, "ping")])
    said = _ended(client)
    assert "JSON-RPC batching is not supported in 2025-06-18 and later" in said


@pytest.mark.slow
def test_a_batch_at_a_version_v5_does_not_know_ends_the_session(client):
    client.initialize("2099-01-01")  # negotiated as 2025-11-25
    client.send([_request(1, "ping")])
    assert "2025-11-25" in _ended(client)


@pytest.mark.slow
def test_an_empty_batch_ends_the_session(client):
    client.initialize("2025-03-26")
    client.send([])
    assert "empty batch" in _ended(client)


@pytest.mark.slow
def test_an_id_twice_in_a_batch_ends_the_session(client):
    client.initialize("2025-03-26")
    client.send([_request(5, "ping"), _request(5, "tools/list")])
    assert "request id 5 twice" in _ended(client)


@pytest.mark.slow
def test_the_same_number_and_string_id_are_two_requests(client):
    client.initialize("2025-03-26")
    client.send([_request(5, "ping"), _request("5", "ping")])
    assert [answer["id"] for answer in client.answer()] == [5, "5"]


@pytest.mark.slow
def test_a_batch_member_that_is_no_message_ends_the_session(client):
    client.initialize("2025-03-26")
    client.send([_request(1, "ping"), {"jsonrpc": "1.0", "id": 2}])
    assert "no JSON-RPC 2.0 message" in _ended(client)


@pytest.mark.slow
def test_a_request_whose_params_are_an_array_is_no_batch(client):
    # Only a line that is itself an array is a batch: params that are one leave the
    # request an Invalid Request, answered with its id, and the session goes on.
    client.initialize("2025-03-26")
    client.send(_request(9, "tools/call", [1, 2]))
    answer = client.answer()
    assert answer["id"] == 9 and answer["error"]["code"] == -32600
    assert answer["error"]["message"].startswith("invalid request: params: ")
    assert client.request("ping")["result"] == {}


def test_a_batch_of_a_hundred_thousand_ids_is_checked_at_once():
    # The check for an id twice compared each id with every one before it: 100,000 ids
    # took minutes, the server reading nothing else meanwhile. A child process, so that
    # such a check fails the test at its time limit instead of hanging it.
    script = ("from cfs_build.mcpserver.batch import Batches\n"
              "ids = list(range(100_000)) + [f'{n}' for n in range(100_000)]\n"
              "assert Batches().open(ids) is None\n"
              "assert 'request id 7 twice' in Batches().open(ids + [7])\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=20,
                   env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_a_batch_of_ten_thousand_requests_is_answered_in_its_order(client):
    # (The check of its ids is timed at 200,000 above: here the whole way, a tenth of that.)
    client.initialize("2025-03-26")
    client.send([_request(n, "ping") for n in range(10_000)])
    with selectors.DefaultSelector() as waiting:
        waiting.register(client.child.stdout, selectors.EVENT_READ)
        assert waiting.select(timeout=120), "no answer"
    answers = json.loads(client.child.stdout.readline())
    assert [answer["id"] for answer in answers] == list(range(10_000))


@pytest.mark.slow
def test_a_number_id_with_a_fraction_is_its_integer_as_for_v5(client):
    # Go reads the id as a float64 and keeps int64 of it; the SDK read such a member as a
    # notification, and the client waited for its answer forever.
    client.initialize("2025-03-26")
    client.send([_request(1.0, "ping"), _request(2.5, "ping"), _request("a", "ping")])
    assert [answer["id"] for answer in client.answer()] == [1, 2, "a"]
    client.send([_request(3.0, "ping"), _request(3, "ping")])
    assert "request id 3 twice" in _ended(client)
