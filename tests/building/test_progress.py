"""Build output: plain lines off a terminal or in CI, a live display on a terminal, -q/-v."""
from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys

import pytest
from buildkit import make_project


def run_on_pty(proj, argv, env, interrupt_on: bytes | None = None) -> str:
    """Run with a pseudo-terminal as stdout, the way a person at a terminal would;
    ``interrupt_on``: press Ctrl-C (SIGINT) once that text has been shown."""
    leader, follower = pty.openpty()
    child = subprocess.Popen(argv, cwd=proj.root, stdout=follower, stderr=follower,
                             stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
        if interrupt_on is not None and interrupt_on in b"".join(chunks):
            child.send_signal(signal.SIGINT)
            interrupt_on = None
    child.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_plain_output_when_piped(tmp_path):
    proj = make_project(tmp_path)
    result = proj.cfs("build")
    lines = result.stdout.splitlines()
    assert "generating gen:other" in lines
    assert "generated gen:other" in result.stdout
    assert "\x1b[" not in result.stdout
    assert lines[-1].startswith("cfs: 4 generated, 0 up to date, 0 failed")


@pytest.mark.slow
def test_live_display_on_a_terminal(tmp_path):
    proj = make_project(tmp_path, sleep=0.6)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build", "-j", "2"], env)
    assert "running" in out and "/4 done" in out
    assert "\x1b[" in out
    assert "cfs: 4 generated" in out


@pytest.mark.slow
def test_ctrl_c_under_the_live_display_leaves_its_one_line_on_the_screen(tmp_path):
    """The display clears its own lines when it stops: the line saying the build was
    interrupted comes after that, not under the display where it would be wiped."""
    from cfs_build.generators.session import INTERRUPTED
    proj = make_project(tmp_path, sleep=30)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build", "-j", "2"], env,
                     interrupt_on=b"running")
    assert "running" in out
    last_erase = out.rindex("\x1b[2K")
    assert INTERRUPTED in out[last_erase:]
    assert out.count(INTERRUPTED) == 1


@pytest.mark.slow
def test_ci_gets_plain_lines_even_on_a_terminal(tmp_path):
    proj = make_project(tmp_path, sleep=0.3)
    env = {**os.environ, "CI": "true", "TERM": "xterm"}
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build"], env)
    assert "/4 done" not in out
    assert "generating gen:other" in out


@pytest.mark.slow
def test_quiet_prints_only_failures_and_the_summary(tmp_path):
    proj = make_project(tmp_path)
    proj.edit("SPEC/other", "Say hello.", "CANNED-FAIL")
    result = proj.cfs("build", "-q")
    assert "generating" not in result.stdout and "generated gen:" not in result.stdout
    assert "FAILED gen:other" in result.stdout
    assert "cfs: 3 generated" in result.stdout


@pytest.mark.slow
def test_verbose_lists_up_to_date_tasks(tmp_path):
    proj = make_project(tmp_path)
    proj.cfs("build", check=True)
    result = proj.cfs("build", "-v")
    assert "up to date gen:app/cli" in result.stdout


def test_plain_doit_uses_the_same_reporter(tmp_path):
    proj = make_project(tmp_path)
    result = proj.doit()
    assert "generating gen:app/cli" in result.stdout
    assert "cfs: 4 generated" in result.stdout


# -- the live display, rendered to a fixed-width console -----------------------------------

def reporter_on(width: int = 40, live: bool = True):
    """A ProgressReporter drawing on a terminal console of ``width`` columns, redrawn only
    when it asks to (no timer), and the console's output so far."""
    from io import StringIO

    from rich.console import Console

    from cfs_build.building.progress import NORMAL, ProgressReporter
    screen = StringIO()
    console = Console(file=screen, width=width, force_terminal=True, color_system=None)
    reporter = ProgressReporter(screen, {"cfs_live": live, "cfs_console": console,
                                         "cfs_auto_refresh": False, "cfs_verbosity": NORMAL})
    return reporter, screen


def gen_task(name: str, refused: bool = False, result: str | None = None):
    from doit.task import Task
    task = Task(f"gen:{name}", [lambda: None], meta={"refused": refused})
    task.result = result
    return task


def drawn(reporter) -> list[str]:
    """The live view as it is now, in the reporter's width."""
    from io import StringIO

    from rich.console import Console
    console = Console(file=StringIO(), width=reporter.console.width, force_terminal=True,
                      color_system=None)
    console.print(reporter._render())
    return console.file.getvalue().splitlines()


def test_live_view_redraws_on_every_event_not_on_the_next_tick():
    tasks = [gen_task("app/cli"), gen_task("other")]
    reporter, screen = reporter_on()
    reporter.initialize({t.name: t for t in tasks}, [t.name for t in tasks])
    reporter.execute_task(tasks[0])
    assert "running  gen:app/cli" in screen.getvalue()
    reporter.skip_uptodate(tasks[1])
    assert "cfs 1/2 done  0 generated" in screen.getvalue()
    reporter.live.stop()


def test_live_counts_match_the_summary_and_leave_out_zeros():
    tasks = [gen_task("a", result='{"changed":true,"seconds":1.0}'),
             gen_task("b", result='{"changed":false,"seconds":1.0}')]
    reporter, _ = reporter_on()
    reporter.initialize({t.name: t for t in tasks}, [t.name for t in tasks])
    for task in tasks:
        reporter.execute_task(task)
        reporter.add_success(task)
    header = drawn(reporter)[0]
    assert header.startswith("cfs 2/2 done  1 generated  1 identical  ")
    assert "tokens" not in header and "failed" not in header  # a command backend: no tokens
    reporter.add_success(gen_task("c", result='{"changed":true,"input_tokens":120,'
                                              '"output_tokens":30}'))
    assert "tokens 120/30" in " ".join(drawn(reporter))
    reporter.live.stop()


def test_long_names_are_cut_in_the_middle_keeping_the_leaf():
    from cfs_build.building.progress import fit_name
    reporter, _ = reporter_on(width=40)
    reporter.initialize({}, [])
    reporter.execute_task(gen_task("payments/fees/international/calculation"))
    reporter.execute_task(gen_task("payments/fees/international/rounding"))
    rows = drawn(reporter)[1:]
    assert rows[0].startswith("running  gen:payment…/calculation  ")
    assert rows[1].startswith("running  gen:payments/f…/rounding  ")
    assert all(len(row) <= 40 for row in rows)
    assert fit_name("gen:a/" + "x" * 50, 20) == "…" + "x" * 19
    reporter.live.stop()


def test_a_refusal_is_no_generation_says_its_path_once_and_is_counted_apart():
    from cfs_build.building.tasks import GenerationRefused
    reporter, screen = reporter_on(live=False)
    task = gen_task("app/cli", refused=True)
    reporter.execute_task(task)
    reporter.add_failure(task, GenerationRefused(
        "SPEC/app/cli", "gen/cli.txt was edited by hand; refusing to overwrite it. Keep it "
        "with `cfs accept ARTIFACT/app/cli` or delete it to regenerate"))
    reporter.complete_run()
    out = screen.getvalue()
    assert "generating" not in out
    assert out.startswith("REFUSED gen:app/cli\n\nrefused: gen:app/cli\n  gen/cli.txt was "
                          "edited by hand")
    assert out.count("gen/cli.txt") == 1
    assert "0 failed, 1 refused, 0 with findings" in out.splitlines()[-1]


def test_live_counts_refused_and_not_attempted_as_the_summary_does():
    from doit.exceptions import UnmetDependency

    from cfs_build.building.tasks import GenerationRefused
    edited, consumer = gen_task("app/model", refused=True), gen_task("app/store")
    reporter, _ = reporter_on(width=80)
    reporter.initialize({t.name: t for t in (edited, consumer)}, [edited.name, consumer.name])
    reporter.execute_task(edited)
    assert "running" not in " ".join(drawn(reporter))  # a refusal never runs
    reporter.add_failure(edited, GenerationRefused("SPEC/app/model", "gen/model.txt was "
                                                   "edited by hand"))
    reporter.add_failure(consumer, UnmetDependency("gen:app/model"))
    header = drawn(reporter)[0]
    assert header.startswith("cfs 2/2 done  0 generated  1 refused  1 not attempted  "), header
    reporter.live.stop()


@pytest.mark.slow
def test_live_lines_show_names_as_they_are_not_as_emoji(tmp_path):
    # rich turns :warning: into an emoji unless told not to; a node directory's name and
    # a generator's words must be shown as written.
    proj = make_project(tmp_path)
    node = proj.root / "code-from-spec" / "say :warning: [bold]hi" / "_node.md"
    node.parent.mkdir()
    node.write_text("---\noutput: gen/say.txt\n---\n# SPEC/say :warning: [bold]hi\n\n"
                    "# Agent\n\nSay :thumbs_up: hi.\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TERM"] = "xterm"
    out = run_on_pty(proj, [sys.executable, "-m", "cfs_build.cli", "build", "-v",
                            "gen/say.txt"], env)
    assert "generated gen:say :warning: [bold]hi" in out, out
    assert "\u26a0" not in out
