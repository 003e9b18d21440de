"""Requests the SDK's stdio transport cannot read: answered with a JSON-RPC parse error,
not dropped (a client waits for the answer to its request forever)."""
from __future__ import annotations

import json
import logging

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

log = logging.getLogger("cfs.mcp")

# What the SDK's parser refuses and Python's reads: a \ud800-\udfff escape standing alone
# (JSON's grammar allows it; it is no Unicode text).
SURROGATE_HINT = ("; a string's \\u escape of a surrogate (D800-DFFF) must be one half of a "
                  "UTF-16 pair: send the text as UTF-8, or as the pair")


def parse_error(exc: Exception) -> types.JSONRPCError | None:
    """The error answering the line the transport failed to read with ``exc``, when that
    line is a request whose id can be read back; None otherwise (a notification, a line
    that is no JSON at all: nobody waits for an answer with an id)."""
    try:
        first = exc.errors()[0]  # pydantic's ValidationError carries the line it refused
    except Exception:
        return None
    line = first.get("input")
    if first.get("type") != "json_invalid" or not isinstance(line, str):
        return None
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # (nested past the limit: no id to be had)
        return None
    if not isinstance(request, dict) or "method" not in request:
        return None
    ident = request.get("id")
    if isinstance(ident, bool) or not isinstance(ident, (int, str)):
        return None
    detail = str(first.get("msg", "invalid JSON"))
    message = f"cannot read the request: {detail}"
    if "surrogate" in detail:
        message += SURROGATE_HINT
    error = types.JSONRPCError(jsonrpc="2.0", id=ident,
                               error=types.ErrorData(code=types.PARSE_ERROR, message=message))
    try:  # an id that is itself no text cannot be written back: no answer then
        error.model_dump_json(by_alias=True, exclude_unset=True)
    except Exception:
        return None
    return error


class Answering:
    """The transport's read stream as the server reads it, with each request the
    transport could not read answered on ``write`` (parse_error) instead of handed on.

    Everything else passes unchanged, the sender's context included (``last_context``,
    which the SDK's loop asks a stream for).
    """

    def __init__(self, read, write):
        self._read, self._write = read, write

    @property
    def last_context(self):
        return getattr(self._read, "last_context", None)

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

    async def aclose(self) -> None:
        await self._read.aclose()

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()
