"""`cfs verify` on the payments example: real pytest runs, failures tied to spec nodes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfs_build.building.verify import glob_regex

EXAMPLE = Path(__file__).parents[2] / "examples" / "payments"


@pytest.fixture
def payments(tmp_path, monkeypatch):
    # The example's tests need no pytest plugin; the ones installed here would be loaded by
    # every `pytest` that verify starts (hypothesis's alone takes about a second).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    root = tmp_path / "payments"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".cfs", ".benchmarks",
                                                                 "__pycache__", ".cache"))
    return root


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=120)


def status(root: Path) -> dict:
    return json.loads(cfs(root, "status", "--json").stdout)


@pytest.mark.slow
def test_example_is_up_to_date_and_its_tests_pass(payments):
    assert status(payments)["verification"]["state"] == "never verified"
    result = cfs(payments, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 10 tests" in result.stdout
    report = status(payments)
    assert report["summary"]["up-to-date"] == 2
    assert report["verification"]["state"] == "verified"
    assert "tests: verified" in cfs(payments, "status").stdout


@pytest.mark.slow
def test_broken_artifact_fails_verify_and_names_the_specs(payments):
    fees = payments / "src/fees.py"
    fees.write_text(fees.read_text().replace("amount * 2 // 100", "amount * 3 // 100"))
    # A hand edit is never overwritten: verify refuses to build over it...
    refused = cfs(payments, "verify")
    assert refused.returncode == 1
    assert "cfs accept ARTIFACT/payments/fees/calculation" in refused.stdout
    # ...so record the broken file as if it had been generated, then verify.
    cfs(payments, "accept", "ARTIFACT/payments/fees/calculation")
    result = cfs(payments, "verify")
    assert result.returncode == 1
    out = result.stdout
    assert "FAILED" in out
    assert "test_standard_10000_cents" in out
    assert "test spec: SPEC/payments/tests/fees" in out
    assert "exercises: SPEC/payments/fees/calculation" in out
    assert "assert 300 == 200" in out
    report = status(payments)
    assert report["verification"] == {"state": "tests failing",
                                      "failing": ["SPEC/payments/tests/fees"],
                                      "time": report["verification"]["time"]}


@pytest.mark.slow
def test_only_a_changed_file_makes_the_verification_stale(payments):
    cfs(payments, "verify")
    node = payments / "code-from-spec/payments/fees/calculation/_node.md"
    node.write_text(node.read_text().replace("Implement", "Carefully implement"))
    # The spec changed, the files the tests ran on did not.
    assert status(payments)["verification"]["state"] == "verified"
    # A regeneration that writes the same bytes: a new chain, the same file.
    fees = payments / "src/fees.py"
    echo = f"import sys; sys.stdout.write('<artifact>\\n' + open({str(fees)!r}).read() + " \
        "'</artifact>\\n')"
    config = payments / "cfs.toml"
    command = json.dumps([sys.executable, "-c", echo])
    config.write_text(f'[generator]\nkind = "command"\ncommand = {command}\n' + config.read_text())
    built = cfs(payments, "build")
    assert "1 regenerated identical" in built.stdout, built.stdout + built.stderr
    assert status(payments)["verification"]["state"] == "verified"
    assert "tests: verified" in cfs(payments, "status").stdout
    fees.write_text(fees.read_text() + "# reviewed\n")
    verification = status(payments)["verification"]
    assert verification["state"] == "unverified"
    assert verification["changed_since"] == ["ARTIFACT/payments/fees/calculation"]


@pytest.mark.slow
def test_test_node_without_imports_is_reported(payments):
    node = payments / "code-from-spec/payments/tests/fees/_node.md"
    node.write_text(node.read_text().replace(
        "depends_on:\n  - SPEC/payments/fees/calculation(interface)\n", ""))
    cfs(payments, "accept", "ARTIFACT/payments/tests/fees")
    result = cfs(payments, "verify", "--no-build")
    assert "SPEC/payments/tests/fees imports no spec" in result.stdout
    assert "depends_on" in result.stdout


def test_runner_without_junit_falls_back_to_exit_code_and_named_files(payments):
    script = payments / "check.py"
    script.write_text("import sys\nprint('FAIL in tests/test_fees.py')\nsys.exit(1)\n")
    (payments / "cfs.toml").write_text(
        '[[verify]]\nname = "custom"\ncommand = ["python3", "check.py"]\n'
        'outputs = ["tests/*.py"]\n')
    result = cfs(payments, "verify")
    assert result.returncode == 1
    assert "verify 'custom': FAILED" in result.stdout
    assert "test spec: SPEC/payments/tests/fees" in result.stdout


def test_missing_verify_config_is_a_clear_error(payments):
    (payments / "cfs.toml").write_text("")
    result = cfs(payments, "verify")
    assert result.returncode == 3
    assert "[[verify]]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_doit_verify_task_runs_once_then_is_up_to_date(payments):
    first = subprocess.run([sys.executable, "-m", "doit", "verify"], cwd=payments,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "passed, 10 tests" in first.stdout
    again = subprocess.run([sys.executable, "-m", "doit", "verify"], cwd=payments,
                           capture_output=True, text=True, timeout=120)
    assert "passed" not in again.stdout and again.returncode == 0


@pytest.mark.parametrize("pattern,path,hit", [
    ("tests/**/*.py", "tests/test_a.py", True),
    ("tests/**/*.py", "tests/unit/deep/test_a.py", True),
    ("tests/*.py", "tests/unit/test_a.py", False),
    ("**/test_*.py", "a/b/test_x.py", True),
    ("src/?.py", "src/a.py", True),
    ("src/?.py", "src/ab.py", False),
])
def test_output_globs(pattern, path, hit):
    assert bool(glob_regex(pattern).match(path)) is hit


@pytest.mark.parametrize("content", ["[1, 2]", '{"artifacts": [1]}', '{"results": 3}', "nope"])
def test_a_damaged_verification_record_counts_as_never_verified(payments, content):
    (payments / ".cfs").mkdir(exist_ok=True)
    (payments / ".cfs/verify.json").write_text(content)
    result = cfs(payments, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verification"] == {"state": "never verified"}


def test_a_test_command_printing_bytes_that_are_no_utf8_fails_verify_not_cfs(tmp_path):
    # Generated tests print what they like: a byte that is no UTF-8 in their output made
    # `cfs verify` stop with an internal error (UnicodeDecodeError).
    from buildkit import make_project
    proj = make_project(tmp_path)
    (proj.root / "t.py").write_text("import sys\nsys.stdout.buffer.write(b'bad \\xff byte\\n')\n"
                                    "sys.exit(1)\n")
    with (proj.root / "cfs.toml").open("a") as toml:
        toml.write(f'[[verify]]\nname = "t"\ncommand = [{json.dumps(sys.executable)}, "t.py"]\n'
                   'outputs = ["gen/**"]\n')
    result = cfs(proj.root, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "internal error" not in result.stderr, result.stderr
    assert "verify 't': FAILED" in result.stdout and "bad \ufffd byte" in result.stdout


def test_verify_shows_names_and_test_output_escaped(tmp_path, monkeypatch):
    # Test names, their messages and what a test command prints come from generated code;
    # node names from the checkout: none may drive the terminal.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    from conftest import spec, write_tree
    node = "SPEC/t\u202eq\x9b"
    root = write_tree(tmp_path / "p", {
        node: spec(node, "# Agent\nx\n", front="output: tests/test_x.py"),
        "tests/test_x.py": "def test_a():\n    assert False, '\\x1b]0;PWNED\\x07 boom'\n",
        "t.py": "print('\\x1b[2J\\x1b]0;PWNED\\x07 cleared')\nraise SystemExit(1)\n",
        "cfs.toml": f'[[verify]]\nname = "py"\ncommand = [{json.dumps(sys.executable)}, "-m", '
                    '"pytest", "-q", "-p", "no:cacheprovider", "tests"]\n'
                    'outputs = ["tests/**"]\n'
                    f'[[verify]]\nname = "t\\u001b[31m"\ncommand = [{json.dumps(sys.executable)}, '
                    '"t.py"]\noutputs = ["tests/**"]\n'})
    assert cfs(root, "accept", node).returncode == 0
    result = cfs(root, "verify", "--no-build")
    assert result.returncode == 1, result.stdout + result.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in result.stdout, result.stdout
    assert "    test spec: SPEC/t\\u202eq\\x9b" in result.stdout, result.stdout
    assert "    | AssertionError: " in result.stdout and " boom" in result.stdout
    assert "\\x1b[2J\\x1b]0;PWNED\\x07 cleared" in result.stdout
