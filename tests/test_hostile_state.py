"""What cfs reads from its unsealed state (code-from-spec/.cache, which a checkout carries)
and shows: never an escape sequence on the terminal, whoever wrote the bytes."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildkit import make_project

# ESC (an OSC title and a screen clear), the 8-bit CSI, a bidi override.
HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\u202e"


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(root.parent)}
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60, env=env)


def stale_with_planted_history(tmp_path: Path) -> Path:
    """A built project whose app/cli is stale, its cached previous chain rewritten: an
    entry's old text and a removed entry's label carry escape sequences."""
    proj = make_project(tmp_path / "p")
    assert cfs(proj.root, "build").returncode == 0
    recorded = next(line for line in (proj.root / "code-from-spec/.manifest").read_text()
                    .splitlines() if line.startswith("ARTIFACT/app/cli;")).rsplit("chain:")[1]
    cache = proj.root / "code-from-spec/.cache"
    listing = cache / ".chains" / f".{recorded}"
    lines = listing.read_text().splitlines()
    agent = next(line for line in lines if line.startswith("AGENT["))
    agent_hash = agent.split(": ")[1]
    os.chmod(listing, 0o644)
    listing.write_text("\n".join([*lines, f"SPEC/gone{HOSTILE}: {agent_hash}"]) + "\n")
    content = cache / ".content" / f".{agent_hash}"
    os.chmod(content, 0o644)
    content.write_text(f"old {HOSTILE} text\n")
    proj.edit("SPEC/app/cli", "Parse arguments", "Parse the arguments")
    return proj.root


def test_explain_never_puts_cached_escape_sequences_on_the_terminal(tmp_path):
    root = stale_with_planted_history(tmp_path)
    shown = cfs(root, "explain", "ARTIFACT/app/cli")
    assert shown.returncode == 1, shown.stderr
    assert "-old \\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\u202e text" in shown.stdout, shown.stdout
    assert "SPEC/gone\\x1b]0;PWNED" in shown.stdout
    for char in "\x1b\x07\x9b\u202e":
        assert char not in shown.stdout + shown.stderr
    as_json = cfs(root, "explain", "--json", "ARTIFACT/app/cli")
    assert as_json.returncode == 1, as_json.stderr
    for char in "\x1b\x07\x9b\u202e":
        assert char not in as_json.stdout
    answer = json.loads(as_json.stdout)  # the same data, only written safely
    assert any(HOSTILE in change["diff"] for change in answer["changes"])


def test_a_verify_record_with_this_copys_key_and_odd_failures_is_never_fatal(tmp_path):
    """The key of a record (dirs.anchor) keeps out what a checkout carries, but another
    local user can stat .cfs/.gitignore and write one: its values are still checked."""
    root = make_project(tmp_path / "p").root
    assert cfs(root, "build").returncode == 0
    report = json.loads(cfs(root, "status", "--json").stdout)
    st = (root / ".cfs/.gitignore").stat()
    (root / ".cfs/verify.json").write_text(json.dumps({
        "copy": f"{st.st_dev}:{st.st_ino}:{st.st_ctime_ns}", "passed": False, "time": "x",
        "artifacts": {a["name"]: [a["chain"], a["checksum"]] for a in report["artifacts"]},
        "results": [{"failures": [{"test_node": 5}, {"test_node": f"t{HOSTILE}"}]}]}))
    shown = cfs(root, "status")
    assert "Traceback" not in shown.stderr and "internal error" not in shown.stderr, shown.stderr
    assert "tests: failing (t\\x1b]0;PWNED" in shown.stdout, shown.stdout
    assert "\x1b" not in shown.stdout


DEEP = b"[" * 200_000  # JSON nested past Python's recursion limit: RecursionError, no ValueError


@pytest.mark.parametrize("rel, args", [
    (".cfs/runs.jsonl", ("runs",)),
    (".cfs/doit-state", ("build",)),
    (".cfs/verify.json", ("status",)),
    (".cfs/pending/" + "0" * 40 + ".json", ("status",)),
    (".cfs/pending/" + "0" * 40 + ".json", ("build",)),
])
def test_json_state_nested_too_deep_is_discarded_never_fatal(tmp_path, rel, args):
    """.cfs/ can come with a checkout (a repository may commit files there)."""
    root = make_project(tmp_path / "p").root
    assert cfs(root, "build").returncode == 0
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, symlinks=True)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    with open(root / rel, "ab" if rel.endswith(".jsonl") else "wb") as file:
        file.write(DEEP + b"\n")  # (in the run log, a line more)
    got, want = cfs(root, *args), cfs(clean, *args)
    assert "internal error" not in got.stderr and "Traceback" not in got.stderr, got.stderr
    def timeless(text: str) -> str:
        return re.sub(r" in [0-9.]+ s$", "", text, flags=re.M)
    assert (got.returncode, timeless(got.stdout)) == (want.returncode, timeless(want.stdout))


def test_init_names_an_mcp_json_nested_too_deep(tmp_path):
    root = make_project(tmp_path / "p").root
    (root / ".mcp.json").write_bytes(DEEP)
    done = cfs(root, "init", "--mcp")
    assert done.returncode != 0 and "internal error" not in done.stderr, done.stderr
    assert "cfs: .mcp.json: is not valid JSON" in done.stderr
    assert (root / ".mcp.json").read_bytes() == DEEP


def test_a_cfs_toml_nested_too_deep_is_a_toml_error(tmp_path):
    root = make_project(tmp_path / "p").root
    with open(root / "cfs.toml", "a") as file:
        file.write("x = " + "[" * 100_000 + "\n")
    done = cfs(root, "build")
    assert done.returncode != 0 and "internal error" not in done.stderr, done.stderr
    assert "cfs: cfs.toml: TOML error: arrays or tables nested too deep" in done.stderr


@pytest.mark.parametrize("place, made", [
    (".cfs/reports", "a regular file"),
    (".cfs/reports/app", "a symbolic link (to {outside})")])
def test_a_reports_directory_not_cfs_own_is_refused_before_the_model_is_asked(tmp_path,
                                                                               place, made):
    # The reports are saved (or cleared) once the model has answered: a checkout's file or
    # link there failed each generation after it was paid for, its answer thrown away.
    proj = make_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    where = proj.root / place
    where.parent.mkdir(parents=True, exist_ok=True)
    if made == "a regular file":
        where.write_text("not a directory\n")
    else:
        where.symlink_to(outside)
    done = cfs(proj.root, "build", "SPEC/app/cli")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    said = f"{place} is {made.format(outside=outside)}, not a directory; cfs keeps its own " \
           "state there and never reads, writes or deletes through a link. Remove it (cfs " \
           "makes the directory again)"
    assert said in done.stdout, done.stdout
    assert proj.calls() == []
    assert list(outside.iterdir()) == []
