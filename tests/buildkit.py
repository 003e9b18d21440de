"""Helpers for build tests: a project with the scripted generator, and real cfs/doit runs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).parent
SCRIPTED = TESTS / "scripted_gen.py"


@dataclass
class Proj:
    root: Path
    log: Path

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def reset_log(self) -> None:
        self.log.unlink(missing_ok=True)

    def generated_nodes(self) -> list[str]:
        """Which leaves the generator was called for (from the AGENT[...] or target label)."""
        nodes = []
        for call in self.calls():
            document = call["document"]
            marker = 'AGENT['
            start = document.find("<instructions")
            labels = call["labels"]
            nodes.append(_leaf_of(document, labels, marker, start))
        return sorted(nodes)

    def spec(self, node: str) -> Path:
        return self.root / "code-from-spec" / node[len("SPEC/"):] / "_node.md"

    def edit(self, node: str, old: str, new: str) -> None:
        path = self.spec(node)
        text = path.read_text()
        assert old in text, (old, text)
        path.write_text(text.replace(old, new, 1))

    def run(self, *argv: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        env = self.env()
        result = subprocess.run(list(argv), cwd=self.root, capture_output=True, text=True,
                                timeout=timeout, env=env)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def env(self) -> dict[str, str]:
        """The environment of a run: temp dirs (the generators' too) inside the test's own."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(self.log.parent)}
        env.pop("CI", None)
        return env

    def doit(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "doit", *args, **kw)

    def cfs(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "cfs_build.cli", *args, **kw)

    def status(self) -> dict:
        result = self.cfs("status", "--json")
        return json.loads(result.stdout)

    def flags(self) -> dict[str, list[str]]:
        return {a["name"]: a["status"] for a in self.status()["artifacts"]}


def _leaf_of(document: str, labels: list[str], marker: str, start: int) -> str:
    # The document never names its own leaf outright; the scripted generator's log has
    # the labels, and every fixture leaf has a unique # Agent text naming what it writes.
    return document.split("<instructions", 1)[1].split(">", 1)[1].strip().splitlines()[0] \
        if start >= 0 else (labels[-1] if labels else "?")


def make_project(tmp_path: Path, fixture: str = "buildproj", sleep: float = 0.0,
                 extra_toml: str = "", gate: Path | None = None) -> Proj:
    root = tmp_path / fixture
    shutil.copytree(TESTS / "fixtures" / fixture, root)
    log = tmp_path / "generator-log.jsonl"
    # -S: the generator needs only the standard library, and site's .pth files cost a
    # good part of each of the hundreds of starts.
    command = [sys.executable, "-S", str(SCRIPTED), str(log)]
    if sleep:
        command += ["--sleep", str(sleep)]
    if gate:
        command += ["--gate", str(gate)]
    (root / "cfs.toml").write_text(
        "[generator]\nkind = \"command\"\n"
        f"command = {json.dumps(command)}\ntimeout = 60\n{extra_toml}")
    (root / "dodo.py").write_text("from cfs_build.dodo import *\n")
    return Proj(root, log)


def still_running(pid: int, wait: float = 5.0) -> bool:
    """True if the process still runs after ``wait`` seconds (a zombie counts as gone)."""
    import time
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # (gone between open and read)
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True
