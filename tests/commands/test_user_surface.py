"""A user's mistakes and hostile surroundings, through real `cfs` and `doit` processes.

Each case is one thing a person does by accident (a closed stdout, a reader that goes
away, a typo after a command, -C with a path, a C locale) and what they must see: one
line naming what is wrong and what to do, the documented exit code, never a traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildkit import make_project
from conftest import checksum, chain_hash, spec

TRACEBACK = "Traceback"


def cfs(*args: str, cwd: Path, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, **kw)


@pytest.fixture
def valid(tree):
    """Valid and up to date: one leaf (out/b.txt) whose file and manifest entry match."""
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n"),
                 "SPEC/a/b": spec("SPEC/a/b", "# Agent\nmake b\n", front="output: out/b.txt"),
                 "out/b.txt": "b\n"})
    (root / "code-from-spec" / ".manifest").write_text(
        "code-from-spec: v5\nARTIFACT/a/b;path:out/b.txt;checksum:" + checksum("b\n")
        + ";chain:" + chain_hash("## A\na\n", "make b\n") + "\n")
    return root


# -- stdout closed, full, or read by nobody ----------------------------------------------

@pytest.mark.parametrize("args", [("chain", "SPEC/a/b"), ("completion", "bash"), ("prompt",),
                                  ("status",)])
def test_a_closed_stdout_is_no_internal_error(valid, args):
    # `cfs chain X >&-`: Python starts with sys.stdout None; the command's exit code
    # stands, as for a program whose output goes nowhere.
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=valid,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=60, pass_fds=(), preexec_fn=lambda: os.close(1))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_full_disk_under_build_output_is_one_line(tmp_path):
    proj = make_project(tmp_path)
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"], cwd=proj.root,
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                                env=proj.env())
    assert TRACEBACK not in result.stderr, result.stderr
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == ["cfs: cannot write the output: No space "
                                                  "left on device"]
    # The build itself went through: what it generated is recorded.
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())


def test_a_reader_that_goes_away_during_a_build_ends_it_with_the_sigpipe_code(tmp_path):
    proj = make_project(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)  # like `cfs build | head -0`
    try:
        result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"],
                                cwd=proj.root, stdout=writer, stderr=subprocess.PIPE,
                                text=True, timeout=120, env=proj.env())
    finally:
        os.close(writer)
    assert (result.returncode, result.stderr) == (141, "")
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())


def test_plain_doit_into_a_closed_pipe_prints_no_traceback(tmp_path):
    proj = make_project(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run([sys.executable, "-m", "doit"], cwd=proj.root, stdout=writer,
                                stderr=subprocess.PIPE, text=True, timeout=120, env=proj.env())
    finally:
        os.close(writer)
    assert TRACEBACK not in result.stderr and "Exception ignored" not in result.stderr, \
        result.stderr
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())


# -- the command line ----------------------------------------------------------------------

def test_an_unknown_option_shows_the_commands_own_usage(valid):
    result = cfs("status", "--bogus", cwd=valid)
    assert result.returncode == 3
    assert result.stderr.startswith("usage: cfs status ")
    assert "cfs status: error: unrecognized arguments: --bogus" in result.stderr


def test_dash_c_reads_a_relative_path_from_that_directory(valid, tmp_path):
    # "run as if started in DIR": an output path is taken from DIR, as after a cd.
    inside = cfs("explain", "b.txt", cwd=valid / "out")
    assert inside.returncode == 0, inside.stderr
    result = cfs("-C", str(valid / "out"), "explain", "b.txt", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, inside.stdout), result.stderr


def test_dash_c_in_process_returns_to_the_callers_directory(valid, tmp_path, monkeypatch,
                                                            capsys):
    # main() run by a caller (a test, a script): -C is undone, after a success and an error.
    from cfs_build.cli import main
    monkeypatch.chdir(tmp_path)
    here = os.getcwd()
    assert main(["-C", str(valid), "status"]) == 0
    assert os.getcwd() == here
    assert main(["-C", str(valid), "chain", "SPEC/nope"]) == 3
    assert os.getcwd() == here
    assert "no node SPEC/nope" in capsys.readouterr().err


def test_the_help_lists_every_exit_code_the_readme_does(valid):
    codes = " ".join(cfs("--help", cwd=valid).stdout.split()).split("exit codes:", 1)[1]
    for code in ("0 valid", "1 something", "2 format", "3 usage", "130 interrupted",
                 "141 the reader"):
        assert code in codes, (code, codes)


def test_an_unknown_build_target_says_where_the_node_was_looked_for(valid):
    result = cfs("build", "SPEC/a/nope", cwd=valid)
    assert result.returncode == 3
    assert result.stderr == ("cfs: no node SPEC/a/nope (looked for a/nope/_node.md in "
                             "code-from-spec/)\n")


# -- a locale that is not UTF-8 ------------------------------------------------------------

def test_a_c_locale_without_utf8_mode_reads_and_prints_non_ascii_names(tmp_path):
    root = tmp_path / "proj"
    (root / "code-from-spec" / "zürich").mkdir(parents=True)
    (root / "code-from-spec" / "zürich" / "_node.md").write_text(
        spec("SPEC/zürich", "\nÜber.\n\n# Agent\n\nWrite it.\n", front="output: out/é.txt"),
        encoding="utf-8")
    utf8 = cfs("status", cwd=root)
    c_locale = cfs("status", cwd=root, env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
                                            "PYTHONIOENCODING": "", "CFS_NO_INDEX": "1"})
    assert TRACEBACK not in c_locale.stderr and "internal error" not in c_locale.stderr, \
        c_locale.stderr
    assert (c_locale.returncode, c_locale.stdout) == (utf8.returncode, utf8.stdout)
    assert utf8.returncode == 1 and "ARTIFACT/zürich" in utf8.stdout


# -- doit and cfs: the same answer ---------------------------------------------------------

def test_doit_verify_without_a_verify_table_fails_as_cfs_verify_does(tmp_path):
    proj = make_project(tmp_path)
    through_cfs = proj.cfs("verify", "--no-build")
    through_doit = proj.doit("verify")
    assert through_cfs.returncode == 3
    said = through_cfs.stderr.removeprefix("cfs: ").splitlines()
    assert said[0].startswith("cfs.toml: no [[verify]] table: add one")
    # doit's code for a failed task (1), with the same words; never a silent 0.
    assert through_doit.returncode == 1
    shown = [line.strip() for line in through_doit.stdout.splitlines()]
    assert [line.strip() for line in said] == shown[shown.index(said[0]):][:len(said)]
    # A plain `doit` (every task) is not failed by it: nothing was asked of it.
    assert proj.doit().returncode == 0


def test_doit_always_execute_without_a_verify_table_is_not_failed_by_verify(tmp_path):
    # `doit -a` runs every task, up to date or not; it did not name verify, so a project
    # without [[verify]] passes as under a plain `doit`. Named, verify still fails.
    proj = make_project(tmp_path)
    everything = proj.doit("-a")
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert "no [[verify]] table" not in everything.stdout
    assert proj.doit("-a", "verify").returncode == 1


def test_a_removed_current_directory_is_named_and_dash_c_still_works(valid, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()

    def start_in_a_removed_directory():
        os.chdir(gone)
        os.rmdir(gone)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args],
                              capture_output=True, text=True, timeout=60,
                              preexec_fn=start_in_a_removed_directory,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})

    lost = run("status")
    assert lost.returncode == 3
    assert lost.stderr == ("cfs: the current directory no longer exists (removed or moved "
                           "away): cd into the project again, or pass -C DIR\n")
    gone.mkdir()
    found = run("-C", str(valid), "status")
    assert found.returncode == 0, found.stderr


def test_cfs_build_reads_no_doit_settings_from_the_projects_pyproject(tmp_path):
    # cfs.toml configures the project; a pyproject.toml beside it (broken while being
    # edited, or with a [tool.doit] table for the user's own dodo.py) is none of
    # cfs build's business: doit would read it from the working directory.
    proj = make_project(tmp_path)
    (proj.root / "pyproject.toml").write_text("[project\n")
    result = proj.cfs("build")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (proj.root / "pyproject.toml").write_text('[tool.doit]\ndep_file = "elsewhere.db"\n')
    proj.spec("SPEC/other").write_text(proj.spec("SPEC/other").read_text() + "\nMore.\n")
    assert proj.cfs("build").returncode == 0
    assert not list(proj.root.glob("elsewhere.db*"))


def test_every_option_and_argument_of_every_command_says_what_it_is():
    import argparse

    from cfs_build.cli import build_parser
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    bare = [f"cfs {name} {action.dest}" for name, command in commands.choices.items()
            for action in command._actions
            if not action.help and action.dest != "help"]
    assert bare == []


def test_run_build_takes_one_target_given_as_a_string_as_that_target(tmp_path):
    from cfs_build import Project, run_build
    from cfs_build.building.reporter import CfsReporter
    import io
    proj = make_project(tmp_path)
    quiet = CfsReporter(io.StringIO(), {})
    one = run_build(Project(proj.root), "SPEC/other", reporter=quiet)
    assert (one.exit_code, one.generated) == (0, ("gen:other",))


def test_a_refused_generation_is_told_alike_by_cfs_build_the_api_and_the_mcp_build(tmp_path):
    import io
    import shutil

    from cfs_build import Project, run_build
    from cfs_build.building.reporter import CfsReporter
    from mcpkit import sync_client
    proj = make_project(tmp_path)
    assert proj.cfs("build").returncode == 0
    (proj.root / "gen/other.txt").write_text("edited by hand\n")
    proj.edit("SPEC/other", "An independent root.", "An independent root, changed.")
    copies = [tmp_path / "api", tmp_path / "mcp"]
    for copy in copies:
        shutil.copytree(proj.root, copy)

    cli = proj.cfs("build")
    refusal = cli.stdout.split("\nrefused: gen:other\n", 1)[1].split("\ncfs: ", 1)[0]
    refusal = "\n".join(line.removeprefix("  ") for line in refusal.splitlines())
    assert cli.returncode == 1 and "edited by hand" in refusal
    api = run_build(Project(copies[0]), reporter=CfsReporter(io.StringIO(), {}))
    assert api.exit_code == 1
    assert api.refused == (("gen:other", refusal),)
    with sync_client(copies[1]) as client:
        summary = client.result("build").structured_content
    assert summary["exit_code"] == 1
    assert summary["refused"] == [{"node": "SPEC/other", "message": refusal}]


def test_doit_under_a_locale_that_is_not_utf8_says_how_to_run_it(tmp_path):
    # cfs can run itself again in UTF-8 mode; doit, which imports the dodo.py, cannot:
    # rather than read `zürich/` as another name than its heading, it says what to do.
    proj = make_project(tmp_path)
    env = {**proj.env(), "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    result = subprocess.run([sys.executable, "-m", "doit"], cwd=proj.root, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "PYTHONUTF8=1" in result.stderr and TRACEBACK not in result.stderr
    assert not (proj.root / "gen").exists()


def test_init_keeps_a_gitignore_that_is_not_utf8_and_a_dangling_link(tmp_path):
    (tmp_path / ".gitignore").write_bytes(b"caf\xe9/\n*.log")  # Latin-1, no final newline
    (tmp_path / "cfs.toml").symlink_to(tmp_path / "elsewhere.toml")
    result = cfs("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".gitignore").read_bytes().startswith(b"caf\xe9/\n*.log\n# cfs-build")
    assert "kept    cfs.toml (exists)" in result.stdout
    assert (tmp_path / "cfs.toml").is_symlink()  # "never overwrites anything"


def test_runs_says_what_to_do_for_a_count_below_one_or_an_unknown_run(tmp_path):
    proj = make_project(tmp_path)
    assert proj.cfs("build").returncode == 0
    none = proj.cfs("runs", "-n", "0")
    assert (none.returncode, none.stdout) == (3, "")
    assert none.stderr == "cfs: -n must be at least 1\n"
    unknown = proj.cfs("runs", "--show", "nope")
    assert unknown.returncode == 3
    assert unknown.stderr == "cfs: no run 'nope'; `cfs runs` lists the recorded ones\n"


def test_makefile_dash_o_dash_prints_the_fragment(valid):
    printed = cfs("makefile", cwd=valid)
    dashed = cfs("makefile", "-o", "-", cwd=valid)
    assert (dashed.returncode, dashed.stdout) == (0, printed.stdout)
    assert printed.stdout.startswith("# GNU make fragment")
    assert not (valid / "-").exists()


def test_status_points_at_format_errors_only_when_it_lists_some(tree):
    # A chain blocked by an input that is a directory: invalid, yet no format error
    # (v5 opens a directory fine); the advice must name what is listed, not what is not.
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n"),
                 "SPEC/a/b": spec("SPEC/a/b", "# Agent\nmake b\n",
                                  front="input: EXTERNAL/notes\noutput: out/b.txt")})
    (root / "notes").mkdir()
    done = cfs("status", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Format problems" not in done.stdout and "format errors above" not in done.stdout
    assert ("invalid (1):  cannot be generated: fix what is named below each\n"
            "  [rank 1] ARTIFACT/a/b  out/b.txt  (also stale, missing)\n"
            "      EXTERNAL/notes: notes is a directory, not a file\n") in done.stdout
    # With a format error listed, the advice points there too.
    (root / "code-from-spec/a/b/_node.md").write_text(spec(
        "SPEC/a/b", "# Agent\nmake b\n", front="input: EXTERNAL/notes\noutput: /out/b.txt"))
    done = cfs("status", cwd=root)
    assert done.returncode == 2 and "Format problems (1 errors):" in done.stdout
    assert "invalid (1):  fix the format errors above, and what is named below each\n" in \
        done.stdout, done.stdout


# -- first steps: outside a project, a project without a generator ----------------------------

def test_outside_any_project_the_answer_names_how_to_start_one(tmp_path):
    result = cfs("status", cwd=tmp_path)
    assert result.returncode == 3 and TRACEBACK not in result.stderr
    assert result.stderr.startswith(f"cfs: no code-from-spec/ directory in {tmp_path}")
    assert "pass -C DIR" in result.stderr and "`cfs init` starts one here" in result.stderr


def test_a_build_without_a_generator_says_which_kinds_there_are_and_where_they_are_told(
        valid):
    (valid / "out/b.txt").unlink()
    result = cfs("build", cwd=valid)
    assert result.returncode == 3 and TRACEBACK not in result.stderr
    # The user's project has a README of its own: the pointer names cfs-build's docs.
    assert "see the README" not in result.stderr
    assert "add a [generator] table to cfs.toml with a kind (command, claude-code, " \
           "anthropic or openai); cfs-build's docs/generators.md" in result.stderr
