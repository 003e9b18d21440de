"""Generator processes: the timeout holds and a finished reply is kept, whatever the
program leaves running in the background with its pipes open."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time

import pytest

from buildkit import still_running
from cfs_build.generators import GenerationFailed
from cfs_build.generators.command import CommandGenerator
from cfs_build.generators.process import STDERR_KEPT, TimedOut, TooLong, run_confined

REPLY = "<artifact>\nx\n</artifact>\n"

needs_setsid = pytest.mark.skipif(shutil.which("setsid") is None,
                                  reason="the setsid program is not installed")


def shell(script: str, timeout: float) -> CommandGenerator:
    return CommandGenerator.from_config({"command": ["sh", "-c", script], "timeout": timeout})


def detached_pid(pidfile) -> int:
    pid = int(pidfile.read_text())
    assert pid != os.getpid()
    return pid


def reap_if_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (after a moment); kill it if so, so no test leaves it."""
    if still_running(pid, wait=2.0):
        os.kill(pid, signal.SIGKILL)
        return True
    return False


@needs_setsid
def test_timeout_holds_when_a_detached_child_keeps_stdout_open(tmp_path):
    pidfile = tmp_path / "pid"
    # The shell leaves a child in a session of its own (out of reach of its process
    # group) that keeps the shell's stdout open, then hangs itself.
    generator = shell(f"setsid sleep 30 & echo $! > {pidfile}; sleep 30", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="timed out after 0.5 s"):
        generator.generate("doc")
    assert time.monotonic() - started < 4
    assert not reap_if_alive(detached_pid(pidfile)), "the detached child survived the timeout"


@pytest.mark.slow
@needs_setsid
def test_a_finished_reply_is_kept_though_a_detached_child_holds_the_pipe(tmp_path):
    pidfile = tmp_path / "pid"
    generator = shell(f"setsid sleep 30 & echo $! > {pidfile}; printf '{REPLY}'", timeout=20)
    started = time.monotonic()
    outcome = generator.generate("doc")
    assert outcome.reply == REPLY
    assert time.monotonic() - started < 5  # the grace, not the timeout
    assert not reap_if_alive(detached_pid(pidfile)), "the detached child outlived the reply"


def test_a_detached_child_holding_stderr_is_stopped_too(tmp_path):
    pidfile = tmp_path / "pid"
    code = ("import subprocess, sys\n"
            "child = subprocess.Popen(['sleep', '30'], start_new_session=True,"
            " stdout=subprocess.DEVNULL)\n"
            f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
            f"sys.stdout.write({REPLY!r})\n")
    started = time.monotonic()
    done = run_confined([sys.executable, "-c", code], b"", timeout=20, grace=0.2)
    assert (done.returncode, done.stdout) == (0, REPLY.encode())
    assert time.monotonic() - started < 5
    assert not reap_if_alive(detached_pid(pidfile))


def test_a_program_that_closes_its_output_and_hangs_still_times_out():
    code = "import os, time; os.close(1); os.close(2); time.sleep(30)"
    started = time.monotonic()
    with pytest.raises(TimedOut):
        run_confined([sys.executable, "-c", code], b"", timeout=0.5)
    assert time.monotonic() - started < 4


def test_a_program_that_never_reads_a_large_stdin_times_out_without_blocking_the_writer():
    started = time.monotonic()
    with pytest.raises(TimedOut):
        run_confined(["sleep", "30"], b"x" * (4 << 20), timeout=0.5)
    assert time.monotonic() - started < 4


def test_a_program_that_exits_without_reading_its_stdin_is_heard():
    done = run_confined([sys.executable, "-c", "print('early')"], b"x" * (4 << 20), timeout=20)
    assert (done.returncode, done.stdout) == (0, b"early\n")


def test_output_larger_than_a_pipe_buffer_arrives_whole_on_both_streams():
    # (of stderr, its end: messages quote its tail)
    code = ("import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data);"
            "sys.stderr.buffer.write(data[::-1])")
    data = os.urandom(1 << 20)
    done = run_confined([sys.executable, "-c", code], data, timeout=20)
    assert done.stdout == data and done.stderr == data[::-1][-STDERR_KEPT:]


def test_an_argument_with_a_nul_byte_is_a_failed_generation_not_a_crash():
    with pytest.raises(GenerationFailed, match="cannot run 'gen': embedded null byte"):
        run_confined(["gen", "a\0b"], b"", timeout=5)


def test_a_program_printing_past_the_limit_is_stopped_and_its_stderr_tail_kept():
    program = ("import sys\nsys.stderr.write('e' * 200000 + 'END')\nsys.stderr.flush()\n"
               "sys.stdout.write('x' * 5000)\n")
    with pytest.raises(TooLong, match="printed more than 4,096 bytes; a reply is one file"):
        run_confined([sys.executable, "-c", program], b"", 30, limit=4096)
    done = run_confined([sys.executable, "-c", program], b"", 30, limit=5000)
    assert done.stdout == b"x" * 5000
    assert len(done.stderr) == STDERR_KEPT and done.stderr.endswith(b"eEND")


def test_a_generation_killed_by_stopping_its_run_failed_as_interrupted():
    """Ctrl-C kills the run's generators: what the run log records for them is that, not
    the signal number their exit status carries."""
    import threading

    from cfs_build.generators.session import Session
    session = Session()
    stopper = threading.Timer(0.5, session.interrupt)
    stopper.start()
    try:
        with pytest.raises(GenerationFailed) as failed:
            shell("sleep 30", timeout=60).generate("doc", session=session)
    finally:
        stopper.cancel()
    assert str(failed.value) == "interrupted"
