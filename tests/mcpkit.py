"""`cfs mcp` for tests: the MCP SDK's own client talking to a real `cfs mcp` subprocess.

``connect(root)`` (async) yields an initialized ClientSession; ``SyncClient`` runs one in
a background event loop for tests written as plain code (and for the vector harness,
whose v5 tools it can stand in for). ``RawClient`` speaks raw JSON-RPC lines to one, for
the protocol's corners the SDK's client never sends.
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from anyio.from_thread import start_blocking_portal

from cfs_build.building import v5tools

REPO = Path(__file__).resolve().parent.parent
TRACEBACK = "Traceback (most recent call last)"


def server_params(root: Path, *, cwd: Path | None = None, env: dict | None = None):
    from mcp import StdioServerParameters
    # The SDK passes its children only a few variables; these two find this checkout.
    base = {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "TMPDIR":
            os.environ.get("TMPDIR", "/tmp")}
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "cfs_build.cli", "-C", str(root), "mcp"],
                                 cwd=str(cwd or root), env={**base, **(env or {})})


@asynccontextmanager
async def connect(root: Path, *, errlog: Path | None = None, cwd: Path | None = None):
    """An initialized ClientSession with `cfs -C ROOT mcp`; its stderr goes to ``errlog``."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client
    log = open(errlog or os.devnull, "a", encoding="utf-8")
    try:
        async with stdio_client(server_params(root, cwd=cwd), errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                session.initialized = await session.initialize()  # what the server said
                yield session
    finally:
        log.close()


def only_text(result) -> str:
    """The one text content item every result carries (MCP.md)."""
    assert len(result.content) == 1, result.content
    (item,) = result.content
    assert item.type == "text"
    return item.text


class SyncClient:
    """A `cfs mcp` server and its client, called from plain code: ``call(tool, **args)``."""

    def __init__(self, portal, session, root: Path):
        self.portal, self.session, self.root = portal, session, root

    def result(self, tool: str, **args):
        return self.portal.call(self.session.call_tool, tool, args)

    def call(self, tool: str, **args) -> str:
        """The tool's text; an error result is raised as v5tools.Refusal (v5's refusal)."""
        result = self.result(tool, **args)
        text = only_text(result)
        if result.is_error:
            raise v5tools.Refusal(text)
        return text


@contextmanager
def sync_client(root: Path, errlog: Path | None = None, cwd: Path | None = None):
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(connect(root, errlog=errlog, cwd=cwd)) as session:
            yield SyncClient(portal, session, Path(root))


class V5OverMcp:
    """v5tools' functions answered by a `cfs mcp` server instead of the library: the
    vector harness (test_vectors) runs unchanged against the protocol with it."""

    Refusal = v5tools.Refusal

    def __init__(self, client: SyncClient):
        self.client = client

    def _root(self, root) -> None:
        assert Path(root).resolve() == self.client.root.resolve(), root

    def load_chain(self, root, logical_name):
        self._root(root)
        result = self.client.result("load_chain", logical_name=logical_name)
        assert result.structured_content is None
        text = only_text(result)
        if result.is_error:
            raise v5tools.Refusal(text)
        return text

    def write_file(self, root, logical_name, content):
        self._root(root)
        return self.client.call("write_file", logical_name=logical_name, content=content)

    def accept(self, root, logical_name):
        self._root(root)
        return self.client.call("accept", logical_name=logical_name)

    def dump_chain(self, root, logical_name):
        self._root(root)
        return self.client.call("dump_chain", logical_name=logical_name)

    def validate_specs(self, root):
        self._root(root)
        return self.client.call("validate_specs")

    def reconstruct_cache(self, root):
        self._root(root)
        return self.client.call("reconstruct_cache")

    def prune_cache(self, root):
        self._root(root)
        return self.client.call("prune_cache")


class RawClient:
    """`cfs mcp` in a child process, spoken to one JSON-RPC line at a time."""

    def __init__(self, root: Path):
        self.child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=root,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, bufsize=0,
                                      env={**os.environ, "PYTHONPATH": str(REPO)})
        self.next_id = 0

    def send(self, message: dict) -> None:
        self.child.stdin.write(json.dumps(message).encode("ascii") + b"\n")

    def answer(self) -> dict:
        # A server that drops a request leaves its client waiting: give it 20 s.
        with selectors.DefaultSelector() as waiting:
            waiting.register(self.child.stdout, selectors.EVENT_READ)
            assert waiting.select(timeout=20), "no answer"
        return json.loads(self.child.stdout.readline())

    def request(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        answer = self.answer()
        assert answer["id"] == self.next_id
        return answer

    def initialize(self, version: str = "2025-06-18") -> dict:
        said = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                           "clientInfo": {"name": "raw", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return said

    def call(self, name: str, params: dict) -> dict:
        return self.request("tools/call", {"name": name, **params})

    def close(self) -> str:
        try:
            self.child.stdin.close()
            assert self.child.wait(timeout=30) == 0
            return self.child.stderr.read().decode("utf-8", "replace")
        finally:
            if self.child.poll() is None:
                self.child.kill()
                self.child.wait()
