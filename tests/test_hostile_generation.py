"""A hostile model or model server against the generation: what it answers, and how.

Each backend is the real one, speaking HTTP to a loopback server that answers what a
hostile model or server would: nothing it sends may put anything but UTF-8 text the
reply protocol allows into the output, crash the build, or hold it past its timeout.
"""
from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import threading
import time
import zlib

import pytest

import fakeapi
from fakeapi import FakeAPI, Loopback, Quiet
from buildkit import make_project
from genkit import cfs, cfs_process, environment, model_project

KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"}
OUTPUT = "gen/other.txt"


def toml(kind: str, url: str, extra: str = "", attempts: int = 1) -> str:
    base = url if kind == "anthropic" else url + "/v1"
    return (f'[generator]\nkind = "{kind}"\nmodel = "test-model"\nbase_url = "{base}"\n'
            f"retry_delay = 0.01\nmax_attempts = {attempts}\n{extra}")


def failed_build(tmp_path, monkeypatch, kind: str, answer):
    """One build against a fake API whose every answer is ``answer``: the project and
    what cfs said, once it is sure the generation failed cleanly (no traceback)."""
    monkeypatch.setattr(fakeapi, "reply_for", lambda document: answer)
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml(kind, api.url))
        done = cfs(proj, "build", OUTPUT, env=KEYS)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "internal error" not in out, out
    return proj, out


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("where", ["artifact", "assumptions", "findings"])
@pytest.mark.parametrize("half", ["\ud800", "\udcff"])
def test_a_reply_with_a_lone_surrogate_is_unusable_and_nothing_is_written(
        tmp_path, monkeypatch, kind, where, half):
    # JSON's \ud800 (half a UTF-16 pair) decodes to a lone surrogate: written with
    # surrogateescape, \udcff became the byte 0xff in the output (no UTF-8), \ud800
    # failed to encode and the task ended in a traceback.
    reply = {"artifact": f"<artifact>\nx{half}y\n</artifact>\n",
             "assumptions": f"<artifact>\nok\n</artifact>\n<assumptions>\n{half}\n"
                            "</assumptions>\n",
             "findings": f"<findings>\nThe spec says {half}.\n</findings>\n"}[where]
    proj, out = failed_build(tmp_path, monkeypatch, kind, reply)
    assert f"lone surrogate \\u{ord(half):04x}" in out, out
    assert "(saved in .cfs/reports/other.reply.txt)" in out, out
    saved = (proj.root / ".cfs/reports/other.reply.txt").read_bytes()
    assert saved.decode("utf-8") == reply.replace(half, f"\\u{ord(half):04x}")
    assert not (proj.root / OUTPUT).exists()
    assert not (proj.root / "code-from-spec/.manifest").exists()
    assert not (proj.root / ".cfs/reports/other.assumptions.txt").exists()


class Stalling(Loopback):
    """A loopback model server that answers 200 and then never finishes the answer:
    ``trickle`` sends one byte of the body now and then, else nothing is sent at all."""

    def __init__(self, trickle: bool):
        self.stop = threading.Event()
        self.requests = 0
        server = self

        class Handler(Quiet):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                server.requests += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "1000000")
                self.end_headers()
                try:
                    while not server.stop.wait(0.2):
                        if trickle:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                except OSError:
                    pass

        super().__init__(Handler)

    def stopping(self) -> None:
        self.stop.set()


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_server_that_never_ends_its_answer_is_given_up_at_the_timeout(tmp_path, kind):
    # The SDK's timeout bounds each wait for more bytes: one byte every 0.2 s held the
    # request, and the build, forever.
    with Stalling(trickle=True) as server:
        proj = model_project(tmp_path, toml(kind, server.url, "timeout = 1\n", attempts=2))
        # In a process of its own, with a timeout: before, this build never ended.
        done = cfs_process(proj, "build", OUTPUT, env=KEYS, timeout=30)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "no complete answer within 1 s, the generator.timeout in cfs.toml (gave up after 2 attempts)" in out, out
    assert server.requests == 2
    assert not (proj.root / OUTPUT).exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_ctrl_c_stops_a_request_the_server_never_answers(tmp_path, kind):
    # One Ctrl-C said "running generations were stopped" and then waited for the HTTP
    # request to end: here, for the whole timeout.
    with Stalling(trickle=False) as server:
        proj = model_project(tmp_path, toml(kind, server.url, "timeout = 120\n"))
        run = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "build", OUTPUT],
                               cwd=proj.root, env=environment(KEYS), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while server.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests == 1
            run.send_signal(signal.SIGINT)
            out, _ = run.communicate(timeout=15)
        finally:
            run.kill()
            run.wait()
    assert run.returncode == 130, out
    assert "Traceback" not in out, out
    assert not (proj.root / OUTPUT).exists()


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("text", [[{"type": "text", "text": "<artifact>\nx\n</artifact>\n"}],
                                  123, {"text": "<artifact>\nx\n</artifact>\n"}])
def test_an_answer_of_another_shape_is_a_failed_generation_not_a_traceback(
        tmp_path, monkeypatch, kind, text):
    # The SDKs build their objects without checking the JSON: a text that is a list or
    # a number reached the reply parser (or a join) and ended the task in a traceback.
    proj, out = failed_build(tmp_path, monkeypatch, kind, text)
    assert f"the server's answer is not a reply of the {kind} API; check that " \
           "generator.base_url in cfs.toml is such a server" in out, out
    assert not (proj.root / OUTPUT).exists()


@pytest.mark.parametrize("event", [{"result": ["<artifact>", "x", "</artifact>"]},
                                   {"result": 7},
                                   {"is_error": True, "api_error_status": [529],
                                    "result": "overloaded"}])
def test_a_claude_code_result_of_another_shape_is_a_failed_generation(tmp_path, event):
    # A list where the CLI prints the reply's text reached the reply parser, and a list
    # as the API status was looked up among the statuses to retry: tracebacks.
    line = json.dumps({"type": "result", "subtype": "success", **event})
    program = tmp_path / "claude"
    program.write_text(f"#!{sys.executable}\nimport sys\nsys.stdin.read()\nprint({line!r})\n")
    program.chmod(0o755)
    proj = model_project(tmp_path, f'[generator]\nkind = "claude-code"\nexecutable = '
                                   f'"{program}"\nmax_attempts = 1\n')
    done = cfs(proj, "build", OUTPUT)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "internal error" not in out, out
    said = "claude printed a result whose text is a" if "api_error_status" not in event \
        else "Claude Code reported an error: overloaded"
    assert said in out, out
    assert not (proj.root / OUTPUT).exists()


ENDLESS = """import sys
sys.stdin.read()
line = b"<artifact>\\n" + b"x" * 65535
while True:
    sys.stdout.buffer.write(line)
"""


def capped(gib: int):
    """For preexec_fn: the child's address space capped at ``gib`` GiB, so a build that
    holds what it reads without end fails with a MemoryError instead of taking the machine's
    memory."""
    def cap() -> None:
        limit = gib * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


@pytest.mark.slow
def test_a_generator_that_prints_without_end_is_stopped_before_it_takes_the_memory(tmp_path):
    # Everything printed was kept until the timeout: at a pipe's speed, gigabytes a
    # second. The build runs with its address space capped at 3 GiB: before, it ended in
    # a MemoryError (or, uncapped, took the machine's memory).
    generator = tmp_path / "endless.py"
    generator.write_text(ENDLESS)
    proj = model_project(tmp_path, '[generator]\nkind = "command"\ncommand = '
                                   f'{json.dumps([sys.executable, "-S", str(generator)])}\n'
                                   "timeout = 120\n")

    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build", OUTPUT],
                          cwd=proj.root, env=environment(), capture_output=True, text=True,
                          timeout=120, preexec_fn=capped(3))
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "MemoryError" not in out, out
    assert "printed more than 268,435,456 bytes; a reply is one file: it was stopped; make the command print the file's content and nothing else" in out, out
    assert not (proj.root / OUTPUT).exists()


def test_claude_code_printing_without_end_is_stopped_and_its_server_named(tmp_path):
    # Claude Code prints what its model server sends: past the bound, the message told
    # the user to make "the command" print the file, which is not theirs to change.
    program = tmp_path / "claude"
    program.write_text(f"#!{sys.executable} -S\n{ENDLESS}")
    program.chmod(0o755)
    proj = model_project(tmp_path, f'[generator]\nkind = "claude-code"\nexecutable = '
                                   f'"{program}"\nmax_attempts = 1\ntimeout = 60\n')

    env = environment({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build", OUTPUT],
                          cwd=proj.root, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=capped(2))
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "MemoryError" not in out, out
    assert "  SPEC/other: generator failed: claude printed more than 268,435,456 bytes (a " \
           "reply is one file and a short report): it was stopped and nothing was written; " \
           "check the model server it talks to (http://127.0.0.1:9/)" in out.splitlines(), out
    assert not (proj.root / OUTPUT).exists()


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["cfs", "doit"])
def test_doits_state_file_swapped_for_a_link_during_the_build_is_never_written_through(
        tmp_path, runner):
    # doit saves its state at the end of the run by opening the path: a link put at
    # .cfs/doit-state while the model answered had the file it names overwritten.
    proj = make_project(tmp_path, sleep=1.0)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    argv = ["-m", "cfs_build.cli", "build", "-j", "1"] if runner == "cfs" else \
        ["-m", "doit", "-n", "1"]
    run = subprocess.Popen([sys.executable, *argv], cwd=proj.root, env=proj.env(), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not proj.calls() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proj.calls()
        planted = proj.root / ".cfs" / "doit-state"
        if planted.exists() or planted.is_symlink():
            planted.unlink()
        planted.symlink_to(outside)
        out, _ = run.communicate(timeout=60)
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 0, out
    assert outside.read_text() == "keep me\n"
    assert not planted.is_symlink()
    assert "gen:other" in json.loads(planted.read_text())  # doit's state, kept in place
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())


class Flooding(Loopback):
    """A loopback model server whose answer to the document of SPEC/other (the only one
    saying "Say hello.") never ends, sent as fast as it can go (``how``: under a
    content-length past any bound, chunked, or chunked in gzip, which packs a megabyte of
    the same byte in about a kilobyte); every other document gets a proper reply."""

    def __init__(self, how: str):
        class Handler(Quiet):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if "Say hello." not in json.dumps(body):
                    return self._reply(body)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                if how == "length":
                    self.send_header("content-length", str(1 << 40))
                else:
                    self.send_header("transfer-encoding", "chunked")
                if how == "gzip":
                    self.send_header("content-encoding", "gzip")
                self.end_headers()
                first, block = b'{"x": "', b"a" * (1 << 20)
                if how == "gzip":
                    pack = zlib.compressobj(9, zlib.DEFLATED, 31)
                    first = pack.compress(first) + pack.flush(zlib.Z_SYNC_FLUSH)
                    block = pack.compress(block) + pack.flush(zlib.Z_SYNC_FLUSH)
                try:
                    self._send(first)
                    while True:
                        self._send(block)
                except OSError:
                    pass

            def _send(self, data: bytes) -> None:
                chunk = data if how == "length" else b"%x\r\n%s\r\n" % (len(data), data)
                self.wfile.write(chunk)

            def _reply(self, body: dict) -> None:
                text = fakeapi.reply_for(body["messages"][-1]["content"])
                usage = {"input_tokens": 1, "output_tokens": 1, "prompt_tokens": 1,
                         "completion_tokens": 1}
                data = json.dumps({
                    "id": "x", "type": "message", "role": "assistant", "model": "m",
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                    "object": "chat.completion", "created": 0, "usage": usage,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                }).encode("utf-8")
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("how", ["length", "chunked", "gzip"])
def test_a_server_whose_answer_never_ends_fails_that_generation_past_the_bound(tmp_path,
                                                                            kind, how):
    # The SDK held the whole answer: gigabytes within the timeout, until the memory ran
    # out (with the address space capped, a MemoryError; uncapped, the kernel stepped in).
    # Now the HTTP client reads at most MAX_ANSWER of any answer, inflated, and the other
    # generations of the run go on. The build runs with its address space capped at 2 GiB.
    with Flooding(how) as server:
        proj = model_project(tmp_path, toml(kind, server.url, "timeout = 60\n"))

        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"],
                              cwd=proj.root, env=environment(KEYS), capture_output=True,
                              text=True, timeout=60, preexec_fn=capped(2))
        took = time.monotonic() - started
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-2000:]
    assert "Traceback" not in out and "MemoryError" not in out, out[-2000:]
    path = "/v1/messages" if kind == "anthropic" else "/v1/chat/completions"
    line = (f"generator failed: the server at {server.url}{path} answered with more than "
            "268,435,456 bytes (a reply is one file and a short report): the answer was "
            "dropped and nothing was written; check that generator.base_url in cfs.toml is "
            "a model server, and one that ends its answers")
    assert f"  SPEC/other: {line}" in out.splitlines(), out[-2000:]
    assert out.count("generator failed") == 1, out[-2000:]
    assert not (proj.root / OUTPUT).exists()
    for made in ("gen/cli.txt", "gen/model.txt", "gen/store.txt"):
        assert (proj.root / made).is_file(), out[-2000:]
    assert took < 30, took
