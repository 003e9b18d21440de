"""One judgement of whether an artifact needs generating, and the words it is made of.

`cfs status`, the build plan, doit's uptodate check and the refusal of hand-edited
files all take it from status.need_of; the flags, outcomes and severities are StrEnums
that print, compare and serialize as the plain words v5 uses.
"""
from __future__ import annotations

import itertools
import json
import marshal
import time

import pytest

from buildkit import make_project
from cfs_build.analysis import snapshot
from cfs_build.building.generate import BuildState, Outcome, Result
from cfs_build.errors import ERROR, WARNING, Finding, Severity
from cfs_build.state.manifest import update_manifest
from cfs_build.building.plan import needs_generator, plan_build
from cfs_build.analysis.project import Project
from cfs_build.building.run import default_reporter, run_build
from cfs_build.analysis.status import (FLAG_ORDER, Flag, Need, as_flags, file_flag, need_of,
                              plain_flags)
from cfs_build.building.tasks import make_tasks, task_name
from conftest import spec, write_tree


def every_flags_tuple():
    yield (Flag.UP_TO_DATE,)
    for size in range(1, len(FLAG_ORDER) + 1):
        yield from itertools.combinations(FLAG_ORDER, size)


@pytest.mark.parametrize("flags", list(every_flags_tuple()), ids=",".join)
def test_need_follows_the_rules_for_every_combination_of_flags(flags):
    need = need_of(flags)
    if flags == (Flag.UP_TO_DATE,):
        assert need is Need.NOTHING
    elif Flag.MODIFIED in flags or Flag.UNTRACKED in flags:
        assert need is Need.REFUSE  # a hand-edited file is kept, whatever else holds
    elif Flag.INVALID in flags:
        assert need is Need.FIX
    else:
        assert need is Need.GENERATE
    plain = tuple(str(flag) for flag in flags)
    assert need_of(plain) is need  # the snapshot's plain words give the same answer
    assert as_flags(plain) == flags and all(type(f) is Flag for f in as_flags(plain))
    assert all(type(word) is str for word in plain_flags(flags))


def test_the_words_print_and_serialize_as_v5_writes_them():
    assert json.dumps([Flag.UP_TO_DATE, Flag.STALE]) == '["up-to-date", "stale"]'
    assert json.dumps({Flag.ORPHAN: 1}, indent=2) == '{\n  "orphan": 1\n}'
    assert f"{Flag.MISSING} {Outcome.FINDINGS} {Severity.WARNING}" == "missing findings warning"
    assert ", ".join((Flag.STALE, Flag.MODIFIED)) == "stale, modified"
    with pytest.raises(ValueError):
        marshal.dumps(Flag.STALE)  # why the snapshot stores plain words
    assert marshal.loads(marshal.dumps(plain_flags((Flag.STALE,)))) == ("stale",)


def test_a_finding_read_back_with_a_plain_word_has_its_severity_again():
    finding = Finding("SPEC/x", "heading_text", "detail", severity="warning")
    assert finding.severity is WARNING
    assert Finding("SPEC/x", "r", "d").severity is ERROR
    assert "warning: " in finding.render()
    with pytest.raises(ValueError):
        Finding("SPEC/x", "r", "d", severity="fatal")


def test_a_file_is_judged_against_its_entry_in_one_place():
    class Entry:
        checksum = "c" * 27

    assert file_flag(None, Entry()) is Flag.MISSING
    assert file_flag("c" * 27, None) is Flag.UNTRACKED
    assert file_flag("d" * 27, Entry()) is Flag.MODIFIED
    assert file_flag("c" * 27, Entry()) is None


@pytest.fixture
def mixed(tmp_path, capfd):
    """buildproj built, then: model edited by hand, store's record dropped (and its chain
    changed with model's file), cli's spec edited, other's file deleted."""
    proj = make_project(tmp_path)
    assert run_build(Project(proj.root), reporter=default_reporter(out=None)).exit_code == 0
    capfd.readouterr()
    (proj.root / "gen/model.txt").write_text("edited by hand\n")
    with update_manifest(proj.root) as entries:
        del entries["ARTIFACT/app/core/store"]
    proj.edit("SPEC/app/cli", "Parse arguments", "Parse the arguments")
    (proj.root / "gen/other.txt").unlink()
    return proj


EXPECTED = {
    "ARTIFACT/app/core/model": ((Flag.MODIFIED,), Need.REFUSE),
    "ARTIFACT/app/core/store": ((Flag.STALE, Flag.UNTRACKED), Need.REFUSE),
    "ARTIFACT/app/cli": ((Flag.STALE,), Need.GENERATE),
    "ARTIFACT/other": ((Flag.MISSING,), Need.GENERATE),
}


def test_status_plan_uptodate_and_refusal_give_one_answer(mixed):
    project = Project(mixed.root)
    statuses = {s.name: s for s in project.report().artifacts}
    assert {name: (s.flags, s.need) for name, s in statuses.items()} == EXPECTED
    assert all(type(flag) is Flag for s in statuses.values() for flag in s.flags)
    assert project.report().exit_code == 1

    state = BuildState(mixed.root, project=project)
    for name, (_, need) in EXPECTED.items():
        assert state.is_up_to_date(name.replace("ARTIFACT/", "SPEC/", 1)) is \
            (need is Need.NOTHING)
    tasks = {task["basename"]: task for task in make_tasks(state)}
    refused = {name for name in tasks if tasks[name]["meta"].get("refused")}
    assert refused == {task_name(n.replace("ARTIFACT", "SPEC", 1))
                       for n, (_, need) in EXPECTED.items() if need is Need.REFUSE}
    plan = plan_build(state, [])
    assert plan.to_run == frozenset(EXPECTED)
    assert needs_generator(state, plan)
    only_refused = plan_build(state, ["ARTIFACT/app/core/model"])
    assert not needs_generator(state, only_refused)  # a hand-edited file asks no model


def test_a_generation_refused_or_done_says_so_with_an_outcome(mixed):
    state = BuildState(mixed.root)
    refused = state.generate("SPEC/app/core/model")
    assert refused.outcome is Outcome.REFUSED
    assert "gen/model.txt was edited by hand; refusing to overwrite it" in refused.message
    untracked = state.generate("SPEC/app/core/store")
    assert untracked.outcome is Outcome.REFUSED and "was not written by cfs" in untracked.message
    done = state.generate("SPEC/other")
    assert done.outcome is Outcome.GENERATED and (mixed.root / "gen/other.txt").exists()
    assert Result("SPEC/x", Outcome.FAILED).outcome == "failed"


def test_the_snapshot_round_trips_flags_and_severities(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "MARGIN", 20_000_000)
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", 20_000_000)
    root = write_tree(tmp_path / "proj", {
        # A warning from the node's own reading (kept in the index) ...
        "SPEC/app": spec("SPEC/app", "Root.\n\n# Public\n## `Foo` API\nf\n"),
        # ... and one from validation (kept in the snapshot's basis).
        "SPEC/app/idle": spec("SPEC/app/idle", "# Agent\nNothing to write to.\n"),
        "SPEC/app/made": spec("SPEC/app/made", "# Agent\nWrite it.\n", "output: out/made.py"),
        "SPEC/app/later": spec("SPEC/app/later", "# Agent\nWrite it.\n", "output: out/later.py"),
        "out/made.py": "made = 1\n",
    })

    def settle_and_read():
        time.sleep(0.03)  # past the margin: the analysis may be recorded
        return Project(root).report().as_dict()

    first = settle_and_read()
    again = Project(root)
    assert again.snapshot is not None, "the snapshot was not recorded"
    report = again.report()
    assert report.as_dict() == first
    assert {f.rule: f.severity for f in report.findings} == {
        "heading_text": WARNING, "agent_without_output": WARNING}
    assert all(type(f.severity) is Severity for f in report.findings)
    assert {s.name: s.flags for s in report.artifacts} == {
        "ARTIFACT/app/made": (Flag.STALE, Flag.UNTRACKED),
        "ARTIFACT/app/later": (Flag.STALE, Flag.MISSING)}
    assert all(type(flag) is Flag for s in report.artifacts for flag in s.flags)

    # Brought up to date from the snapshot (incremental.py), then recorded again.
    (root / "out/later.py").write_text("later = 1\n")
    time.sleep(0.03)
    updated = Project(root)
    assert updated.update is not None
    assert {s.name: s.flags for s in updated.report().artifacts} == {
        "ARTIFACT/app/made": (Flag.STALE, Flag.UNTRACKED),
        "ARTIFACT/app/later": (Flag.STALE, Flag.UNTRACKED)}
    after = updated.report().as_dict()
    recorded = Project(root)
    assert recorded.snapshot is not None and recorded.update is None
    assert recorded.report().as_dict() == after
    assert all(type(f.severity) is Severity for f in recorded.report().findings)
    assert all(type(flag) is Flag for s in recorded.report().artifacts for flag in s.flags)
