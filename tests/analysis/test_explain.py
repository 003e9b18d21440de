"""Why is it stale: chain entries changed, added and removed since the file was made (from
the cache), in `cfs status`, its JSON, and `cfs explain` with a diff of each entry."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfs_build.cli import main
from cfs_build.analysis.explain import NO_HISTORY, explain
from cfs_build.analysis.project import Project

EXAMPLE = Path(__file__).parents[2] / "examples" / "payments"
CODE, TESTS = "ARTIFACT/payments/fees/calculation", "ARTIFACT/payments/tests/fees"


@pytest.fixture
def payments(tmp_path):
    root = tmp_path / "payments"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".cfs", "__pycache__",
                                                                 ".cache"))
    return root


def edit(root: Path, node: str, old: str, new: str) -> None:
    path = root / "code-from-spec" / node / "_node.md"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def remembered(payments):
    """The example with the chains of its artifacts in the cache, as after a build."""
    assert main(["-C", str(payments), "cache", "reconstruct"]) == 0
    return payments


def test_status_names_each_changed_and_added_entry(remembered):
    edit(remembered, "payments/fees", "Premium accounts", "PREMIUM accounts")
    edit(remembered, "payments/fees/calculation", "Implement", "Carefully implement")
    edit(remembered, "payments/tests/fees", "depends_on:\n",
         "depends_on:\n  - SPEC/payments/fees\n")
    result = cfs(remembered, "status")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    code = lines.index(f"  [rank 2] {CODE}  src/fees.py")
    assert lines[code + 1:code + 3] == [
        "      SPEC/payments/fees changed",
        "      AGENT[SPEC/payments/fees/calculation] changed"]
    tests = lines.index(f"  [rank 3] {TESTS}  tests/test_fees.py")
    assert lines[tests + 1] == "      SPEC/payments/fees added"
    data = json.loads(cfs(remembered, "status", "--json").stdout)
    reasons = {a["name"]: a["reasons"] for a in data["artifacts"]}
    assert reasons == {CODE: ["SPEC/payments/fees changed",
                              "AGENT[SPEC/payments/fees/calculation] changed"],
                       TESTS: ["SPEC/payments/fees added"]}


def test_a_removed_import_and_the_library_answer(remembered):
    edit(remembered, "payments/tests/fees",
         "depends_on:\n  - SPEC/payments/fees/calculation(interface)\n", "")
    answer = explain(Project(remembered), "tests/test_fees.py")
    assert answer.name == TESTS and answer.flags == ("stale",) and answer.history is True
    assert [(c.label, c.change) for c in answer.changes] == [
        ("SPEC/payments/fees/calculation(interface)", "removed")]
    assert answer.reasons == ("SPEC/payments/fees/calculation(interface) removed",)
    removed = answer.changes[0]
    assert removed.new_hash is None and "-Module `fees`:" in removed.diff
    assert answer.as_dict()["changes"][0]["change"] == "removed"


@pytest.mark.slow
def test_explain_shows_a_unified_diff_of_each_changed_entry(remembered):
    edit(remembered, "payments/fees", "Premium accounts", "PREMIUM accounts")
    result = cfs(remembered, "explain", CODE)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert out.startswith(f"{CODE}  src/fees.py: stale\n  SPEC/payments/fees changed\n")
    assert "--- SPEC/payments/fees (when src/fees.py was made)\n" \
           "+++ SPEC/payments/fees (now)\n" in out
    assert "\n-- Premium accounts pay half" in out and "\n+- PREMIUM accounts pay half" in out
    data = json.loads(cfs(remembered, "explain", "--json", "SPEC/payments/fees/calculation")
                      .stdout)
    assert data["reasons"] == ["SPEC/payments/fees changed"]
    assert data["changes"][0]["diff"].startswith("--- SPEC/payments/fees")


def test_without_the_old_chain_in_the_cache_it_says_so_and_how_to_keep_it(payments):
    edit(payments, "payments/fees/calculation", "Implement", "Carefully implement")
    result = cfs(payments, "status")
    assert f"      {NO_HISTORY}" in result.stdout.splitlines()
    assert "cfs cache reconstruct" in NO_HISTORY and "code-from-spec/.cache/" in NO_HISTORY
    answer = explain(Project(payments), CODE)
    assert answer.history is False and answer.reasons == (NO_HISTORY,)


def test_explain_gives_reasons_for_modified_missing_and_up_to_date(payments):
    fees = payments / "src/fees.py"
    fees.write_text(fees.read_text() + "# edited\n")
    (payments / "tests/test_fees.py").unlink()
    project = Project(payments)
    assert explain(project, CODE).reasons == (
        "src/fees.py is not the file cfs wrote (its checksum differs from the manifest's)",)
    assert explain(project, TESTS).reasons == ("tests/test_fees.py does not exist",)
    fees.write_text(fees.read_text().replace("# edited\n", ""))
    (payments / "tests/test_fees.py").write_text("# mine\n")
    (payments / "code-from-spec/.manifest").write_text(
        (payments / "code-from-spec/.manifest").read_text().replace(
            TESTS, "ARTIFACT/payments/gone"))
    result = cfs(payments, "explain", "tests/test_fees.py")
    assert "tests/test_fees.py exists, but cfs has no record of writing it" in result.stdout
    fine = cfs(payments, "explain", "src/fees.py")
    assert (fine.returncode, fine.stdout) == (0, f"{CODE}  src/fees.py: up-to-date\n")


def test_after_an_accept_the_reason_tells_no_untruth_about_the_cache(payments):
    # A hand edit kept with `cfs accept`, then a spec edit: accept records no chain in
    # the cache (as v5), so the reason must not claim it does, and must name what does.
    fees = payments / "src/fees.py"
    fees.write_text(fees.read_text() + "# kept by hand\n")
    assert main(["-C", str(payments), "accept", "src/fees.py"]) == 0
    assert not (payments / "code-from-spec/.cache").exists()
    edit(payments, "payments/fees/calculation", "Implement", "Carefully implement")
    reasons = explain(Project(payments), CODE).reasons
    assert reasons == (NO_HISTORY,)
    assert "`cfs accept` keep" not in NO_HISTORY
    assert "`cfs accept` does not" in NO_HISTORY and "cfs cache reconstruct" in NO_HISTORY
