"""A loopback HTTP server speaking enough of the Anthropic Messages and OpenAI Chat Completions
APIs for the generator tests; it records every request.

``plan`` scripts the first answers, one step per request in arrival order, then every
answer is a success:

- an int (429, 503, 529, ...): that status, with `retry-after: 0` and the API's error body
- "slow": answer only after ``slow_seconds`` (longer than the client's timeout)
- "cut": a reply stopped by the token limit
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS_IN, TOKENS_OUT = 100, 20


def reply_for(document: str) -> str:
    """An artifact derived from the document, or findings when the spec asks for them."""
    if "CANNED-FINDINGS" in document:
        return "<findings>\nThe spec does not say which currency to use.\n</findings>\n"
    digest = hashlib.sha1(document.encode("utf-8")).hexdigest()
    return (f"Here it is.\n<artifact>\n# made from a document with sha1 {digest}\n</artifact>\n"
            "<assumptions>\nNone.\n</assumptions>\n")


class Quiet(BaseHTTPRequestHandler):
    """A request handler that keeps pytest's output clean."""

    def log_message(self, *args):
        pass


class Loopback:
    """An HTTP server on a free loopback port, answering on a thread of its own inside a
    ``with`` block; ``handler``: its request handler class."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        # (Polled every 50 ms for shutdown: the default 0.5 s is time each test waits.)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping()
        self.server.shutdown()
        self.server.server_close()

    def stopping(self) -> None:
        """Let go of any answer still being sent, before the server stops."""


class FakeAPI(Loopback):
    def __init__(self, plan=(), slow_seconds: float = 1.0):
        self.plan = list(plan)
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.hold = 0.0  # seconds every successful answer waits, to observe concurrency
        super().__init__(self._handler())

    def documents(self) -> list[str]:
        """The user message of every request, in arrival order."""
        out = []
        for request in self.requests:
            user = [m for m in request["body"]["messages"] if m["role"] == "user"]
            out.append(user[0]["content"])
        return out

    def _next_step(self):
        with self.lock:
            return self.plan.pop(0) if self.plan else None

    def _handler(self):
        api = self

        class Handler(Quiet):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with api.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    api.requests.append({"path": self.path, "headers": headers, "body": body})
                    api.in_flight += 1
                    api.most_in_flight = max(api.most_in_flight, api.in_flight)
                try:
                    self._answer(body, api._next_step())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout); that is the point of "slow"
                finally:
                    with api.lock:
                        api.in_flight -= 1

            def _answer(self, body: dict, step) -> None:
                openai = self.path.endswith("/chat/completions")
                if isinstance(step, int):
                    error = {"error": {"message": f"scripted {step}", "type": "server_error"}} \
                        if openai else {"type": "error", "error": {
                            "type": "overloaded_error", "message": f"scripted {step}"}}
                    return self._send(step, error, {"retry-after": "0"})
                if step == "slow":
                    time.sleep(api.slow_seconds)
                if api.hold:
                    time.sleep(api.hold)
                user = [m for m in body["messages"] if m["role"] == "user"][0]["content"]
                text = reply_for(user)
                if openai:
                    return self._send(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                        "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "length" if step == "cut"
                                     else "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": TOKENS_IN, "completion_tokens": TOKENS_OUT,
                                  "total_tokens": TOKENS_IN + TOKENS_OUT}})
                return self._send(200, {
                    "id": "msg_1", "type": "message", "role": "assistant",
                    "model": body["model"], "content": [{"type": "text", "text": text}],
                    "stop_reason": "max_tokens" if step == "cut" else "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": TOKENS_IN, "output_tokens": TOKENS_OUT}})

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
