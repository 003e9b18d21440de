"""A `cfs` run imports the module of the command it runs, not every command's."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cfs_build.cli import _read_ahead, build_parser
from conftest import spec, write_tree

PROBE = """
import contextlib, io, sys
from cfs_build import cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(sys.argv[1:])
print(code, sorted(m for m in sys.modules if m.startswith("cfs_build.commands.")))
"""


def imported(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_command_imports_only_its_own_module(tmp_path):
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
    assert imported("-C", str(root), "status") == "0 ['cfs_build.commands.status']"
    assert imported("-C", str(root), "chain", "SPEC/a") == "0 ['cfs_build.commands.chain']"


def test_help_and_unknown_commands_still_know_every_command(tmp_path):
    from cfs_build.cli import COMMANDS
    listed = imported("--help")  # (the help text goes to the redirected stdout)
    assert listed.startswith("0 ") and listed.count("cfs_build.commands.") == len(COMMANDS)
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "nonsense"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "invalid choice: 'nonsense'" in done.stderr and "'mcp'" in done.stderr


def test_a_short_lived_command_skips_the_teardown_but_not_its_output_or_code(tmp_path):
    # `cfs status` ends with os._exit once its output is flushed (cli.entry): nothing
    # printed may be lost, even into a pipe, and the exit code is the command's.
    files = {f"SPEC/a/n{i}": spec(f"SPEC/a/n{i}", "N.\n\n# Agent\nDo it.\n",
                                  f"output: out/n{i}.py") for i in range(300)}
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n"), **files})
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('TEARDOWN', file=sys.stderr))\n"
             "from cfs_build.cli import entry\nsys.argv[0] = 'cfs'\nentry()\n")
    done = subprocess.run([sys.executable, "-c", probe, "-C", str(root), "status", "--all"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1  # every artifact missing
    assert done.stdout.count("ARTIFACT/a/n") == 300
    assert done.stdout.endswith("0 orphan, 0 errors\ntests: never verified\n")
    assert "TEARDOWN" not in done.stderr  # skipped
    # A command that is not short-lived exits as usual.
    done = subprocess.run([sys.executable, "-c", probe, "runs"], cwd=root,
                          capture_output=True, text=True, timeout=60)
    assert "TEARDOWN" in done.stderr


def test_a_command_started_with_stdout_closed_still_says_its_code(tmp_path):
    # `cfs status >&-`: Python starts with no sys.stdout; nothing to print to, no
    # traceback, and the exit code is the status's own.
    import os
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n\n# Agent\nDo it.\n",
                                                "output: out/a.py")})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "status"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=60, preexec_fn=lambda: os.close(1))
    assert done.returncode == 1 and done.stderr == ""


def test_main_hands_its_project_to_a_caller_that_keeps_it(tmp_path):
    # entry() keeps the project of a short-lived command alive until the process ends:
    # freeing a big analysis object by object is time the ending process need not spend.
    import contextlib
    import io

    from cfs_build.analysis.project import Project
    from cfs_build.cli import main
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
    kept: list = []
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-C", str(root), "status"], None, kept) == 0
    assert len(kept) == 1 and isinstance(kept[0], Project) and kept[0].root == root.resolve()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-C", str(root), "status"]) == 0  # (nothing to keep it: freed)


def interrupted_as_the_lookahead_starts(tmp_path, entry: str, interrupt: str
                                        ) -> subprocess.CompletedProcess:
    """`cfs status` through ``entry`` (module:function), with ``interrupt`` (a statement)
    run where the lookahead would start."""
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
    module, function = entry.split(":")
    probe = (f"import os, signal, sys\nfrom cfs_build import {module}\n"
             "from cfs_build.analysis import lookahead\n"
             f"def start(directory):\n    {interrupt}\n"
             "lookahead.start = start\nsys.argv = ['cfs', '-C', sys.argv[1], 'status']\n"
             f"{module}.{function}()\n")
    return subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True,
                          text=True, timeout=60)


def test_a_ctrl_c_while_the_lookahead_starts_says_interrupted(tmp_path):
    # The fork of the lookahead takes a while on a loaded machine: a Ctrl-C that lands
    # in it is one line and code 130, as anywhere else in the run, not a traceback.
    done = interrupted_as_the_lookahead_starts(tmp_path, "cli:entry", "raise KeyboardInterrupt")
    assert (done.returncode, done.stderr) == (130, "cfs: interrupted\n")


# Imported first by Python's start-up (site): sends this process a Ctrl-C (SIGINT) as
# the `cfs` console script begins to import the command line's module.
CTRL_C_AT_IMPORT = """
import os, signal, sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "cfs_build.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
"""


def console_script(tmp_path, root, **options) -> subprocess.CompletedProcess:
    """The installed `cfs` program, run on ``root`` with a Ctrl-C during its imports."""
    (tmp_path / "startup").mkdir()
    (tmp_path / "startup" / "sitecustomize.py").write_text(CTRL_C_AT_IMPORT)
    program = Path(sysconfig.get_path("scripts")) / "cfs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "startup"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, str(program), "-C", str(root), "status"], env=env,
                          capture_output=True, text=True, timeout=60, **options)


def test_a_ctrl_c_while_cfs_starts_ends_it_without_a_traceback(tmp_path):
    # Before the command line's module is imported nothing can say "interrupted": the
    # process ends as SIGINT ends one by default, as a shell loop running `cfs` expects.
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
    done = console_script(tmp_path, root)
    assert (done.returncode, done.stdout, done.stderr) == (-signal.SIGINT, "", "")
    assert not (root / ".cfs").exists()  # (nothing was begun)


def test_an_ignored_ctrl_c_stays_ignored_while_cfs_starts(tmp_path):
    root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
    done = console_script(tmp_path, root, preexec_fn=lambda: signal.signal(
        signal.SIGINT, signal.SIG_IGN))
    assert (done.returncode, done.stderr) == (0, "") and "0 errors" in done.stdout


def test_once_cfs_has_started_a_ctrl_c_is_its_own_to_handle(tmp_path):
    # The console script gives Ctrl-C back to Python before the command runs: a real
    # SIGINT as the lookahead starts is then "interrupted" and code 130.
    done = interrupted_as_the_lookahead_starts(tmp_path, "launch:entry",
                                               "os.kill(os.getpid(), signal.SIGINT)")
    assert (done.returncode, done.stderr) == (130, "cfs: interrupted\n")


def directory(argv: list[str]) -> str:
    return _read_ahead(argv)[1]


def test_directory_follows_dash_c_as_the_command_line_reads_it():
    assert directory(["-C", "x/y", "status"]) == "x/y"
    assert directory(["status", "-C", "elsewhere"]) == "."  # (a word after the verb)
    assert directory(["status"]) == "." and directory(["-C"]) == "."


@pytest.mark.parametrize("argv", [["-C", "x/y", "status"], ["-Cx/y", "status"], ["-C=x/y", "status"],
                                  ["-C", "a", "-C", "x/y", "status"], ["-Ca", "-Cx/y", "status"],
                                  ["status", "--all"], ["-C", "-", "status"]])
def test_directory_is_the_one_the_command_runs_in(argv):
    # Any other: the child reads another project's snapshot and looks at its paths (the
    # current directory's, say), while the command waits for it to end.
    assert directory(argv) == (build_parser("status").parse_args(argv).chdir or ".")
