"""`cfs mcp` at the protocol level, as a client of v5's server (`framework-mcp` 5.0.0, on
the official Go MCP SDK) sees it: the initialize answer's capabilities, the v5 tools'
input schemas, and the answers to calls whose tool or arguments do not fit, spoken as raw
JSON-RPC over stdio. Each expectation names what in v5's server makes it so."""
from __future__ import annotations

import shutil

import pytest

from conftest import VECTORS
from mcpkit import TRACEBACK, RawClient

pytest.importorskip("mcp")

LEAF = "SPEC/payments/fees/rounding"
V5_NO_ARGUMENTS = ("validate_specs", "reconstruct_cache", "prune_cache", "version")


@pytest.fixture
def client(tmp_path):
    root = tmp_path / "basic"
    shutil.copytree(VECTORS / "basic", root)
    (root / "expected.json").unlink()
    raw = RawClient(root)
    try:
        yield raw
    finally:
        assert TRACEBACK not in raw.close()


def _text(answer: dict) -> tuple[bool, str]:
    result = answer["result"]
    assert [item["type"] for item in result["content"]] == ["text"]
    assert "structuredContent" not in result
    return result.get("isError", False), result["content"][0]["text"]


@pytest.mark.slow
def test_capabilities_are_v5s_logging_and_tools_and_a_level_is_taken(client):
    """v5's library (Go SDK server.go, capabilities) advertises logging when the server
    sets no capabilities of its own, and tools with listChanged once a tool is added; its
    session takes logging/setLevel. A client that sets a level must not be refused."""
    said = client.initialize()["result"]
    assert said["capabilities"] == {"logging": {}, "tools": {"listChanged": True}}
    assert said["serverInfo"]["name"] == "framework-mcp"
    assert client.request("logging/setLevel", {"level": "debug"})["result"] == {}


@pytest.mark.slow
def test_v5_tools_input_schemas_allow_no_other_argument(client):
    """v5 declares each tool's arguments as a Go struct (main.go, mcp.AddTool); the
    library's schema for a struct has every field without omitempty required and
    additionalProperties false, and one with no field has no properties at all."""
    client.initialize()
    tools = {tool["name"]: tool for tool in client.request("tools/list")["result"]["tools"]}
    for name in V5_NO_ARGUMENTS:
        assert tools[name]["inputSchema"] == {"type": "object", "additionalProperties": False}
    expected = {"load_chain": ["logical_name"], "accept": ["logical_name"],
                "dump_chain": ["logical_name"], "write_file": ["logical_name", "content"]}
    for name, arguments in expected.items():
        schema = tools[name]["inputSchema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert schema["required"] == arguments
        assert list(schema["properties"]) == arguments
        assert all(prop["type"] == "string" for prop in schema["properties"].values())
    assert tools["load_chain"]["_meta"] == {"anthropic/maxResultSizeChars": 500000}
    # cfs's own tools keep their open schemas.
    assert "additionalProperties" not in tools["status"]["inputSchema"]


@pytest.mark.slow
def test_arguments_that_do_not_fit_are_refused_in_v5s_words(client):
    """The Go SDK checks a call's arguments against the tool's schema before the tool
    runs, and a call that does not fit is an error result `validating "arguments": ...`
    with the schema validator's sentence (jsonschema-go validate.go): property types
    first, then properties not declared, then the missing required ones."""
    client.initialize()
    prefix = 'validating "arguments": validating root: '

    def refused(name: str, params: dict) -> str:
        is_error, text = _text(client.call(name, params))
        assert is_error, (name, params)
        assert text.startswith(prefix)
        return text[len(prefix):]

    missing = 'required: missing properties: ["logical_name"]'
    assert refused("load_chain", {"arguments": {}}) == missing
    assert refused("load_chain", {}) == missing
    assert refused("load_chain", {"arguments": None}) == missing
    assert refused("write_file", {"arguments": {}}) == \
        'required: missing properties: ["logical_name" "content"]'
    assert refused("write_file", {"arguments": {"logical_name": LEAF}}) == \
        'required: missing properties: ["content"]'
    wrong = 'validating /properties/logical_name: type: {} has type "{}", want "string"'
    assert refused("accept", {"arguments": {"logical_name": 7}}) == wrong.format(7, "integer")
    assert refused("accept", {"arguments": {"logical_name": 1e6}}) == \
        wrong.format("1e+06", "integer")
    assert refused("accept", {"arguments": {"logical_name": 2.5}}) == \
        wrong.format(2.5, "number")
    assert refused("accept", {"arguments": {"logical_name": True}}) == \
        wrong.format("true", "boolean")
    assert refused("accept", {"arguments": {"logical_name": None}}) == \
        wrong.format("<invalid reflect.Value>", "null")
    assert refused("accept", {"arguments": {"logical_name": ["a", 1]}}) == \
        wrong.format("[a 1]", "array")
    assert refused("dump_chain", {"arguments": {"logical_name": {"b": 1, "a": None}}}) == \
        wrong.format("map[a:<nil> b:1]", "object")
    # A type is checked before what is missing; what is not declared before that too.
    assert refused("write_file", {"arguments": {"logical_name": 7}}) == \
        wrong.format(7, "integer")
    assert refused("load_chain", {"arguments": {"logical_name": LEAF, "path": "x"}}) == \
        'unexpected additional properties ["path"]'
    assert refused("version", {"arguments": {"verbose": True}}) == \
        'unexpected additional properties ["verbose"]'
    assert refused("write_file", {"arguments": {"path": "x"}}) == \
        'unexpected additional properties ["path"]'
    # Nothing was written by a refused write_file; arguments that fit still answer.
    assert _text(client.call("version", {"arguments": {}})) == (False, "5.0.0")
    assert _text(client.call("version", {})) == (False, "5.0.0")


@pytest.mark.slow
def test_an_unknown_tool_is_a_json_rpc_error_named_as_v5_names_it(client):
    """The Go SDK answers a call of a tool it does not have with an Invalid Params error
    `unknown tool "<name>"` (server.go, callTool), not an error result."""
    client.initialize()
    answer = client.call("nope", {"arguments": {}})
    assert answer["error"]["code"] == -32602
    assert answer["error"]["message"] == 'unknown tool "nope"'
    assert client.call('say "hi"', {})["error"]["message"] == r'unknown tool "say \"hi\""'


@pytest.mark.slow
def test_requests_before_initialize_are_refused_as_v5_refuses_them(client):
    """Before initialize only a ping is taken: the Go SDK's server session answers any
    other request with an error of code 0, `method "<name>" is invalid during session
    initialization` (server.go, ServerSession.handle); the session goes on."""
    assert client.request("ping")["result"] == {}
    for method, params in (("tools/list", None),
                           ("tools/call", {"name": "version", "arguments": {}})):
        error = client.request(method, params)["error"]
        assert error == {"code": 0,
                         "message": f'method "{method}" is invalid during session '
                                    'initialization'}
    assert client.initialize()["result"]["serverInfo"]["name"] == "framework-mcp"
    assert _text(client.call("version", {"arguments": {}})) == (False, "5.0.0")


@pytest.mark.slow
def test_protocol_versions_are_negotiated_as_v5s_library_negotiates_them(tmp_path):
    """v5's library (Go SDK 1.6.1, shared.go negotiatedVersion) answers a version it
    supports (2024-11-05 to 2025-11-25) with that version, and any other, a newer one
    included, with its latest, 2025-11-25."""
    root = tmp_path / "basic"
    shutil.copytree(VECTORS / "basic", root)
    for asked, answered in (("2024-11-05", "2024-11-05"), ("2025-03-26", "2025-03-26"),
                            ("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"),
                            ("2026-07-28", "2025-11-25"), ("2099-01-01", "2025-11-25"),
                            ("draft", "2025-11-25")):
        raw = RawClient(root)
        try:
            said = raw.initialize(asked)["result"]
            assert said["protocolVersion"] == answered, asked
            assert "instructions" not in said
            assert _text(raw.call("version", {"arguments": {}})) == (False, "5.0.0")
        finally:
            assert TRACEBACK not in raw.close()


@pytest.mark.slow
def test_tools_are_listed_in_name_order_and_a_success_has_no_is_error(client):
    """v5's library keeps its tools sorted by name (features.go, featureSet.all) and
    leaves out a false isError (protocol.go, CallToolResult, omitempty)."""
    client.initialize()
    names = [tool["name"] for tool in client.request("tools/list")["result"]["tools"]]
    assert names == sorted(names)
    assert [name for name in names if name in V5_NO_ARGUMENTS + (
        "load_chain", "write_file", "accept", "dump_chain")] == [
        "accept", "dump_chain", "load_chain", "prune_cache", "reconstruct_cache",
        "validate_specs", "version", "write_file"]
    assert client.call("version", {"arguments": {}})["result"] == {
        "content": [{"type": "text", "text": "5.0.0"}]}
    refused = client.call("load_chain", {"arguments": {"logical_name": "x"}})["result"]
    assert refused["isError"] is True


@pytest.mark.slow
def test_methods_beyond_the_tools_are_answered_in_v5s_words(client):
    """v5's library (server.go serverMethodInfos) answers every method it knows whether
    or not the server offers the feature: empty lists of resources, templates and
    prompts, its refusals of a prompt, a resource, a subscription and a completion.
    A method it does not know gets an error of code 0 (1.6.1's JSON-RPC layer compared
    the wrapped 'not handled' error with ==, so the Method not found code was lost); a
    notification sent with an id, or a call without the params its method needs, is an
    Invalid Request (shared.go checkRequest)."""
    client.initialize()
    said = client.initialize()["result"]  # a second initialize is answered like the first
    assert said["capabilities"] == {"logging": {}, "tools": {"listChanged": True}}
    assert client.request("resources/list")["result"] == {"resources": []}
    assert client.request("resources/templates/list", {})["result"] == \
        {"resourceTemplates": []}
    assert client.request("prompts/list")["result"] == {"prompts": []}

    def error(method: str, params: dict | None = None) -> dict:
        return client.request(method, params)["error"]

    assert error("prompts/get", {"name": "review"}) == \
        {"code": -32602, "message": 'unknown prompt "review"'}
    assert error("resources/read", {"uri": "file:///x"}) == \
        {"code": -32002, "message": "Resource not found", "data": {"uri": "file:///x"}}
    assert error("resources/subscribe", {"uri": "file:///x"}) == {
        "code": -32601,
        "message": "method not found: server does not support resource subscriptions"}
    assert error("resources/unsubscribe", {"uri": "file:///x"}) == \
        {"code": -32601, "message": 'method not found: "resources/unsubscribe"'}
    assert error("completion/complete", {"ref": {"type": "ref/prompt", "name": "x"},
                                         "argument": {"name": "a", "value": ""}}) == \
        {"code": -32601, "message": 'method not found: "completion/complete"'}
    for method in ("tasks/list", "server/discover", "sampling/createMessage"):
        assert error(method) == \
            {"code": 0, "message": f'JSON RPC not handled: "{method}" unsupported'}
    # A call naming no tool names the tool "" (Go decodes a missing member as "").
    assert error("tools/call", {"arguments": {}}) == \
        {"code": -32602, "message": 'unknown tool ""'}
    assert error("notifications/initialized") == {
        "code": -32600, "message": 'invalid request: unexpected id for '
                                   '"notifications/initialized"'}
    for method in ("tools/call", "logging/setLevel", "prompts/get", "resources/read"):
        assert error(method) == \
            {"code": -32600, "message": 'invalid request: missing required "params"'}
    # Notifications v5 does not know are dropped, and the session goes on.
    client.send({"jsonrpc": "2.0", "method": "notifications/whatever"})
    assert client.request("ping")["result"] == {}
    assert _text(client.call("version", {"arguments": {}})) == (False, "5.0.0")


@pytest.mark.slow
def test_an_initialize_without_params_is_refused_and_initializes_nothing(client):
    """v5's library checks a call's shape before anything (checkRequest): initialize
    without params is an Invalid Request, and the session stays uninitialized; the
    initialized notification sent with an id is refused for its id even then."""
    assert client.request("initialize")["error"] == \
        {"code": -32600, "message": 'invalid request: missing required "params"'}
    assert client.request("tools/list")["error"]["message"] == \
        'method "tools/list" is invalid during session initialization'
    assert client.request("notifications/initialized")["error"]["code"] == -32600
    assert client.initialize()["result"]["serverInfo"]["name"] == "framework-mcp"
    assert _text(client.call("version", {"arguments": {}})) == (False, "5.0.0")


@pytest.mark.slow
def test_an_initialize_leaving_out_what_v5_does_not_check_is_answered(client):
    """v5's library decodes initialize's params into a struct and checks none of them
    (server.go initialize; protocol.go initializeParamsV2.toV1 takes nil capabilities):
    no client info, no capabilities, a null or missing protocol version are answered,
    the missing version negotiated as an unknown one (2025-11-25)."""
    said = client.request("initialize", {})["result"]
    assert said["protocolVersion"] == "2025-11-25"
    assert said["serverInfo"]["name"] == "framework-mcp"
    assert _text(client.call("version", {"arguments": {}})) == (False, "5.0.0")
    again = client.request("initialize", {"protocolVersion": "2025-03-26", "capabilities": None,
                                          "clientInfo": {"name": "bare"}})["result"]
    assert again["protocolVersion"] == "2025-03-26"
