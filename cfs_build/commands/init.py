"""`cfs init`: start a Code from Spec project here; never overwrites anything."""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from ..errors import CfsError, printable_json
from ..reading.files import (NotRegular, Outside, UnreadableFile, atomic_write, kind_of,
                             read_inside)
from ..reading.names import TREE_DIR

HELP = ("create code-from-spec/ with an example root node, cfs.toml, dodo.py, .gitignore "
        "(and with --mcp the cfs server in .mcp.json)")
EXAMPLE = "mkdir myproj && cd myproj && cfs init && cfs status"
NEEDS_PROJECT = False

ROOT_NODE = """# SPEC/app

One line on what this part of the system is for (shown by `doit list`).

# Public

# Private

## How to fill in this node

Everything under `# Public` is sent to the generator of every leaf below
`app/`: write there, in `##` subsections, the constraints they all share
(language, error handling, naming). This `# Private` section is for people
only: never sent to a generator, never hashed.

<!--
Add a leaf below this node, e.g. code-from-spec/app/hello/_node.md:

---
output: src/hello.py
---
# SPEC/app/hello

Prints a greeting.

# Agent

Write a `main()` that prints "hello".
-->
"""

CONFIG = """# cfs-build settings. Every key is in cfs-build's docs: generators.md,
# backends.md (the model backends) and building.md ([[verify]]).

# The generator that turns a leaf's chain into its file:
# [generator]
# kind = "command"                   # or claude-code, anthropic, openai
# command = ["python3", "tools/gen.py"]
# timeout = 600

# How to run the generated tests (`cfs verify`):
# [[verify]]
# command = ["python3", "-m", "pytest", "-q"]
# outputs = ["tests/**/*.py"]
"""

DODO = "from cfs_build.dodo import *\n"
IGNORES = ("code-from-spec/.cache/", "code-from-spec/.manifest.lock", ".cfs/")
MCP_FILE = ".mcp.json"
MCP_NAME = "cfs"
MCP_ENTRY = {"type": "stdio", "command": "cfs", "args": ["mcp"]}
V5_COMMAND = "framework-mcp"


def add_arguments(parser) -> None:
    parser.add_argument("directory", nargs="?", default=".", help="where to start (default: .)")
    parser.add_argument("--mcp", action="store_true",
                        help=f"also add the cfs MCP server to {MCP_FILE} for Claude Code "
                             "(other servers are kept)")
    parser.add_argument("--force", action="store_true",
                        help="start a project even inside another one (nested)")


def enclosing_project(root: Path) -> Path | None:
    """The project a directory lies in, above it (its own code-from-spec/ does not count)."""
    for candidate in root.parents:
        if (candidate / TREE_DIR).is_dir():
            return candidate
    return None


def refuse_links(root: Path, rel: str) -> None:
    """CfsError when a part of ``rel`` in ``root`` is a symbolic link: what init writes or
    reads is never reached through one (a checkout's `code-from-spec -> ~/x` would have
    the example node written there); or anything else but a directory (a file, a FIFO),
    where the example node could not be made."""
    parts = rel.split("/")
    for end in range(1, len(parts) + 1):
        here = "/".join(parts[:end])
        if os.path.islink(root / here):
            raise CfsError(f"is a symbolic link (to {os.readlink(root / here)}); cfs init "
                           "writes only real files and directories in the project, so nothing "
                           "was written. Remove the link, then run cfs init again", file=here)
        try:
            mode = os.lstat(root / here).st_mode
        except OSError:
            return  # (not there: made as a directory)
        if not stat.S_ISDIR(mode):
            raise CfsError(f"is a {kind_of(mode)}, not a directory; cfs init makes the spec "
                           "tree there, so nothing was written. Move it away, then run cfs "
                           "init again", file=here)


def read_own_bytes(root: Path, rel: str, again: str = "cfs init") -> bytes | None:
    """The bytes of the project's own ``rel`` (None when absent), never from outside it."""
    try:
        data = read_inside(os.path.realpath(root), rel)
    except (Outside, NotRegular) as exc:
        raise CfsError(f"{exc.reason}; nothing was written. Remove it, then run {again} "
                       "again", file=rel) from None
    except UnreadableFile as exc:
        raise CfsError(f"cannot read it: {exc.reason}", file=rel) from None
    return data


def read_own(root: Path, rel: str, again: str = "cfs init") -> str | None:
    """The text of the project's own ``rel`` (None when absent), never from outside it."""
    data = read_own_bytes(root, rel, again)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CfsError(f"is not UTF-8 text; fix or remove it, then run {again} again",
                       file=rel) from None


def init(root: Path) -> list[str]:
    """Create what is missing; return a line per thing done or left alone."""
    lines = []
    # Both refusals come before anything is written.
    refuse_links(root, "code-from-spec/app")
    # As bytes: a .gitignore in another encoding than UTF-8 is kept as it is.
    text = read_own_bytes(root, ".gitignore") or b""

    def create(rel: str, text: str) -> None:
        path = root / rel
        if os.path.lexists(path):  # (a link there is left alone too: never written through)
            lines.append(f"kept    {rel} (exists)")
            return
        atomic_write(path, text.encode("utf-8"))
        lines.append(f"created {rel}")

    tree = root / "code-from-spec"
    has_nodes = tree.is_dir() and any(tree.rglob("_node.md"))
    if has_nodes:
        lines.append("kept    code-from-spec/ (already has nodes)")
    else:
        create("code-from-spec/app/_node.md", ROOT_NODE)
    if _configured_in_pyproject(root) and not os.path.lexists(root / "cfs.toml"):
        # A cfs.toml would be read instead of [tool.cfs], silently dropping its settings.
        lines.append("kept    pyproject.toml's [tool.cfs] (no cfs.toml: it would be read "
                     "instead)")
    else:
        create("cfs.toml", CONFIG)
    create("dodo.py", DODO)
    gitignore = root / ".gitignore"
    existed = os.path.lexists(gitignore)
    present = {line.strip() for line in text.splitlines()}
    missing = [entry for entry in IGNORES if entry.encode() not in present]
    if missing:
        if text and not text.endswith(b"\n"):
            text += b"\n"
        text += ("# cfs-build state and the v5 cache\n" + "".join(f"{e}\n" for e in missing)
                 ).encode("utf-8")
        atomic_write(gitignore, text)
        lines.append(f"updated .gitignore (+{len(missing)} entries)" if existed else
                     f"created .gitignore ({len(missing)} entries)")
    else:
        lines.append("kept    .gitignore (entries present)")
    return lines


def _configured_in_pyproject(root: Path) -> bool:
    """Whether pyproject.toml has a [tool.cfs...] table (config.load_config reads it
    only when there is no cfs.toml)."""
    try:
        text = read_own_bytes(root, "pyproject.toml") or b""
    except CfsError:
        return False
    return re.search(rb"^[ \t]*\[\[?[ \t]*tool\.cfs[ \t]*[.\]]", text, re.M) is not None


def mcp_config(root: Path) -> tuple[dict | None, list[str]]:
    """The .mcp.json to write (None: nothing to change) and what to tell about it.

    Other servers are never touched; a .mcp.json that is not a JSON object with an
    `mcpServers` object is refused before anything is written.
    """
    text = read_own(root, MCP_FILE, "cfs init --mcp")
    if text is None:
        return {"mcpServers": {MCP_NAME: MCP_ENTRY}}, [f"created {MCP_FILE} (server {MCP_NAME})"]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # (RecursionError: nested past the stack)
        raise CfsError(f"is not valid JSON ({exc}); fix or remove it, then run cfs init --mcp "
                       "again", file=MCP_FILE) from None
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise CfsError("is not a JSON object with an \"mcpServers\" object; fix or remove it, "
                       "then run cfs init --mcp again", file=MCP_FILE)
    notes = [f"note    {MCP_FILE}: server {name!r} runs the v5 tool; to switch it to cfs, "
             f"set its command to \"cfs\" and its args to [\"mcp\"] (the skills keep working)"
             for name, entry in servers.items()
             if isinstance(entry, dict) and name != MCP_NAME
             and Path(str(entry.get("command", ""))).name == V5_COMMAND]
    if MCP_NAME in servers:
        same = servers[MCP_NAME] == MCP_ENTRY
        return None, [f"kept    {MCP_FILE} (server {MCP_NAME} "
                      f"{'present' if same else 'already configured otherwise; left as it is'})",
                      *notes]
    return {**data, "mcpServers": {**servers, MCP_NAME: MCP_ENTRY}}, \
        [f"updated {MCP_FILE} (+server {MCP_NAME})", *notes]


def run(args, project=None) -> int:
    return init_project(args.directory, mcp=args.mcp, force=args.force)


def init_project(directory: str | Path = ".", *, mcp: bool = False,
                 force: bool = False) -> int:
    """The verb: start a project in ``directory`` (with ``mcp``, in .mcp.json too);
    ``force``: even inside another project."""
    root = Path(directory).resolve()
    outer = enclosing_project(root)
    if outer is not None and not force:
        # cfs run anywhere below finds the nearest code-from-spec/: a nested project
        # would quietly take over that part of the outer one.
        raise CfsError(f"{root} is inside the project {outer} (it has {TREE_DIR}/); add "
                       f"nodes under {outer / TREE_DIR} instead, or pass --force to start "
                       "a separate project nested in it")
    # A .mcp.json that cannot be merged is refused before anything is written.
    config, said = mcp_config(root) if mcp else (None, [])
    # (printable_json: a lone surrogate the old file held as a \u escape stays one; as a
    # character it cannot be written as UTF-8)
    mcp_bytes = None if config is None else \
        (printable_json(json.dumps(config, indent=2, ensure_ascii=False)) + "\n").encode("utf-8")
    root.mkdir(parents=True, exist_ok=True)
    for line in init(root):
        print(line)
    if mcp_bytes is not None:
        atomic_write(root / MCP_FILE, mcp_bytes)
    for line in said:
        print(line)
    if mcp:
        unfound = _not_on_path()
        if unfound:
            print(unfound)
    return 0


def _not_on_path() -> str | None:
    """A note when no `cfs` is on PATH: Claude Code would start the entry's "cfs" in vain."""
    import shutil
    import sys
    if shutil.which(MCP_ENTRY["command"]):
        return None
    beside = Path(sys.executable).parent / MCP_ENTRY["command"]
    where = f" ({beside})" if beside.is_file() else ""
    return (f"note    no {MCP_ENTRY['command']} on PATH here: Claude Code must find the "
            f"command of {MCP_FILE}'s entry: activate the environment cfs-build is installed "
            f"in before starting it, or set the command to the full path of cfs{where}")
