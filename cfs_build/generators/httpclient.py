"""The HTTP client the API backends hand their SDK: it reads at most MAX_ANSWER of an answer."""
from __future__ import annotations

import zlib
from importlib import import_module

from . import MAX_ANSWER, GenerationFailed

# What the response is read in, once decompressed (zlib hands out no more at a time).
PIECE = 64 * 1024


class AnswerTooLong(GenerationFailed):
    """A model server sent more than the bound (the answer was dropped)."""

    def __init__(self, where: str, limit: int):
        super().__init__(f"the server at {where} answered with more than {limit:,} bytes (a "
                         "reply is one file and a short report): the answer was dropped and "
                         "nothing was written; check that generator.base_url in cfs.toml is a "
                         "model server, and one that ends its answers")


class UnreadableAnswer(GenerationFailed):
    """A model server compressed its answer in a way cfs does not undo with a bound."""


def http_client(sdk, limit: int = MAX_ANSWER):
    """An HTTP client for ``sdk`` (the anthropic or openai module), with the SDK's defaults,
    whose every response body is given up past ``limit`` bytes.

    The SDK reads the whole body before it parses it (and would read one without end
    until the memory ran out), so the bound sits in the body's stream, counted as the bytes
    arrive. A compressed body is counted as it inflates: a few megabytes of gzip can stand
    for gigabytes. cfs asks for an uncompressed answer; gzip and deflate, which a server
    may send all the same, are inflated here, any other coding is refused.
    """
    httpx = _httpx_of(sdk)

    class Bounded(httpx.SyncByteStream):
        def __init__(self, stream, coding: str | None, where: str):
            self.stream, self.coding, self.where = stream, coding, where

        def __iter__(self):
            read = 0
            pieces = _inflated(self.stream, self.coding, self.where) if self.coding \
                else iter(self.stream)
            for piece in pieces:
                read += len(piece)
                if read > limit:
                    raise AnswerTooLong(self.where, limit)
                yield piece

        def close(self) -> None:
            self.stream.close()

    def bound(response) -> None:
        where = _where(response.request.url)
        length = response.headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > limit:
            raise AnswerTooLong(where, limit)  # said at once, before a byte is read
        codings = [c.strip().lower() for c in
                   response.headers.get_list("content-encoding", split_commas=True)]
        codings = [c for c in codings if c not in ("", "identity")]
        if codings and codings not in (["gzip"], ["x-gzip"], ["deflate"]):
            raise UnreadableAnswer(f"the server at {where} compressed its answer as "
                                   f"{', '.join(codings)}, which cfs did not ask for and does "
                                   "not read; make it answer uncompressed (or in gzip)")
        if codings:
            del response.headers["content-encoding"]  # inflated here, not by the client
        response.stream = Bounded(response.stream, codings[0] if codings else None, where)

    return sdk.DefaultHttpxClient(headers={"Accept-Encoding": "identity"},
                                  event_hooks={"response": [bound]})


def _inflated(stream, coding: str, where: str):
    """The bytes of a gzip or deflate ``stream``, PIECE at a time however well it packs."""
    # 47: zlib or gzip, whichever header the stream has. A deflate body comes with a zlib
    # header or without one (raw deflate, which some servers send): its first two bytes
    # say which, however the body is cut into chunks on the way.
    inflate = zlib.decompressobj(47) if coding != "deflate" else None
    head = b""
    try:
        for chunk in stream:
            data = chunk
            if inflate is None:
                head += chunk
                if len(head) < 2:
                    continue
                inflate = zlib.decompressobj(15 if _zlib_header(head) else -15)
                data, head = head, b""
            while data:
                piece = inflate.decompress(data, PIECE)
                data = inflate.unconsumed_tail
                if piece:
                    yield piece
                elif inflate.eof:
                    break
        if inflate is None:  # a body of one byte, or none
            inflate = zlib.decompressobj(-15)
            yield inflate.decompress(head, PIECE)
        yield inflate.flush()
    except zlib.error as exc:
        raise UnreadableAnswer(f"the server at {where} sent a {coding} answer that does not "
                               f"inflate ({exc})") from None


def _zlib_header(head: bytes) -> bool:
    """Whether ``head`` opens a zlib stream, as zlib checks it (RFC 1950: the deflate
    method, a window it takes, the check bits, no preset dictionary)."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0 \
        and not flg & 0x20


def _where(url) -> str:
    """The address a message names: no credentials, no query."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _httpx_of(sdk):
    """The HTTP library the SDK is built on (httpx, or httpx2 in later SDKs): the first one
    its client class derives from outside the SDK itself."""
    for cls in sdk.DefaultHttpxClient.__mro__:
        top = cls.__module__.partition(".")[0]
        if top not in (sdk.__name__, "builtins"):
            return import_module(top)
    raise TypeError(f"{sdk.__name__}.DefaultHttpxClient is not an HTTP client")
