"""Accounting and the per-run switches: the run log, `cfs runs`, `cfs prompt`, `fresh`, and the
configuration keys of the model backends."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from buildkit import make_project
from cfs_build.config import load_config
from cfs_build.errors import CfsError
from cfs_build.state.runlog import RunLog, totals
from genkit import cfs, prompt_text


@pytest.fixture
def built(tmp_path):
    proj = make_project(tmp_path)
    assert cfs(proj, "build").returncode == 0
    proj.reset_log()
    return proj


def test_prompt_prints_the_packaged_prompt(built):
    result = cfs(built, "prompt")
    assert result.returncode == 0 and result.stdout == prompt_text()
    for rule in ("<artifact>", "<findings>", "<assumptions>", "<existing_artifact>",
                 "override", "never invent"):
        assert rule.lower() in result.stdout.lower()
    fingerprint = cfs(built, "prompt", "--id").stdout.strip()
    assert len(fingerprint) == 12


def test_prompt_needs_no_project(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "prompt"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == prompt_text()


@pytest.mark.slow
def test_fresh_leaves_the_existing_file_out_of_the_document(built):
    built.edit("SPEC/other", "Say hello.", "Say hello twice.")
    assert cfs(built, "build", "--fresh").returncode == 0
    built.edit("SPEC/other", "Say hello twice.", "Say hello thrice.")
    assert cfs(built, "build").returncode == 0
    assert [call["has_existing"] for call in built.calls()] == [False, True]
    (built.root / "cfs.toml").write_text(
        (built.root / "cfs.toml").read_text().replace("[generator]\n",
                                                      "[generator]\nfresh = true\n"))
    built.edit("SPEC/other", "Say hello thrice.", "Say hello once.")
    assert cfs(built, "build").returncode == 0
    assert built.calls()[-1]["has_existing"] is False
    log = RunLog(built.root).entries()
    assert [e["fresh"] for e in log[-3:]] == [True, False, True]


@pytest.mark.slow
def test_runs_lists_recent_runs_and_the_generations_of_one(built):
    built.edit("SPEC/other", "Say hello.", "Say hello. CANNED-FINDINGS")
    assert cfs(built, "build").returncode == 1
    result = cfs(built, "runs")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "started", "gen"]
    first, second = lines[1:]
    assert first.split()[2:6] == ["4", "4", "0", "0"]  # the first build: 4 generated
    assert second.split()[2:6] == ["1", "0", "0", "1"]  # then one with findings
    shown = cfs(built, "runs", "--show", "last").stdout
    assert shown.startswith("findings  SPEC/other:") and "which currency" in shown
    runs = json.loads(cfs(built, "runs", "--json").stdout)
    assert [r["generations"] for r in runs] == [4, 1]
    assert runs[0]["backends"] == ["command"]
    assert cfs(built, "runs", "-n", "1", "--json").stdout.count('"run"') == 1
    assert cfs(built, "runs", "--show", "nope").returncode == 3


def test_runs_without_any_run(tmp_path):
    proj = make_project(tmp_path)
    result = cfs(proj, "runs")
    assert result.returncode == 0 and "no runs recorded yet" in result.stdout


def test_parallel_appends_never_interleave(tmp_path):
    log = RunLog(tmp_path)
    big = "x" * 5000  # longer than one pipe buffer: only the lock keeps lines whole

    def write(n):
        for i in range(50):
            log.record(node=f"SPEC/{n}/{i}", outcome="generated", input_tokens=1,
                       output_tokens=2, cost_usd=0.5, seconds=1.0, message=big)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(log.path, "a") as handle:
        handle.write('{"run": "torn')  # a crash mid-line is skipped, not fatal
    entries = log.entries()
    assert len(entries) == 200 and all(e["message"] == big for e in entries)
    (run,) = totals(entries)
    assert (run.generations, run.input_tokens, run.output_tokens, run.cost_usd) == \
        (200, 200, 400, 100.0)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "code-from-spec").mkdir()
    return tmp_path


def config_error(root, text: str) -> str:
    (root / "cfs.toml").write_text(text)
    with pytest.raises(CfsError) as caught:
        load_config(root)
    return caught.value.message


@pytest.mark.parametrize("text", [
    '[generator]\nkind = "claude-code"\n',
    '[generator]\nkind = "claude-code"\nexecutable = "/opt/claude"\nmodel = "opus"\n'
    'extra_args = ["--effort", "high"]\nbare = true\ntimeout = 600\nmax_attempts = 3\n'
    "retry_delay = 0\nmax_concurrency = 2\nfresh = true\n",
    '[generator]\nkind = "anthropic"\nmodel = "m"\nmax_tokens = 8000\ntemperature = 0\n'
    'base_url = "http://127.0.0.1:1"\napi_key_env = "K"\ninput_usd_per_mtok = 3\n'
    "output_usd_per_mtok = 15\n",
    '[generator]\nkind = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:1/v1"\n'
    "max_completion_tokens = 100\n",
])
def test_backend_keys_are_accepted(root, text):
    (root / "cfs.toml").write_text(text)
    assert load_config(root).generator["kind"] in ("claude-code", "anthropic", "openai")


@pytest.mark.parametrize("text, named", [
    ('kind = "anthropic"\n', "generator.model is missing"),
    ('kind = "openai"\nbase_url = "x"\n', "generator.model is missing"),
    ('kind = "anthropic"\nmodel = "m"\ncommand = ["x"]\n', "unknown key generator.command"),
    ('kind = "claude-code"\nbase_url = "x"\n', "unknown key generator.base_url"),
    ('kind = "claude-code"\nbare = "yes"\n', "generator.bare"),
    ('kind = "claude-code"\nextra_args = [1]\n', "generator.extra_args"),
    ('kind = "claude-code"\nextra_args = "--x"\n', "generator.extra_args"),
    ('kind = "anthropic"\nmodel = 3\n', "generator.model"),
    ('kind = "anthropic"\nmodel = "m"\nmax_tokens = 0\n', "generator.max_tokens"),
    ('kind = "anthropic"\nmodel = "m"\ntemperature = -1\n', "generator.temperature"),
    ('kind = "openai"\nmodel = "m"\nmax_attempts = 1.5\n', "generator.max_attempts"),
    ('kind = "openai"\nmodel = "m"\nmax_tokens = 1\nmax_completion_tokens = 1\n', "not both"),
    ('kind = "command"\ncommand = ["g"]\nfresh = 1\n', "generator.fresh"),
])
def test_backend_key_errors_name_the_key(root, text, named):
    assert named in config_error(root, "[generator]\n" + text)


def test_backend_doc_generator_examples_are_valid_config(root):
    doc = (Path(__file__).parents[2] / "docs" / "backends.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, re.S)
    assert len(blocks) >= 4
    kinds = set()
    for block in blocks:
        (root / "cfs.toml").write_text(block)
        kinds.add(load_config(root).generator["kind"])
    assert kinds == {"claude-code", "anthropic", "openai"}
