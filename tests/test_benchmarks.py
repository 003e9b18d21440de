"""Every script in benchmarks/ runs to its table on a tiny project.

Nothing here is timed (the speed goals live in the tables the scripts print); this
only keeps a benchmark from breaking unseen as the package changes under it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

RUNS = {
    "bench_status.py": (["--leaves", "120", "--runs", "1"], "| `cfs status`, repeated"),
    "bench_parser.py": (["--leaves", "120", "--runs", "1"], "| markdown-it-pyrs"),
    "bench_scaling.py": (["--sizes", "120", "--runs", "1"], "| `cfs status` after one leaf"),
    "bench_build.py": (["--leaves", "60", "--runs", "1", "--sleep", "0.05"],
                       "| 4 chains of 4, -j 4 via doit"),
    "bench_mcp.py": (["--leaves", "120", "--runs", "1"], "| server peak memory"),
    "bench_compare.py": (["--rev", "HEAD", "--leaves", "120", "--runs", "1"],
                         "| repeated |"),
}


def test_every_benchmark_is_run_here():
    assert sorted(RUNS) == sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(RUNS))
def test_a_benchmark_prints_its_table(script, tmp_path):
    if script == "bench_compare.py" and (shutil.which("git") is None
                                         or not (BENCHMARKS.parent / ".git").exists()):
        pytest.skip("compares with a git revision: needs git and this repository's history")
    argv, row = RUNS[script]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *argv],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert row in done.stdout
    assert list(tmp_path.iterdir()) == []  # its temporary projects are removed
