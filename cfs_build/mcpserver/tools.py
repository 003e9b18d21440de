"""The MCP tools `cfs mcp` serves: names, arguments and answers, without the protocol.

The v5 tools are thin adapters over v5tools (v5's names, arguments and texts, MCP.md);
cfs's own (status, build, graph, explain) answer JSON. Each answers from the server's Warm
(warm.py): one chain's tools read that chain lean, the others the kept project, checked
against the disk first. mcp_server.py puts them on the wire.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ..analysis.lean import NeedsFull
from ..analysis.project import Project
from ..building import v5tools
from ..building.run import DEFAULT_JOBS, BuildResult, InvalidTree
from ..building.tasks import TASK_PREFIX, task_name
from ..errors import CfsError
from ..reading.files import UnreadableFile
from ..reading.names import SPEC, TREE_DIR
from . import v5args
from .attention import ANSWER_CHARS, LIST_CAP, attention_document
from .warm import Warm

LOGICAL_NAME = {"type": "string",
                "description": "the SPEC/... name of a leaf node that declares an output"}
# Claude Code cuts tool results at 25,000 tokens unless the tool asks for more; a
# generator document of a big chain is larger than that (MCP.md).
LOAD_CHAIN_META = {"anthropic/maxResultSizeChars": 500000}


@dataclass(frozen=True)
class Answer:
    """One tool result: its text, the JSON it renders (cfs's tools), and whether it failed."""

    text: str
    data: dict | None = None
    error: bool = False


@dataclass(frozen=True)
class ToolSpec:
    """A tool as tools/list shows it: name, what it does, its arguments, its meta."""

    name: str
    description: str
    properties: dict = field(default_factory=dict)
    required: tuple[str, ...] = ()
    meta: dict | None = None
    # v5's tools take exactly their arguments: its MCP library derives each schema from a
    # Go struct, which allows no other property (and names none when it has no field).
    closed: bool = False

    def input_schema(self) -> dict:
        schema: dict = {"type": "object"}
        if self.properties or not self.closed:
            schema["properties"] = self.properties
        if self.required:
            schema["required"] = list(self.required)
        if self.closed:
            schema["additionalProperties"] = False
        return schema


class BadArguments(Exception):
    """A tool call whose arguments do not fit the tool's schema (an error result)."""


V5_TOOLS = (
    ToolSpec("load_chain", "Load the generator document of a leaf node: its chain of specs, "
             "dependencies and existing artifact, exactly as the v5 tool serves it.",
             {"logical_name": LOGICAL_NAME}, ("logical_name",), LOAD_CHAIN_META, closed=True),
    ToolSpec("write_file", "Write the generated content to the node's output file and record "
             "it in the manifest. Refuses to replace a file that was edited by hand or that "
             "cfs did not write (accept it first).",
             {"logical_name": LOGICAL_NAME,
              "content": {"type": "string", "description": "the complete file content"}},
             ("logical_name", "content"), closed=True),
    ToolSpec("validate_specs", "Validate the spec tree and report format errors, cycles and "
             "artifacts that are stale, missing or modified (ranked for generation).",
             closed=True),
    ToolSpec("accept", "Accept the node's output file as it is now: record its checksum and "
             "the current chain in the manifest.",
             {"logical_name": LOGICAL_NAME}, ("logical_name",), closed=True),
    ToolSpec("dump_chain", "Write load_chain's document to dump_chain.xml at the project root.",
             {"logical_name": LOGICAL_NAME}, ("logical_name",), closed=True),
    ToolSpec("reconstruct_cache", "Fill the content cache from the manifest entries and the "
             "current tree.", closed=True),
    ToolSpec("prune_cache", "Delete cached chains no manifest entry names, and content no "
             "remaining chain names.", closed=True),
    ToolSpec("version", "The version of the v5 tool these tools answer as: 5.0.0 (cfs-build's "
             "own version is in the server's initialize answer).", closed=True),
)

BUILD = ToolSpec(
    "build", "Regenerate the stale and missing artifacts (all, or those under the targets) "
    "with the generator configured in cfs.toml, several at once, the same build as "
    "`cfs build`. Reports progress while it runs; cancelling it stops its generations "
    "and records nothing half-written. Returns the run's summary as JSON.",
    {"targets": {"type": "array", "items": {"type": "string"},
                 "description": "SPEC/x (a whole subtree), ARTIFACT/x or output paths; "
                                "none: everything"},
     "jobs": {"type": "integer", "minimum": 1,
              "description": f"generations at once (default {DEFAULT_JOBS})"},
     "fresh": {"type": "boolean", "description": "generate from the chain alone, without "
                                                 "showing the generator the existing file"},
     "wait": {"type": "boolean", "description": "when another build of this project is "
                                                "running, wait for it (default: refuse at "
                                                "once)"}})
CFS_TOOLS = (
    ToolSpec("status", "What needs attention, as JSON: the summary counts (up-to-date, stale, "
             "missing, modified, untracked, invalid, orphan, errors), test verification, "
             "format errors, orphans, and the artifacts that are NOT up to date (flags, "
             "reasons, paths, rank), in rank order. Up-to-date artifacts are only counted; "
             f"each list shows at most {LIST_CAP} entries and about {ANSWER_CHARS} characters "
             "in all, and left_out counts what was not shown. all: true answers the whole "
             "`cfs status --json` document instead (every artifact: large on a big tree).",
             {"all": {"type": "boolean", "description": "the whole `cfs status --json` "
                                                       "document, every artifact listed "
                                                       "(default false)"}}),
    BUILD,
    ToolSpec("graph", "The build graph, or the part a build of one node touches, as JSON "
             "(node-link) or Mermaid.",
             {"node": {"type": "string", "description": "SPEC/x, ARTIFACT/x or an output "
                                                        "path; none: the whole graph"},
              "format": {"type": "string", "enum": ["json", "mermaid", "dot"],
                         "description": "default json"}}),
    ToolSpec("explain", "Why one artifact is not up to date: its status, the reasons, and a "
             "diff of each chain entry that changed since it was made (`cfs explain --json`).",
             {"name": {"type": "string", "description": "SPEC/x, ARTIFACT/x or the output "
                                                        "path of a leaf"}}, ("name",)),
)


# -- arguments ----------------------------------------------------------------------

def argument(args: dict, name: str, kind: type, default=None, *, required: bool = False):
    """``args[name]`` checked against its JSON type, for cfs's own tools (the error result
    says which: a required key that is absent is "not found", one given as null is of
    another type). A null optional argument takes its default. (The v5 tools' arguments
    are checked by v5args, in v5's words.)"""
    if name not in args:
        if required:
            raise BadArguments(f'required argument "{name}" not found')
        return default
    if args[name] is None and not required:
        return default
    value = args[name]
    # JSON true is no integer here, though Python's bool is an int.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        words = {str: "a string", bool: "a boolean", int: "an integer", list: "an array"}
        raise BadArguments(f'argument "{name}" is not {words[kind]}')
    return value


# -- the v5 tools -----------------------------------------------------------------------

V5_ARGUMENTS = {tool.name: tuple(tool.properties) for tool in V5_TOOLS}


def call_v5(warm: Warm, name: str, args: dict) -> Answer:
    """A v5 tool's answer: its exact text, or its refusal as an error result (arguments
    that do not fit the tool's schema among them, in the words v5's answer has)."""
    unfit = v5args.check(V5_ARGUMENTS[name], args)
    if unfit is not None:
        return Answer(unfit, error=True)
    try:
        if name == "version":  # (v5's answer, FORMAT.md 11: a client sees no other tool)
            return Answer(v5tools.VERSION)
        if name == "validate_specs":
            if not (warm.root / TREE_DIR).is_dir():
                # Gone since the server started: v5's scan line, never an error (MCP.md);
                # there is no project to analyse or keep.
                return Answer(v5tools.validate_specs(warm.root))
            # The report depends on the analysis alone: kept while the project holds.
            return Answer(warm.answer(("validate_specs",), v5tools.validate_specs))
        if name in ("reconstruct_cache", "prune_cache"):
            with warm.project() as project:
                return Answer(getattr(v5tools, name)(project))
        logical_name = args["logical_name"]
        if name == "write_file":
            content = args["content"]
            return Answer(warm.lean_first(
                lambda project: v5tools.write_file(project, logical_name, content)))
        tool = getattr(v5tools, name)
        return Answer(warm.lean_first(lambda project: tool(project, logical_name)))
    except v5tools.Refusal as refusal:
        return Answer(refusal.message, error=True)


# -- cfs's own tools ----------------------------------------------------------------

def json_answer(data: dict) -> Answer:
    # (json's own indenting encoder: a faster one, with the texts of unchanged artifacts
    # kept between answers, was measured no faster and held the document twice more.)
    return Answer(json.dumps(data, indent=2, ensure_ascii=False), data)


class _LeanChains:
    """The kept project, with the chains its reasons compare read lean (lean.py): an
    analysis brought up to date from a snapshot need not read the whole tree for the
    few artifacts that are stale."""

    def __init__(self, project: Project, resolver):
        self._project = project
        self.resolver = resolver

    def __getattr__(self, name: str):
        return getattr(self._project, name)


def status(warm: Warm, args: dict) -> Answer:
    from ..commands.status import status_document, status_parts
    whole = argument(args, "all", bool, False)

    def compute(project: Project) -> Answer:
        where = project
        if "tree" not in project.__dict__ and project.snapshot is not None \
                and project.scan_failure is None:
            try:
                where = _LeanChains(project, warm.lean().resolver)
            except (NeedsFull, CfsError):
                pass
        if whole:
            return json_answer(status_document(where)[1])
        return json_answer(attention_document(*status_parts(where)))
    # Its reasons read the cache and its verification the run log: kept only while the
    # kernel tells of no change there either.
    return warm.told_answer(("status", whole), compute)


def graph(warm: Warm, args: dict) -> Answer:
    from ..commands.graph import graph_of, json_data, render
    node = argument(args, "node", str)
    fmt = argument(args, "format", str, "json")
    if fmt not in ("json", "mermaid", "dot"):
        raise BadArguments(f'argument "format" must be json, mermaid or dot, not "{fmt}"')

    def compute(project: Project) -> Answer:
        subgraph = graph_of(project, node)
        if fmt == "json":
            return json_answer(json_data(subgraph))
        text = render(subgraph, fmt)
        return Answer(text, {"node": node, "format": fmt, fmt: text})
    return warm.answer(("graph", node, fmt), compute)


def explain(warm: Warm, args: dict) -> Answer:
    from ..analysis.explain import explain as explain_artifact
    name = argument(args, "name", str, required=True)
    with warm.project() as project:  # not kept: the diffs come from the cache
        return json_answer(explain_artifact(project, name).as_dict())


READ_ONLY = {"status": status, "graph": graph, "explain": explain}


def build_arguments(args: dict) -> dict:
    """run_build's keywords from the build tool's arguments (plus ``wait``)."""
    targets = argument(args, "targets", list, [])
    if not all(isinstance(target, str) for target in targets):
        raise BadArguments('argument "targets" must be an array of strings')
    jobs = argument(args, "jobs", int, DEFAULT_JOBS)
    if jobs < 1:
        raise BadArguments('argument "jobs" must be at least 1')
    return {"targets": targets, "jobs": jobs, "fresh": argument(args, "fresh", bool, False),
            "wait": argument(args, "wait", bool, False)}


def _namer(project: Project | None) -> Callable[[str], str]:
    """The node of each task name of a build (the verify task keeps its name)."""
    escaped: dict[str, str] = {}

    def node(task: str) -> str:
        if TASK_PREFIX not in task:
            return task
        name = f"{SPEC}/{task.split(TASK_PREFIX, 1)[1]}"
        if "\\" in name and project is not None:  # maybe a control character task_name escaped
            if not escaped:
                escaped.update((task_name(node), node) for node in project.tree.nodes)
            return escaped.get(task, name)
        return name

    return node


def build_summary(result: BuildResult, project: Project | None = None) -> dict:
    """The run's summary as JSON: what was generated, failed, refused or skipped, and its
    cost; nodes by their names (``project``: also those with control characters)."""
    _node = _namer(project)
    return {
        "exit_code": result.exit_code,
        "interrupted": result.interrupted,
        "generated": [_node(t) for t in result.generated],
        "unchanged": [_node(t) for t in result.unchanged],
        "up_to_date": [_node(t) for t in result.up_to_date],
        "failed": [{"node": _node(t), "message": why} for t, why in result.failed],
        "refused": [{"node": _node(t), "message": why} for t, why in result.refused],
        "findings": [{"node": _node(t), "message": why} for t, why in result.findings],
        "not_attempted": [{"node": _node(t), "needs": why} for t, why in result.not_attempted],
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
    }


def refusal(exc: Exception) -> Answer:
    """What stops one of cfs's tools, as an error result worded like the CLI's line."""
    if isinstance(exc, InvalidTree):
        lines = [str(exc), *(finding.render() for finding in exc.findings)]
        return Answer("\n".join(lines), error=True)
    if isinstance(exc, (CfsError, UnreadableFile, BadArguments)):
        return Answer(str(exc), error=True)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return Answer(f"{where}{exc.strerror or exc}", error=True)
    return Answer(f"internal error ({type(exc).__name__}: {exc}); please report it", error=True)
