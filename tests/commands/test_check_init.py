"""`cfs check` (the CI gate) and `cfs init` (idempotent, never overwrites)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import spec


def cfs(cwd, *args):
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


# The "statuses" vector's manifest with both artifacts recorded as they are: up to date.
UP_TO_DATE_MANIFEST = (
    "code-from-spec: v5\n"
    "ARTIFACT/payments/fees/calculation;path:src/fees/calculation.py;"
    "checksum:8bo6uBIHKiklSHMLI80J180Iy64;chain:h5ZteZYsQbSJo5-NyhNDBXcOxLo\n"
    "ARTIFACT/payments/fees/rounding;path:src/fees/rounding.py;"
    "checksum:kcEOaU8tzMSL4n16IpquCM8Vq8M;chain:9rJQbXCBe_lJlgEXCH181g6_5kI\n")

def test_check_passes_on_an_up_to_date_project(vector):
    root = vector("statuses")
    (root / "code-from-spec/.manifest").write_text(UP_TO_DATE_MANIFEST)
    result = cfs(root, "check")
    assert result.returncode == 0, result.stdout
    assert "cfs check: ok" in result.stdout


def test_check_fails_and_lists_what_is_wrong(vector):
    root = vector("statuses")
    result = cfs(root, "check")
    assert result.returncode == 1
    assert "ARTIFACT/payments/fees/rounding (src/fees/rounding.py): stale, modified" in \
        result.stdout
    assert "ARTIFACT/gone/node (src/gone.py): orphan" in result.stdout
    data = json.loads(cfs(root, "check", "--json").stdout)
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["summary"]["orphan"] == 1


def test_check_exits_2_on_format_errors(tree):
    root = tree({"SPEC/x": "---\noutput: [\n---\n# SPEC/x\n"})
    result = cfs(root, "check")
    assert result.returncode == 2
    assert "malformed_frontmatter" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_warnings_fail_only_a_strict_check(tree):
    root = tree({"SPEC/x": spec("SPEC/x", "# Public\n## `Foo` API\nf\n")})
    plain = cfs(root, "check")
    assert plain.returncode == 0, plain.stdout
    assert "heading_text" not in plain.stdout
    strict = cfs(root, "check", "--strict")
    assert strict.returncode == 2
    assert "code-from-spec/x/_node.md:3: warning: heading_text:" in strict.stdout
    assert "1 warnings" in strict.stdout
    data = json.loads(cfs(root, "check", "--strict", "--json").stdout)
    assert data["exit_code"] == 2 and data["summary"]["warnings"] == 1


@pytest.mark.slow
def test_init_creates_a_valid_project_and_is_idempotent(tmp_path):
    result = cfs(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    for rel in ("code-from-spec/app/_node.md", "cfs.toml", "dodo.py", ".gitignore"):
        assert (tmp_path / rel).is_file(), rel
    assert (tmp_path / "dodo.py").read_text() == "from cfs_build.dodo import *\n"
    assert ".cfs/" in (tmp_path / ".gitignore").read_text().splitlines()
    assert "created .gitignore (3 entries)" in result.stdout.splitlines()
    validate = cfs(tmp_path, "validate")
    assert validate.returncode == 0, validate.stdout
    status = cfs(tmp_path, "status")
    assert status.returncode == 0, status.stdout

    (tmp_path / "cfs.toml").write_text("# mine\n")
    again = cfs(tmp_path, "init")
    assert again.returncode == 0
    assert (tmp_path / "cfs.toml").read_text() == "# mine\n"
    assert "kept    cfs.toml" in again.stdout
    gitignore = (tmp_path / ".gitignore").read_text()
    assert gitignore.count(".cfs/") == 1


def test_init_keeps_an_existing_tree_and_gitignore_lines(tmp_path):
    (tmp_path / "code-from-spec/x").mkdir(parents=True)
    (tmp_path / "code-from-spec/x/_node.md").write_text(spec("SPEC/x"))
    (tmp_path / ".gitignore").write_text("node_modules/")
    assert "updated .gitignore (+3 entries)" in cfs(tmp_path, "init").stdout.splitlines()
    assert not (tmp_path / "code-from-spec/app").exists()
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/" and "code-from-spec/.cache/" in lines


def test_pre_commit_hooks_file_declares_check_and_validate():
    from pathlib import Path
    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    assert by_id["cfs-check"]["entry"] == "cfs check"
    assert by_id["cfs-validate"]["entry"] == "cfs validate --quiet"
    for hook in hooks:
        assert hook["pass_filenames"] is False and hook["language"] == "python"


@pytest.mark.slow
def test_init_into_a_new_directory_by_argument(tmp_path):
    result = cfs(tmp_path, "init", "newproj")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "newproj/code-from-spec/app/_node.md").is_file()
    assert not (tmp_path / "newproj/newproj").exists()
    assert cfs(tmp_path / "newproj", "status").returncode == 0


@pytest.mark.slow
def test_check_and_validate_answer_from_the_snapshot_without_reading_the_tree(
        fixture, monkeypatch, capsys):
    import time

    from cfs_build import cli
    from cfs_build.analysis import project
    from cfs_build.reading import tree
    root = fixture("buildproj")
    time.sleep(0.2)  # older than the snapshot's margin for recent changes
    expected = {args: cfs(root, *args).stdout for args in (("check",), ("validate",))}
    assert "6 nodes, 4 leaves" in expected[("validate",)]
    time.sleep(0.2)
    assert project.Project(root).snapshot is not None

    def no_reading(*args, **kwargs):
        raise AssertionError("the tree was read although the snapshot holds")

    monkeypatch.setattr(project, "load_tree", no_reading)
    monkeypatch.setattr(tree, "load_tree", no_reading)
    for args, output in expected.items():
        assert cli.main(["-C", str(root), *args]) in (0, 1)
        assert capsys.readouterr().out == output


@pytest.mark.slow
def test_check_and_validate_fail_on_a_broken_configuration(vector):
    root = vector("statuses")
    (root / "code-from-spec/.manifest").write_text(UP_TO_DATE_MANIFEST)
    (root / "cfs.toml").write_text('[generator]\nkind = "command"\ncomand = ["gen"]\n')
    check = cfs(root, "check")
    assert check.returncode == 3, check.stdout
    assert check.stdout.startswith("cfs.toml:3: unknown key generator.comand: did you mean "
                                   "command?")
    # Nothing else is wrong: the last line points at the one problem, not at `cfs status`
    # (which never reads cfs.toml).
    assert check.stdout.splitlines()[-1] == ("cfs check: FAILED (cfs.toml is not valid); fix "
                                             "cfs.toml as said above")
    validate = cfs(root, "validate")
    assert validate.returncode == 3
    assert "cfs.toml:3: unknown key generator.comand" in validate.stdout
    (root / "cfs.toml").write_text('[generator]\nkind = "command\n')
    for command in ("check", "validate"):
        result = cfs(root, command)
        assert result.returncode == 3 and "cfs.toml:2: TOML error" in result.stdout
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_init_refuses_to_nest_a_project_unless_forced(tmp_path):
    assert cfs(tmp_path, "init").returncode == 0
    inner = tmp_path / "src" / "sub"
    inner.mkdir(parents=True)
    refused = cfs(inner, "init")
    assert refused.returncode == 3
    assert f"inside the project {tmp_path}" in refused.stderr and "--force" in refused.stderr
    assert not (inner / "code-from-spec").exists() and not (inner / "cfs.toml").exists()
    forced = cfs(inner, "init", "--force")
    assert forced.returncode == 0 and (inner / "code-from-spec/app/_node.md").is_file()


@pytest.mark.slow
def test_init_template_sends_nothing_to_a_model(tmp_path):
    cfs(tmp_path, "init")
    (tmp_path / "code-from-spec/app/hello").mkdir()
    (tmp_path / "code-from-spec/app/hello/_node.md").write_text(
        "---\noutput: hello.txt\n---\n# SPEC/app/hello\n\nA greeting.\n\n# Agent\n\nSay hi.\n")
    assert cfs(tmp_path, "validate").returncode == 0
    chain = cfs(tmp_path, "chain", "SPEC/app/hello")
    assert chain.returncode == 0, chain.stderr
    # The template's guidance is for people: the leaf's generator sees none of it.
    assert 'name="SPEC/app"' not in chain.stdout and "generator" not in chain.stdout


def test_the_example_ignores_the_cache_and_the_lock_and_commits_no_lock():
    example = Path(__file__).parents[2] / "examples/payments"
    ignored = (example / ".gitignore").read_text().splitlines()
    assert "code-from-spec/.cache/" in ignored and "code-from-spec/.manifest.lock" in ignored
    tracked = subprocess.run(["git", "ls-files", "code-from-spec"], cwd=example,
                             capture_output=True, text=True, check=True).stdout.split()
    assert "code-from-spec/.manifest" in tracked
    assert "code-from-spec/.manifest.lock" not in tracked


def test_init_leaves_a_tool_cfs_table_in_effect(tmp_path):
    """cfs.toml is read instead of pyproject.toml's [tool.cfs]: init does not write one
    beside such a table, which would silently drop its settings."""
    from cfs_build.config import load_config
    pyproject = '[project]\nname = "x"\n\n[tool.cfs.generator]\nkind = "command"\n' \
                'command = ["gen"]\n'
    mine, other = tmp_path / "mine", tmp_path / "other"
    for where in (mine, other):
        where.mkdir()
    (mine / "pyproject.toml").write_text(pyproject)
    done = cfs(mine, "init")
    assert done.returncode == 0, done.stderr
    assert not (mine / "cfs.toml").exists()
    assert "kept    pyproject.toml's [tool.cfs] (no cfs.toml" in done.stdout
    assert load_config(mine).generator == {"kind": "command", "command": ["gen"]}
    # Without such a table, init writes cfs.toml as ever.
    (other / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.black]\nx = 1\n')
    assert cfs(other, "init").returncode == 0 and (other / "cfs.toml").is_file()
