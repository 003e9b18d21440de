"""`cfs mcp`: serve the project's tools to Claude Code (or any MCP client) over stdio."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

HELP = ("serve the v5 tools (load_chain, write_file, ...) plus build, status, graph and "
        "explain over MCP")
EXAMPLE = ('cfs mcp       # started by Claude Code from .mcp.json: '
           '{"mcpServers": {"cfs": {"type": "stdio", "command": "cfs", "args": ["mcp"]}}}')


def add_arguments(parser) -> None:
    pass


def open_project(root: Path) -> Path:
    """The root alone: the server analyses the project when a request asks (warm.py); a
    Project read here would be held, unused, for as long as the server runs."""
    return root


def run(args, root: Path) -> int:
    return mcp(root)


def mcp(root: Path) -> int:
    """The verb: serve the tools of the project at ``root`` on stdin/stdout until the
    client goes."""
    try:
        # The SDK first: the server also imports what the SDK brings (anyio), which an
        # environment without the SDK lacks as well.
        importlib.import_module("mcp")
        from ..mcpserver.server import serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("mcp", "mcp_types"):
            raise
        from ..extras import install_command
        print(f"cfs: cfs mcp needs the MCP SDK: {install_command('mcp')}", file=sys.stderr)
        return 3
    serve(root)
    return 0
