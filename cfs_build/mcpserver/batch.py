"""JSON-RPC batches: a line holding an array of messages, answered as v5's server answers it.

v5's library (the Go SDK's stdio transport) reads a line that is a JSON array as a batch
while the session's protocol version is below 2025-06-18, before initialize included: each
message of it is handled as if read alone, and the answers to its requests are written
together as one array, in the batch's order, once the last is answered (a notification
gets none; a batch of notifications only, no line at all). From 2025-06-18 on (the
version MCP dropped batching in) a batch is a read error, and a read error ends v5's
session; so does an empty array, a request id twice in one batch or in a batch still
unanswered, and a member that is no JSON-RPC message.

The SDK cfs is built on reads a line as one message only: an array was a validation
error nobody answered, and the client waited forever. Here such a line is taken apart
below everything else that reads (the refusals before initialize, the parse errors, the
drain at the end of input), so each member is read as a line of its own would be; the
answers are held on the write side until the batch is complete. A request the client
cancels gets no answer (the SDK sends none), so it leaves the batch instead of keeping
the others back.
"""
from __future__ import annotations

import json
import logging
from collections import deque

import anyio
import mcp_types as types
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.message import SessionMessage

from .streams import ReadThrough, WriteThrough

log = logging.getLogger("cfs.mcp")

# The versions v5's library negotiates (any other is answered with its latest), the one
# MCP dropped batching in, and the one its transport assumes for an initialize naming none.
V5_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
NO_BATCHES_FROM = "2025-06-18"
UNNAMED_VERSION = "2025-03-26"
CANCELLED = "notifications/cancelled"


def transport_version(asked) -> str:
    """The protocol version v5's transport holds after an initialize asking ``asked``."""
    if not asked:
        return UNNAMED_VERSION
    return asked if asked in V5_VERSIONS else V5_VERSIONS[-1]


def _exact(ident) -> tuple:
    # Go's ids are a number or a string, never equal to each other: 1 and "1" are two.
    return (type(ident).__name__, ident)


class BatchEnded(Exception):
    """A batch v5's server would not read: its session ends there."""


class _Batch:
    def __init__(self, ids: list):
        self.order = [_exact(ident) for ident in ids]
        self.answers: dict = {}
        self.left = set(self.order)

    def message(self):
        answers = [self.answers[key] for key in self.order if key in self.answers]
        return _Answers(answers) if answers else None


class _Answers:
    """Several answers written as one line, a JSON array, as the SDK's writer writes one
    message (it asks the message for its JSON)."""

    def __init__(self, answers: list):
        self.answers = answers

    def model_dump_json(self, **options) -> str:
        return "[" + ",".join(answer.model_dump_json(**options)
                              for answer in self.answers) + "]"


class Batches:
    """The batches read and not yet answered in full, and the session's version."""

    def __init__(self):
        self.version: str | None = None  # None: no initialize read yet
        self.ended = False  # a batch ended the session
        self._open: dict = {}  # an exact id -> the batch waiting for its answer

    def refusal(self, members: list) -> str | None:
        """Why v5's server would end the session on reading ``members`` as a batch."""
        if self.version is not None and self.version >= NO_BATCHES_FROM:
            return (f"JSON-RPC batching is not supported in {NO_BATCHES_FROM} and later "
                    f"(this session's protocol version: {self.version})")
        if not members:
            return "an empty batch (a JSON array with no message)"
        return None

    def open(self, ids: list) -> str | None:
        keys = [_exact(ident) for ident in ids]
        seen: set = set()  # (a set: a batch of 100,000 requests is read in a blink)
        twice = next((key for key in keys if key in seen or seen.add(key)), None)
        if twice is not None:
            return f"the request id {json.dumps(twice[1])} twice in one batch"
        earlier = next((key for key in keys if key in self._open), None)
        if earlier is not None:
            return (f"the request id {json.dumps(earlier[1])} of a batch not yet "
                    "answered in full")
        if keys:
            batch = _Batch(ids)
            for key in keys:
                self._open[key] = batch
        return None

    def answered(self, message):
        """What to write for ``message``: itself, nothing (a batch still waits for
        others) or the whole batch's answers."""
        if not isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
            return message
        batch = self._open.pop(_exact(message.id), None)
        if batch is None:
            return message
        batch.answers[_exact(message.id)] = message
        return self._settle(batch, _exact(message.id))

    def cancelled(self, ident):
        """The batch the cancelled request ``ident`` leaves, as answered now (or None)."""
        wanted = coerce_request_id(ident)
        for key, batch in list(self._open.items()):
            if coerce_request_id(key[1]) == wanted:
                del self._open[key]
                return self._settle(batch, key)
        return None

    @staticmethod
    def _settle(batch: _Batch, key):
        batch.left.discard(key)
        return None if batch.left else batch.message()


class Unbatching(ReadThrough):
    """The transport's read stream with each batch line read as its members, one by one,
    and the session ended (the end of input) where v5's server ends it."""

    def __init__(self, read, write, batches: Batches):
        super().__init__(read)
        self._write, self._batches = write, batches
        self._queue: deque = deque()  # a batch's members still to be read, in order
        self._ended = False

    async def receive(self):
        if self._ended:
            raise anyio.EndOfStream
        item = self._queue.popleft() if self._queue else await self._read.receive()
        members = _members(item)
        if members is not None:
            try:
                item = self._take_apart(members)
            except BatchEnded as ended:
                self._ended = self._batches.ended = True
                log.error("cfs mcp: the session ends, as v5's server ends it, on a batch "
                          "line it cannot read: %s. Send each request on a line of its "
                          "own, or a batch only below protocol version %s", ended,
                          NO_BATCHES_FROM)
                raise anyio.EndOfStream from None
        await self._observe(getattr(item, "message", None))
        return item

    def _take_apart(self, members: list):
        why = self._batches.refusal(members)
        if why is None:
            messages = [_read_member(member) for member in members]
            why = next((m for m in messages if isinstance(m, str)), None)
        if why is None:
            why = self._batches.open([m.id for m in messages
                                      if isinstance(m, types.JSONRPCRequest)])
        if why is not None:
            raise BatchEnded(why)
        items = [SessionMessage(message) for message in messages]
        self._queue.extendleft(reversed(items[1:]))
        return items[0]

    async def _observe(self, message) -> None:
        if isinstance(message, types.JSONRPCRequest) and message.method == "initialize" \
                and isinstance(message.params, dict):
            asked = message.params.get("protocolVersion")
            if asked is None or isinstance(asked, str):
                self._batches.version = transport_version(asked)
        elif isinstance(message, types.JSONRPCNotification) and message.method == CANCELLED:
            ident = (message.params or {}).get("requestId")
            done = self._batches.cancelled(ident) if ident is not None else None
            if done is not None:
                try:
                    await self._write.send(SessionMessage(done))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    log.debug("batch answers not sent: the connection is closing")


def _members(item) -> list | None:
    """The messages of ``item`` when it is a batch line the SDK failed to read."""
    if not isinstance(item, Exception):
        return None
    try:
        errors = item.errors()
    except Exception:
        return None
    # The line itself is the array: an error at the top (its place names no more than
    # the form tried), not a member's (params that are an array are no batch).
    for error in errors:
        if isinstance(error.get("input"), list) and error.get("type") != "json_invalid" \
                and len(error.get("loc", ())) <= 1:
            return error["input"]
    return None


def _read_member(member):
    """The batch member ``member`` read as a line of its own is read, or why it cannot
    be (v5's library reads every member before it handles any)."""
    ident = member.get("id") if isinstance(member, dict) else None
    if isinstance(ident, float) and abs(ident) < 2 ** 63:
        # v5's library takes a number id as Go reads a JSON number, a float64, and keeps
        # it as int64(id): 1.0 and 1.5 are the request 1. The SDK took such a request
        # for a notification and never answered it.
        member = {**member, "id": int(ident)}
    try:
        text = json.dumps(member)
        return types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except Exception as exc:  # (pydantic's refusal; its first error says what)
        try:
            detail = exc.errors()[0].get("msg", "")
        except Exception:
            detail = str(exc)
        return f"a batch member that is no JSON-RPC 2.0 message ({detail})"


class Collecting(WriteThrough):
    """The write stream, holding each answer to a batch's request until the batch is
    answered in full, then writing the batch's answers as one line."""

    def __init__(self, write, batches: Batches):
        super().__init__(write)
        self._batches = batches

    async def send(self, item) -> None:
        message = getattr(item, "message", None)
        held = self._batches.answered(message)
        if held is message:
            await self._write.send(item)
        elif held is not None:
            await self._write.send(SessionMessage(held))
