"""One build run: shared state, the up-to-date check, and one generation end to end."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from ..analysis.cache import Cache
from ..analysis.chain import Chain
from ..analysis.deps import downstream
from ..analysis.document import generator_document
from ..analysis.project import Project
from ..analysis.status import MODIFIED, Need, artifact_status
from ..config import Config, load_config
from ..errors import CfsError
from ..generators import (OUT_OF_MEMORY, GenerationFailed, Generator, Usage,
                          make_generator, prompt_id)
from ..generators.session import Session
from ..reading.files import UnreadableFile, has_lone_surrogate, safe_relpath
from ..reading.index import INDEX_DIR
from ..reading.ledger import Ledger
from ..reading.names import artifact_of, spec_of
from ..state import dirs as state
from ..state.artifacts import current_manifest, output_path, settle_pending, write_artifact
from ..state.manifest import MANIFEST, ManifestEntry
from ..state.runlog import RunLog
from .collector import Relaxed
from .reply import parse_reply, unfence

REPORTS = f"{INDEX_DIR}/reports"


class Outcome(StrEnum):
    """How one generation ended, as the run log records it."""

    GENERATED = "generated"  # the file was written (or found identical)
    FINDINGS = "findings"    # the model said the spec is not enough: nothing written
    FAILED = "failed"        # the backend failed, or its reply was unusable
    REFUSED = "refused"      # the file was edited by hand or not written by cfs


class Refused(CfsError):
    """The file at the output was edited by hand or not written by cfs: never overwritten."""


@dataclass(frozen=True)
class Result:
    """How one generation ended."""

    node: str
    outcome: Outcome
    message: str = ""
    changed: bool = False
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    assumptions: str | None = None
    attempts: int = 0  # tries the backend made; 0 when it was never called
    note: str = ""  # what was done to the reply's file, e.g. a fence taken off

    def assumption_lines(self) -> list[str]:
        """One line per assumption the model reported ("None." means there were none)."""
        return assumption_lines(self.assumptions)

    def summary(self) -> str:
        """What the doit task returns for the reporter: JSON of what it sums up.

        A text, not a dict: doit keeps a dict twice in its state file (as values and as
        result) and only a digest of a text, and that file is read and written whole on
        every run, 10,000 entries after a full build.
        """
        usage = self.usage
        found = {"changed": self.changed, "seconds": round(self.seconds, 3),
                 "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                 "cost_usd": usage.cost_usd, "assumptions": self.assumption_lines() or None,
                 "note": self.note or None}
        return json.dumps({key: value for key, value in found.items() if value is not None},
                          separators=(",", ":"))


def assumption_lines(text: str | None) -> list[str]:
    lines = [line.strip().removeprefix("- ").removeprefix("* ").strip()
             for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    return [] if [line.lower().rstrip(".") for line in lines] == ["none"] else lines


def _file_failure(node: str, exc: OSError | UnreadableFile) -> str:
    """A generation's failure on a file, in one line: the file (or the node), then why."""
    where = getattr(exc, "filename", None) or getattr(exc, "path", None) or node
    return f"{where}: {getattr(exc, 'strerror', None) or exc}"


class BuildState:
    """One run of one project: the project read once, the manifest, the run log, a lock.

    Every task of the run holds it (no module keeps a run), so two runs or two projects
    in one process stay apart. doit calls ``is_up_to_date`` serially in its main
    process; generations may run in threads, so everything touching the shared reader
    goes through ``lock``. ``session`` holds the run's generator processes.
    """

    def __init__(self, root: Path, *, generator: Generator | None = None,
                 config: Config | None = None, project: Project | None = None,
                 session: Session | None = None, collector: Relaxed | None = None):
        self.root = Path(root).resolve()
        # The collector slowed down while this run loads (collector.py): given back when
        # its first generation starts, or when it ends.
        self.collector = collector
        self.project = project if project is not None else Project(self.root)
        self.cache = Cache(self.root)
        self.lock = threading.RLock()
        self.config = config if config is not None else load_config(self.root)
        self._generator = generator
        # `fresh = true` in cfs.toml, or `cfs build --fresh`: no existing file in documents.
        self.fresh = bool(self.config.generator.get("fresh", False))
        self.session = session if session is not None else Session()
        self.runlog = RunLog(self.root)
        self.runlog.check()  # a linked or odd run log is refused before anything runs
        self._settled = False
        self._slots: threading.Semaphore | None = None
        # The statuses the project was read with stay valid while the manifest file and
        # the producers' files keep the signatures they had when the project read them
        # (``judged``); after that, each status is computed again from the tree (read
        # then, if it was not yet).
        # Not kept as the snapshot: if this run writes anything, that snapshot is stale
        # at once (the front end keeps it when the plan shows nothing to do).
        report = self.project.report(keep=False)
        seen = {MANIFEST: self.project.seen_stamp(MANIFEST)}
        self._manifest = None
        self.artifacts: list[str] = [s.name for s in report.artifacts]
        self._outputs = {s.name: s.path for s in report.artifacts}
        self._paths: dict[str, str] = {}
        self.producers: dict[str, tuple[str, ...]] = self.project.producers
        self._nodes = [(artifact, spec_of(artifact)) for artifact in self.artifacts]
        self._all_producers = sorted({p for found in self.producers.values() for p in found})
        for producer in self._all_producers:
            rel = self.path(producer)  # None: a node that does not parse (an error)
            if rel is not None:
                seen[rel] = self.project.seen_stamp(rel)
        self.judged = Ledger(self.root, seen)
        self._statuses: dict[str, object] = {spec_of(s.name): s for s in report.artifacts}
        self.results: list[Result] = []

    def path(self, artifact: str) -> str | None:
        """The project-relative output path of an artifact (None for one not known)."""
        found = self._paths.get(artifact)
        if found is None and artifact in self._outputs:
            output = self._outputs[artifact]
            found = self._paths[artifact] = safe_relpath(output) or output
        return found

    def may_run(self, now: dict | None = None) -> set[str]:
        """Artifacts a run could regenerate: not up to date, or made from one that is.

        ``now``: the statuses just taken with ``statuses()``, if the caller has them.
        """
        now = self.statuses() if now is None else now
        return downstream(self.producers, (a for a, status in now.items()
                                           if not status.up_to_date), among=now)

    # -- shared reading ---------------------------------------------------------
    @property
    def generator(self) -> Generator:
        with self.lock:
            if self._generator is None:
                self._generator = make_generator(self.config.generator, self.config.root,
                                                 self.config.source)
            if self._slots is None:
                limit = getattr(self._generator, "max_concurrency", None)
                self._slots = threading.Semaphore(limit) if limit else None
            return self._generator

    def _check_manifest(self) -> None:
        if self.judged.update([MANIFEST]):
            self._manifest = None
            self._statuses.clear()

    def manifest(self):
        """The manifest, re-read only when the file changed (another process wrote it)."""
        self._check_manifest()
        if self._manifest is None:
            self._manifest = current_manifest(self.root)
        return self._manifest

    def _refresh_inputs(self, producers) -> None:
        # A producer may have been regenerated (in this process or a worker process)
        # since its file was read: drop what is cached of files whose stat changed.
        # Every producer's signature is the one it had when the project read it, known
        # before doit forks workers, so a worker compares with that too.
        rels = [rel for rel in map(self.path, producers) if rel is not None]
        for rel in self.judged.update(rels):
            if "resolver" in self.project.__dict__:
                self.project.resolver.forget(rel)
            self._statuses.clear()

    def status(self, node: str, *, checked: bool = False):
        """Current status of one artifact (chain, file, manifest), computed fresh-enough.

        ``checked``: the caller has just compared the manifest and producers' stamps.
        """
        with self.lock:
            if not checked:
                self._refresh_inputs(self.producers.get(artifact_of(node), ()))
                self._check_manifest()
            found = self._statuses.get(node)
            if found is None:
                manifest = self.manifest()
                info = self._node_info(node)
                found = artifact_status(self.project.tree, self.project.resolver, manifest,
                                        node, artifact_of(node), info.output,
                                        self.project.ranks.get(node))
                self._statuses[node] = found
            return found

    def statuses(self) -> dict[str, object]:
        """Every artifact's current status, with one look at the stamps for all of them."""
        with self.lock:
            self._refresh_inputs(self._all_producers)
            self._check_manifest()
            known = self._statuses
            return {artifact: known.get(node) or self.status(node, checked=True)
                    for artifact, node in self._nodes}

    def is_up_to_date(self, node: str) -> bool:
        """doit's uptodate check: the manifest says this chain made this exact file
        (status.need_of, as `cfs status` and the plan judge it)."""
        return self.status(node).up_to_date

    # -- one generation -----------------------------------------------------------
    def generate(self, node: str, *, fresh: bool | None = None) -> Result:
        if self.session.stopped:
            return Result(node, Outcome.FAILED, "interrupted: not started")
        started = time.monotonic()
        fresh = self.fresh if fresh is None else fresh
        try:
            result = self._generate(node, fresh)
        except CfsError as exc:
            outcome = Outcome.REFUSED if isinstance(exc, Refused) else Outcome.FAILED
            result = Result(node, outcome, str(exc))
        except GenerationFailed as exc:
            result = Result(node, Outcome.FAILED, f"generator failed: {exc}", usage=exc.usage,
                            attempts=exc.attempts)
        except MemoryError:
            result = Result(node, Outcome.FAILED, OUT_OF_MEMORY)
        except (OSError, UnreadableFile) as exc:
            # e.g. a file where the output's directory should be: a failed task, not a crash
            result = Result(node, Outcome.FAILED, _file_failure(node, exc))
        if not result.seconds:
            result = replace(result, seconds=time.monotonic() - started)
        with self.lock:
            self.results.append(result)
        if result.attempts:
            self._account(result, fresh)
        return result

    def _account(self, result: Result, fresh: bool) -> None:
        """One line in the run log for every generation the backend was asked for."""
        generator = self.generator
        self.runlog.record(
            node=result.node, outcome=result.outcome, backend=generator.kind,
            model=getattr(generator, "model", None),
            input_tokens=result.usage.input_tokens, output_tokens=result.usage.output_tokens,
            cost_usd=result.usage.cost_usd, seconds=round(result.seconds, 3),
            attempts=result.attempts, fresh=fresh,
            prompt=prompt_id() if getattr(generator, "SENDS_PROMPT", False) else None,
            message=result.message.splitlines()[0][:300] if result.message else "")

    def _node_info(self, node: str):
        with self.lock:  # the tree may be read here for the first time, by one thread
            info = self.project.tree.nodes.get(node)
        if info is None or info.output is None:
            # The tree is read after the statuses when they came from the snapshot; a
            # node deleted in between is not there to build.
            raise CfsError(f"{node} has no output in the spec tree any more (it changed "
                           "since this build started); run the build again")
        return info

    def _generate(self, node: str, fresh: bool) -> Result:
        info = self._node_info(node)
        with self.lock:
            if not self._settled:
                # Reading left a crash's journaled writes pending; a run that writes
                # records them first, under the manifest lock.
                settle_pending(self.root)
                self._settled = True
            status = self.status(node)
            if status.need is Need.REFUSE:
                what = "was edited by hand" if MODIFIED in status.flags else \
                    "was not written by cfs"
                raise Refused(f"{status.path} {what}; refusing to overwrite it. Keep it with "
                              f"`cfs accept {status.name}` or delete it to regenerate")
            chain = self.project.resolver.chain(node)
            entry = self.manifest().get(artifact_of(node))
            # A name the manifest cannot hold (node_name) is refused before the model is
            # asked: its answer could not be recorded.
            ManifestEntry(artifact_of(node), entry.path if entry else info.output, "",
                          "").check()
            document = generator_document(self.project.resolver, self.cache, chain,
                                          entry.chain if entry else None, fresh=fresh)
            output_path(self.root, info.output)
            # The answer's reports are saved or cleared there: a link or a file in its
            # place (a checkout's) is refused now, before the model is paid, not after.
            with state.directory(self.root, self._report_dir(node)):
                pass
        generator = self.generator
        if self._slots is not None:
            with self._slots:
                outcome = generator.generate(document, self.session)
        else:
            outcome = generator.generate(document, self.session)
        reply = parse_reply(outcome.reply)
        # A JSON \u escape of half a surrogate pair decodes to a lone surrogate: no text
        # (the file would get a byte that is no UTF-8, or fail to encode at all).
        lone = _lone_surrogate(outcome.reply)
        if lone:
            reply = replace(reply, artifact=None, findings=None, assumptions=None,
                            problem=lone)
        self._report(node, "assumptions", reply.assumptions)
        if reply.problem:
            saved = self._report(node, "reply", outcome.reply)
            return Result(node, Outcome.FAILED,
                          f"unusable reply: {reply.problem} (saved in {saved})",
                          usage=outcome.usage, seconds=outcome.seconds,
                          assumptions=reply.assumptions, attempts=outcome.attempts)
        if reply.findings is not None:
            saved = self._report(node, "findings", reply.findings)
            return Result(node, Outcome.FINDINGS, f"{reply.findings}\n(saved in {saved})",
                          usage=outcome.usage, seconds=outcome.seconds,
                          assumptions=reply.assumptions, attempts=outcome.attempts)
        self._report(node, "findings", None)
        self._report(node, "reply", None)
        text, note = unfence(reply.artifact, info.output)
        try:
            return self._write(node, info, chain, status, text, note, outcome, reply)
        except (CfsError, OSError, UnreadableFile) as exc:
            # The model was asked and paid: its usage is accounted even when its file
            # cannot be kept (edited meanwhile, a directory swapped for a link).
            said = str(exc) if isinstance(exc, CfsError) else _file_failure(node, exc)
            return Result(node, Outcome.FAILED, said, usage=outcome.usage,
                          seconds=outcome.seconds, assumptions=reply.assumptions,
                          attempts=outcome.attempts)

    def _write(self, node, info, chain, status, text, note, outcome, reply) -> Result:
        """Write the reply's file and record it (generate's last step)."""
        with self.lock:
            rel = safe_relpath(info.output)
            written = chain
            resolver = self.project.resolver
            if any(resolver.same_file(position.file, rel) for position in chain.positions):
                # Recorded as v5's write_file records it: the chain once the file is
                # written, which differs only for a chain that reads its own output
                # (FORMAT.md 7.6); every other generation records the document's chain.
                after = resolver.chain_after_write(
                    node, rel, text.encode("utf-8", "surrogateescape"))
                if after.hash is not None and _same_but(after, chain, rel, resolver):
                    written = after
            changed, entry = write_artifact(self.root, artifact_of(node), info.output,
                                            text, written.hash, status.checksum)
            self.project.resolver.forget(rel)
            if written.hash != chain.hash:
                self.cache.store_chain(written)
        return Result(node, Outcome.GENERATED, f"{entry.path}: {note}" if note else entry.path,
                      changed, outcome.usage, outcome.seconds, reply.assumptions, outcome.attempts,
                      note or "")

    @staticmethod
    def _report_dir(node: str) -> str:
        """The directory a node's reports go to."""
        return f"{REPORTS}/{node[len('SPEC/'):]}".rpartition("/")[0]

    @staticmethod
    def _report_path(node: str, kind: str) -> str:
        return f"{REPORTS}/{node[len('SPEC/'):]}.{kind}.txt"

    def _report(self, node: str, kind: str, text: str | None) -> str:
        """Save (or with None, remove) one node's findings/assumptions/raw reply."""
        rel = self._report_path(node, kind)
        # cfs's own state: never through a link (a linked reports/ is refused).
        if text is None:
            state.remove_state(self.root, rel)
            return rel
        try:
            # (backslashreplace: a reply refused for a lone surrogate is saved with it
            # written as its escape)
            state.write_state(self.root, rel, text.encode("utf-8", "backslashreplace"))
        except OSError:
            pass
        return rel


def _lone_surrogate(reply: str) -> str | None:
    """Why a reply holding a lone surrogate is unusable (where it is), or None."""
    if not has_lone_surrogate(reply):
        return None
    for number, line in enumerate(reply.split("\n"), start=1):
        found = next((ch for ch in line if "\ud800" <= ch <= "\udfff"), None)
        if found is not None:
            return (f"line {number} holds a lone surrogate \\u{ord(found):04x} (half of a "
                    "UTF-16 pair, which is no Unicode text); nothing was written")
    return None


def _same_but(after: Chain, before: Chain, rel: str | None, resolver) -> bool:
    """Whether ``after`` differs from ``before`` only where it reads ``rel``: another file
    rewritten meanwhile (an output another build thread wrote) was not what the document
    showed, and recording it would call the artifact up to date on a text never seen."""
    def others(chain: Chain) -> list:
        return [position for position in chain.positions
                if not resolver.same_file(position.file, rel)]
    return others(after) == others(before)

