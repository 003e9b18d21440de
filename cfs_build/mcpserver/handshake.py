"""Requests before the handshake: refused as v5's server refuses them.

MCP says a client sends nothing but pings before the server has answered its initialize
request. v5's library (the Go SDK's server session) answers any other request read
before initialize with an error of code 0, `method "<name>" is invalid during session
initialization`; the SDK cfs is built on would answer with an error of its own words.
The session counts as initialized once an initialize with params was read (one without
is refused, methods.py, and leaves it as it was); `notifications/initialized` sent with
an id passes, to be refused for its id as v5 refuses it.

v5's library decodes initialize's params into a Go struct and checks none of them: a
client that leaves out its info, its capabilities or the protocol version (or sends them
as null) is answered like any other, the version it did not name negotiated as one it
does not know. The SDK cfs is built on requires all three, so the members v5 reads as
empty are filled in as empty before the SDK sees them.
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


def as_v5_reads(params: dict) -> dict:
    """initialize's ``params`` with each member v5 reads as empty when absent or null
    given as that empty value."""
    filled = dict(params)
    for name, empty in (("protocolVersion", ""), ("capabilities", {}), ("clientInfo", {})):
        if filled.get(name) is None:
            filled[name] = empty
    if isinstance(filled["clientInfo"], dict):
        filled["clientInfo"] = {"name": "", "version": "", **{
            key: value for key, value in filled["clientInfo"].items() if value is not None}}
    return filled


class BeforeInitialize(ReadThrough):
    """The read stream, with each request read before initialize (pings aside) answered
    on ``write`` with v5's refusal instead of handed on, and initialize's params read
    as v5 reads them."""

    def __init__(self, read, write):
        super().__init__(read)
        self._write = write
        self._initialized = False

    async def receive(self):
        while True:
            item = await self._read.receive()
            message = getattr(item, "message", None)
            if not isinstance(message, types.JSONRPCRequest):
                return item
            if message.method == "initialize" and isinstance(message.params, dict):
                self._initialized = True  # (a second initialize is answered like the first)
                item = SessionMessage(message.model_copy(
                    update={"params": as_v5_reads(message.params)}), item.metadata)
            if self._initialized or message.method in ALLOWED_FIRST:
                return item
            try:
                await self._write.send(SessionMessage(too_early(message.method, message.id)))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                log.debug("refusal not sent: the connection is closing")
