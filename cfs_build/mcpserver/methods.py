"""Requests for methods other than the tools, answered as v5's server answers them.

v5's library (the official Go MCP SDK, 1.6.1) knows a fixed set of methods and answers
each whether or not the server offers the feature behind it: it lists no resources, no
resource templates and no prompts (empty lists, with no capability advertised), refuses a
prompt, a resource, a completion or a subscription in its own words, and answers a method
it does not know with an error of code 0, `JSON RPC not handled: "<method>" unsupported`
(its JSON-RPC layer meant that to be Method not found, but 1.6.1 lost the code on the
way). Before anything else it checks the request's shape: a notification sent with an
id, or a method that takes params called without them, is an Invalid Request. The SDK
cfs is built on answers all of these otherwise (Method not found, Invalid request
parameters), so a middleware answers them before it sees them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.shared.exceptions import MCPError

from .v5args import go_quote

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
RESOURCE_NOT_FOUND = -32002
NOT_HANDLED = 0  # the code 1.6.1's JSON-RPC layer left on an unknown method's error

# The methods v5's library takes from a client; True where a call must carry params.
REQUESTS = {
    "initialize": True, "ping": False, "tools/list": False, "tools/call": True,
    "prompts/list": False, "prompts/get": True, "resources/list": False,
    "resources/templates/list": False, "resources/read": True, "resources/subscribe": True,
    "resources/unsubscribe": True, "completion/complete": True, "logging/setLevel": True,
}
NOTIFICATIONS = {"notifications/initialized", "notifications/cancelled",
                 "notifications/progress", "notifications/roots/list_changed"}
# What v5 lists for the features it does not offer: nothing, and no cursor.
EMPTY_LISTS = {"resources/list": "resources", "resources/templates/list": "resourceTemplates",
               "prompts/list": "prompts"}


def v5_answer(method: str, params: Any) -> dict | None:
    """v5's result for a request ``method`` with the raw ``params`` where cfs's SDK would
    answer otherwise, None where the request goes on to the SDK; raises MCPError with
    v5's error instead of a result."""
    if method in NOTIFICATIONS:
        raise MCPError(INVALID_REQUEST, f"invalid request: unexpected id for {go_quote(method)}")
    if method not in REQUESTS:
        raise MCPError(NOT_HANDLED, f"JSON RPC not handled: {go_quote(method)} unsupported")
    if REQUESTS[method] and params is None:
        raise MCPError(INVALID_REQUEST, 'invalid request: missing required "params"')
    if method in EMPTY_LISTS:
        return {EMPTY_LISTS[method]: []}
    if method == "tools/call" and _field(params, "name") == "":
        raise MCPError(INVALID_PARAMS, 'unknown tool ""')  # no tool is named ""
    if method == "prompts/get" and isinstance(name := _field(params, "name"), str):
        raise MCPError(INVALID_PARAMS, f"unknown prompt {go_quote(name)}")
    if method == "resources/read" and isinstance(uri := _field(params, "uri"), str):
        raise MCPError(RESOURCE_NOT_FOUND, "Resource not found", {"uri": uri})
    if method == "resources/subscribe":
        raise MCPError(METHOD_NOT_FOUND,
                       "method not found: server does not support resource subscriptions")
    if method in ("resources/unsubscribe", "completion/complete"):
        raise MCPError(METHOD_NOT_FOUND, f"method not found: {go_quote(method)}")
    return None


def _field(params: Any, name: str) -> Any:
    """A params member as Go decodes it into its struct: absent is the empty string."""
    return params.get(name, "") if isinstance(params, Mapping) else None


class V5Methods:
    """Server middleware: each request v5_answer has an answer for gets it; the rest,
    and every notification, go on unchanged."""

    async def __call__(self, ctx, call_next):
        if ctx.request_id is not None:
            answer = v5_answer(ctx.method, ctx.params)
            if answer is not None:
                return answer
        return await call_next(ctx)
