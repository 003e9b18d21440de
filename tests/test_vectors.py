"""Every v5 vector case through the library's use cases (tests/vectors/README.md says what
each key of expected.json means): chains, checksums, statuses, findings, ranks, v5's report,
every document and refusal, and the replay of every step script.

Where cfs deliberately differs (FORMAT.md section 12) the difference is allowed here and
nowhere else: X4 (extra findings, `x4` block), X7 (the empty file), X8 (`x8` block).
"""
from __future__ import annotations

import base64
import filecmp
import json
import shutil
from pathlib import Path

import pytest

from cfs_build.reading import parsers
from cfs_build.building import v5tools
from cfs_build.errors import ERROR
from cfs_build.reading.hashing import EMPTY_FILE, ONE_LF
from cfs_build.state.manifest import MANIFEST
from cfs_build.analysis.project import Project
from cfs_build.analysis.report_v5 import staleness_rows
from conftest import PARSERS, VECTORS

CASES = sorted(p.name for p in VECTORS.iterdir() if (p / "expected.json").is_file())
# The shared copy sits beside the checkouts (../shared/cfs-v5/vectors from the main one).
SHARED_CANDIDATES = tuple(parent / "shared" / "cfs-v5" / "vectors"
                          for parent in Path(__file__).resolve().parents)
MODIFIED_OUTSIDE = "artifact file was modified outside the framework"
NOT_SNAPSHOTTED = ("code-from-spec/.cache/", ".cfs/", "code-from-spec/.manifest")


def test_every_vector_case_is_checked():
    assert len(CASES) == 129


def test_vectors_are_an_unchanged_copy_of_the_shared_ones():
    shared = next((p for p in SHARED_CANDIDATES if p.is_dir() and p != VECTORS.resolve()),
                  None)
    if shared is None:
        pytest.skip("the shared vectors are not beside this checkout")
    assert _differences(filecmp.dircmp(shared, VECTORS, ignore=[])) == []


def _differences(cmp: filecmp.dircmp) -> list[str]:
    out = [*cmp.left_only, *cmp.right_only, *cmp.funny_files]
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    out += mismatch + errors
    for sub in cmp.subdirs.values():
        out += _differences(sub)
    return out


# -- the state: artifacts, statuses, findings, ranks, report -------------------------

def allowed(node: str, rule: str, x4: dict) -> bool:
    """A finding v5 does not make but cfs may (FORMAT.md section 12, X4)."""
    if node in x4.get("unparsed", ()):
        return True
    if rule == "encoding" and node in x4.get("bom", ()):
        return True
    if rule == "cycle" and x4.get("cycle_check_skipped"):
        return True
    if rule == "output_paths" and any(node in g for g in x4.get("duplicate_outputs", ())):
        return True
    if rule == "malformed_frontmatter" and node in x4.get("non_string_output", ()):
        return True
    if rule == "public_subsection_required" and node in x4.get("unicode_blank_public", ()):
        return True
    return rule in ("leaf_only_fields", "leaf_only_agent") \
        and node in x4.get("parent_of_unparsed", ())


def _skipped(exp: dict) -> set[str]:
    """Artifacts cfs does not list because it reads their output as a format error (X4)."""
    return {"ARTIFACT/" + n[5:] for n in exp.get("x4", {}).get("non_string_output", ())}


def _unpinned(exp: dict) -> set[str]:
    """Artifacts of nodes v5 cannot parse: listed or not, cfs is free (X4)."""
    return {"ARTIFACT/" + n[5:] for n in exp.get("x4", {}).get("unparsed", ())}


def check_state(root: Path, exp: dict, x8: dict) -> None:
    project = Project(root, use_index=False)
    report = project.report()
    skip = _skipped(exp)
    arts = {s.name: s for s in report.artifacts}
    orphans = {o.name for o in report.orphans}
    for name, want in exp.get("artifacts", {}).items():
        if name in skip:
            continue
        got = arts[name]
        assert (got.chain, got.path) == (want["chain"], want["path"]), name
        assert got.checksum == (None if name in x8 else want["checksum"]), name
    statuses = {name: set(x8.get(name, flags)) for name, flags in exp["status"].items()
                if name not in skip}
    got = {name: set(s.flags) for name, s in arts.items() if name not in skip}
    got.update({name: {"orphan"} for name in orphans})
    for name in _unpinned(exp):
        got.pop(name, None)
    assert got == statuses

    x4 = exp.get("x4", {})
    need = {node: set(rules) for node, rules in exp["errors"].items()}
    for name in x8:
        need.setdefault("SPEC/" + name[len("ARTIFACT/"):], set()).add("output_paths")
    found: dict[str, set[str]] = {}
    for finding in report.findings:
        if finding.severity == ERROR:
            found.setdefault(finding.node, set()).add(finding.rule)
    for node, rules in need.items():
        assert rules <= found.get(node, set()), f"{node} lacks {rules - found.get(node, set())}"
    for node, rules in found.items():
        extra = {r for r in rules - need.get(node, set()) if not allowed(node, r, x4)}
        assert not extra, f"unexpected {sorted(extra)} on {node}"
    if "ranks" in exp:
        assert {name: project.ranks["SPEC/" + name[len("ARTIFACT/"):]]
                for name in exp["ranks"]} == exp["ranks"]
    check_report(root, exp, x8)


def check_report(root: Path, exp: dict, x8: dict) -> None:
    """validate_specs: v5's text, differing only where X4, X7 and X8 allow."""
    v5 = exp["v5_report"]
    text = v5tools.validate_specs(root)
    ours = _blocks(text.replace(str(root.resolve()), "<root>"))
    x4 = exp.get("x4", {})
    exact = "text" in v5 and not x4 and not x8 and not exp.get("v5_errors_not_pinned") \
        and not _empty_outputs(root, v5["staleness"])
    if exact:
        assert text.replace(str(root.resolve()), "<root>") == v5["text"]
        return
    not_pinned = {tuple(e) for e in exp.get("v5_errors_not_pinned", ())}
    for node, rule, detail in v5["format_errors"]:
        if (node, rule, detail) not in not_pinned:
            assert f"[{node}] {rule}: {detail}" in ours["Format errors:"], (node, rule)
    extra = False
    for line in ours["Format errors:"]:
        node, rule = line[1:line.index("]")], line[line.index("]") + 2:].split(":")[0]
        pinned = any(line == f"[{n}] {r}: {d}" for n, r, d in v5["format_errors"])
        extra = extra or not pinned
        cfs_parse = rule == "parse" and (node in x4.get("non_string_output", ())
                                         or node in x4.get("bom", ()))
        assert pinned or allowed(node, rule, x4) or cfs_parse \
            or (rule == "output_paths" and "ARTIFACT/" + node[5:] in x8), line
    want_cycles = {"SPEC/" + n.split("/", 1)[1] for n in v5["cycle_nodes"]}
    assert want_cycles <= set(ours["Cycles:"])
    skip = {"SPEC/" + n[len("ARTIFACT/"):] for n in x8} | set(x4.get("unparsed", ())) \
        | set(x4.get("non_string_output", ()))
    empty = _empty_outputs(root, v5["staleness"])

    def rows(lines):
        return [line for line in lines if line.split("] ", 1)[1].split(" ", 1)[0] not in skip]

    want = [f"[{w}] {n} ({p}) rank={r or 0}" + (f": {d}" if d else "")
            for w, n, p, r, d in v5["staleness"] if not (w == "modified" and p in empty)]
    got = rows(ours["Staleness:"])
    # On a cycle v5's rank is meaningless; a finding only cfs makes (X4, X8) zeroes ranks.
    if extra or any(row[3] is None for row in v5["staleness"]):
        got = [_unranked(line) for line in got]
        want = [_unranked(line) for line in want]
        got.sort()
        want.sort()
    assert got == rows(want)


def _unranked(line: str) -> str:
    head, _, tail = line.partition(" rank=")
    return head + tail[tail.index(":"):] if ":" in tail else head


def _blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {"Format errors:": [], "Cycles:": [], "Staleness:": []}
    current = None
    for line in text.split("\n"):
        if line in blocks:
            current = line
        elif current and (line.startswith("  [") or current == "Cycles:" and line[:2] == "  "):
            blocks[current].append(line[2:])
        elif line and current and blocks[current]:
            # A YAML detail runs over several lines: goccy's numbered excerpt and caret.
            blocks[current][-1] += "\n" + line
    return blocks


def _empty_outputs(root: Path, rows) -> set[str]:
    """Outputs that are 0-byte files: v5 and cfs read their checksum differently (X7)."""
    out = set()
    for row in rows:
        path = root / row[2]
        if path.is_file() and path.stat().st_size == 0:
            out.add(row[2])
    return out


# -- documents and refusals ----------------------------------------------------------

def check_documents(root: Path, exp: dict, documents: dict, refusals: dict, x8: dict) -> None:
    """load_chain of every node with an output, in name order, on one copy."""
    skip = _skipped(exp)
    for name in sorted({*documents, *refusals}):
        if name in skip:
            continue
        node = "SPEC/" + name[len("ARTIFACT/"):]
        try:
            got = v5tools.load_chain(root, node)
        except v5tools.Refusal as refusal:
            got_refusal = refusal.message.replace(str(root.resolve()), "<root>")
            if name in x8:
                assert got_refusal == "output path is invalid", name
                continue
            assert name in refusals, f"{name} refused: {got_refusal}"
            assert got_refusal == refusals[name], name
            continue
        assert name not in x8, f"{name}: cfs never serves an X8 output"
        if name in refusals:
            assert refusals[name] == MODIFIED_OUTSIDE and _x7_empty(root, name), name
            assert got.startswith("<chain>\n")
            continue
        assert got == documents[name], name
        _check_cached(root, node)


def _x7_empty(root: Path, name: str) -> bool:
    """A 0-byte artifact recorded as empty: v5's load_chain refuses it, cfs does not (X7)."""
    project = Project(root, use_index=False)
    status = next(s for s in project.report().artifacts if s.name == name)
    path = root / status.path
    return path.stat().st_size == 0 and status.recorded_checksum in (EMPTY_FILE, ONE_LF)


def _check_cached(root: Path, node: str) -> None:
    """load_chain leaves the chain and every position's text in the cache (FORMAT.md 8)."""
    project = Project(root, use_index=False)
    chain = project.resolver.chain(node)
    base = root / "code-from-spec" / ".cache"
    listing = (base / ".chains" / f".{chain.hash}").read_text(encoding="utf-8")
    # Write-once: another node's chain of the same hashes may have written the labels.
    assert [line.rpartition(": ")[2] for line in listing.splitlines()] == \
        [p.content_hash for p in chain.positions]
    for position in chain.positions:
        assert (base / ".content" / f".{position.content_hash}").is_file()


# -- steps ---------------------------------------------------------------------------

def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(NOT_SNAPSHOTTED):
            out[rel] = path.read_bytes()
    return out


def _manifest_view(root: Path, text: str) -> str:
    """Manifest text with the empty file's two checksums made one (X7)."""
    lines = []
    for line in text.split("\n"):
        fields = line.split(";")
        if len(fields) == 4 and fields[2] in (f"checksum:{EMPTY_FILE}", f"checksum:{ONE_LF}"):
            path = root / fields[1].removeprefix("path:")
            if path.is_file() and path.stat().st_size == 0:
                fields[2] = "checksum:<empty file>"
        lines.append(";".join(fields))
    return "\n".join(lines)


def _manifest_text(root: Path) -> str:
    path = root / MANIFEST
    return path.read_bytes().decode("utf-8") if path.exists() else ""


def generate(root: Path, content: str) -> list[str]:
    """v5's workflow: every missing or stale artifact in rank order, load_chain then
    write_file; one whose chain waits for another artifact comes in the next round."""
    log: list[str] = []
    done: set[str] = set()
    while True:
        project = Project(root, use_index=False)
        report = project.report()
        rows = staleness_rows(project, report.artifacts, (), ranked=True)
        todo = [row[1] for row in rows if row[0] in ("missing", "stale") and row[1] not in done]
        progress = False
        deferred = []
        for node in todo:
            try:
                v5tools.load_chain(root, node)
            except v5tools.Refusal as refusal:
                if Project(root, use_index=False).resolver.chain(node).waiting:
                    deferred.append((node, refusal.message))
                    continue
                log.append(f"load_chain {node}: refused: {refusal.message}")
                done.add(node)
                continue
            done.add(node)
            progress = True
            try:
                log.append(f"write_file {node}: {v5tools.write_file(root, node, content)}")
            except v5tools.Refusal as refusal:
                log.append(f"write_file {node}: refused: {refusal.message}")
        if not deferred:
            return log
        if not progress:
            for node, message in deferred:
                log.append(f"load_chain {node}: refused: {message}")
            return log


def _unrooted(root: Path, lines: list[str]) -> list[str]:
    return [line.replace(str(root.resolve()), "<root>") for line in lines]


def replay(root: Path, exp: dict) -> None:
    for number, step in enumerate(exp["steps"]):
        op, want = step["op"], step.get("expect")
        where = f"step {number} ({op})"
        if op == "validate":
            check_state(root, {"v5_errors_not_pinned": exp.get("v5_errors_not_pinned", []),
                               **want, "artifacts": {}}, exp.get("x8", {}))
        elif op == "load_chain_all":
            check_documents(root, exp, want["documents"], want.get("load_chain_refusals", {}),
                            exp.get("x8", {}))
        elif op == "generate":
            before = _files(root)
            log = _unrooted(root, generate(root, step["content"]))
            assert log == want["log"], where
            assert _manifest_view(root, _manifest_text(root)) == \
                _manifest_view(root, want["manifest"] or ""), where
            after = _files(root)
            changed = {rel for rel, data in after.items() if before.get(rel) != data}
            assert changed == set(want["written"]), where
            for rel, spec in want["written"].items():
                assert after[rel] == spec["text"].encode("utf-8"), rel
        elif op == "accept":
            try:
                got = {"reply": v5tools.accept(root, step["node"])}
            except v5tools.Refusal as refusal:
                got = {"refused": refusal.message}
            x7 = got.get("refused") == "artifact is already up to date" and "reply" in want \
                and _zero_output(root, step["node"])
            if not x7:
                assert got == {k: v for k, v in want.items() if k != "manifest"}, where
            assert _manifest_view(root, _manifest_text(root)) == \
                _manifest_view(root, want["manifest"] or ""), where
        elif op == "write":
            path = root / step["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            data = base64.b64decode(step["base64"]) if "base64" in step \
                else step["text"].encode("utf-8")
            path.write_bytes(data)
        elif op == "remove":
            shutil.rmtree(root / step["path"])
        elif op == "reconstruct_cache":
            assert v5tools.reconstruct_cache(root) == want["reply"], where
        elif op == "prune_cache":
            assert v5tools.prune_cache(root) == want["reply"], where
        elif op == "dump_chain":
            assert v5tools.dump_chain(root, step["node"]) == want["reply"], where
            assert (root / "dump_chain.xml").read_text(encoding="utf-8") == \
                want["dump_chain.xml"], where
        else:
            raise AssertionError(f"unknown step {op}")


def _zero_output(root: Path, node: str) -> bool:
    project = Project(root, use_index=False)
    output = project.tree.nodes[node].output
    path = root / output
    return path.is_file() and path.stat().st_size == 0


# -- one test per case ---------------------------------------------------------------

def _copy(case: str, target: Path) -> Path:
    shutil.copytree(VECTORS / case, target)
    (target / "expected.json").unlink()
    return target


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("case", CASES)
def test_vector(case, parser, tmp_path, monkeypatch):
    monkeypatch.setenv(parsers.ENV, parser)  # subprocesses of the replay inherit it
    exp = json.loads((VECTORS / case / "expected.json").read_text(encoding="utf-8"))
    x8 = exp.get("x8", {})
    root = _copy(case, tmp_path / "state")
    check_state(root, exp, x8)
    check_documents(_copy(case, tmp_path / "documents"), exp, exp["documents"],
                    exp.get("load_chain_refusals", {}), x8)
    if "steps" in exp:
        replay(_copy(case, tmp_path / "steps"), exp)


@pytest.mark.parametrize("case", ["basic", "dependencies", "input_marker",
                                  "external_invalid_utf8"])
@pytest.mark.slow
def test_cfs_chain_prints_the_v5_document(tmp_path, case):
    """`cfs chain` (a preview, X5) prints exactly the document wherever v5 serves one."""
    import subprocess
    import sys
    exp = json.loads((VECTORS / case / "expected.json").read_text(encoding="utf-8"))
    root = _copy(case, tmp_path / case)
    for name, text in exp["documents"].items():
        run = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root),
                              "chain", name], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.decode("utf-8") == text, name
