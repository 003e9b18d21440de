"""The end of the client's input: the tool calls already read are answered before the
server stops.

Closing stdin is how an MCP client stops a stdio server. The SDK then cancels what is
still running and answers it "Connection closed"; but a write_file or accept runs in a
thread that finishes anyway, so the client would be told a write failed that was made
and recorded. Instead the end of input is held back until every tool call read before
it was answered (or cancelled by the client). A build is not waited for: it can run for
minutes, and its cancellation stops its generations and records nothing half-written.
"""
from __future__ import annotations

import anyio
import mcp_types as types
from mcp.shared.dispatcher import coerce_request_id

from .streams import ReadThrough, WriteThrough

CANCELLED = "notifications/cancelled"


def _key(ident):
    # The SDK writes an id back as it was read, but correlates as its coerce_request_id
    # does: "7" and 7 are one request (a cancel naming either cancels it, unanswered).
    return coerce_request_id(ident)


class Pending:
    """The ids of the tool calls read and not answered yet."""

    def __init__(self):
        self._ids: set = set()
        self._changed = anyio.Event()

    def read(self, message) -> None:
        if isinstance(message, types.JSONRPCRequest) and message.method == "tools/call" \
                and (message.params or {}).get("name") != "build":
            self._ids.add(_key(message.id))
        elif isinstance(message, types.JSONRPCNotification) and message.method == CANCELLED:
            ident = (message.params or {}).get("requestId")
            if ident is not None:
                self._settle(_key(ident))

    def written(self, message) -> None:
        if isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
            self._settle(_key(message.id))

    def _settle(self, key) -> None:
        if key in self._ids:
            self._ids.discard(key)
            self._changed.set()
            self._changed = anyio.Event()

    async def settled(self) -> None:
        while self._ids:
            await self._changed.wait()


class Draining(ReadThrough):
    """A read stream whose end comes only once ``pending`` is settled."""

    def __init__(self, read, pending: Pending):
        super().__init__(read)
        self._pending = pending

    async def receive(self):
        try:
            item = await self._read.receive()
        except anyio.EndOfStream:
            await self._pending.settled()
            raise
        self._pending.read(getattr(item, "message", None))
        return item


class Telling(WriteThrough):
    """The write stream, telling ``pending`` of each answer sent (or that failed to be:
    a client gone for good is waited for no longer)."""

    def __init__(self, write, pending: Pending):
        super().__init__(write)
        self._pending = pending

    async def send(self, item) -> None:
        try:
            await self._write.send(item)
        finally:
            self._pending.written(getattr(item, "message", None))
