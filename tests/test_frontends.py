"""One build, four front ends: `cfs build`, plain `doit` (serial and threaded), the Python API.

Every scenario runs through each front end and must come out the same: what was
generated, what the summary says, what was refused, what it cost, how Ctrl-C ends.
The command-line front ends run as real subprocesses; the Python API runs here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildkit import Proj, make_project, still_running

FRONT_ENDS = ["cfs", "doit", "doit-threads", "api"]
COMMANDS = {"cfs": ["-m", "cfs_build.cli", "build", "-j", "4"], "doit": ["-m", "doit"],
            "doit-threads": ["-m", "doit", "-n", "4", "-P", "thread"]}
MODEL, STORE, CLI, OTHER = ("Write the model.", "Store models in memory.",
                            "Parse arguments and print models.", "Say hello.")
TRACEBACK = "Traceback"
# What the stand-in model (priced_model) reports for every generation.
TOKENS_IN, TOKENS_OUT, COST = 500, 40, 0.0123


def priced_model(where: Path) -> str:
    """cfs.toml for a `claude`-like program that reports tokens and cost for each reply."""
    program = where / "priced-claude"
    program.write_text(
        f"#!{sys.executable}\nimport json, sys\nsys.stdin.read()\n"
        "print(json.dumps({'type': 'result', 'subtype': 'success', 'is_error': False,\n"
        "    'result': '<artifact>\\nsome file\\n</artifact>\\n', 'stop_reason': 'end_turn',\n"
        f"    'usage': {{'input_tokens': {TOKENS_IN}, 'output_tokens': {TOKENS_OUT}}},\n"
        f"    'total_cost_usd': {COST}}}))\n")
    program.chmod(0o755)
    return f'[generator]\nkind = "claude-code"\nexecutable = "{program}"\n'


@dataclass
class Ran:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> str:
        """The summary line, without its time (which differs from run to run)."""
        line = [line for line in self.out.splitlines() if line.startswith("cfs: ")][-1]
        return re.sub(r" in [0-9.]+ s", "", line)


def build(proj: Proj, front: str, capfd, env: dict | None = None) -> Ran:
    """One build of the whole project through ``front``."""
    if front == "api":
        return api_build(proj, capfd, env)
    done = subprocess.run([sys.executable, *COMMANDS[front]], cwd=proj.root,
                          capture_output=True, text=True, timeout=120,
                          env={**proj.env(), **(env or {})})
    return Ran(done.returncode, done.stdout, done.stderr)


def api_build(proj: Proj, capfd, env: dict | None = None) -> Ran:
    """The Python API, in this process: run_build returns a BuildResult or raises CfsError."""
    from cfs_build import CfsError
    from cfs_build import Project
    from cfs_build.building.run import default_reporter, run_build
    saved = dict(os.environ)
    os.environ.update(env or {})
    capfd.readouterr()
    try:
        result = run_build(Project(proj.root), jobs=4, reporter=default_reporter(out=sys.stdout))
        code = result.exit_code
    except CfsError as exc:
        print(f"cfs: {exc}", file=sys.stderr)
        code = exc.exit_code
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out, err = capfd.readouterr()
    return Ran(code, out, err)


@pytest.fixture
def proj(tmp_path):
    return make_project(tmp_path)


@pytest.fixture
def built(proj, capfd):
    assert api_build(proj, capfd).code == 0
    proj.reset_log()
    return proj


def generated(proj: Proj) -> list[str]:
    return sorted(proj.generated_nodes())


# -- the scenarios ---------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_nothing_to_do(built, front, capfd):
    ran = build(built, front, capfd)
    assert ran.code == 0, ran.out + ran.err
    assert built.calls() == []
    assert ran.summary == "cfs: 0 generated, 4 up to date, 0 failed, 0 with findings"


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_an_edit_regenerates_exactly_the_affected_set(built, front, capfd):
    # The model's # Agent text: the model and the store (which imports its ARTIFACT);
    # not the command line, which imports only the model's Interface section.
    built.edit("SPEC/app/core/model", MODEL, MODEL + "\nUse slots.")
    ran = build(built, front, capfd)
    assert ran.code == 0, ran.out + ran.err
    assert generated(built) == sorted([MODEL, STORE])
    assert ran.summary == "cfs: 2 generated, 2 up to date, 0 failed, 0 with findings"


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_a_failure_does_not_stop_independent_generations(proj, front, capfd):
    proj.edit("SPEC/app/core/model", MODEL, MODEL + "\nCANNED-FAIL")
    ran = build(proj, front, capfd)
    assert ran.code != 0
    # The model failed, the store (made from it) was not attempted, the rest was built.
    assert generated(proj) == sorted([CLI, MODEL, OTHER])
    assert ran.summary == ("cfs: 2 generated, 0 up to date, 1 failed, 1 not attempted, "
                           "0 with findings")
    assert "\nnot attempted: gen:app/core/store\n  gen:app/core/model failed\n" in ran.out
    assert "scripted failure" in ran.out
    assert proj.flags()["ARTIFACT/other"] == ["up-to-date"]
    assert (proj.root / "gen/cli.txt").exists() and not (proj.root / "gen/store.txt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_a_hand_edited_file_is_refused_with_the_same_message(built, front, capfd):
    (built.root / "gen/other.txt").write_text("edited by hand\n")
    built.edit("SPEC/other", OTHER, "Say hello twice.")
    ran = build(built, front, capfd)
    assert ran.code != 0
    assert built.calls() == []
    # Refused, not generated: counted apart from failures, the path said once.
    assert "generating gen:other" not in ran.out and "REFUSED gen:other\n" in ran.out
    assert ("\nrefused: gen:other\n  gen/other.txt was edited by hand; refusing to "
            "overwrite it. Keep it with `cfs accept ARTIFACT/other` or delete it to "
            "regenerate\n") in ran.out
    assert ran.out.count("gen/other.txt") == 1
    assert ran.summary == "cfs: 0 generated, 3 up to date, 0 failed, 1 refused, 0 with findings"
    assert (built.root / "gen/other.txt").read_text() == "edited by hand\n"


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_findings_fail_that_task_and_write_nothing(proj, front, capfd):
    proj.edit("SPEC/other", OTHER, "CANNED-FINDINGS")
    ran = build(proj, front, capfd)
    assert ran.code != 0
    assert "FINDINGS gen:other\n" in ran.out
    assert "\nfindings: gen:other\n  SPEC/other: The spec does not say which currency" in ran.out
    assert ran.summary == "cfs: 3 generated, 0 up to date, 0 failed, 1 with findings"
    assert not (proj.root / "gen/other.txt").exists()
    assert proj.flags()["ARTIFACT/other"] == ["stale", "missing"]


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_assumptions_are_printed_one_line_each_under_their_task(proj, front, capfd):
    proj.edit("SPEC/other", OTHER, OTHER + "\nCANNED-ASSUME")
    ran = build(proj, front, capfd)
    assert ran.code == 0, ran.out + ran.err
    assert re.search(r"generated gen:other \([0-9.]+ s\)\n  assumes: Amounts are whole "
                     r"cents\.\n  assumes: Names are ASCII\.\n", ran.out), ran.out
    assert ran.out.count("assumes:") == 2  # "None." from the others is no assumption


def _started(proj: Proj, count: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while len(proj.calls()) < count:
        assert time.monotonic() < end, "the generations did not start"
        time.sleep(0.02)


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_ctrl_c_stops_everything_says_one_line_and_exits_130(tmp_path, front, capfd):
    proj = make_project(tmp_path, sleep=30)
    # Serial doit runs one generation at a time; the others start the three independent ones.
    running = 1 if front == "doit" else 3
    if front == "api":
        def interrupt():
            _started(proj, running)
            os.kill(os.getpid(), signal.SIGINT)
        threads = threading.active_count()
        sender = threading.Thread(target=interrupt, daemon=True)
        sender.start()
        ran = api_build(proj, capfd)
        sender.join()
        # The run wound down: none of its threads is left in the caller's process.
        assert threading.active_count() == threads
    else:
        # SIGINT is ignored in a background job's children; the child gets it back.
        child = subprocess.Popen([sys.executable, *COMMANDS[front]], cwd=proj.root,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=proj.env(),
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        _started(proj, running)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
        ran = Ran(child.returncode, out, err)
    assert ran.code == 130
    assert ran.err == ("cfs: interrupted; running generations were stopped, nothing "
                       "half-written was recorded\n")
    assert TRACEBACK not in ran.out and "cfs: 0 generated" not in ran.out
    pids = [call["pid"] for call in proj.calls()]
    assert len(pids) == running  # nothing was dispatched after the interrupt
    assert not any(still_running(pid, wait=2) for pid in pids)
    assert not (proj.root / "gen").exists()
    assert not (proj.root / "code-from-spec/.manifest").exists()


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_a_configuration_error_is_one_line_naming_the_key(proj, front, capfd):
    (proj.root / "cfs.toml").write_text('[generator]\nkind = "command"\ncommand = "gen.py"\n')
    ran = build(proj, front, capfd)
    assert ran.code == 3
    (line,) = ran.err.splitlines()
    assert "cfs.toml:3: generator.command must be" in line
    assert proj.calls() == []
    if front == "doit":
        listed = proj.doit("list")
        assert listed.returncode == 3
        assert listed.stderr.splitlines() == [line]


@pytest.mark.slow
@pytest.mark.parametrize("front", FRONT_ENDS)
def test_token_and_cost_totals_come_from_this_runs_records_only(proj, front, capfd):
    (proj.root / "cfs.toml").write_text(priced_model(proj.root.parent))
    (proj.root / ".cfs").mkdir(exist_ok=True)
    earlier = {"run": "20200101T000000-abcdef", "node": "SPEC/other", "outcome": "generated",
               "input_tokens": 1_000_000, "output_tokens": 1_000_000, "cost_usd": 99.0}
    (proj.root / ".cfs/runs.jsonl").write_text(json.dumps(earlier) + "\n")
    ran = build(proj, front, capfd)
    assert ran.code == 0, ran.out + ran.err
    assert ran.summary == (f"cfs: 4 generated, 0 up to date, 0 failed, 0 with findings, "
                           f"tokens {4 * TOKENS_IN} in / {4 * TOKENS_OUT} out, ${4 * COST:.4f}")


# -- several projects in one process ------------------------------------------------------

@pytest.mark.slow
def test_two_projects_in_one_dodo_py_get_their_own_totals(tmp_path):
    toml = priced_model(tmp_path)
    first, second = (make_project(tmp_path / name) for name in ("first", "second"))
    for one in (first, second):
        (one.root / "cfs.toml").write_text(toml)
    # The second project is built already but for one edited leaf.
    second.cfs("build", check=True)
    second.edit("SPEC/other", OTHER, "Say hello twice.")
    (tmp_path / "dodo.py").write_text(
        "from cfs_build import doit_config, project_tasks\n"
        "DOIT_CONFIG = doit_config()\n\n"
        "def task_first():\n    yield from project_tasks('first/buildproj', prefix='a:')\n\n"
        "def task_second():\n    yield from project_tasks('second/buildproj', prefix='b:')\n")
    (tmp_path / ".cfs").mkdir()
    done = subprocess.run([sys.executable, "-m", "doit", "-n", "4", "-P", "thread"],
                          cwd=tmp_path, env=first.env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split(":")[0]: re.sub(r" in [0-9.]+ s", "", line)
             for line in done.stdout.splitlines() if line.startswith("cfs")}

    def cost(n: int) -> str:
        return f"tokens {n * TOKENS_IN} in / {n * TOKENS_OUT} out, ${n * COST:.4f}"

    assert lines == {
        "cfs first/buildproj": "cfs first/buildproj: 4 generated, 0 up to date, 0 failed, "
                               f"0 with findings, {cost(4)}",
        # (The stand-in always writes the same file: the regeneration changes nothing.)
        "cfs second/buildproj": "cfs second/buildproj: 0 generated, 1 regenerated identical, "
                                f"3 up to date, 0 failed, 0 with findings, {cost(1)}",
        "cfs": "cfs: 4 generated, 1 regenerated identical, 3 up to date, 0 failed, "
               f"0 with findings, {cost(5)}"}


def test_two_builds_in_one_process_keep_their_own_sessions(tmp_path, capfd):
    """Stopping one run leaves another run in the same process untouched."""
    from cfs_build.building.generate import BuildState
    first, second = (make_project(tmp_path / name) for name in ("first", "second"))
    one, two = BuildState(first.root), BuildState(second.root)
    assert one.session is not two.session and one.runlog.run_id != two.runlog.run_id
    one.session.interrupt()
    assert two.generate("SPEC/other").outcome == "generated"
    stopped = one.generate("SPEC/other")
    assert stopped.outcome == "failed" and "interrupted" in stopped.message


@pytest.mark.slow
def test_plain_doit_runs_verify_when_nothing_it_needs_failed(proj):
    (proj.root / "cfs.toml").write_text((proj.root / "cfs.toml").read_text() + (
        '\n[[verify]]\nname = "check"\ncommand = ["true"]\noutputs = ["gen/other.txt"]\n'))
    proj.edit("SPEC/app/core/model", MODEL, MODEL + "\nCANNED-FAIL")
    for args in ((), ("--continue",)):
        shutil.rmtree(proj.root / "gen", ignore_errors=True)
        (proj.root / ".cfs/verify.json").unlink(missing_ok=True)
        ran = proj.doit(*args)
        assert ran.returncode != 0
        assert "verify 'check': passed" in ran.stdout
        assert "failed: verify" not in ran.stdout and "not attempted: verify" not in ran.stdout
        assert "1 failed, 1 not attempted" in ran.stdout


def test_doit_info_shows_a_task_in_words(proj):
    # `doit info` prints a task's meta; cfs's link to its run reads as what it is, not as
    # a Python object's address.
    listed = proj.doit("list", "--all", "--quiet")
    task = next(line.split()[0] for line in listed.stdout.splitlines()
                if "app/core/model" in line)
    shown = proj.doit("info", task)  # (exit 1: the task is not up to date)
    assert f"<cfs build of {proj.root.resolve()}>" in shown.stdout
    assert "object at 0x" not in shown.stdout
