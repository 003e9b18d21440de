"""What reaches the terminal: names, paths and details with every control character escaped."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from buildkit import make_project
from cfs_build.errors import CfsError, Finding, printable
from conftest import spec, write_tree

EVIL = "evil\x1b[31m\rX"  # recolours the terminal, then overwrites the line
SHOWN = "evil\\x1b[31m\\rX"


@pytest.mark.parametrize("raw, shown", [
    ("plain/path.py", "plain/path.py"),
    ("Zürich – 東京 😀", "Zürich – 東京 😀"),
    (EVIL, SHOWN),
    ("a\tb\nc", "a\\tb\\nc"),
    ("\x00\x07\x08\x7f", "\\x00\\x07\\x08\\x7f"),
    ("csi\x9b31m", "csi\\x9b31m"),  # the one-byte C1 form of ESC [
    ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
    ("name\udcff", "name\\xff"),  # a byte of a file name that is not UTF-8
])
def test_printable_escapes_control_characters_only(raw, shown):
    assert printable(raw) == shown
    assert printable(shown) == shown  # escaping twice changes nothing
    shown.encode("utf-8")  # always printable, even from a name that was not UTF-8


def test_printable_keeps_the_lines_of_a_message():
    assert printable("one\n\ttwo\x1b[2J\r\n", lines=True) == "one\n\ttwo\\x1b[2J\\r\n"


def test_finding_and_error_render_escaped():
    finding = Finding(f"SPEC/{EVIL}", "node_name", f"bad name {EVIL!s}",
                      file=f"code-from-spec/{EVIL}/_node.md", line=3)
    assert finding.render() == f"code-from-spec/{SHOWN}/_node.md:3: node_name: bad name {SHOWN}"
    error = CfsError(f"cannot write {EVIL}", file=f"out/{EVIL}")
    assert str(error) == f"out/{SHOWN}: cannot write {SHOWN}"


def test_progress_lines_are_escaped():
    from cfs_build.building.progress import NORMAL, ProgressReporter
    out = io.StringIO()
    reporter = ProgressReporter(out, {"cfs_verbosity": NORMAL, "cfs_live": False})
    reporter.write(f"failed: gen:x\n  out/{EVIL}: refused\n")
    assert out.getvalue() == f"failed: gen:x\n  out/{SHOWN}: refused\n"


def cfs(root, *argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *argv], cwd=root,
                          capture_output=True, text=True, timeout=60)


def assert_safe(result: subprocess.CompletedProcess) -> str:
    text = result.stdout + result.stderr
    assert "\x1b" not in text and "\r" not in text, text
    assert "Traceback" not in text
    return text


def test_a_spec_directory_named_with_esc_cannot_drive_the_terminal(tmp_path):
    root = write_tree(tmp_path / "proj", {
        "SPEC/ok": spec("SPEC/ok", "\nFine.\n\n# Agent\n\nWrite.\n", front="output: out/ok.txt"),
        f"SPEC/{EVIL}": spec(f"SPEC/{EVIL}", "\nEvil.\n"),
    })
    for command in ("validate", "status", "check", "build"):
        text = assert_safe(cfs(root, command))
        # (the name's node_name finding is a warning, which `cfs check` does not list, and
        # which does not stop a build: here that stops at the missing generator)
        if command in ("validate", "status"):
            assert f"code-from-spec/{SHOWN}/_node.md" in text, (command, text)


def test_an_output_path_with_esc_is_escaped_in_status_and_build_lines(tmp_path):
    proj = make_project(tmp_path)
    path = "gen/o\x1b[31mther.txt"
    proj.spec("SPEC/other").write_text(proj.spec("SPEC/other").read_text().replace(
        "output: gen/other.txt", 'output: "gen/o\\e[31mther.txt"'))
    (proj.root / "gen").mkdir()
    (proj.root / path).write_text("someone else's\n")  # untracked: the build refuses, naming it
    status = assert_safe(proj.cfs("status"))
    assert "ARTIFACT/other  gen/o\\x1b[31mther.txt" in status
    build = proj.cfs("build", "SPEC/other")
    assert build.returncode == 1
    assert "gen/o\\x1b[31mther.txt was not written by cfs" in assert_safe(build)
    assert "gen/o\\x1b[31mther.txt" in assert_safe(proj.cfs("check"))


def test_status_json_carries_the_same_names_with_nothing_raw(tmp_path):
    import json
    import os
    root = write_tree(tmp_path / "proj", {})
    name = b"bad\xff\xc2\x9b31m\xe2\x80\xae"  # not UTF-8, a C1 CSI, a right-to-left override
    os.mkdir(root / "code-from-spec" / os.fsdecode(name))
    (root / "code-from-spec" / os.fsdecode(name) / "_node.md").write_text("# x\n")
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "status", "--json"],
                            cwd=root, capture_output=True, timeout=60)
    text = result.stdout.decode("utf-8")  # no raw byte of the name: valid UTF-8
    assert "\x9b" not in text and "\u202e" not in text
    report = json.loads(result.stdout)
    assert report["errors"][0]["file"] == f"code-from-spec/{os.fsdecode(name)}/_node.md"
