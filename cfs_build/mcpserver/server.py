"""`cfs mcp`: the v5 tools and cfs's own served over MCP stdio, on the official MCP SDK.

Every call runs in a worker thread, so a build in progress never keeps status, graph
or the v5 tools from answering. One build at a time per project: a second one waits
or is refused (the server's own lock, then the project's build lock across processes).
Between calls the server keeps the analysed project and checks it against the disk
before each answer (warm.py), so an answer is always the one a fresh process would give.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.lowlevel
import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from .. import __version__
from ..reading.files import as_json_text, has_lone_surrogate
from ..state.buildlock import BuildLockHeld
from .batch import Batches, Collecting, Unbatching
from .drain import Draining, Pending, Telling
from .handshake import BeforeInitialize
from .heap import return_large_buffers
from .methods import V5Methods
from .progress import ProgressTeller
from .unreadable import Answering
from .tools import (CFS_TOOLS, READ_ONLY, V5_TOOLS, Answer, BadArguments, build_arguments,
                    build_summary, call_v5, json_answer, refusal)
from .v5args import go_quote
from ..analysis.project import Project
from ..building.run import run_build
from ..generators.session import Session
from .warm import Warm

# v5's server name: a client that keys anything on it sees the server it knew.
SERVER_NAME = "framework-mcp"
LOCK_POLL_SECONDS = 0.25
LEAVE_SECONDS = 5
V5_NAMES = {tool.name for tool in V5_TOOLS}
log = logging.getLogger("cfs.mcp")


def serve(root: Path) -> None:
    """Serve the project at ``root`` on stdin/stdout until the client closes them."""
    return_large_buffers()  # before any worker thread has a heap of its own
    anyio.run(_serve, root)


async def _serve(root: Path) -> None:
    server = make_server(root)
    pending = Pending()  # answered before the server stops at the end of input (drain.py)
    batches = Batches()  # batch lines, read as v5's server reads them (batch.py)
    async with stdio_server() as (read, write):
        stdout = write
        read = Unbatching(read, write, batches)
        write = Telling(Collecting(write, batches), pending)
        await server.run(Draining(BeforeInitialize(Answering(read, write), write), pending),
                         write, initialization_options(server))
        if batches.ended:
            await _leave(stdout)


async def _leave(stdout) -> None:
    """End the process once every answer given is written, as v5's ends when its
    session does: the transport's reader is blocked on an input the client keeps open,
    and would keep the client waiting for an end that never comes."""
    # The server closed its side of the SDK's stream to the stdout writer when it
    # stopped; the writer lets go of the other once it wrote (and flushed) the last.
    inner = getattr(stdout, "_inner", None)
    with anyio.move_on_after(LEAVE_SECONDS):
        while inner is not None and inner.statistics().open_receive_streams:
            await anyio.sleep(0.01)
    sys.stderr.flush()
    os._exit(1)


def make_server(root: Path) -> Server:
    builds = _Builds(root)
    # The analysed project, kept between requests and checked before each (warm.py).
    warm = Warm(root)

    async def list_tools(ctx, params) -> types.ListToolsResult:
        # In name order, as v5's library lists its tools (it keeps them sorted by name).
        return types.ListToolsResult(tools=[
            types.Tool(name=spec.name, description=spec.description,
                       input_schema=spec.input_schema(), meta=spec.meta)
            for spec in sorted((*V5_TOOLS, *CFS_TOOLS), key=lambda spec: spec.name)])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> dict:
        name, args = params.name, params.arguments or {}
        if name == "build":
            answer = await builds.run(ctx, args)
        elif name in V5_NAMES:
            answer = await _in_thread(partial(call_v5, warm, name, args))
        elif name in READ_ONLY:
            answer = await _in_thread(partial(READ_ONLY[name], warm, args))
        else:  # (v5's library's words for it)
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {go_quote(name)}")
        return wire_of(answer)

    async def set_logging_level(ctx, params) -> types.EmptyResult:
        # v5's library advertises logging and takes a level; neither server logs to the
        # client, so the level changes nothing, but the request is not refused.
        return types.EmptyResult()

    server = Server(SERVER_NAME, version=__version__, title="cfs-build",
                    on_list_tools=list_tools, on_call_tool=call_tool)
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams,
                               set_logging_level)
    server.middleware.append(V5Methods())
    return server


def initialization_options(server: Server):
    """The initialize answer's capabilities as v5's library states them: logging, and
    tools whose list may change (it never does, in either server)."""
    return server.create_initialization_options(NotificationOptions(tools_changed=True))


def result_of(answer: Answer) -> types.CallToolResult:
    """One text content item, as v5 answers; cfs's tools add the JSON it renders."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=answer.text)],
                                structured_content=answer.data, is_error=answer.error)


def wire_of(answer: Answer) -> dict:
    """result_of(answer) as the SDK dumps it for the wire, the JSON it renders not copied:
    a status document of ten thousand artifacts is otherwise held (and dumped) twice.
    A success carries no isError, as v5's library leaves out a false one."""
    answer = sendable(answer)
    wire = result_of(replace(answer, data=None)).model_dump(by_alias=True, mode="json",
                                                            exclude_none=True)
    if not answer.error:
        wire.pop("isError", None)
    if answer.data is None:
        return wire
    return {"content": wire.pop("content"), "structuredContent": answer.data, **wire}


def sendable(answer: Answer) -> Answer:
    """``answer`` with each byte that is no UTF-8 (a lone surrogate, as a directory name or
    a file's text is read) as U+FFFD, as v5's JSON encoder writes it: the SDK cannot
    serialize a lone surrogate, and the server would stop with the client still waiting.
    The text holds every string of the JSON it renders (tools.json_answer, graph's texts),
    so only a text with one makes the JSON looked through."""
    if not has_lone_surrogate(answer.text):
        return answer
    data = answer.data
    if data is not None:
        data = json.loads(as_json_text(json.dumps(data, ensure_ascii=False)))
    return replace(answer, text=as_json_text(answer.text), data=data)


async def _in_thread(call) -> Answer:
    def guarded() -> Answer:
        try:
            return call()
        except Exception as exc:  # the one boundary of a tool call: an error result
            log.debug("tool call failed", exc_info=True)
            return refusal(exc)
    # A cancelled read-only call is left to finish on its own: it only reads (or, for
    # write_file and accept, makes one atomic write the client then never hears of).
    return await anyio.to_thread.run_sync(guarded, abandon_on_cancel=True)


class _Builds:
    """The server's builds: one at a time, progress reported, cancellation honoured."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = anyio.Lock()

    async def run(self, ctx, args: dict) -> Answer:
        try:
            options = build_arguments(args)
        except BadArguments as exc:
            return refusal(exc)
        wait = options.pop("wait")
        if self.lock.locked() and not wait:
            return Answer("another build of this project is running (started through this "
                          "server); nothing was built. Call build again when it is done, or "
                          "with wait: true to wait for it", error=True)
        async with self.lock:
            while True:
                try:
                    return await self._once(ctx, options)
                except BuildLockHeld as held:
                    if not wait:
                        who = f"pid {held.holder}" if held.holder else "another process"
                        return Answer(f"another build of this project is running ({who}, "
                                      f"{held.file}); nothing was built. Call build again "
                                      "when it is done, or with wait: true to wait for it",
                                      error=True)
                    # Polled rather than blocked on: a waiting build can be cancelled.
                    await anyio.sleep(LOCK_POLL_SECONDS)

    async def _once(self, ctx, options: dict) -> Answer:
        session = Session()
        finished = threading.Event()
        token = anyio.lowlevel.current_token()

        def tell(progress: float, total: float | None, message: str) -> None:
            try:
                anyio.from_thread.run(partial(ctx.session.report_progress, progress, total,
                                              message), token=token)
            except Exception:  # the client went away: the build goes on regardless
                log.debug("progress not sent", exc_info=True)

        def work() -> Answer:
            try:
                project = Project(self.root)
                result = run_build(project, options["targets"], jobs=options["jobs"],
                                   fresh=options["fresh"], wait=False,
                                   reporter=ProgressTeller(tell), session=session)
                return json_answer(build_summary(result, project))
            except BuildLockHeld:
                raise
            except Exception as exc:
                return refusal(exc)
            finally:
                finished.set()

        try:
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            # Cancelled: kill the generations and wait until the run has wound down, so
            # that nothing of it writes after the client was told it is over.
            session.interrupt()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(finished.wait)
            raise

