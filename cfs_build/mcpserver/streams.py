"""Stand-ins for the SDK's read and write streams that change only how one message is
received or sent."""
from __future__ import annotations

import anyio


class ReadThrough:
    """The read stream ``read`` as the server's loop uses it; a subclass says how one
    message is received (``receive``). Everything else passes unchanged, the sender's
    context included (``last_context``, which the SDK's loop asks a stream for)."""

    def __init__(self, read):
        self._read = read

    @property
    def last_context(self):
        return getattr(self._read, "last_context", None)

    async def receive(self):
        return await self._read.receive()

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


class WriteThrough:
    """The write stream ``write`` as the server uses it; a subclass says how one message
    is sent (``send``). Everything else passes unchanged."""

    def __init__(self, write):
        self._write = write

    async def send(self, item) -> None:
        await self._write.send(item)

    def __getattr__(self, name: str):
        return getattr(self._write, name)

    async def aclose(self) -> None:
        await self._write.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()
