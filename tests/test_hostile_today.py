"""Hostile inputs against the behaviour merged together: writes that record the chain
after the write, files that are not UTF-8, and the MCP server's end of input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
