"""Every v5 vector case: chain hashes, checksums, paths, statuses and format errors."""
from __future__ import annotations

import json
from collections import defaultdict

import pytest

from cfs_build.project import Project
from conftest import VECTORS

CASES = sorted(p.name for p in VECTORS.iterdir() if (p / "expected.json").is_file())


def test_every_vector_case_is_checked():
    assert len(CASES) == 8


@pytest.mark.parametrize("case", CASES)
def test_vector(case, vector):
    root = vector(case)
    expected = json.loads((root / "expected.json").read_text())
    project = Project(root, use_index=False)
    report = project.report()
    by_name = {s.name: s for s in report.artifacts}

    for name, want in expected.get("artifacts", {}).items():
        got = by_name[name]
        assert got.chain == want["chain"], name
        assert got.checksum == want["checksum"], name
        assert got.path == want["path"], name

    if "status" in expected:
        got_status = {s.name: set(s.flags) for s in report.artifacts}
        got_status.update({o.name: {"orphan"} for o in report.orphans})
        assert got_status == {k: set(v) for k, v in expected["status"].items()}

    errors = defaultdict(set)
    for finding in report.errors:
        errors[finding.node].add(finding.rule)
    assert dict(errors) == {k: set(v) for k, v in expected.get("errors", {}).items()}


def test_format_errors_dependency_targets_count(vector):
    project = Project(vector("format_errors"), use_index=False)
    rules = [f.rule for f in project.findings if f.node == "SPEC/deps/a"]
    assert rules.count("dependency_targets") == 5


def test_cycle_names_every_member(vector):
    project = Project(vector("format_errors"), use_index=False)
    cycles = [f for f in project.findings if f.rule == "cycle"]
    assert {f.node for f in cycles} == {"SPEC/cyc/x", "SPEC/cyc/y"}
    for finding in cycles:
        assert "SPEC/cyc/x" in finding.detail and "SPEC/cyc/y" in finding.detail


def test_hidden_directory_is_never_a_node_or_error(vector):
    project = Project(vector("format_errors"), use_index=False)
    assert not any(".hidden" in name for name in project.nodes)
    assert not any(".hidden" in (f.file or "") for f in project.findings)
