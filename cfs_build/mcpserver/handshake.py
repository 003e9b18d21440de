"""Requests before the handshake: refused as v5's server refuses them.

MCP says a client sends nothing but pings before the server has answered its initialize
request. v5's library (the Go SDK's server session) answers any other request read
before initialize with an error of code 0, `method "<name>" is invalid during session
initialization`; the SDK cfs is built on would answer with an error of its own words.
The session counts as initialized once an initialize with params was read (one without
is refused, methods.py, and leaves it as it was); `notifications/initialized` sent with
an id passes, to be refused for its id as v5 refuses it.
"""
from __future__ import annotations

import logging

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage

from .streams import ReadThrough
from .v5args import go_quote

log = logging.getLogger("cfs.mcp")
ALLOWED_FIRST = {"initialize", "ping", "notifications/initialized"}


def too_early(method: str, ident) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=ident, error=types.ErrorData(
        code=0, message=f"method {go_quote(method)} is invalid during session initialization"))


class BeforeInitialize(ReadThrough):
    """The read stream, with each request read before initialize (pings aside) answered
    on ``write`` with v5's refusal instead of handed on."""

    def __init__(self, read, write):
        super().__init__(read)
        self._write = write
        self._initialized = False

    async def receive(self):
        while True:
            item = await self._read.receive()
            message = getattr(item, "message", None)
            if self._initialized or not isinstance(message, types.JSONRPCRequest):
                return item
            if message.method == "initialize" and message.params is not None:
                self._initialized = True
            if message.method in ALLOWED_FIRST:
                return item
            try:
                await self._write.send(SessionMessage(too_early(message.method, message.id)))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                log.debug("refusal not sent: the connection is closing")
