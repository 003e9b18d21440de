"""A loopback stand-in for the Anthropic Messages API that a real Claude Code CLI can talk to.

It listens on 127.0.0.1 only, answers `POST /v1/messages` both as JSON and, when the request
says `"stream": true`, as server-sent events (the shape the CLI consumes), and records every
request it gets (method, path, headers, parsed body), whatever the path. Anything but
`/v1/messages` is answered 404 and still recorded, so a test sees every call the CLI made.

The answer to each request is chosen by ``answer(body) -> Reply``; the default answers with a
text reply derived from the last user message. ``tool_use_reply`` builds the answer of a
model that asks to run a tool.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from fakeapi import Loopback, Quiet

TOKENS_IN, TOKENS_OUT = 1200, 30
CACHE_CREATION, CACHE_READ = 0, 0


@dataclass(frozen=True)
class Reply:
    """One Messages API answer: its content blocks, stop reason and usage."""

    content: list[dict]
    stop_reason: str = "end_turn"
    input_tokens: int = TOKENS_IN
    output_tokens: int = TOKENS_OUT
    status: int = 200  # anything else: an API error with this status and no content
    delay: float = 0.0  # seconds to wait before answering (a slow or stuck API)
    broken_stream: bool = False  # streamed, the answer stops after its first event


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: dict = field(default_factory=dict)

    @property
    def is_message(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0].endswith("/v1/messages")


def text_of(block_or_content) -> str:
    """All text in a message content (a string, or a list of blocks)."""
    if isinstance(block_or_content, str):
        return block_or_content
    return "".join(b.get("text", "") for b in block_or_content if isinstance(b, dict))


def last_user_block(body: dict) -> str:
    """The text of the last block of the last user message (where the CLI puts the prompt,
    after any reminders of its own)."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1]["content"]
    return content if isinstance(content, str) else text_of(content[-1:])


def artifact_reply(body: dict) -> Reply:
    """A reply protocol answer naming the sha1 of the text the model was given."""
    digest = hashlib.sha1(last_user_block(body).encode("utf-8")).hexdigest()
    return Reply([{"type": "text", "text": f"<artifact>\n# seen sha1 {digest}\n</artifact>\n"}])


def error_reply(status: int) -> Reply:
    """An API error answer (529 overloaded, 429 rate limited, 500, ...), to retry at once."""
    return Reply([], status=status)


def scripted(*steps: Reply, then: Callable[[dict], Reply] = artifact_reply):
    """An ``answer`` giving ``steps`` to the first requests in turn, then ``then(body)``."""
    queue = list(steps)
    lock = threading.Lock()

    def answer(body: dict) -> Reply:
        with lock:
            if queue:
                return queue.pop(0)
        return then(body)
    return answer


def tool_use_reply(name: str, tool_input: dict) -> Reply:
    """A model that, instead of answering, asks to run tool ``name`` with ``tool_input``."""
    return Reply([{"type": "text", "text": "Let me do that."},
                  {"type": "tool_use", "id": "toolu_01FakeFakeFakeFakeFake", "name": name,
                   "input": tool_input}], stop_reason="tool_use")


class FakeMessagesAPI(Loopback):
    """``with FakeMessagesAPI() as api:`` ... ``api.url`` is the ANTHROPIC_BASE_URL to use."""

    def __init__(self, answer: Callable[[dict], Reply] = artifact_reply):
        self.answer = answer
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        super().__init__(self._handler())

    def messages(self) -> list[Request]:
        """The Messages requests (the model calls), in arrival order."""
        with self.lock:
            return [r for r in self.requests if r.is_message]

    def others(self) -> list[Request]:
        """Every request that was not a Messages call."""
        with self.lock:
            return [r for r in self.requests if not r.is_message]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def _handler(self):
        api = self

        class Handler(Quiet):
            protocol_version = "HTTP/1.1"

            def _record(self) -> Request:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                request = Request(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                with api.lock:
                    api.requests.append(request)
                return request

            def do_GET(self):
                self._record()
                self._not_found()

            do_HEAD = do_DELETE = do_PUT = do_GET
            # Used as HTTP(S)_PROXY, it records any attempt to reach another host.
            do_CONNECT = do_GET

            def do_POST(self):
                request = self._record()
                if not request.is_message:
                    return self._not_found()
                reply = api.answer(request.body)
                if reply.delay:
                    time.sleep(reply.delay)
                model = request.body.get("model", "claude-fake")
                if reply.status != 200:
                    self._error(reply.status)
                elif request.body.get("stream"):
                    self._stream(reply, model)
                else:
                    self._json(200, message_json(reply, model))

            def _not_found(self) -> None:
                self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": "not here"}})

            def _error(self, status: int) -> None:
                kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
                self._json(status, {"type": "error", "error": {
                    "type": kind, "message": f"scripted {status}"}}, {"retry-after": "0"})

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                self._send(status, "application/json", json.dumps(payload).encode("utf-8"),
                           headers)

            def _stream(self, reply: Reply, model: str) -> None:
                stream = list(events(reply, model))
                if reply.broken_stream:
                    stream = stream[:1]
                data = b"".join(sse(name, payload) for name, payload in stream)
                self._send(200, "text/event-stream", data)

            def _send(self, status: int, content_type: str, data: bytes,
                      headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", content_type)
                    self.send_header("request-id", "req_fake")
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a CONNECT it gave up on): nothing to answer

        return Handler


def usage_of(reply: Reply) -> dict:
    return {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
            "cache_creation_input_tokens": CACHE_CREATION,
            "cache_read_input_tokens": CACHE_READ}


def message_json(reply: Reply, model: str) -> dict:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": reply.content, "stop_reason": reply.stop_reason,
            "stop_sequence": None, "usage": usage_of(reply)}


def events(reply: Reply, model: str):
    """The server-sent events of a streamed answer, as the Messages API sends them."""
    start = message_json(Reply([], None, reply.input_tokens, 1), model)
    start["stop_reason"] = None
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta",
                                                    "text": block["text"]}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "input_json_delta",
                                                    "partial_json": json.dumps(block["input"])}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                            "usage": {"output_tokens": reply.output_tokens}}
    yield "message_stop", {"type": "message_stop"}


def sse(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode("utf-8")
