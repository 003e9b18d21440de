"""The `cfs` command through real processes: discovery, exit codes, output shapes, accept."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cfs_build.cli import main
from conftest import b64, chain_hash, checksum, digest, make_unreadable, spec

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<rule>[a-z_]+): (?P<detail>.+)$")


def cfs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def cfs_each(cwd: Path, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
    """Run several read-mostly commands at once (they are independent; this saves time)."""
    running = [(args, subprocess.Popen([sys.executable, "-m", "cfs_build.cli", *args], cwd=cwd,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True))
               for args in commands]
    done = []
    for args, process in running:
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return done


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


@pytest.fixture
def valid(tree):
    """Valid and fully up to date: one leaf whose file and manifest entry match."""
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\na\n"),
                 "SPEC/a/b": spec("SPEC/a/b", "# Agent\nmake b\n", front="output: out/b.txt"),
                 "out/b.txt": "b\n"})
    chain = chain_hash("## A\na\n", "make b\n")
    (root / "code-from-spec" / ".manifest").write_text(
        "code-from-spec: v5\nARTIFACT/a/b;path:out/b.txt;checksum:" + checksum("b\n")
        + ";chain:" + chain + "\n")
    return root


# -- finding the project -----------------------------------------------------------------------

def test_dash_c(valid, tmp_path):
    result = cfs("-C", str(valid), "status", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["root"] == str(valid.resolve())


@pytest.mark.parametrize("below", ["code-from-spec/a/b", "out", "code-from-spec"])
def test_walks_up_to_the_project_root(valid, below):
    result = cfs("status", "--json", cwd=valid / below)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["root"] == str(valid.resolve())


def test_dash_c_relative_to_cwd_and_walking_up(valid):
    result = cfs("-C", "code-from-spec/a", "validate", cwd=valid)
    assert result.returncode == 0, result.stderr


def test_outside_any_project(tmp_path):
    result = cfs("status", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.startswith("cfs: no code-from-spec/ directory")
    no_traceback(result)


def test_dash_c_missing_directory(tmp_path):
    result = cfs("-C", str(tmp_path / "nope"), "status")
    assert result.returncode == 3
    assert "no such directory" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("args", [(), ("frobnicate",), ("status", "--bogus"), ("chain",)])
def test_usage_errors_exit_3(valid, args):
    result = cfs(*args, cwd=valid)
    assert result.returncode == 3
    no_traceback(result)


@pytest.mark.parametrize("args, hint", [
    (("stauts",), "cfs: did you mean status?"),
    (("-C", ".", "chian", "SPEC/x"), "cfs: did you mean chain?"),
    (("status", "--jsn"), "error: unrecognized arguments: --jsn; did you mean --json?"),
    (("build", "--fersh=1"), "error: unrecognized arguments: --fersh=1; did you mean --fresh?"),
])
def test_a_misspelt_command_or_option_gets_the_likely_one_named(valid, args, hint):
    result = cfs(*args, cwd=valid)
    assert result.returncode == 3 and result.stderr.rstrip().endswith(hint), result.stderr
    no_traceback(result)


def test_an_unknown_word_far_from_any_command_gets_no_guess(valid):
    result = cfs("frobnicate", cwd=valid)
    assert result.returncode == 3 and "did you mean" not in result.stderr


def test_help_exits_0():
    result = cfs("--help")
    assert result.returncode == 0 and "usage: cfs" in result.stdout


def test_installed_script(valid):
    script = Path(sys.executable).with_name("cfs")
    assert script.exists(), "pip install -e . installs the cfs script next to python"
    result = subprocess.run([str(script), "-C", str(valid), "validate"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "valid: 2 nodes, 1 leaves\n"


# -- exit codes and output ---------------------------------------------------------------------

def test_exit_0_when_valid_and_up_to_date(valid):
    assert cfs("validate", cwd=valid).returncode == 0
    result = cfs("status", cwd=valid)
    assert result.returncode == 0
    assert ("1 up-to-date, 0 stale, 0 missing, 0 modified, 0 untracked, 0 invalid, 0 orphan, 0 errors"
            in result.stdout.splitlines())


def test_exit_1_when_something_is_stale(valid):
    (valid / "out" / "b.txt").write_text("edited\n")
    result = cfs("status", cwd=valid)
    assert result.returncode == 1
    assert "modified (1)" in result.stdout
    assert "ARTIFACT/a/b  out/b.txt" in result.stdout
    assert cfs("validate", cwd=valid).returncode == 0


@pytest.mark.slow
def test_exit_2_with_format_errors(vector):
    root = vector("format_errors")
    assert cfs("status", cwd=root).returncode == 2
    assert cfs("status", "--json", cwd=root).returncode == 2
    assert cfs("validate", cwd=root).returncode == 2


def test_validate_lines(vector):
    result = cfs("validate", cwd=vector("format_errors"))
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines
    lined = [m for m in map(LINE.match, lines) if m]
    # Rules that have a line number print file:line: rule: detail.
    assert {m["rule"] for m in lined} >= {
        "name_heading", "leaf_only_fields", "leaf_only_agent", "dependency_targets",
        "output_paths", "public_subsection_required", "duplicate_subsections",
        "malformed_frontmatter", "unrecognized_section"}
    for match in lined:
        assert match["file"].startswith("code-from-spec/") and match["file"].endswith("_node.md")
    assert "code-from-spec/noname/_node.md:1: name_heading: " in result.stdout
    assert "code-from-spec/badyaml/_node.md:2: malformed_frontmatter: YAML error" in result.stdout
    # Problems without a line (a directory, a cycle) still say file: rule: detail.
    assert "code-from-spec/nodir: missing_node_md: " in result.stdout
    assert "code-from-spec/cyc/x/_node.md: cycle: " in result.stdout
    assert re.search(r"^\d+ format errors in \d+ nodes$", result.stderr, re.M)


def test_validate_warning_does_not_fail(tree):
    root = tree({"SPEC/lib": spec("SPEC/lib", "# Public\n## A\na\n"),
                 "SPEC/app": spec("SPEC/app", front="depends_on:\n  - SPEC/lib(B)\n")})
    result = cfs("validate", cwd=root)
    assert result.returncode == 0
    assert result.stdout.startswith("code-from-spec/app/_node.md:3: warning: reference: ")


def readme_status_example() -> dict:
    """The `cfs status --json` example in docs/building.md: the documented shape, key for key."""
    doc = (Path(__file__).parents[2] / "docs" / "building.md").read_text(encoding="utf-8")
    return json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))


def test_readme_documents_the_shape():
    documented = readme_status_example()
    assert list(documented)[:5] == ["root", "errors", "artifacts", "orphans", "summary"]
    assert list(documented["artifacts"][0]) == [
        "name", "node", "path", "status", "chain", "recorded_chain", "checksum",
        "recorded_checksum", "rank", "reasons"]


def test_status_json_shape(fixture):
    root = fixture("status_flags")
    (root / "code-from-spec" / ".manifest").write_text(
        "code-from-spec: v5\nARTIFACT/gone;path:out/gone.txt;checksum:"
        + checksum("x\n") + ";chain:" + chain_hash() + "\n")
    result = cfs("status", "--json", cwd=root)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    documented = readme_status_example()
    # Every documented key, in the documented order; scripts rely on these. A key added
    # after them (e.g. by a newer command) does not break a reader of the documented ones.
    assert list(report)[:len(documented)] == list(documented)
    assert report["root"] == str(root.resolve())
    for error in report["errors"]:
        assert list(error) == list(documented["errors"][0])
    assert {e["rule"] for e in report["errors"]} == {"output_paths", "dependency_targets"}
    for artifact in report["artifacts"]:
        assert list(artifact) == list(documented["artifacts"][0])
        assert isinstance(artifact["status"], list) and isinstance(artifact["reasons"], list)
    by_name = {a["name"]: a for a in report["artifacts"]}
    fresh = by_name["ARTIFACT/app/fresh"]
    assert fresh["node"] == "SPEC/app/fresh" and fresh["path"] == "out/fresh.txt"
    assert fresh["status"] == ["stale", "untracked"]
    assert fresh["chain"] == chain_hash("## Context\nShared context.\n", "Make fresh.\n")
    assert fresh["checksum"] == checksum("fresh\n")
    assert fresh["recorded_chain"] is None and fresh["recorded_checksum"] is None
    assert fresh["rank"] == 1
    assert by_name["ARTIFACT/app/blocked"]["chain"] is None
    [orphan] = report["orphans"]
    assert (orphan["name"], orphan["path"]) == ("ARTIFACT/gone", "out/gone.txt")
    assert orphan["reasons"][0] == "SPEC/gone no longer exists (deleted, renamed or moved)"
    assert list(report["orphans"][0]) == list(documented["orphans"][0])
    assert list(report["summary"]) == list(documented["summary"])
    assert report["summary"]["orphan"] == 1 and report["summary"]["errors"] == 2


def test_status_json_warning_severity(tree):
    root = tree({"SPEC/lib": spec("SPEC/lib", "# Public\n## A\na\n"),
                 "SPEC/app": spec("SPEC/app", front="depends_on:\n  - SPEC/lib(B)\n")})
    result = cfs("status", "--json", cwd=root)
    assert result.returncode == 0
    (warning,) = json.loads(result.stdout)["errors"]
    assert warning["severity"] == "warning" and warning["line"] == 3


# -- chain -------------------------------------------------------------------------------------

def test_chain_hash_output(fixture):
    root = fixture("chains")
    result = cfs("chain", "--hash", "SPEC/twice", cwd=root)
    assert result.returncode == 0, result.stderr
    lib = "## Interface\nload() -> dict\n\n## Errors\nLoadError\n"
    assert result.stdout == f"{chain_hash(lib)}\nSPEC/lib: {b64(digest(lib))}\n"


def test_chain_hash_accepts_artifact_names_and_paths(fixture):
    root = fixture("chains")
    outputs = {cfs("chain", "--hash", ref, cwd=root).stdout
               for ref in ("SPEC/lib/gen", "ARTIFACT/lib/gen", "gen/lib.txt")}
    assert len(outputs) == 1
    assert outputs.pop().splitlines()[0] == chain_hash(
        "## Interface\nload() -> dict\n\n## Errors\nLoadError\n", "Generate the library.\n")


def test_chain_document(fixture):
    root = fixture("chains")
    result = cfs("chain", "SPEC/app/svc/leaf", cwd=root)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    names = re.findall(r'<entry name="([^"]+)"', out)
    assert names == ["SPEC/app", "ARTIFACT/lib/gen", "EXTERNAL/ext/notes.txt",
                     "SPEC/lib(  interface )", "SPEC/lib(Errors)", "SPEC/lib(errors)",
                     "SPEC/app/svc/leaf"]
    assert '<entry name="SPEC/lib(Errors)">\n## Errors\nLoadError\n</entry>' in out
    assert "<instructions>\nWrite it.\n\n## Checks\nTest it.\n</instructions>" in out
    assert "<input>\ninput text\n</input>" in out
    assert out.index("<constraints>") < out.index("<instructions>") < out.index("<input>")
    assert "Not delivered" not in out


@pytest.mark.parametrize("ref, code, message", [
    ("SPEC/app", 3, "not a leaf"),
    ("SPEC/nowhere", 3, "no node SPEC/nowhere"),
    ("nonsense", 3, "not a SPEC/ or ARTIFACT/ name"),
])
def test_chain_refusals(fixture, ref, code, message):
    result = cfs("chain", ref, cwd=fixture("chains"))
    assert result.returncode == code
    assert message in result.stderr
    no_traceback(result)


def test_chain_of_a_blocked_leaf(fixture):
    root = fixture("status_flags")
    for args in (("chain", "SPEC/app/blocked"), ("chain", "--hash", "SPEC/app/blocked")):
        result = cfs(*args, cwd=root)
        assert result.returncode == 2
        assert "SPEC/nowhere" in result.stderr
        no_traceback(result)
    # What to do, and where the file and line are told.
    assert "fix the spec first (`cfs validate` names each error" in \
        cfs("chain", "SPEC/app/blocked", cwd=root).stderr


# -- accept ------------------------------------------------------------------------------------

def manifest_of(root: Path) -> str:
    return (root / "code-from-spec" / ".manifest").read_text()


def test_accept_modified_records_the_file_and_the_current_chain(valid):
    recorded = manifest_of(valid).splitlines()[1].split(";chain:")[1]
    assert cfs("status", cwd=valid).returncode == 0  # so the recorded chain is the current one
    (valid / "out" / "b.txt").write_bytes(b"hand edit\r\n")
    result = cfs("accept", "ARTIFACT/a/b", cwd=valid)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "accepted ARTIFACT/a/b (out/b.txt)\n"
    assert manifest_of(valid) == ("code-from-spec: v5\nARTIFACT/a/b;path:out/b.txt;checksum:"
                                  + checksum("hand edit\n") + ";chain:" + recorded + "\n")
    assert cfs("status", cwd=valid).returncode == 0


def test_accept_untracked_takes_the_current_chain(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Agent\ndo\n", front="output: out/a.txt"),
                 "out/a.txt": "mine\n"})
    result = cfs("accept", "out/a.txt", cwd=root)
    assert result.returncode == 0, result.stderr
    assert manifest_of(root) == ("code-from-spec: v5\nARTIFACT/a;path:out/a.txt;checksum:"
                                 + checksum("mine\n") + ";chain:" + chain_hash("do\n") + "\n")
    assert cfs("status", cwd=root).returncode == 0


def test_accept_stale_records_the_current_chain_and_keeps_the_recorded_path(valid):
    manifest = valid / "code-from-spec" / ".manifest"
    line = manifest_of(valid).splitlines()[1]
    name, _, checksum_field, _ = line.split(";")
    manifest.write_text(f"code-from-spec: v5\n{name};path:old/b.txt;{checksum_field};"
                        f"chain:{chain_hash('an older spec')}\n")
    assert cfs("accept", "SPEC/a/b", cwd=valid).returncode == 0
    assert manifest_of(valid) == f"code-from-spec: v5\n{line.replace('out/b.txt', 'old/b.txt')}\n"


@pytest.mark.parametrize("prepare, word", [
    (lambda root: None, "is up to date"),
    (lambda root: (root / "out" / "b.txt").unlink(), "no such file"),
])
def test_accept_refuses_an_up_to_date_or_missing_artifact(valid, prepare, word):
    prepare(valid)
    before = manifest_of(valid)
    result = cfs("accept", "SPEC/a/b", cwd=valid)
    assert result.returncode == 1
    assert word in result.stderr
    assert manifest_of(valid) == before
    no_traceback(result)


def test_accept_refuses_what_the_manifest_cannot_hold(tree):
    root = tree({"SPEC/a;b": spec("SPEC/a;b", front="output: out/ab.txt"), "out/ab.txt": "x\n"})
    result = cfs("accept", "out/ab.txt", cwd=root)
    assert result.returncode == 2
    assert "cannot accept ARTIFACT/a;b" in result.stderr and "cannot record" in result.stderr
    no_traceback(result)
    assert not (root / "code-from-spec" / ".manifest").exists()
    # v5 reports nothing for the name: for cfs it is a warning, the status as v5's.
    status = cfs("status", "--json", cwd=root)
    found = json.loads(status.stdout)
    assert [(e["rule"], e["severity"]) for e in found["errors"]] == [("node_name", "warning")]
    assert found["artifacts"][0]["status"] == ["stale", "untracked"]


def test_accept_a_node_without_output(valid):
    result = cfs("accept", "SPEC/a", cwd=valid)
    assert result.returncode == 3
    assert "declares no output" in result.stderr
    result = cfs("explain", "SPEC/a", cwd=valid)
    assert result.returncode == 3
    assert "declares no output: name a leaf that has one (`cfs status --all`" in result.stderr


def test_forget_of_a_name_without_an_entry_says_where_the_orphans_are(valid):
    result = cfs("forget", "ARTIFACT/nowhere", cwd=valid)
    assert result.returncode == 3
    assert result.stderr == ("cfs: ARTIFACT/nowhere has no manifest entry: nothing to forget "
                             "(`cfs status` lists the orphans, the entries cfs forget drops)\n")


# -- no traceback for broken input -------------------------------------------------------------

BROKEN = {
    "frontmatter": {"SPEC/a": spec("SPEC/a", front="output: [\n")},
    "mapping": {"SPEC/a": spec("SPEC/a", front="depends_on: {SPEC/b: 1}\noutput: out/a")},
    "types": {"SPEC/a": spec("SPEC/a", front="depends_on: SPEC/x\ninput: [1]\noutput: 3")},
    "not_utf8": {"SPEC/a": b"# SPEC/a\n\xff\n"},
    "bom": {"SPEC/a": b"\xef\xbb\xbf# SPEC/a\n"},
    "empty": {"SPEC/a": b""},
    "output_dir": {"SPEC/a": spec("SPEC/a", front="output: out/a"), "out/a/x": "x"},
    "output_not_utf8": {"SPEC/a": spec("SPEC/a", front="output: out/a"), "out/a": b"\xff"},
    "external_dir": {"SPEC/a": spec("SPEC/a", front="input: EXTERNAL/d\noutput: out/a"),
                     "d/x": "x"},
    "manifest": {"SPEC/a": spec("SPEC/a", front="output: out/a"),
                 "code-from-spec/.manifest": "code-from-spec: v5\ngarbage\n"},
    "manifest_not_utf8": {"SPEC/a": spec("SPEC/a", front="output: out/a"),
                          "code-from-spec/.manifest": b"\xff\xfe"},
    "manifest_dir": {"SPEC/a": spec("SPEC/a", front="output: out/a"),
                     "code-from-spec/.manifest/x": "x"},
}


COMMANDS = [("validate",), ("status",), ("status", "--json"), ("chain", "SPEC/a"),
            ("chain", "--hash", "SPEC/a"), ("accept", "SPEC/a")]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_no_traceback_for_broken_input(tree, case, capsys):
    root = tree(BROKEN[case])
    # Every command, in process (fast): main() must return an exit code, never raise.
    for args in COMMANDS:
        code = main(["-C", str(root), *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, (args, err)
        assert code in (0, 1, 2, 3), (args, code)
        if code == 3:
            assert err.startswith("cfs: "), (args, err)
    # And one real process, to see what a user sees.
    result = cfs("status", cwd=root)
    no_traceback(result)
    # Bytes that are not UTF-8 are hashed as they are (FORMAT.md 3): accept recorded them,
    # and a _node.md holding some is a node (with a warning).
    assert result.returncode in ((0,) if case in ("output_not_utf8", "not_utf8") else (1, 2, 3))


@pytest.mark.slow
@pytest.mark.parametrize("which", ["code-from-spec/a/_node.md", "out/a", "in.txt"])
def test_no_traceback_for_unreadable_files(tree, which):
    root = tree({"SPEC/a": spec("SPEC/a", front="input: EXTERNAL/in.txt\noutput: out/a"),
                 "out/a": "a\n", "in.txt": "in\n"})
    make_unreadable(root / which)
    for result in cfs_each(root, ("validate",), ("status", "--json"), ("chain", "SPEC/a"),
                           ("accept", "SPEC/a")):
        args = result.args
        no_traceback(result)
        # cfs chain is a preview (X5): an output it cannot read is simply not shown.
        ok = (0, 2) if args == ("validate",) or (args[0] == "chain" and which == "out/a") \
            else (1, 2, 3)
        assert result.returncode in ok, args
    if which.endswith("_node.md"):
        result = cfs("validate", cwd=root)
        assert result.returncode == 2
        # As root make_unreadable makes a link: the whole scan fails (FORMAT.md 1).
        rule = "scan: symbolic links" if (root / which).is_symlink() else "unreadable: cannot read"
        assert result.stdout.startswith(f"code-from-spec/a/_node.md: {rule}")


def test_damaged_manifest_names_the_line(tree):
    root = tree(BROKEN["manifest"])
    result = cfs("status", cwd=root)
    assert result.returncode == 3
    assert result.stderr.startswith("cfs: code-from-spec/.manifest:2: manifest line does not "
                                    "parse")


def test_forget_removes_only_orphans(vector):
    root = vector("statuses")
    refused = cfs("forget", "ARTIFACT/payments/fees/rounding", cwd=root)
    assert refused.returncode == 3 and "not an orphan" in refused.stderr
    result = cfs("forget", "ARTIFACT/gone/node", cwd=root)
    assert result.returncode == 0, result.stderr
    manifest = (root / "code-from-spec/.manifest").read_text()
    assert "ARTIFACT/gone/node" not in manifest
    assert manifest.count("\n") == 3
    nothing = cfs("forget", "--orphans", cwd=root)
    assert (nothing.returncode, nothing.stdout) == (0, "no orphans\n"), nothing.stderr
    assert cfs("forget", cwd=root).returncode == 3  # no name and no --orphans: a usage error


def test_a_closed_pipe_ends_quietly_with_the_sigpipe_code(vector):
    root = vector("statuses")  # stale: `cfs status` alone exits 1
    reader, writer = os.pipe()
    os.close(reader)  # like `cfs status | head -0`: nobody reads
    try:
        result = subprocess.run([sys.executable, "-m", "cfs_build.cli", "status"], cwd=root,
                                stdout=writer, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(writer)
    assert result.returncode == 141
    assert result.stderr == b""


def test_explain_of_a_node_whose_output_is_no_string_says_so(tree):
    # It has an output, one cfs refuses (X4): "declares no output" would send the user
    # looking for a missing key.
    root = tree({"SPEC/a": spec("SPEC/a", front="output: 123")})
    result = cfs("explain", "SPEC/a", cwd=root)
    assert result.returncode == 3
    assert result.stderr == ("cfs: SPEC/a has no artifact: its output is no string "
                             "(code-from-spec/a/_node.md:2); quote it\n")
