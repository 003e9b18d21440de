"""The bound on what the API backends read of an answer, over HTTP on a loopback server."""
from __future__ import annotations

import json
import socket
import time
import zlib

import pytest

from cfs_build.generators import GenerationFailed
from cfs_build.generators.anthropic_api import AnthropicGenerator
from cfs_build.generators.httpclient import AnswerTooLong, http_client
from cfs_build.generators.openai_api import OpenAIGenerator
from cfs_build.generators.sdk import load_sdk
from fakeapi import Loopback, Quiet

LIMIT = 4096


def reply(kind: str, text: str) -> bytes:
    """A whole answer of the API, its reply ``text``."""
    if kind == "anthropic":
        answer = {"id": "m", "type": "message", "role": "assistant", "model": "m",
                  "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                  "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}
    else:
        answer = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": text}}],
                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return json.dumps(answer).encode("utf-8")


def sized(kind: str, size: int) -> bytes:
    """An answer of exactly ``size`` bytes."""
    return reply(kind, "x" * (size - len(reply(kind, ""))))


def packed(data: bytes, wbits: int) -> bytes:
    pack = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return pack.compress(data) + pack.flush()


class Server(Loopback):
    """Answers every request with ``status``, ``headers`` and ``body``; records the headers
    of each request."""

    def __init__(self, body: bytes, headers: dict | None = None, status: int = 200,
                 bytewise: bool = False):
        self.seen: list[dict] = []
        server = self

        class Handler(Quiet):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                server.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if bytewise:  # one byte a packet, as a slow network may hand them
                        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        for index in range(len(body)):
                            self.wfile.write(body[index:index + 1])
                            time.sleep(0.001)
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

        super().__init__(Handler)

    def base(self, kind: str) -> str:
        return self.url if kind == "anthropic" else self.url + "/v1"


def generator(kind: str, base_url: str, limit: int = LIMIT):
    """The backend as from_config makes it, but with a bound of ``limit`` bytes."""
    sdk = load_sdk(kind, kind)
    make = sdk.Anthropic if kind == "anthropic" else sdk.OpenAI
    client = make(api_key="k", base_url=base_url, max_retries=0, timeout=10,
                  http_client=http_client(sdk, limit))
    backend = AnthropicGenerator if kind == "anthropic" else OpenAIGenerator
    return backend(model="m", client=client, sdk=sdk, timeout=10)


KINDS = pytest.mark.parametrize("kind", ["anthropic", "openai"])


@KINDS
def test_an_answer_of_the_bound_is_read_and_one_byte_more_is_not(kind):
    with Server(sized(kind, LIMIT)) as server:
        assert len(generator(kind, server.base(kind)).generate("doc").reply) > LIMIT - 400
        assert server.seen[0]["accept-encoding"] == "identity"
    with Server(sized(kind, LIMIT + 1)) as server:
        with pytest.raises(AnswerTooLong) as caught:
            generator(kind, server.base(kind)).generate("doc")
    path = "/v1/messages" if kind == "anthropic" else "/v1/chat/completions"
    assert str(caught.value) == (
        f"the server at {server.base('anthropic')}{path} answered with more than 4,096 bytes "
        "(a reply is one file and a short report): the answer was dropped and nothing was "
        "written; check that generator.base_url in cfs.toml is a model server, and one that "
        "ends its answers")


@KINDS
@pytest.mark.parametrize("coding, wbits", [("gzip", 31), ("x-gzip", 31), ("deflate", 15),
                                           ("deflate", -15)])
def test_a_compressed_answer_is_inflated_and_counted_as_inflated(kind, coding, wbits):
    # cfs asks for no compression; a server that compresses all the same is read, and a
    # small body that inflates past the bound (here 200 bytes or so for 4 KiB) is not.
    with Server(packed(sized(kind, LIMIT), wbits), {"content-encoding": coding}) as server:
        assert generator(kind, server.base(kind)).generate("doc").reply.startswith("xxx")
    bomb = packed(sized(kind, LIMIT + 1), wbits)
    assert len(bomb) < LIMIT // 10
    with Server(bomb, {"content-encoding": coding}) as server:
        with pytest.raises(AnswerTooLong):
            generator(kind, server.base(kind)).generate("doc")


@KINDS
@pytest.mark.parametrize("wbits", [15, -15])
def test_a_deflate_answer_arriving_a_byte_at_a_time_is_read(kind, wbits):
    # Whether a deflate body has a zlib header is told by its first two bytes: with the
    # first byte alone nothing was refused yet, and raw deflate was then taken for a zlib
    # stream gone bad ('unknown compression method') where the same body in one piece
    # was read.
    body = packed(sized(kind, LIMIT // 2), wbits)
    with Server(body, {"content-encoding": "deflate"}, bytewise=True) as server:
        assert generator(kind, server.base(kind)).generate("doc").reply.startswith("xxx")


@KINDS
def test_an_answer_in_a_coding_cfs_does_not_inflate_is_refused(kind):
    with Server(b"\x00" * 64, {"content-encoding": "br"}) as server:
        with pytest.raises(GenerationFailed, match=r"^the server at http://127\.0\.0\.1:\d+/v1/"
                           r"\S+ compressed its answer as br, which cfs did not ask for and "
                           r"does not read; make it answer uncompressed \(or in gzip\)$"):
            generator(kind, server.base(kind)).generate("doc")


@KINDS
def test_an_error_answer_past_the_bound_is_not_read_either(kind):
    # An error status has its body read apart from the answer's (for the error's text).
    with Server(b"{" + b" " * LIMIT + b"}", status=400) as server:
        with pytest.raises(AnswerTooLong):
            generator(kind, server.base(kind)).generate("doc")
