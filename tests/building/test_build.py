"""Builds through real doit runs with a real subprocess generator (tests/scripted_gen.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from buildkit import make_project, still_running

ALL = ["ARTIFACT/app/cli", "ARTIFACT/app/core/model", "ARTIFACT/app/core/store",
       "ARTIFACT/other"]
# The first line of each fixture leaf's # Agent text identifies the leaf in the log.
MODEL, STORE, CLI, OTHER = ("Write the model.", "Store models in memory.",
                            "Parse arguments and print models.", "Say hello.")


@pytest.fixture
def proj(tmp_path):
    return make_project(tmp_path)


@pytest.fixture
def built(proj):
    proj.doit(check=True)
    proj.reset_log()
    return proj


@pytest.mark.slow
def test_first_build_generates_everything_and_records_it(proj):
    result = proj.doit()
    assert result.returncode == 0, result.stderr
    assert proj.generated_nodes() == sorted([MODEL, STORE, CLI, OTHER])
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())
    manifest = (proj.root / "code-from-spec/.manifest").read_text()
    assert manifest.splitlines()[0] == "code-from-spec: v5"
    assert [line.split(";")[0] for line in manifest.splitlines()[1:]] == ALL
    assert "4 generated" in result.stdout


@pytest.mark.slow
def test_producer_is_generated_before_its_consumer(proj):
    proj.doit("-n", "4", "-P", "thread", check=True)
    order = [call["document"] for call in proj.calls()]
    model_at = next(i for i, d in enumerate(order) if MODEL in d)
    store_at = next(i for i, d in enumerate(order) if STORE in d)
    assert model_at < store_at
    store_doc = order[store_at]
    model_file = (proj.root / "gen/model.txt").read_text()
    assert f'<entry name="ARTIFACT/app/core/model">\n{model_file}</entry>' in store_doc


@pytest.mark.slow
def test_second_build_makes_no_generator_call(built):
    result = built.doit()
    assert result.returncode == 0
    assert built.calls() == []
    result = built.cfs("build")
    assert result.returncode == 0 and built.calls() == []
    assert "0 generated" in result.stdout and "4 up to date" in result.stdout


@pytest.mark.slow
def test_agent_edit_regenerates_that_artifact_and_its_consumers(built):
    built.edit("SPEC/app/core/model", "Write the model.", "Write the model.\nUse slots.")
    built.doit(check=True)
    # store imports ARTIFACT/app/core/model: same run, after model.
    assert built.generated_nodes() == sorted([MODEL, STORE])


@pytest.mark.slow
def test_ancestor_public_edit_regenerates_exactly_its_descendants(built):
    built.edit("SPEC/app/core", "Failures raise CoreError.", "Failures raise CoreFailure.")
    built.doit(check=True)
    # cli imports only SPEC/app/core/model(interface): the model's own Public is unchanged.
    assert built.generated_nodes() == sorted([MODEL, STORE])


@pytest.mark.slow
def test_root_public_edit_reaches_every_leaf_below(built):
    built.edit("SPEC/app", "Every module is plain text.", "Every module is UTF-8 text.")
    built.doit(check=True)
    assert built.generated_nodes() == sorted([MODEL, STORE, CLI])


@pytest.mark.slow
def test_imported_subsection_edit_regenerates_the_importer(built):
    built.edit("SPEC/app/core/model", "Model(id: int)", "Model(id: int, name: str)")
    built.doit(check=True)
    assert built.generated_nodes() == sorted([MODEL, STORE, CLI])


@pytest.mark.slow
def test_private_edit_and_boundary_blank_lines_regenerate_nothing(built):
    built.edit("SPEC/app", "Reviewed by the platform team.", "Reviewed again.")
    built.edit("SPEC/other", "Say hello.", "\n\nSay hello.\n\n")
    built.edit("SPEC/app/core/model", "## Interface\n", "## Interface   \n\n\n")
    result = built.doit()
    assert result.returncode == 0
    assert built.calls() == []


@pytest.mark.slow
def test_subtree_build_with_doit_wildcard(built):
    built.edit("SPEC/app", "Every module is plain text.", "Every module is UTF-8 text.")
    built.edit("SPEC/other", "Say hello.", "Say hello twice.")
    built.doit("gen:app/core/*", check=True)
    assert built.generated_nodes() == sorted([MODEL, STORE])
    assert built.flags()["ARTIFACT/app/cli"] == ["stale"]
    assert built.flags()["ARTIFACT/other"] == ["stale"]


@pytest.mark.slow
def test_subtree_build_also_rebuilds_a_stale_producer_outside_it(built):
    built.edit("SPEC/app/core/model", "Write the model.", "Write the model carefully.")
    built.edit("SPEC/other", "Say hello.", "Say hello twice.")
    result = built.cfs("build", "SPEC/app/core/store")
    assert result.returncode == 0, result.stderr
    assert built.generated_nodes() == sorted([MODEL, STORE])
    assert built.flags()["ARTIFACT/other"] == ["stale"]


@pytest.mark.slow
def test_build_by_artifact_name_and_by_output_path(built):
    built.edit("SPEC/other", "Say hello.", "Say hi.")
    built.edit("SPEC/app/cli", "Parse arguments", "Parse the arguments")
    built.cfs("build", "gen/other.txt", check=True)
    assert len(built.calls()) == 1
    built.cfs("build", "ARTIFACT/app/cli", check=True)
    assert len(built.calls()) == 2
    assert all(f == ["up-to-date"] for f in built.flags().values())


@pytest.mark.slow
def test_findings_fail_the_task_write_nothing_and_are_saved(built):
    built.edit("SPEC/other", "Say hello.", "Say hello. CANNED-FINDINGS")
    built.edit("SPEC/app/cli", "Parse arguments", "Parse all arguments")
    before = (built.root / "gen/other.txt").read_bytes()
    result = built.cfs("build")
    assert result.returncode == 1
    assert "which currency" in result.stdout
    assert (built.root / "gen/other.txt").read_bytes() == before
    report = built.root / ".cfs/reports/other.findings.txt"
    assert "which currency" in report.read_text()
    # The independent generation still happened.
    assert built.flags()["ARTIFACT/app/cli"] == ["up-to-date"]
    assert built.flags()["ARTIFACT/other"] == ["stale"]


@pytest.mark.slow
def test_unusable_reply_and_failing_command_are_failures(built):
    built.edit("SPEC/other", "Say hello.", "CANNED-GARBAGE")
    built.edit("SPEC/app/cli", "Parse arguments", "CANNED-FAIL")
    result = built.cfs("build")
    assert result.returncode == 1
    assert "no <artifact> line" in result.stdout
    assert "scripted failure" in result.stdout and "status 3" in result.stdout
    saved = built.root / ".cfs/reports/other.reply.txt"
    assert saved.read_text().strip() == "I am not sure what to do."


def test_a_fenced_file_is_unwrapped_and_two_artifact_blocks_are_a_failure(proj):
    proj.edit("SPEC/other", "Say hello.", "CANNED-FENCED")
    proj.edit("SPEC/app/cli", "Parse arguments", "CANNED-TWICE")
    result = proj.cfs("build")
    assert result.returncode == 1
    assert (proj.root / "gen/other.txt").read_text() == "fenced content\n"
    lines = result.stdout.splitlines()
    said = lines.index("  the generator wrapped the file in a ``` fence; it was removed")
    assert lines[said - 1].startswith("generated gen:other ")
    assert "more than one <artifact> block" in result.stdout
    assert not (proj.root / "gen/cli.txt").exists()
    log = (proj.root / ".cfs/runs.jsonl").read_text()
    logged = [json.loads(line) for line in log.splitlines()]
    note = next(entry["message"] for entry in logged if entry["node"] == "SPEC/other")
    assert note == "gen/other.txt: the generator wrapped the file in a ``` fence; it was removed"


@pytest.mark.slow
def test_modified_artifact_is_never_overwritten(built):
    target = built.root / "gen/model.txt"
    target.write_text("hand edited\n")
    built.edit("SPEC/app/core/model", "Write the model.", "Write the model again.")
    result = built.cfs("build")
    assert result.returncode == 1
    assert "cfs accept ARTIFACT/app/core/model" in result.stdout
    # Refused, not generated: no "generating" line, the path said once, counted apart.
    assert "REFUSED gen:app/core/model" in result.stdout
    assert "generating gen:app/core/model" not in result.stdout
    assert result.stdout.count("gen/model.txt") == 1
    assert "0 failed, 1 refused, 1 not attempted" in result.stdout  # and its consumer
    assert target.read_text() == "hand edited\n"
    assert MODEL not in "".join(c["document"] for c in built.calls())


def test_untracked_file_is_never_overwritten(proj):
    (proj.root / "gen").mkdir()
    (proj.root / "gen/other.txt").write_text("mine\n")
    result = proj.cfs("build")
    assert result.returncode == 1
    assert (proj.root / "gen/other.txt").read_text() == "mine\n"
    assert "was not written by cfs" in result.stdout


def test_deleting_doit_state_causes_no_regeneration(built):
    for leftover in (built.root / ".cfs").glob("doit-state*"):
        leftover.unlink()
    result = built.doit()
    assert result.returncode == 0
    assert built.calls() == []


@pytest.mark.slow
def test_identical_regeneration_leaves_file_untouched(built):
    built.edit("SPEC/other", "Say hello.", "Say hello. CANNED-CONSTANT")
    built.doit(check=True)
    target = built.root / "gen/other.txt"
    stamp = target.stat().st_mtime_ns
    time.sleep(0.01)
    built.edit("SPEC/other", "CANNED-CONSTANT", "CANNED-CONSTANT again")
    result = built.doit()
    assert result.returncode == 0
    assert len(built.calls()) == 2
    assert target.stat().st_mtime_ns == stamp
    assert "identical" in result.stdout
    assert built.flags()["ARTIFACT/other"] == ["up-to-date"]


def test_generator_runs_confined_in_an_empty_directory(proj):
    proj.doit(check=True)
    for call in proj.calls():
        assert call["cwd_files"] == []
        assert not call["cwd"].startswith(str(proj.root))
        assert not os.path.exists(call["cwd"])
    assert not list(proj.root.rglob("stray-output.txt"))


def test_second_generation_sees_history_with_dispositions(built):
    built.edit("SPEC/app/core/model", "Write the model.", "Write the model twice.")
    built.doit("gen:app/core/model", check=True)
    (call,) = built.calls()
    document = call["document"]
    assert "<previous_instructions>" in document
    assert '<instructions disposition="changed">' in document
    assert '<entry name="SPEC/app" disposition="unchanged">' in document
    assert "<existing_artifact>" in document


def test_doit_list_shows_one_task_per_artifact_with_intent(proj):
    result = proj.doit("list")
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines == {"gen:app/cli": "The command line.",
                     "gen:app/core/model": "The data model.",
                     "gen:app/core/store": "Storage for models.",
                     "gen:other": "An independent root.",
                     "verify": "no [[verify]] in cfs.toml: no tests to run"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_parallel_generations_overlap(tmp_path, mode):
    proj = make_project(tmp_path, sleep=0.4)
    proj.doit("-n", "3", "-P", mode, check=True)
    calls = proj.calls()
    assert len(calls) == 4
    starts = sorted(c["start"] for c in calls)
    # Three independent leaves start together, long before the first one could finish.
    assert starts[2] - starts[0] < 0.4
    assert all(f == ["up-to-date"] for f in proj.flags().values())


def test_format_errors_stop_the_build_with_a_clear_message(proj):
    proj.spec("SPEC/other").write_text("---\noutput: [\n---\n# SPEC/other\n")
    result = proj.cfs("build")
    assert result.returncode == 2
    assert "malformed_frontmatter" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    result = proj.doit()
    assert result.returncode != 0
    assert "malformed_frontmatter" in result.stderr
    assert "Traceback" not in result.stderr
    assert proj.calls() == []


@pytest.mark.slow
def test_sigkill_mid_build_then_clean_rerun(tmp_path):
    proj = make_project(tmp_path, sleep=0.5)
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "build", "-j", "4"],
                             cwd=proj.root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=proj.env())
    deadline = time.monotonic() + 20
    while len(proj.calls()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(proj.calls()) >= 3
    child.send_signal(signal.SIGKILL)
    child.wait()
    # Let the orphaned generator programs finish writing to a dead pipe.
    assert not any(still_running(call["pid"], wait=20) for call in proj.calls())
    manifest = proj.root / "code-from-spec/.manifest"
    if manifest.exists():
        assert manifest.read_text().startswith("code-from-spec: v5\n")
    result = proj.cfs("build")
    assert result.returncode == 0, result.stdout + result.stderr
    flags = proj.flags()
    assert all(f == ["up-to-date"] for f in flags.values()), flags


@pytest.mark.slow
def test_crash_between_write_and_record_is_settled(built):
    """A journaled write whose manifest update never happened is recorded by the next build."""
    from cfs_build.state.artifacts import PENDING, _journal
    from cfs_build.reading.hashing import checksum
    from cfs_build.state.manifest import ManifestEntry
    built.edit("SPEC/other", "Say hello.", "Say hello, world.")
    chain = built.status()["artifacts"][-1]["chain"]
    content = "written just before the crash\n"
    (built.root / "gen/other.txt").write_text(content)
    entry = ManifestEntry("ARTIFACT/other", "gen/other.txt", checksum(content), chain)
    journal = _journal(built.root, "ARTIFACT/other")
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text(json.dumps(entry.__dict__))
    manifest = (built.root / "code-from-spec/.manifest").read_bytes()
    # Reading sees the write as recorded, and writes nothing itself ...
    assert built.flags()["ARTIFACT/other"] == ["up-to-date"]
    assert (built.root / "code-from-spec/.manifest").read_bytes() == manifest
    assert list((built.root / PENDING).iterdir())
    # ... the next command that writes records it.
    built.cfs("build", check=True)
    assert built.calls() == []
    assert entry.line() in (built.root / "code-from-spec/.manifest").read_text()
    assert not list((built.root / PENDING).iterdir())


def test_ctrl_c_stops_generations_and_leaves_the_manifest_consistent(tmp_path):
    proj = make_project(tmp_path, sleep=5)
    child = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", "build", "-j", "4"],
                             cwd=proj.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=proj.env())
    deadline = time.monotonic() + 20
    while len(proj.calls()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert "interrupted" in err and "Traceback" not in err + out
    for call in proj.calls():
        assert not still_running(call["pid"])
    assert not (proj.root / "gen").exists()
    assert not (proj.root / "code-from-spec/.manifest").exists()



def test_cfs_chain_prints_exactly_what_the_generator_receives(built):
    built.edit("SPEC/app/core", "Failures raise CoreError.", "Failures raise CoreFailure.")
    shown = built.cfs("chain", "SPEC/app/core/model", check=True).stdout
    built.cfs("build", "SPEC/app/core/model", check=True)
    sent = [c["document"] for c in built.calls() if MODEL in c["document"]]
    assert sent == [shown]
    assert '<entry name="SPEC/app/core" disposition="changed">' in shown


def test_an_accepted_file_has_history_once_its_chain_is_cached(proj):
    # accept writes nothing to the cache (FORMAT.md 8), as v5: the history comes from
    # `cfs cache reconstruct` (or an earlier generation) of the chain it recorded.
    (proj.root / "gen").mkdir()
    (proj.root / "gen/other.txt").write_text("hand written\n")
    proj.cfs("accept", "ARTIFACT/other", check=True)
    proj.cfs("cache", "reconstruct", check=True)
    proj.edit("SPEC/other", "Say hello.", "Say hello twice.")
    proj.cfs("build", "SPEC/other", check=True)
    (call,) = proj.calls()
    assert "<previous_instructions>" in call["document"]
    assert '<instructions disposition="changed">' in call["document"]


@pytest.mark.slow
def test_output_paths_resolve_from_where_cfs_was_started(built):
    built.edit("SPEC/other", "Say hello.", "Say hi.")
    gen = built.root / "gen"
    for args in (("chain", "--hash", "other.txt"), ("build", "other.txt")):
        result = subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=gen,
                                capture_output=True, text=True, timeout=60, env=built.env())
        assert result.returncode == 0, result.stderr
    assert built.flags()["ARTIFACT/other"] == ["up-to-date"]


def test_cfs_build_in_process_leaves_the_callers_streams_in_place(tmp_path, monkeypatch):
    # doit swaps sys.stdout/sys.stderr around each action; generations in threads
    # interleave those swaps, which could leave doit's capture object behind.
    import io

    from cfs_build import cli
    for attempt in range(3):
        proj = make_project(tmp_path / f"try{attempt}")
        monkeypatch.chdir(proj.root)
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        monkeypatch.setattr("sys.stderr", err)
        assert cli.main(["-C", str(proj.root), "build", "-j", "4"]) == 0
        assert sys.stdout is out and sys.stderr is err
        assert "cfs: 4 generated" in out.getvalue()


def test_doit_keeps_a_digest_per_generation_not_its_summary(proj):
    # doit reads and writes its whole json state on every run; what a generation
    # returns for the reporter is a text, of which doit keeps only a digest.
    result = proj.doit(check=True)
    assert "generated gen:app/cli (" in result.stdout
    state = json.loads((proj.root / ".cfs/doit-state").read_text())
    entry = state["gen:app/cli"]
    assert entry["_values_:"] == {}
    assert len(entry["result:"]) == 32 and int(entry["result:"], 16) >= 0


def test_a_second_cfs_build_in_the_same_process_sees_an_edit(tmp_path, monkeypatch, capfd):
    from cfs_build import cli
    proj = make_project(tmp_path)
    monkeypatch.chdir(proj.root)
    assert cli.main(["-C", str(proj.root), "build"]) == 0
    proj.edit("SPEC/other", "Say hello.", "Say goodbye.")
    proj.reset_log()
    assert cli.main(["-C", str(proj.root), "build"]) == 0
    calls = proj.calls()
    assert len(calls) == 1 and "Say goodbye." in calls[0]["document"]
    assert "cfs: 1 generated, 3 up to date" in capfd.readouterr().out


def test_a_task_of_ones_own_runs_after_the_generations_it_names(proj):
    # As the README says: tasks carry no doit targets, so a task using generated files
    # names the generation in task_dep (with a file_dep to rerun when a file changes).
    (proj.root / "dodo.py").write_text(
        "from cfs_build.dodo import *\n\n"
        "def task_count():\n"
        "    return {'actions': ['wc -c < gen/other.txt > count.txt'],\n"
        "            'file_dep': ['gen/other.txt'], 'task_dep': ['gen:*'],\n"
        "            'targets': ['count.txt']}\n")
    result = proj.doit("count", check=True)
    assert "cfs: 4 generated" in result.stdout
    size = (proj.root / "gen/other.txt").stat().st_size
    assert int((proj.root / "count.txt").read_text()) == size


@pytest.mark.slow
def test_a_name_the_manifest_cannot_hold_is_never_sent_to_the_generator(proj):
    # v5 reports nothing for a ';' in a directory name (a node_name warning for cfs), but
    # the manifest cannot record it: the build fails that node without asking the model,
    # and builds the others.
    odd = proj.root / "code-from-spec/odd;name"
    odd.mkdir()
    (odd / "_node.md").write_text("---\noutput: gen/odd.txt\n---\n# SPEC/odd;name\n\n"
                                  "# Agent\n\nSay odd.\n")
    result = proj.cfs("build")
    assert result.returncode != 0
    assert "cannot record 'ARTIFACT/odd;name'" in result.stdout + result.stderr
    assert "Say odd." not in "".join(call["document"] for call in proj.calls())
    assert len(proj.calls()) == 4
    assert not (proj.root / "gen/odd.txt").exists()
    assert "odd;name" not in (proj.root / "code-from-spec/.manifest").read_text()


def test_a_directory_named_as_another_s_escape_is_a_task_of_its_own(tmp_path):
    # doit's task names show control characters escaped: a directory named with the
    # escape's text (a backslash, then x9b) must not take the same name, or doit refuses
    # every task of the build ("duplicated definition").
    from conftest import spec
    proj = make_project(tmp_path)
    for name, out in (("a\x9b", "gen/control.txt"), ("a\\x9b", "gen/text.txt")):
        (proj.root / "code-from-spec" / name).mkdir()
        proj.spec(f"SPEC/{name}").write_text(spec(f"SPEC/{name}", "# Agent\n\nMake it.\n",
                                                  front=f"output: {out}"))
    result = proj.cfs("build")
    assert "duplicated" not in result.stdout + result.stderr
    assert (proj.root / "gen/text.txt").exists()


def test_doit_list_never_prints_a_spec_s_escape_sequences(tmp_path):
    # doit prints task names and docs as they are: the intent line is free text of the
    # checkout, and a node directory may be named with a bidi override or a C1 control.
    from conftest import spec
    proj = make_project(tmp_path)
    hostile = "x\u202etxt.exe\x9b2J"
    (proj.root / "code-from-spec" / hostile).mkdir()
    (proj.spec(f"SPEC/{hostile}")).write_text(spec(
        f"SPEC/{hostile}", "Click \x1b]8;;http://evil\x07here\x1b]8;;\x07 \x1b[2J\x07\r\n\n"
        "# Agent\n\nMake it.\n", front="output: gen/hostile.txt"))
    result = proj.doit("list", check=True)
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert raw not in result.stdout, result.stdout
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["gen:x\\u202etxt.exe\\x9b2J"] == \
        "Click \\x1b]8;;http://evil\\x07here\\x1b]8;;\\x07 \\x1b[2J\\x07"
    # The name doit shows is the name it takes.
    proj.doit("gen:x\\u202etxt.exe\\x9b2J", check=True)
    assert (proj.root / "gen/hostile.txt").exists()
    assert [c["labels"] for c in proj.calls()] == [[]]
