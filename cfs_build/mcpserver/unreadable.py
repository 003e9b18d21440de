"""Requests the SDK's stdio transport cannot read or take: answered with a JSON-RPC parse
error or Invalid Request, not dropped (a client waits for the answer to its request forever)."""
from __future__ import annotations

import json
import logging

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

from .streams import ReadThrough

log = logging.getLogger("cfs.mcp")

# What the SDK's parser refuses and Python's reads: a \ud800-\udfff escape standing alone
# (JSON's grammar allows it; it is no Unicode text).
SURROGATE_HINT = ("; a string's \\u escape of a surrogate (D800-DFFF) must be one half of a "
                  "UTF-16 pair: send the text as UTF-8, or as the pair")


def parse_error(exc: Exception) -> types.JSONRPCError | None:
    """The error answering the line the transport failed to read with ``exc``, when that
    line is a request whose id can be read back: a parse error for JSON the SDK cannot
    read, an Invalid Request for JSON that is no JSON-RPC 2.0 request (JSON-RPC 2.0 says
    both are answered). None otherwise (a notification, a line that is no JSON at all:
    nobody waits for an answer with an id)."""
    try:
        errors = exc.errors()  # pydantic's ValidationError carries what it refused
        first = errors[0]
    except Exception:
        return None
    if first.get("type") != "json_invalid":
        return _invalid_request(errors)
    line = first.get("input")
    if not isinstance(line, str):
        return None
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # (nested past the limit: no id to be had)
        return None
    detail = str(first.get("msg", "invalid JSON"))
    message = f"cannot read the request: {detail}"
    if "surrogate" in detail:
        message += SURROGATE_HINT
    return _error(request, types.PARSE_ERROR, message)


def _invalid_request(errors: list) -> types.JSONRPCError | None:
    """The Invalid Request error for a JSON object with a method and an id that is no
    JSON-RPC request: what its request form lacks, said (the union's other forms, a
    response or a notification, carry the object itself as their input)."""
    request = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), None)
    why = next((f"{'.'.join(map(str, e['loc'][1:]))}: {e.get('msg')}" for e in errors
                if e.get("loc", ())[:1] == ("JSONRPCRequest",)), "not a JSON-RPC 2.0 request")
    return _error(request, types.INVALID_REQUEST,
                  f'invalid request: {why} (a JSON-RPC 2.0 request has "jsonrpc": "2.0", '
                  'an id, a method and, if any, params that are an object)')


def _error(request, code: int, message: str) -> types.JSONRPCError | None:
    if not isinstance(request, dict) or "method" not in request:
        return None
    ident = request.get("id")
    if isinstance(ident, bool) or not isinstance(ident, (int, str)):
        return None
    error = types.JSONRPCError(jsonrpc="2.0", id=ident,
                               error=types.ErrorData(code=code, message=message))
    try:  # an id that is itself no text cannot be written back: no answer then
        error.model_dump_json(by_alias=True, exclude_unset=True)
    except Exception:
        return None
    return error


class Answering(ReadThrough):
    """The transport's read stream as the server reads it, with each request the
    transport could not read answered on ``write`` (parse_error) instead of handed on.
    """

    def __init__(self, read, write):
        super().__init__(read)
        self._write = write

    async def receive(self):
        while True:
            item = await self._read.receive()
            error = parse_error(item) if isinstance(item, Exception) else None
            if error is None:
                return item
            try:
                await self._write.send(SessionMessage(error))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                log.debug("parse error not sent: the connection is closing")
