"""The v5 tool's operations as use cases: load_chain, write_file, validate_specs, accept,
dump_chain, reconstruct_cache, prune_cache (MCP.md; FORMAT.md 7.5, 7.6, 8, 9.4, 10.3, 11).

Each takes the project root (or a loaded Project) and returns v5's answer text, or
raises Refusal carrying v5's error text (an MCP error result). Where cfs deliberately
answers otherwise, FORMAT.md section 12 says so (X1-X9).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..analysis.cache import Cache
from ..analysis.document import as_sent, render_document
from ..analysis.lean import LeanProject, NeedsFull
from ..reading.outputs import output_problem, output_rel, place_problem
from ..analysis.project import Project
from ..analysis.report_v5 import bare_failure, render_report
from ..analysis.status import MODIFIED, UNTRACKED, file_flag
from ..errors import CfsError
from ..reading.files import UnreadableFile, atomic_write, read_inside
from ..reading.hashing import b64
from ..reading.names import SPEC, TREE_DIR, artifact_of, node_of_entry
from ..reading.tree import LINKS_V5, NOT_FOUND_V5, UNLISTED_V5
from ..reading.unparsed import go_quote, name_problem
from ..state.artifacts import settle_pending, write_artifact
from ..state.manifest import ManifestEntry, update_manifest

VERSION = "5.0.0"
DUMP_FILE = "dump_chain.xml"
MODIFIED_OUTSIDE = "artifact file was modified outside the framework"
UP_TO_DATE_ALREADY = "artifact is already up to date"


class Refusal(Exception):
    """The v5 tool's refusal: ``message`` is its exact text (an MCP error result).

    ``exit_code`` follows the CLI contract for a command that reports it (errors.CfsError);
    ``kind`` names the refusals a command words its own way (ALREADY, NO_OUTPUT, UNOPENED).
    """

    def __init__(self, message: str, exit_code: int = 2, kind: str | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.kind = kind


ALREADY = "already"  # the manifest records this file and chain already
NO_OUTPUT = "no output"  # the node declares no output
UNOPENED = "unopened"  # the output file could not be opened


def _project(where: Path | str | Project | LeanProject) -> Project | LeanProject:
    """The project, refused with v5's scan text when a link in the tree stops the scan
    (MCP.md names no other answer; cfs never works on a tree it could not list). A lean
    reading is made only of a tree without links."""
    if isinstance(where, LeanProject):
        return where
    if not isinstance(where, Project):
        try:
            where = Project(where)
        except CfsError as exc:
            raise Refusal(str(exc)) from None
    failed = where.scan_failure
    if failed is not None and failed.v5 == LINKS_V5:
        raise Refusal(f"scan: {LINKS_V5}")
    if failed is not None and (failed.v5 or "").startswith(UNLISTED_V5):
        raise Refusal(f"scan: {failed.v5}")
    return where


def _lean_first(where: Path | str | Project | LeanProject, answer):
    """``answer(project)`` read lean (lean.py) when given a root, else or when the lean
    reading cannot be sure of the whole-tree answer, on a whole Project."""
    if isinstance(where, (str, Path)):
        # On NeedsFull nothing was written yet (the cache and the dump come last).
        with contextlib.suppress(NeedsFull):
            try:
                lean = LeanProject(where)
            except CfsError as exc:
                raise Refusal(str(exc)) from None
            return answer(lean)
    return answer(_project(where))


def _target(logical_name: str, *, lead: str) -> str:
    """The node of a `SPEC/x` name, or the refusal of load_chain (``lead`` "parsing target
    node: ") and of write_file (its own words)."""
    name = logical_name
    if not name.startswith(SPEC + "/"):
        raise Refusal(lead + "not a SPEC/ reference" if lead else
                      "logical name is not a SPEC/ reference")
    if not lead and "(" in name:  # write_file takes any '(' for a qualifier (11)
        raise Refusal("logical name must not contain a qualifier")
    return name


def _parse_problem(project: Project, node: str) -> str | None:
    problem = name_problem(node)
    if problem is not None:
        return problem
    # (A node in a dot directory is no part of the tree, but v5 reads any node it is
    # asked for from the node's path: names.dotted_node_dir; a name that spells another
    # node's path, `SPEC/a//b`, fails on that node's name heading.)
    return project.resolver.parse_failure(node)


def _output_problem(project: Project, output: str) -> str | None:
    problem = output_problem(output)
    if problem is None:
        problem = place_problem(str(project.root), output_rel(output))
    return problem


# -- load_chain / dump_chain --------------------------------------------------------

def load_chain(where: Path | str | Project | LeanProject, logical_name: str) -> str:
    """The generator document of one node, exactly as v5's `load_chain` (FORMAT.md 9).

    Refuses in v5's order (9.4); fills the content cache as v5 does. Given a root, only
    the files the chain needs are read (lean.py); the answer is the whole analysis's.
    """
    return _lean_first(where, lambda project: as_sent(_load_chain(project, logical_name)))


# v5's words for the first refusals of each tool, in v5's order (FORMAT.md 9.4, 7.6): the
# target, its parse, a missing output, an invalid one (None: the problem itself).
_LOAD_WORDS = ("parsing target node: ", "parsing target node: ",
               "target node has no output field", "output path is invalid")
_WRITE_WORDS = ("", "node frontmatter cannot be parsed: ", "node has no output field", None)


def _declared(project: Project | LeanProject, logical_name: str, words: tuple) -> tuple:
    """The node ``logical_name`` names and what the tree keeps of it, or the Refusal
    its tool gives (``words``) for a bad name, a node that does not parse, no output or
    an invalid output (v5's rule, and X8's places)."""
    target, parsing, no_output, bad_output = words
    node = _target(logical_name, lead=target)
    problem = _parse_problem(project, node)
    if problem is not None:
        raise Refusal(f"{parsing}{problem}")
    info = project.resolver.node_info(node)
    if info.output is None:  # `output: ''` is declared: an invalid path below
        raise Refusal(no_output)
    problem = _output_problem(project, info.output)
    if problem:
        raise Refusal(bad_output or problem)
    return node, info


def _load_chain(project: Project | LeanProject, logical_name: str) -> str:
    """The document with the bytes of files as they are (lone surrogates where they are
    not UTF-8): load_chain sends it as JSON does, dump_chain writes those bytes."""
    node, info = _declared(project, logical_name, _LOAD_WORDS)
    resolver = project.resolver
    entry = _manifest(project).get(artifact_of(node))
    if entry is not None:
        rel = output_rel(info.output)
        try:
            current = resolver.file_checksum(rel)
        except UnreadableFile:
            current = None
        if current is not None and file_flag(b64(current), entry) is MODIFIED:
            raise Refusal(MODIFIED_OUTSIDE)
    chain = resolver.chain(node)
    if chain.hash is None:
        raise Refusal(chain.failure or f"computing chain hash: {node} cannot be parsed")
    cache = Cache(project.root)
    document = render_document(resolver, chain, cache=cache,
                               previous_hash=entry.chain if entry else None)
    cache.store(resolver, chain)
    return document


def dump_chain(where: Path | str | Project | LeanProject, logical_name: str) -> str:
    """load_chain's document written to dump_chain.xml at the project root."""
    return _lean_first(where, lambda project: _dump_chain(project, logical_name))


def _dump_chain(project: Project | LeanProject, logical_name: str) -> str:
    document = _load_chain(project, logical_name)
    path = project.root / DUMP_FILE
    try:
        atomic_write(path, document.encode("utf-8", "surrogateescape"))
    except OSError as exc:
        # The error names the temporary file the write made; the user knows only this one.
        if path.is_dir():
            raise Refusal(f"{DUMP_FILE}: is a directory, not a file; nothing was written. "
                          "Remove or rename it, then call dump_chain again") from None
        raise Refusal(f"{DUMP_FILE}: cannot be written ({exc.strerror or exc}); nothing was "
                      "written. Fix that at the project root, then call dump_chain "
                      "again") from None
    return f"wrote {DUMP_FILE}"


def _manifest(project: Project):
    try:
        return project.manifest
    except CfsError as exc:  # X3: a manifest that does not parse is named
        raise Refusal(str(exc), exc.exit_code) from None


# -- write_file / accept -----------------------------------------------------------

def write_file(where: Path | str | Project | LeanProject, logical_name: str,
               content: str) -> str:
    """Write ``content`` as the node's artifact and record it (FORMAT.md 7.6, X9).

    The file gets exactly these bytes (CRLF kept); the manifest records the checksum of
    the content with CRLF made LF and the current chain; the cache gets the chain file.
    A file cfs did not write (untracked) or that was edited since (modified) is never
    replaced by other bytes (X9). Given a root, read lean as load_chain is.
    """
    return _lean_first(where, lambda project: _write_file(project, logical_name, content))


def _unwritable(project: Project | LeanProject, rel: str) -> str:
    """v5's write_file error for an output holding NUL, which its path rules pass: Go's
    os calls refuse the name, making the directory when NUL is in it, else opening the
    file. Nothing is written, the manifest is not touched."""
    where = go_quote(f"{project.root}/{rel}")
    if "\0" in rel.rpartition("/")[0]:
        return f"cannot create directories for {where}: cannot create directory"
    return f"cannot open file {where} for overwrite: cannot open file"


def _write_file(project: Project | LeanProject, logical_name: str, content: str) -> str:
    # Every node is looked up before anything is written (NeedsFull comes first).
    node, info = _declared(project, logical_name, _WRITE_WORDS)
    rel = output_rel(info.output)
    if "\0" in rel:
        raise Refusal(_unwritable(project, rel))
    # The chain v5 records, computed after its write (a chain may read its own output);
    # cfs checks it before writing: a write v5 would record nothing for is not made.
    chain = project.resolver.chain_after_write(node, rel,
                                               content.encode("utf-8", "surrogateescape"))
    if chain.hash is None:  # v5's own words, without load_chain's lead (FORMAT.md 11)
        raise Refusal(bare_failure(chain.failure or f"{node} cannot be parsed"))
    name = artifact_of(node)
    entry = _manifest(project).get(name)
    try:
        current = project.resolver.file_checksum(rel)
    except UnreadableFile as exc:
        raise Refusal(f"{rel}: {exc.reason}") from None
    current_sum = None if current is None else b64(current)
    found = file_flag(current_sum, entry)
    if found is UNTRACKED or found is MODIFIED:  # Need.REFUSE, unless the bytes are the same
        try:  # (read as every project file is: a FIFO put there meanwhile is not waited on)
            data = read_inside(os.path.realpath(project.root), rel)
        except UnreadableFile as exc:
            raise Refusal(f"{rel}: {exc.reason}") from None
        if data != content.encode("utf-8", "surrogateescape"):
            what = "has no manifest entry (untracked)" if found is UNTRACKED else \
                "was changed after it was recorded (modified)"
            raise Refusal(f"{info.output} {what}; nothing was written. Accept the file as "
                          f"the artifact (accept {node}) or delete it to have it generated")
    try:
        write_artifact(project.root, name, info.output, content, chain.hash, current_sum)
    except CfsError as exc:
        raise Refusal(str(exc)) from None
    project.resolver.forget(rel)
    Cache(project.root).store_chain(chain)
    return f"wrote {info.output}"


def accept(where: Path | str | Project | LeanProject, logical_name: str) -> str:
    """Record the output file's checksum and the CURRENT chain (FORMAT.md 7.5).

    Whatever the status (modified, untracked, stale, both); an existing entry keeps its
    recorded path; an entry that already records both is refused. Given a root, read
    lean as load_chain is.
    """
    return _lean_first(where, lambda project: _accept(project, logical_name))


def _accept(project: Project | LeanProject, logical_name: str) -> str:
    # Every node is looked up before the manifest is touched (NeedsFull comes first).
    if not logical_name.startswith(SPEC + "/"):
        raise Refusal("not a SPEC/ reference")
    node = logical_name
    problem = _parse_problem(project, node)
    if problem is not None:
        raise Refusal(f"unreadable frontmatter: {problem}")
    info = project.resolver.node_info(node)
    if info.output is None:  # `output: ''` is declared: an invalid path below
        raise Refusal("node has no output field", kind=NO_OUTPUT)
    rel = output_rel(info.output)
    if rel is None or _output_problem(project, info.output):
        raise Refusal(f"opening artifact file: output path is invalid: "
                      f"{_output_problem(project, info.output)}")  # X8: never opened
    try:
        digest = project.resolver.file_checksum(rel)
    except UnreadableFile as exc:
        raise Refusal(f"reading artifact file: {exc.reason}") from None
    if digest is None:
        raise Refusal(f"opening artifact file: cannot open file {go_quote(f'{project.root}/{rel}')}"
                      " for reading: file unreadable", exit_code=1, kind=UNOPENED)
    chain = project.resolver.chain(node)
    if chain.hash is None:
        raise Refusal(chain.failure or f"computing chain hash: {node} cannot be parsed")
    checksum = b64(digest)
    name = artifact_of(node)
    try:
        settle_pending(project.root)  # a crash's finished writes are recorded first
        with update_manifest(project.root) as entries:
            entry = entries.get(name)
            if entry is not None and entry.checksum == checksum and entry.chain == chain.hash:
                raise Refusal(UP_TO_DATE_ALREADY, exit_code=1, kind=ALREADY)
            path = entry.path if entry is not None else info.output
            new = ManifestEntry(name, path, checksum, chain.hash)
            new.check()
            entries[name] = new
    except CfsError as exc:
        raise Refusal(str(exc), exc.exit_code) from None
    return f"accepted {info.output}"


# -- cache ------------------------------------------------------------------------

def reconstruct_cache(where: Path | str | Project) -> str:
    """Write the current chain of every manifest entry whose node parses, declares an
    output and has a computable chain (FORMAT.md 8)."""
    project = _project(where)
    entries = _manifest(project).entries
    cache = Cache(project.root)
    processed = contents = chains = 0
    for name in sorted(entries):
        node = node_of_entry(name)
        # v5 reads the node from its path: one in a dot directory (no part of the tree)
        # is processed as load_chain and write_file serve it (names.dotted_node_dir).
        if node is None or _parse_problem(project, node) is not None:
            continue
        info = project.resolver.node_info(node)
        # (`output: ''` is declared: v5 passes over only a node without the key.)
        if info is None or info.output is None:
            continue
        chain = project.resolver.chain(node)
        if chain.hash is None:
            continue  # not counted: v5 counts an entry once its chain is computed
        processed += 1
        wrote_contents, wrote_chain = cache.store(project.resolver, chain, from_labels=True)
        contents += wrote_contents
        chains += wrote_chain
    return (f"reconstructed cache: {processed} entries processed, {contents} content files "
            f"written, {chains} chain files written")


def prune_cache(where: Path | str | Project) -> str:
    """Delete chain files no manifest entry names, then content no kept chain names."""
    project = _project(where)
    keep = {entry.chain for entry in _manifest(project).entries.values()}
    chains, contents = Cache(project.root).prune(keep)
    return f"pruned cache: {chains} chain files deleted, {contents} content files deleted"


# -- validate_specs -----------------------------------------------------------------

def validate_specs(where: Path | str | Project) -> str:
    """v5's validation report text (FORMAT.md 10.3); it never refuses."""
    if not isinstance(where, Project):
        tree = Path(where) / TREE_DIR
        if not (tree.is_dir() or tree.is_symlink()):
            return f"Format errors:\n  [] scan: {NOT_FOUND_V5}\n"
        where = Project(where)
    return render_report(where)
