"""`cfs mcp` through the MCP SDK's own client over a real stdio subprocess: every tool, every
error result, v5's texts on the vectors, builds with progress, cancellation and concurrency."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

import test_vectors
from buildkit import make_project, still_running
from conftest import VECTORS
from cfs_build.mcpserver import attention
from mcpkit import REPO, TRACEBACK, V5OverMcp, connect, only_text, sync_client

pytest.importorskip("mcp")
from mcp.shared.exceptions import MCPError  # noqa: E402

V5_NAMES = ["load_chain", "write_file", "validate_specs", "accept", "dump_chain",
            "reconstruct_cache", "prune_cache", "version"]
LOCK = ".cfs/build.lock"


def _copy(case: str, root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(VECTORS / case, root)
    (root / "expected.json").unlink()
    return root


# -- the v5 tools: v5's names, arguments and texts -----------------------------------

@pytest.mark.slow
def test_tools_list_offers_v5s_tools_with_their_arguments_and_cfss_own(tmp_path):
    root = _copy("basic", tmp_path / "basic")

    async def main():
        async with connect(root) as session:
            said = session.initialized
            assert said.server_info.name == "framework-mcp" and said.capabilities.tools
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            version = only_text(await session.call_tool("version", {}))
            return tools, version, said.server_info

    tools, version, server = anyio.run(main)
    # In name order, as v5's library lists its tools.
    assert list(tools) == sorted(V5_NAMES + ["status", "build", "graph", "explain"])
    args = {name: (sorted(tool.input_schema.get("properties", {})),
                   sorted(tool.input_schema.get("required", []))) for name, tool in tools.items()}
    assert args["load_chain"] == (["logical_name"], ["logical_name"])
    assert args["write_file"] == (["content", "logical_name"], ["content", "logical_name"])
    assert args["accept"] == args["dump_chain"] == (["logical_name"], ["logical_name"])
    for name in ("validate_specs", "reconstruct_cache", "prune_cache", "version"):
        assert args[name] == ([], [])
    assert args["status"] == (["all"], [])
    assert "at most 50 entries" in tools["status"].description
    assert args["build"] == (["fresh", "jobs", "targets", "wait"], [])
    assert args["explain"] == (["name"], ["name"])
    assert tools["load_chain"].meta == {"anthropic/maxResultSizeChars": 500000}
    assert all(tool.meta is None for name, tool in tools.items() if name != "load_chain")
    # v5's answer (FORMAT.md 11); cfs-build names itself in the initialize answer.
    assert version == "5.0.0"
    from cfs_build import __version__
    assert (server.version, server.title) == (__version__, "cfs-build")


# Every vector case: each v5 answer (report, documents, refusals, steps) made through one
# kept server, the tree replaced between cases; where cfs deliberately differs (X4, X7,
# X8) the harness allows exactly that.
PINNED = test_vectors.CASES


@pytest.fixture(scope="module")
def vector_server(tmp_path_factory):
    """One `cfs mcp` for all the vector cases (a server takes a second or more to start):
    each case is copied afresh into its root, as the steps' replays do between calls."""
    base = tmp_path_factory.mktemp("mcp-vectors")
    root, errlog = _copy(PINNED[0], base / "case"), base / "stderr"
    with sync_client(root, errlog=errlog, cwd=base) as client:
        yield client, errlog


@pytest.mark.slow
@pytest.mark.parametrize("case", PINNED)
def test_v5_tools_answer_the_vectors_texts_byte_for_byte(case, vector_server, monkeypatch):
    """The vector harness of test_vectors, every v5 call made through `cfs mcp`."""
    client, errlog = vector_server
    said_before = errlog.stat().st_size
    exp = json.loads((VECTORS / case / "expected.json").read_text(encoding="utf-8"))
    x8 = exp.get("x8", {})
    # The server reads the tree anew at every call: a fresh copy is a fresh project.
    root = _copy(case, client.root)
    monkeypatch.setattr(test_vectors, "v5tools", V5OverMcp(client))
    test_vectors.check_state(root, exp, x8)
    test_vectors.check_documents(root, exp, exp["documents"],
                                 exp.get("load_chain_refusals", {}), x8)
    if "steps" in exp:
        test_vectors.replay(_copy(case, root), exp)
    assert TRACEBACK not in errlog.read_bytes()[said_before:].decode("utf-8", "replace")


@pytest.mark.slow
def test_every_v5_tool_answers_and_refuses_as_v5(tmp_path):
    root = _copy("basic", tmp_path / "basic")
    leaf, other = "SPEC/payments/fees/rounding", "SPEC/payments/fees/calculation"
    with sync_client(root) as client:
        def error(tool, **args):
            result = client.result(tool, **args)
            assert result.is_error, (tool, args)
            assert result.structured_content is None
            return only_text(result)

        # load_chain: a name that is no SPEC/ one, a qualifier, an inner node, no node.
        assert error("load_chain", logical_name="ARTIFACT/payments/fees/rounding") == \
            "parsing target node: not a SPEC/ reference"
        assert error("load_chain", logical_name=f"{leaf}(x)") == \
            "parsing target node: logical name has qualifier"
        assert error("load_chain", logical_name="SPEC/payments") == \
            "target node has no output field"
        assert error("load_chain", logical_name="SPEC/nothing").startswith(
            "parsing target node: ")
        # write_file: v5's refusals, and never over a file cfs did not write (X9).
        assert error("write_file", logical_name="ARTIFACT/x", content="") == \
            "logical name is not a SPEC/ reference"
        assert error("write_file", logical_name=f"{leaf}(x)", content="") == \
            "logical name must not contain a qualifier"
        assert error("write_file", logical_name="SPEC/payments", content="") == \
            "node has no output field"
        untracked = (root / "src/fees/calculation.py").read_bytes()
        refused = error("write_file", logical_name=other, content="new\n")
        assert refused == ("src/fees/calculation.py has no manifest entry (untracked); nothing "
                           "was written. Accept the file as the artifact (accept "
                           f"{other}) or delete it to have it generated")
        assert (root / "src/fees/calculation.py").read_bytes() == untracked
        assert client.call("write_file", logical_name=leaf, content="x = 1\r\n") == \
            "wrote src/fees/rounding.py"
        assert (root / "src/fees/rounding.py").read_bytes() == b"x = 1\r\n"
        # accept: then it is up to date, and accepting again is refused.
        assert error("accept", logical_name="ARTIFACT/x") == "not a SPEC/ reference"
        assert error("accept", logical_name="SPEC/payments") == "node has no output field"
        assert client.call("accept", logical_name=other) == "accepted src/fees/calculation.py"
        assert error("accept", logical_name=other) == "artifact is already up to date"
        assert client.call("validate_specs") == "All specs are valid.\n"
        # dump_chain: load_chain's document in dump_chain.xml.
        document = client.call("load_chain", logical_name=leaf)
        assert client.call("dump_chain", logical_name=leaf) == "wrote dump_chain.xml"
        assert (root / "dump_chain.xml").read_text(encoding="utf-8") == document
        assert error("dump_chain", logical_name="SPEC/payments") == \
            "target node has no output field"
        assert client.call("reconstruct_cache") == ("reconstructed cache: 2 entries processed, "
                                                    "2 content files written, 1 chain files "
                                                    "written")
        assert client.call("prune_cache").startswith("pruned cache: ")
        # Arguments that do not fit: an error result, not a broken connection.
        # (in the words of v5's MCP library: test_mcp_v5_protocol.py has them all)
        root_error = 'validating "arguments": validating root: '
        assert error("load_chain") == \
            root_error + 'required: missing properties: ["logical_name"]'
        assert error("write_file", logical_name=leaf) == \
            root_error + 'required: missing properties: ["content"]'
        assert error("accept", logical_name=7) == root_error + (
            'validating /properties/logical_name: type: 7 has type "integer", want "string"')
        # A manifest cfs cannot read is named, by every tool that needs it (X3).
        (root / "code-from-spec/.manifest").write_text("not a manifest\n")
        for tool in ("reconstruct_cache", "prune_cache"):
            assert ".manifest" in error(tool)
        assert ".manifest" in error("load_chain", logical_name=leaf)
        with pytest.raises(MCPError, match='unknown tool "nope"'):
            client.result("nope")


# -- cfs's own tools ---------------------------------------------------------------

@pytest.mark.slow
def test_status_and_graph_answer_json_and_their_text(tmp_path):
    proj = make_project(tmp_path)
    with sync_client(proj.root) as client:
        status = client.result("status")
        mermaid = client.result("graph", node="SPEC/app", format="mermaid")
        whole = client.result("graph")
        bad_node = client.result("graph", node="SPEC/nope")
        bad_format = client.result("graph", format="svg")
    assert not status.is_error
    assert json.loads(only_text(status)) == status.structured_content
    assert status.structured_content == attention_of(proj.status())
    cli = subprocess.run([sys.executable, "-m", "cfs_build.cli", "graph", "SPEC/app",
                          "--format", "mermaid"], cwd=proj.root, capture_output=True, text=True,
                         env=proj.env())
    assert only_text(mermaid) == cli.stdout
    assert mermaid.structured_content == {"node": "SPEC/app", "format": "mermaid",
                                          "mermaid": cli.stdout}
    names = {node["id"] for node in whole.structured_content["nodes"]}
    assert "SPEC/app" in names and json.loads(only_text(whole)) == whole.structured_content
    assert bad_node.is_error and "SPEC/nope" in only_text(bad_node)
    assert bad_format.is_error and only_text(bad_format) == \
        'argument "format" must be json, mermaid or dot, not "svg"'


def attention_of(document: dict) -> dict:
    """What the default `status` answer says of a `cfs status --json` document that needs
    no cut: the same keys, only the artifacts not up to date (in v5's rank order), and
    the count of those left out."""
    waiting = [a for a in document["artifacts"] if a["status"] != ["up-to-date"]]
    waiting.sort(key=lambda a: (a["rank"] or 0, a["node"]))
    left = {"up_to_date": len(document["artifacts"]) - len(waiting), "errors": 0,
            "artifacts": 0, "orphans": 0, "how": attention.HOW}
    return {**document, "artifacts": waiting, "left_out": left}


@pytest.mark.slow
def test_status_lists_what_is_not_up_to_date_and_all_gives_the_whole_document(tmp_path):
    proj = make_project(tmp_path)
    proj.cfs("build", check=True)
    proj.edit("SPEC/app/core/model", "# Public", "# Public\n\n## Added\nA new rule.\n")
    made = sorted(p for p in (proj.root / "gen").rglob("*") if p.is_file())
    made[0].unlink()  # missing
    made[-1].write_text("edited by hand\n")  # modified
    document = proj.cfs("status", "--json").stdout
    with sync_client(proj.root) as client:
        default = client.result("status")
        whole = client.result("status", all=True)
        bad = client.result("status", all="yes")
    summary = json.loads(document)["summary"]
    assert summary["up-to-date"] > 0 and summary["stale"] > 0
    assert summary["missing"] == summary["modified"] == 1
    assert default.structured_content == attention_of(json.loads(document))
    assert json.loads(only_text(default)) == default.structured_content
    listed = default.structured_content["artifacts"]
    assert 0 < len(listed) < len(json.loads(document)["artifacts"])
    assert only_text(whole) + "\n" == document  # byte for byte `cfs status --json`
    assert whole.structured_content == json.loads(document)
    assert bad.is_error and only_text(bad) == 'argument "all" is not a boolean'


def test_status_cuts_a_long_list_to_a_models_budget_in_rank_order(tmp_path, monkeypatch):
    from cfs_build.mcpserver.tools import status
    from cfs_build.mcpserver.warm import Warm
    root = tmp_path / "p"
    for i in range(70):  # 70 artifacts, none generated: every one missing
        spec = root / "code-from-spec" / f"m{i:02d}" / "_node.md"
        spec.parent.mkdir(parents=True)
        spec.write_text(f"---\noutput: src/m{i:02d}.py\n"
                        + (f"depends_on:\n  - ARTIFACT/m{i - 1:02d}\n" if i % 2 else "")
                        + f"---\n# SPEC/m{i:02d}\n\n# Agent\n\nWrite it.\n")
    ranked = status(Warm(root, watch=False), {"all": True}).data["artifacts"]
    ranked.sort(key=lambda a: (a["rank"] or 0, a["node"]))
    assert [a["node"] for a in ranked] != sorted(a["node"] for a in ranked)  # not name order
    answer = status(Warm(root, watch=False), {})
    assert answer.data["artifacts"] == ranked[:attention.LIST_CAP]
    assert answer.data["left_out"]["artifacts"] == 70 - attention.LIST_CAP
    assert answer.data["left_out"]["up_to_date"] == 0
    assert answer.data["summary"]["missing"] == 70
    assert json.loads(answer.text) == answer.data and len(answer.text) < 30_000
    # Long entries: the character budget cuts the list sooner (and shows one at least).
    monkeypatch.setattr(attention, "BUDGET", 3 * len(json.dumps(ranked[0])))
    cut = status(Warm(root, watch=False), {}).data
    assert 1 <= len(cut["artifacts"]) <= 3 and cut["artifacts"] == ranked[:len(cut["artifacts"])]
    assert cut["left_out"]["artifacts"] == 70 - len(cut["artifacts"])
    monkeypatch.setattr(attention, "BUDGET", 0)
    assert len(status(Warm(root, watch=False), {}).data["artifacts"]) == 1
    # The other lists are cut alike: orphans, and the names the verification lists.
    monkeypatch.undo()
    from cfs_build.analysis.project import Project
    names = [f"ARTIFACT/gone{i:03d}" for i in range(120)]
    verified = {"state": "unverified", "changed_since": names, "time": "then"}
    orphans = [{"name": name, "path": f"src/{i}.py", "reasons": []}
               for i, name in enumerate(names)]
    cut = attention.attention_document(Project(root).report(), verified, orphans)
    assert cut["orphans"] == orphans[:attention.LIST_CAP]
    assert cut["verification"] == {**verified, "changed_since": names[:attention.LIST_CAP]}
    assert cut["left_out"]["orphans"] == cut["left_out"]["changed_since"] == \
        120 - attention.LIST_CAP
    assert verified["changed_since"] is names and len(names) == 120  # not changed in place


@pytest.mark.slow
def test_explain_answers_what_cfs_explain_json_prints(tmp_path):
    proj = make_project(tmp_path)
    proj.cfs("build", check=True)
    proj.edit("SPEC/app", "# Public", "# Public\n\n## Added\nA new rule.\n")
    stale = next(a for a in proj.status()["artifacts"] if "stale" in a["status"])
    cli = proj.cfs("explain", "--json", stale["name"])
    with sync_client(proj.root) as client:
        answer = client.result("explain", name=stale["name"])
        unknown = client.result("explain", name="SPEC/nope")
        missing = client.result("explain")
    assert not answer.is_error
    assert answer.structured_content == json.loads(cli.stdout)
    assert answer.structured_content["changes"]  # the edit shows, with its diff
    assert json.loads(only_text(answer)) == answer.structured_content
    assert unknown.is_error and "SPEC/nope" in only_text(unknown)
    assert only_text(missing) == 'required argument "name" not found'


@pytest.mark.slow
def test_build_reports_progress_and_returns_the_runs_summary(tmp_path):
    proj = make_project(tmp_path)
    artifacts = sorted(a["name"] for a in proj.status()["artifacts"])
    seen: list[tuple[float, float | None, str]] = []

    async def main():
        async with connect(proj.root, errlog=tmp_path / "stderr") as session:
            async def progress(value, total, message):
                seen.append((value, total, message))
            result = await session.call_tool("build", {"jobs": 2}, progress_callback=progress)
            again = await session.call_tool("build", {})
            status = await session.call_tool("status", {})
            return result, again, status

    result, again, status = anyio.run(main)
    summary = result.structured_content
    assert not result.is_error and json.loads(only_text(result)) == summary
    assert summary["exit_code"] == 0 and not summary["interrupted"]
    assert sorted("ARTIFACT/" + node[5:] for node in summary["generated"]) == artifacts
    assert summary["failed"] == [] and summary["up_to_date"] == []
    # MCP: each notification's progress is larger than the last; the end reaches the total.
    values = [value for value, _, _ in seen]
    assert values == sorted(set(values)) and values[-1] == seen[-1][1] == 2 * len(artifacts)
    messages = "\n".join(message for _, _, message in seen)
    assert messages.count("generating gen:") == messages.count("generated gen:") == \
        len(artifacts)
    assert again.structured_content["generated"] == []
    assert sorted(again.structured_content["up_to_date"]) == sorted(summary["generated"])
    assert status.structured_content["summary"]["up-to-date"] == len(artifacts)
    assert all(a["status"] == ["up-to-date"] for a in proj.status()["artifacts"])
    assert TRACEBACK not in (tmp_path / "stderr").read_text()


@pytest.mark.slow
def test_build_refusals_are_error_results(tmp_path):
    proj = make_project(tmp_path)
    with sync_client(proj.root) as client:
        unknown = client.result("build", targets=["SPEC/nope"])
        jobs = client.result("build", jobs=0)
        targets = client.result("build", targets="SPEC/app")
        (proj.root / "cfs.toml").write_text("")
        no_generator = client.result("build")
        proj.edit("SPEC/app", "# SPEC/app", "# SPEC/wrong")
        invalid = client.result("build")
    assert unknown.is_error and "SPEC/nope" in only_text(unknown)
    assert only_text(jobs) == 'argument "jobs" must be at least 1'
    assert only_text(targets) == 'argument "targets" is not an array'
    assert no_generator.is_error and "cfs.toml" in only_text(no_generator)
    assert invalid.is_error and "format error(s); nothing was built" in only_text(invalid)
    assert not (proj.root / "code-from-spec/.manifest").exists()


def _lock_is_free(root: Path) -> bool:
    with open(root / LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


async def _until(predicate, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await anyio.sleep(0.05)


@pytest.mark.slow
def test_cancelling_a_build_kills_its_generations_and_records_nothing(tmp_path):
    proj = make_project(tmp_path, sleep=30)

    async def main():
        async with connect(proj.root, errlog=tmp_path / "stderr") as session:
            async with anyio.create_task_group() as group:
                async def build():
                    await session.call_tool("build", {"jobs": 4})
                    raise AssertionError("the build was not cancelled")
                group.start_soon(build)
                await _until(lambda: len(proj.calls()) >= 3)
                group.cancel_scope.cancel()  # the SDK tells the server: notifications/cancelled
            started = time.monotonic()
            await _until(lambda: not any(still_running(c["pid"], wait=0.01) for c in proj.calls()),
                         10)
            # The server goes on serving, and the run is over: the lock is free again.
            status = await session.call_tool("status", {})
            await _until(lambda: _lock_is_free(proj.root), 10)
            return status, time.monotonic() - started

    status, took = anyio.run(main)
    assert took < 10
    assert len(proj.calls()) == 3  # nothing was started after the cancellation
    assert not status.is_error
    assert {tuple(a["status"]) for a in status.structured_content["artifacts"]} == \
        {("stale", "missing")}
    assert not (proj.root / "code-from-spec/.manifest").exists()
    assert not (proj.root / "gen").exists()
    assert TRACEBACK not in (tmp_path / "stderr").read_text()


@pytest.mark.slow
def test_while_a_build_runs_reads_answer_and_a_second_build_waits_or_is_refused(tmp_path):
    proj = make_project(tmp_path, sleep=1.5)
    artifacts = len(proj.status()["artifacts"])

    async def main():
        out = {}
        async with connect(proj.root, errlog=tmp_path / "first") as first, \
                connect(proj.root, errlog=tmp_path / "second") as second:
            async with anyio.create_task_group() as group:
                async def build(session, key, args):
                    out[key] = await session.call_tool("build", args)
                group.start_soon(build, first, "first", {})
                await _until(lambda: len(proj.calls()) >= 1)
                asked = time.monotonic()
                out["status"] = await first.call_tool("status", {})
                out["validate"] = await first.call_tool("validate_specs", {})
                out["other status"] = await second.call_tool("status", {})
                out["reads took"] = time.monotonic() - asked
                out["running"] = "first" not in out
                out["same server"] = await first.call_tool("build", {})
                out["other server"] = await second.call_tool("build", {})
                group.start_soon(build, second, "waited", {"wait": True})
        return out

    out = anyio.run(main)
    assert out["running"] and out["reads took"] < 1.5
    assert not out["status"].is_error and not out["other status"].is_error
    assert out["validate"].content[0].text.startswith("Staleness:")
    assert only_text(out["same server"]) == (
        "another build of this project is running (started through this server); nothing "
        "was built. Call build again when it is done, or with wait: true to wait for it")
    other = only_text(out["other server"])
    assert out["other server"].is_error and other.startswith(
        "another build of this project is running (pid ") and f"{LOCK}); nothing" in other
    assert len(out["first"].structured_content["generated"]) == artifacts
    waited = out["waited"].structured_content
    assert waited["generated"] == [] and len(waited["up_to_date"]) == artifacts
    assert len(proj.calls()) == artifacts  # each generated once


# -- the wire and the command ------------------------------------------------------

@pytest.mark.slow
def test_stdout_carries_only_json_rpc_even_during_a_build(tmp_path):
    proj = make_project(tmp_path)
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=proj.root,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=proj.env())

    def send(message: dict) -> None:
        child.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        child.stdin.flush()

    def until_answer(number: int) -> list[dict]:
        lines = []
        while True:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            message = json.loads(line)  # every line of stdout is one JSON-RPC message
            assert message["jsonrpc"] == "2.0"
            lines.append(message)
            if message.get("id") == number:
                return lines

    send({"id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
    assert until_answer(1)[-1]["result"]["serverInfo"]["name"] == "framework-mcp"
    send({"method": "notifications/initialized"})
    send({"id": 2, "method": "tools/call", "params": {
        "name": "build", "arguments": {}, "_meta": {"progressToken": "p"}}})
    messages = until_answer(2)
    assert "isError" not in messages[-1]["result"]
    assert {m.get("method") for m in messages[:-1]} == {"notifications/progress"}
    send({"id": 3, "method": "tools/call", "params": {"name": "load_chain",
                                                       "arguments": {"logical_name": "x"}}})
    assert until_answer(3)[-1]["result"]["isError"] is True
    child.stdin.close()  # the client leaves: the server ends
    rest, err = child.stdout.read(), child.stderr.read()
    assert child.wait(timeout=30) == 0 and rest == ""
    assert TRACEBACK not in err


@pytest.mark.parametrize("missing", [["mcp"], ["mcp", "mcp_types", "anyio"]])
def test_without_the_sdk_cfs_mcp_says_how_to_install_it(tmp_path, missing):
    """Without the SDK, what it brings (anyio) is missing too: still the one line, naming
    the package to install (there is no cfs-build on a package index for a clone)."""
    from cfs_build.extras import install_command
    root = _copy("basic", tmp_path / "basic")
    blocked = (f"import sys; sys.modules.update(dict.fromkeys({missing!r})); "
               "from cfs_build.cli import main; sys.exit(main(['mcp']))")
    done = subprocess.run([sys.executable, "-c", blocked], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == f"cfs: cfs mcp needs the MCP SDK: {install_command('mcp')}\n"
    assert install_command("mcp").startswith("pip install 'mcp")


def test_outside_a_project_cfs_mcp_says_so_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("cfs: no code-from-spec/ directory in ")


# -- cfs init --mcp ------------------------------------------------------------------

ENTRY = {"type": "stdio", "command": "cfs", "args": ["mcp"]}


def _init(where: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", "init", "--mcp", *args],
                          cwd=where, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_init_mcp_writes_the_entry_and_is_idempotent(tmp_path):
    first = _init(tmp_path)
    assert first.returncode == 0 and "created .mcp.json (server cfs)" in first.stdout
    written = (tmp_path / ".mcp.json").read_bytes()
    assert json.loads(written) == {"mcpServers": {"cfs": ENTRY}}
    again = _init(tmp_path)
    assert again.returncode == 0 and "kept    .mcp.json (server cfs present)" in again.stdout
    assert (tmp_path / ".mcp.json").read_bytes() == written


def test_init_mcp_keeps_every_other_server_and_points_at_a_v5_one(tmp_path):
    others = {"mcpServers": {"v5": {"command": "/opt/bin/framework-mcp"},
                             "docs": {"type": "http", "url": "http://localhost:9"}},
              "comment": "kept"}
    (tmp_path / ".mcp.json").write_text(json.dumps(others))
    done = _init(tmp_path)
    assert done.returncode == 0
    assert json.loads((tmp_path / ".mcp.json").read_text()) == \
        {**others, "mcpServers": {**others["mcpServers"], "cfs": ENTRY}}
    assert "server 'v5' runs the v5 tool; to switch it to cfs" in done.stdout
    # A server already named cfs is the user's: left as it is.
    mine = {"mcpServers": {"cfs": {"command": "/usr/local/bin/cfs", "args": ["mcp"]}}}
    (tmp_path / ".mcp.json").write_text(json.dumps(mine))
    done = _init(tmp_path)
    assert json.loads((tmp_path / ".mcp.json").read_text()) == mine
    assert "already configured otherwise; left as it is" in done.stdout


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"mcpServers": []}'])
def test_init_mcp_refuses_a_file_it_cannot_merge_and_writes_nothing(tmp_path, text):
    (tmp_path / ".mcp.json").write_text(text)
    done = _init(tmp_path)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.startswith("cfs: .mcp.json: ") and "run cfs init --mcp again" in \
        done.stderr and len(done.stderr.splitlines()) == 1
    assert (tmp_path / ".mcp.json").read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mcp.json"]


def test_init_mcp_keeps_a_lone_surrogate_of_the_old_file_as_an_escape(tmp_path):
    # JSON may hold half a UTF-16 pair as \ud800; as a character it has no UTF-8 form, and
    # writing it stopped init halfway (the project made, .mcp.json not).
    text = '{"mcpServers": {"x\\ud800\\u009b": {"command": "y"}}}'
    (tmp_path / ".mcp.json").write_text(text)
    done = _init(tmp_path)
    assert done.returncode == 0, done.stderr
    written = (tmp_path / ".mcp.json").read_text(encoding="utf-8")
    assert json.loads(written) == {"mcpServers": {**json.loads(text)["mcpServers"],
                                                  "cfs": ENTRY}}
    assert "x\\ud800\\u009b" in written


def test_the_wire_form_of_an_answer_is_the_sdks_own_dump_of_it():
    from cfs_build.mcpserver.server import result_of, wire_of
    from cfs_build.mcpserver.tools import Answer
    for answer in (Answer("text"), Answer("{}", {"a": [1, "é", None], "b": {"c": True}}),
                   Answer("refused", error=True), Answer("[]", {}, True)):
        dumped = result_of(answer).model_dump(by_alias=True, mode="json", exclude_none=True)
        if not answer.error:  # a success leaves out isError, as v5's library does
            assert dumped.pop("isError") is False
        assert wire_of(answer) == dumped


# -- what the client did wrong, or the disk holds, answered in words ------------------

@pytest.mark.slow
def test_dump_chain_over_a_directory_names_dump_chain_xml_and_what_to_do(tmp_path):
    root = _copy("basic", tmp_path / "basic")
    (root / "dump_chain.xml").mkdir()
    with sync_client(root) as client:
        result = client.result("dump_chain", logical_name="SPEC/payments/fees/rounding")
        assert result.is_error
        text = only_text(result)
    assert text == ("dump_chain.xml: is a directory, not a file; nothing was written. Remove "
                    "or rename it, then call dump_chain again")
    assert ".tmp" not in text and os.listdir(root / "dump_chain.xml") == []
    assert not [name for name in os.listdir(root) if name.endswith(".tmp")]


def test_a_request_with_a_lone_surrogate_gets_a_json_rpc_error_and_the_server_goes_on(
        tmp_path):
    root = _copy("basic", tmp_path / "basic")
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=root,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, bufsize=0,
                             env={**os.environ, "PYTHONPATH": str(REPO)})

    def send(text: str) -> None:
        child.stdin.write(text.encode("ascii") + b"\n")
        child.stdin.flush()

    def answer() -> dict:
        # A server that drops the request leaves the client waiting: give it 20 s.
        import selectors
        with selectors.DefaultSelector() as waiting:
            waiting.register(child.stdout, selectors.EVENT_READ)
            assert waiting.select(timeout=20), "no answer"
        return json.loads(child.stdout.readline())

    try:
        send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}))
        assert answer()["id"] == 1
        send('{"jsonrpc": "2.0", "method": "notifications/initialized"}')
        # json.dumps writes a lone surrogate as the escape \udcff: valid JSON syntax, no text.
        send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "load_chain", "arguments": {"logical_name": "SPEC/a\udcff"}}}))
        refused = answer()
        assert refused["id"] == 2 and refused["error"]["code"] == -32700
        message = refused["error"]["message"]
        assert "lone leading surrogate" in message and "UTF-16 pair" in message, message
        # A lone surrogate in the id itself: no id to answer with (the reply could not be
        # written), nothing sent; the next request is answered as ever.
        send('{"jsonrpc": "2.0", "id": "\\udcff", "method": "tools/call", "params": {}}')
        # Nested past any parser's recursion limit: unreadable here too, never fatal.
        send('{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": '
             + "[" * 100_000 + "]" * 100_000 + "}")
        send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "version", "arguments": {}}}))
        assert answer() == {"jsonrpc": "2.0", "id": 3, "result": {
            "content": [{"type": "text", "text": "5.0.0"}]}}
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        assert TRACEBACK.encode() not in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_build_summary_names_nodes_as_they_are_though_doit_s_names_are_escaped(tree):
    # doit's task names escape a directory's control characters (`doit list` prints them);
    # the summary is JSON, which carries any name exactly.
    from cfs_build.analysis.project import Project
    from cfs_build.building.run import BuildResult
    from cfs_build.building.tasks import task_name
    from cfs_build.mcpserver.tools import build_summary
    from conftest import spec
    odd, plain = "SPEC/x\u202eexe\x9b", "SPEC/a\\x9b"
    root = tree({odd: spec(odd, "# Agent\nx\n", front="output: x.txt"),
                 plain: spec(plain, "# Agent\na\n", front="output: a.txt")})
    result = BuildResult(0, generated=(task_name(odd), task_name(plain)),
                         failed=((task_name(odd), "why"),), up_to_date=("verify",))
    summary = build_summary(result, Project(root))
    assert summary["generated"] == [odd, plain]
    assert summary["failed"] == [{"node": odd, "message": "why"}]
    assert summary["up_to_date"] == ["verify"]


@pytest.mark.slow
def test_build_progress_messages_show_a_generators_escape_sequences_escaped(tmp_path):
    # Progress messages are text a client shows a person, like the CLI's lines; an
    # assumption is the model's text.
    from conftest import spec, write_tree
    gen = tmp_path / "gen.py"
    gen.write_text("print('<artifact>\\nok\\n</artifact>\\n<assumptions>\\n"
                   "- \\x1b]0;PWNED\\x07 \\x1b[2J gone\\n</assumptions>')\n")
    root = write_tree(tmp_path / "p", {
        "SPEC/a": spec("SPEC/a", "# Agent\nx\n", front="output: a.txt"),
        "cfs.toml": f'[generator]\nkind = "command"\ncommand = [{json.dumps(sys.executable)}, '
                    f'{json.dumps(str(gen))}]\n'})
    seen: list[str] = []

    async def main():
        async with connect(root, errlog=tmp_path / "stderr") as session:
            async def progress(value, total, message):
                seen.append(message)
            return await session.call_tool("build", {}, progress_callback=progress)

    result = anyio.run(main)
    assert not result.is_error and result.structured_content["generated"] == ["SPEC/a"]
    said = "\n".join(seen)
    assert "assumes: \\x1b]0;PWNED\\x07 \\x1b[2J gone" in said, said
    assert "\x1b" not in said and "\x07" not in said


def test_init_mcp_says_so_when_claude_code_would_not_find_cfs(tmp_path):
    """The entry names `cfs`: without one on PATH (a virtualenv not active), the server
    would not start, so init says what to do; with one, it says nothing of the kind."""
    for where in ("one", "two"):
        (tmp_path / where).mkdir()
    bare = subprocess.run([sys.executable, "-m", "cfs_build.cli", "init", "--mcp"],
                          cwd=tmp_path / "one", capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PATH": "/nonexistent"})
    assert bare.returncode == 0
    assert "note    no cfs on PATH here" in bare.stdout and "full path of cfs" in bare.stdout
    found = tmp_path / "bin"
    found.mkdir()
    (found / "cfs").write_text("#!/bin/sh\n")
    (found / "cfs").chmod(0o755)
    seen = subprocess.run([sys.executable, "-m", "cfs_build.cli", "init", "--mcp"],
                          cwd=tmp_path / "two", capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO), "PATH": str(found)})
    assert seen.returncode == 0 and "on PATH" not in seen.stdout
