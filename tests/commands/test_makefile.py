"""The make fragment with real GNU make: outputs as targets, restat-style rebuilds, -j."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from buildkit import make_project

MAKEFILE = """\
include cfs.mk

all: out/bundle.txt

out/bundle.txt: gen/model.txt gen/cli.txt
\t@mkdir -p out
\tcat gen/model.txt gen/cli.txt > $@
\t@echo bundled >> make-log.txt
"""


@pytest.fixture
def proj(tmp_path):
    proj = make_project(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cfs = bin_dir / "cfs"
    cfs.write_text(f"#!/bin/sh\nexec {sys.executable} -m cfs_build.cli \"$@\"\n")
    cfs.chmod(0o755)
    proj.make_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proj.cfs("makefile", "-o", "cfs.mk", check=True)
    (proj.root / "Makefile").write_text(MAKEFILE)
    return proj


def make(proj, *args):
    result = subprocess.run(["make", *args], cwd=proj.root, capture_output=True, text=True,
                            env=proj.make_env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def bundles(proj) -> int:
    log = proj.root / "make-log.txt"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_first_make_generates_and_builds_on_the_outputs(proj):
    make(proj)
    assert len(proj.calls()) == 4
    assert bundles(proj) == 1
    assert all(f == ["up-to-date"] for f in proj.flags().values())


def test_nothing_changed_remakes_nothing(proj):
    make(proj)
    stamp = (proj.root / "gen/model.txt").stat().st_mtime_ns
    proj.reset_log()
    make(proj)
    assert proj.calls() == []
    assert bundles(proj) == 1
    assert (proj.root / "gen/model.txt").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_private_edit_remakes_nothing_agent_edit_remakes_that_artifact(proj):
    make(proj)
    proj.reset_log()
    proj.edit("SPEC/app", "Reviewed by the platform team.", "Reviewed twice.")
    make(proj)
    assert proj.calls() == [] and bundles(proj) == 1
    proj.edit("SPEC/app/cli", "Parse arguments", "Parse the arguments")
    time.sleep(0.01)
    make(proj)
    assert len(proj.calls()) == 1
    assert bundles(proj) == 2


@pytest.mark.slow
def test_identical_regeneration_does_not_remake_dependents(proj):
    proj.edit("SPEC/app/cli", "Parse arguments", "CANNED-CONSTANT Parse arguments")
    make(proj)
    proj.reset_log()
    proj.edit("SPEC/app/cli", "CANNED-CONSTANT", "CANNED-CONSTANT again")
    make(proj)
    assert len(proj.calls()) == 1
    assert bundles(proj) == 1


def test_parallel_make_is_safe(proj):
    result = make(proj, "-j", "4", "gen/model.txt", "gen/store.txt", "gen/cli.txt",
                  "gen/other.txt", "all")
    assert len(proj.calls()) == 4
    assert result.stdout.count("generated") >= 1
    assert all(f == ["up-to-date"] for f in proj.flags().values())


@pytest.mark.slow
def test_fragment_remakes_itself_when_a_leaf_is_added(proj):
    make(proj)
    node = proj.root / "code-from-spec/extra/_node.md"
    node.parent.mkdir()
    node.write_text("---\noutput: gen/extra.txt\n---\n# SPEC/extra\n\n# Agent\n\nExtra.\n")
    make(proj, "gen/extra.txt")
    assert "gen/extra.txt" in (proj.root / "cfs.mk").read_text()
    assert (proj.root / "gen/extra.txt").exists()


@pytest.mark.slow
def test_cfs_check_target_fails_when_stale(proj):
    make(proj)
    proj.edit("SPEC/other", "Say hello.", "Say hi.")
    result = subprocess.run(["make", "cfs-check"], cwd=proj.root, capture_output=True,
                            text=True, env=proj.make_env, timeout=60)
    assert result.returncode != 0
    assert "ARTIFACT/other (gen/other.txt): stale" in result.stdout


# -- what a checkout's names and paths can do to make ----------------------------------------

def hostile_project(tmp_path, files):
    """A project whose cfs is a stand-in that logs its arguments, then runs the real cfs."""
    from conftest import spec, write_tree
    root = write_tree(tmp_path / "proj", {"SPEC/r": spec("SPEC/r", "# Public\n## A\na\n"),
                                          "SPEC/r/ok": spec("SPEC/r/ok", "# Agent\nok\n",
                                                            front="output: ok.txt"),
                                          **files})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cfs").write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path}/cfs-calls.txt\n"
                                 f"exec {sys.executable} -m cfs_build.cli \"$@\"\n")
    (bin_dir / "cfs").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    (root / "Makefile").write_text("include cfs.mk\n\nall:\n\t@echo all done\n")
    return root, env


def run_make(root, env, *args):
    return subprocess.run(["make", *args], cwd=root, capture_output=True, text=True, env=env,
                          timeout=120)


def cfs_calls(root) -> list[str]:
    log = root.parent / "cfs-calls.txt"
    return log.read_text().splitlines() if log.exists() else []


def test_an_output_path_cannot_add_a_line_to_the_fragment(tmp_path):
    # A line break in `output` would end the list of targets; the next line would be make
    # text of the checkout's choosing (here: CFS redefined to run a command).
    from conftest import spec
    root, env = hostile_project(tmp_path, {"SPEC/r/a": spec(
        "SPEC/r/a", "# Agent\na\n", front='output: "a.txt\\nCFS=touch${IFS}PWNED;"')})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile", "-o", "cfs.mk"],
                          cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "PWNED" not in (root / "cfs.mk").read_text()
    result = run_make(root, env, "cfs-status")
    assert not (root / "PWNED").exists(), result.stdout + result.stderr
    assert cfs_calls(root) == ["-C . status"]


@pytest.mark.parametrize("output", ["src/*.py", "src/?eal.py", "src/[r]eal.py"])
def test_an_output_path_with_a_wildcard_is_refused(tmp_path, output):
    # make expands wildcards in targets: `src/*.py` would make every existing Python file
    # in src/ a target of the fragment, its own recipe replaced by cfs's empty one.
    from conftest import spec
    root, env = hostile_project(tmp_path, {
        "SPEC/r/a": spec("SPEC/r/a", "# Agent\na\n", front=f"output: '{output}'"),
        "src/real.py": "print('mine')\n"})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile", "-o", "cfs.mk"],
                          cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode != 0 and not (root / "cfs.mk").exists()
    assert "code-from-spec/r/a/_node.md" in done.stderr and output in done.stderr, done.stderr
    assert "wildcard" in done.stderr, done.stderr


@pytest.mark.parametrize("output", ["o\\u202etxt.exe", "o\\u009b2J.txt"])
def test_an_output_path_with_a_c1_control_or_bidi_override_is_refused(tmp_path, output):
    # Harmless to make, but `cfs makefile` prints the fragment on a terminal.
    from conftest import spec
    root, env = hostile_project(tmp_path, {
        "SPEC/r/a": spec("SPEC/r/a", "# Agent\na\n", front=f'output: "{output}"')})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile"],
                          cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode != 0 and done.stdout == "", done.stdout
    assert "code-from-spec/r/a/_node.md" in done.stderr and "bidi override" in done.stderr
    assert not set(done.stderr) & {"\x9b", "\u202e"}, done.stderr


@pytest.mark.parametrize("output", [".SECONDEXPANSION", ".EXPORT_ALL_VARIABLES", ".ONESHELL",
                                    ".DEFAULT"])
def test_an_output_named_as_a_special_target_is_refused(tmp_path, output):
    # make drops the leading ./ of $(CFS_ROOT)/.SECONDEXPANSION: the fragment would switch
    # on make features for the including Makefile (second expansion of its prerequisites,
    # every variable exported to every recipe, recipes run in one shell).
    from conftest import spec
    root, env = hostile_project(tmp_path, {
        "SPEC/r/a": spec("SPEC/r/a", "# Agent\na\n", front=f"output: '{output}'")})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile", "-o", "cfs.mk"],
                          cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode != 0 and not (root / "cfs.mk").exists()
    assert "code-from-spec/r/a/_node.md" in done.stderr and "special target" in done.stderr, \
        done.stderr


@pytest.mark.parametrize("name", ["a b", "x;touch PWNED", "k:%", "$(shell touch PWNED)",
                                  "v CFS=touch${IFS}PWNED;", "t\tab", "nl\nx"])
def test_a_node_directory_name_never_breaks_the_including_makefile(tmp_path, name):
    # The fragment remakes itself when a _node.md is newer; the names of the spec files
    # must not reach make as words (a space split them, a ':' made a pattern rule).
    root, env = hostile_project(tmp_path, {f"code-from-spec/{name}/_node.md": "hostile\n"})
    subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile", "-o", "cfs.mk"],
                   cwd=root, check=True, env=env)
    result = run_make(root, env, "all")
    assert result.returncode == 0 and result.stdout == "all done\n", result.stderr
    assert cfs_calls(root) == []
    time.sleep(0.01)
    (root / "code-from-spec" / name / "_node.md").write_text("hostile again\n")
    result = run_make(root, env, "all")
    assert result.returncode == 0 and "all done" in result.stdout, result.stderr
    assert cfs_calls(root) == [f"-C . makefile -o {root}/cfs.mk"]
    assert not list(root.rglob("PWNED*"))



# -- a fragment written elsewhere than the project root ----------------------------------------

@pytest.mark.parametrize("out, makedir, include, target", [
    ("build/cfs.mk", "build", "cfs.mk", "../gen/model.txt"),  # a subdirectory of the project
    ("../proj.mk", "..", "proj.mk", "buildproj/gen/model.txt"),  # beside it, for a Makefile above
])
def test_a_fragment_written_away_from_the_root_still_names_the_project_files(
        proj, out, makedir, include, target):
    # The fragment finds the project from where it lies: written to build/cfs.mk it named
    # build/gen/model.txt, a file no rule makes, so a stale output was never regenerated
    # and make said nothing about it.
    where = (proj.root / makedir).resolve()
    where.mkdir(exist_ok=True)
    proj.cfs("makefile", "-o", out, check=True)
    (where / "Makefile").write_text(f"include {include}\n\nall: {target}\n\t@echo used $<\n")
    result = subprocess.run(["make"], cwd=where, capture_output=True, text=True,
                            env=proj.make_env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(proj.calls()) == 4
    assert all(f == ["up-to-date"] for f in proj.flags().values())
    assert f"used {target}" in result.stdout


def test_a_fragment_whose_way_to_the_project_is_no_make_word_is_refused(tmp_path):
    from conftest import spec, write_tree
    root = write_tree(tmp_path / "my proj", {"SPEC/r": spec("SPEC/r", "# Agent\nr\n",
                                                            front="output: r.txt")})
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "makefile", "-o",
                           "../my.mk"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 3
    assert "'my proj'" in done.stderr and "write it at the project root" in done.stderr
    assert not (tmp_path / "my.mk").exists()
