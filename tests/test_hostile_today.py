"""Hostile inputs against the behaviour merged together: writes that record the chain
after the write, files that are not UTF-8, and the MCP server's end of input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# A generator that makes the leaf marked SLOW wait until another build thread has
# rewritten the file its chain reads (b.txt), so both generations overlap for sure.
_GATED = textwrap.dedent("""\
    import hashlib, os, sys, time
    doc = sys.stdin.read()
    if "SLOW" in doc:
        deadline = time.monotonic() + 30
        while open("{root}/b.txt").read() == "old\\n" and time.monotonic() < deadline:
            time.sleep(0.01)
    print("<artifact>\\nmade from " + hashlib.sha1(doc.encode()).hexdigest() + "\\n</artifact>")
""")


def _cfs(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(root.parent)}
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=120, env=env)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _write(root: Path, rel: str, text: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)


@pytest.mark.slow
def test_a_build_never_records_a_file_its_generator_did_not_see(tmp_path):
    """A reads EXTERNAL/b.txt, the output of B; built side by side (-j 2), B rewrites b.txt
    while A's generator runs on the old text. A's record must be of the b.txt its
    generator was shown, so A is stale afterwards, not up to date on a text it never saw."""
    root = tmp_path / "p"
    _write(root, "code-from-spec/r/_node.md", "# SPEC/r\n\nroot\n")
    _write(root, "code-from-spec/r/b/_node.md",
           "---\noutput: b.txt\n---\n# SPEC/r/b\n\nx\n\n# Agent\n\nmake b\n")
    _write(root, "code-from-spec/r/a/_node.md",
           "---\noutput: a.txt\ndepends_on:\n  - EXTERNAL/b.txt\n---\n# SPEC/r/a\n\nx\n\n"
           "# Agent\n\nmake a SLOW\n")
    _write(root, "gen.py", _GATED.format(root=root))
    _write(root, "cfs.toml", f'[generator]\nkind = "command"\n'
           f'command = [{json.dumps(sys.executable)}, "gen.py"]\n')
    _write(root, "b.txt", "old\n")
    _cfs(root, "accept", "ARTIFACT/r/b")
    _write(root, "code-from-spec/r/b/_node.md",
           "---\noutput: b.txt\n---\n# SPEC/r/b\n\nx\n\n# Agent\n\nmake b again\n")
    _cfs(root, "build", "-j", "2")
    assert (root / "b.txt").read_text() != "old\n"
    status = json.loads(_cfs(root, "status", "--json", check=False).stdout)
    flags = {a["name"]: a["status"] for a in status["artifacts"]}
    assert flags["ARTIFACT/r/b"] == ["up-to-date"]
    assert "stale" in flags["ARTIFACT/r/a"], flags


def _byte_named(tmp_path: Path) -> Path:
    """A project whose leaf lives in a directory named with a byte that is not UTF-8,
    its _node.md's heading naming it with that byte: v5 takes it as a node."""
    root = tmp_path / "p"
    _write(root, "code-from-spec/r/_node.md", "# SPEC/r\n\nroot\n")
    _write(root, "code-from-spec/r/ok/_node.md",
           "---\noutput: ok.txt\n---\n# SPEC/r/ok\n\nx\n\n# Agent\n\nmake ok\n")
    odd = os.fsencode(root / "code-from-spec/r") + b"/g\xffh"
    os.makedirs(odd)
    with open(odd + b"/_node.md", "wb") as handle:
        handle.write(b"---\noutput: odd.txt\n---\n# SPEC/r/g\xffh\n\nx\n\n# Agent\n\n"
                     b"make odd\n")
    _write(root, "log.txt", "")
    _write(root, "gen.py", "import sys\ndoc = sys.stdin.read()\n"
           f"open({str(root / 'log.txt')!r}, 'a').write(doc)\n"
           "print('<artifact>\\nmade\\n</artifact>')\n")
    _write(root, "cfs.toml", f'[generator]\nkind = "command"\n'
           f'command = [{json.dumps(sys.executable)}, "gen.py"]\n')
    return root


@pytest.mark.slow
def test_a_node_named_with_a_byte_that_is_not_utf8_is_refused_before_the_model(tmp_path):
    # cfs's manifest is UTF-8 (it refuses to read any other): such a name cannot be
    # recorded, so the node is refused before its document is sent, the others built.
    root = _byte_named(tmp_path)
    status = _cfs(root, "status", check=False)
    assert "node_name" in status.stdout and "g\\xffh" in status.stdout, status.stdout
    built = _cfs(root, "build", check=False)
    out = built.stdout + built.stderr
    assert built.returncode != 0
    assert "Traceback" not in out and "internal error" not in out, out
    assert "cannot record" in out, out
    assert "make odd" not in (root / "log.txt").read_text()
    assert (root / "ok.txt").exists() and not (root / "odd.txt").exists()
    (root / "odd.txt").write_text("by hand\n")
    accepted = _cfs(root, "accept", "odd.txt", check=False)
    assert accepted.returncode == 2, accepted.stderr
    assert "cannot record" in accepted.stderr and "internal error" not in accepted.stderr
    assert b"\xff" not in (root / "code-from-spec/.manifest").read_bytes()


@pytest.mark.slow
def test_the_mcp_server_answers_for_a_name_that_is_not_utf8_and_goes_on(tmp_path):
    """A name (or any answer text) holding a byte that is no UTF-8 travels as U+FFFD, as
    v5's JSON encoder writes it: the SDK refused to serialize the lone surrogate, the
    server died and the client waited for its answer forever."""
    import anyio
    sys.path.insert(0, str(Path(__file__).parent))
    from mcpkit import connect, only_text

    root = _byte_named(tmp_path)
    (root / "odd.txt").write_text("by hand\n")

    async def main():
        with anyio.fail_after(30):
            async with connect(root, errlog=tmp_path / "err.txt") as session:
                answers = {}
                for tool, args in (("status", {"all": True}), ("validate_specs", {}),
                                   ("graph", {}), ("explain", {"name": "odd.txt"})):
                    result = await session.call_tool(tool, args)
                    answers[tool] = (result.is_error, only_text(result),
                                     result.structured_content)
                answers["version"] = only_text(await session.call_tool("version", {}))
                return answers

    answers = anyio.run(main)
    assert answers["version"] == "5.0.0"
    status_error, status_text, status_data = answers["status"]
    assert not status_error
    names = [a["name"] for a in json.loads(status_text)["artifacts"]]
    assert "ARTIFACT/r/g\ufffdh" in names, names
    assert [a["name"] for a in status_data["artifacts"]] == names
    assert "SPEC/r/g\ufffdh" in answers["validate_specs"][1]
    assert "g\ufffdh" in answers["graph"][1]
    assert "Traceback" not in (tmp_path / "err.txt").read_text()


@pytest.mark.slow
def test_a_cancel_naming_the_id_as_text_does_not_keep_the_server_from_stopping(tmp_path):
    """The SDK takes "7" and 7 for one request id (it cancels request 7 for either, and
    never answers it then); the end of input waited for an answer that never came."""
    import fcntl
    import time
    root = tmp_path / "p"
    _write(root, "code-from-spec/r/_node.md", "# SPEC/r\n\nroot\n")
    _write(root, "code-from-spec/r/a/_node.md",
           "---\noutput: a.txt\n---\n# SPEC/r/a\n\nx\n\n# Agent\n\nmake a\n")
    _write(root, "code-from-spec/.manifest.lock", "")
    lines = [{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                 "protocolVersion": "2025-06-18", "capabilities": {},
                 "clientInfo": {"name": "raw", "version": "0"}}},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
                 "name": "write_file",
                 "arguments": {"logical_name": "SPEC/r/a", "content": "a\n"}}}]
    with open(root / "code-from-spec/.manifest.lock", "a+") as lock:
        # The write waits for the manifest's lock: the call is in flight when cancelled.
        fcntl.flock(lock, fcntl.LOCK_EX)
        child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "mcp"], cwd=root,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        try:
            child.stdin.write("".join(json.dumps(m) + "\n" for m in lines).encode())
            child.stdin.flush()
            assert b'"id":0' in child.stdout.readline()
            time.sleep(1)  # (the call reaches the lock; a cancel before it is no test)
            child.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                          "params": {"requestId": "7"}}).encode() + b"\n")
            child.stdin.close()
            time.sleep(0.5)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        try:
            assert child.wait(timeout=20) == 0
        finally:
            child.kill()
            child.wait()
