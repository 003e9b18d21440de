"""Artifact statuses, orphans and ranks (FORMAT.md section 7 and the README's flags)."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from cfs_build.analysis.project import Project
from conftest import b64, chain_hash, checksum, make_unreadable, spec

CONTEXT = "## Context\nShared context.\n"


def chain_of(leaf: str) -> str:
    return chain_hash(CONTEXT, f"Make {leaf}.\n")


def manifest_line(leaf: str, path: str, file_text: str, chain: str | None = None) -> str:
    return (f"ARTIFACT/app/{leaf};path:{path};checksum:{checksum(file_text)};"
            f"chain:{chain or chain_of(leaf)}\n")


@pytest.fixture
def flags_project(fixture):
    root = fixture("status_flags")
    lines = [
        manifest_line("fresh", "out/fresh.txt", "fresh\n"),
        manifest_line("stale", "out/stale.txt", "stale\n", chain_hash("an older spec\n")),
        manifest_line("missing", "out/missing.txt", "was here\n"),
        manifest_line("modified", "out/modified.txt", "as first generated\n"),
        manifest_line("moved", "out/moved-old.txt", "moved\n"),
        manifest_line("noout", "out/noout.txt", "x\n", chain_hash()),
        "ARTIFACT/gone/node;path:out/gone.txt;checksum:" + checksum("g\n") + ";chain:"
        + chain_hash() + "\n",
    ]
    (root / "code-from-spec" / ".manifest").write_text(
        "code-from-spec: v5\n" + "".join(sorted(lines)))
    return root


def statuses(root):
    return {s.name: s for s in Project(root, use_index=False).report().artifacts}


def test_every_flag(flags_project):
    got = {name[len("ARTIFACT/app/"):]: s.flags for name, s in statuses(flags_project).items()}
    assert got == {
        "fresh": ("up-to-date",),
        "stale": ("stale",),
        "missing": ("missing",),
        "modified": ("modified",),
        "untracked": ("stale", "untracked"),
        "new": ("stale", "missing"),
        "moved": ("up-to-date",),  # the path the manifest records is not looked at
        "blocked": ("invalid", "stale", "missing"),
        "badpath": ("invalid", "stale"),  # X8: never opened; no entry, so stale
    }


def test_hashes_and_records(flags_project):
    s = statuses(flags_project)
    fresh = s["ARTIFACT/app/fresh"]
    assert fresh.up_to_date
    assert fresh.chain == fresh.recorded_chain == chain_of("fresh")
    assert fresh.checksum == fresh.recorded_checksum == checksum("fresh\n")
    assert fresh.rank == 1 and fresh.reasons == ()
    modified = s["ARTIFACT/app/modified"]
    assert modified.checksum == checksum("as generated\n")
    assert modified.recorded_checksum == checksum("as first generated\n")
    untracked = s["ARTIFACT/app/untracked"]
    assert (untracked.recorded_chain, untracked.recorded_checksum) == (None, None)
    assert untracked.reasons == ("no manifest entry",)
    assert s["ARTIFACT/app/moved"].reasons == ()
    missing = s["ARTIFACT/app/missing"]
    assert missing.checksum is None and missing.chain == chain_of("missing")


def test_invalid_has_no_chain_and_says_why(flags_project):
    s = statuses(flags_project)
    blocked = s["ARTIFACT/app/blocked"]
    assert blocked.chain is None
    assert any("SPEC/nowhere" in reason for reason in blocked.reasons)
    badpath = s["ARTIFACT/app/badpath"]
    # X8: the chain is still computed; the file is never opened, so no checksum.
    assert badpath.chain == chain_hash(CONTEXT) and badpath.checksum is None
    assert badpath.reasons == ("output path is invalid: path contains directory traversal",)


def test_orphans(flags_project):
    orphans = Project(flags_project, use_index=False).report().orphans
    assert [(o.name, o.path) for o in orphans] == [("ARTIFACT/app/noout", "out/noout.txt"),
                                                   ("ARTIFACT/gone/node", "out/gone.txt")]


def test_summary_and_exit_code(flags_project):
    report = Project(flags_project, use_index=False).report()
    assert report.summary() == {"up-to-date": 2, "stale": 5, "missing": 3, "modified": 1,
                                "untracked": 1, "orphan": 2, "errors": 2, "invalid": 2}
    assert report.exit_code == 2


def test_editing_a_spec_makes_its_artifact_stale(flags_project):
    node = flags_project / "code-from-spec" / "app" / "fresh" / "_node.md"
    node.write_text(node.read_text().replace("Make fresh.", "Make it fresher."))
    assert statuses(flags_project)["ARTIFACT/app/fresh"].flags == ("stale",)


def test_editing_an_ancestor_makes_every_artifact_below_stale(flags_project):
    node = flags_project / "code-from-spec" / "app" / "_node.md"
    node.write_text(node.read_text().replace("Shared context.", "New context."))
    assert statuses(flags_project)["ARTIFACT/app/fresh"].flags == ("stale",)


def test_crlf_artifact_is_not_modified(flags_project):
    (flags_project / "out" / "fresh.txt").write_bytes(b"fresh\r\n")
    assert statuses(flags_project)["ARTIFACT/app/fresh"].flags == ("up-to-date",)


def test_unreadable_artifact_is_reported_not_raised(flags_project):
    path = flags_project / "out" / "fresh.txt"
    path.unlink()
    path.mkdir()
    status = statuses(flags_project)["ARTIFACT/app/fresh"]
    assert status.flags == ("invalid",)  # X8: not a regular file, never opened
    assert status.checksum is None
    assert any("not a regular file" in reason for reason in status.reasons)


def test_artifact_that_cannot_be_read_is_reported_not_raised(flags_project):
    path = flags_project / "out" / "fresh.txt"
    make_unreadable(path)
    status = statuses(flags_project)["ARTIFACT/app/fresh"]
    # A link is not a regular file (X8); a file that cannot be opened is v5's "missing".
    assert status.flags == (("invalid",) if path.is_symlink() else ("missing",))
    assert status.checksum is None and status.reasons


def test_empty_artifact_checksum_is_that_of_no_bytes(flags_project):
    # FORMAT.md 7.3: validation and accept hash a 0-byte file as the empty byte string.
    (flags_project / "out" / "fresh.txt").write_bytes(b"")
    status = statuses(flags_project)["ARTIFACT/app/fresh"]
    assert status.checksum == "2jmj7l5rSw0yVb_vlWAYkK_YBwk"
    assert status.flags == ("modified",)


@pytest.mark.parametrize("recorded", ["", "\n"])
def test_empty_artifact_recorded_either_way_is_up_to_date(flags_project, recorded):
    # X7: v5's write_file records sha1 of one LF for empty content, accept sha1 of nothing.
    (flags_project / "out" / "fresh.txt").write_bytes(b"")
    manifest = flags_project / "code-from-spec" / ".manifest"
    empty = b64(hashlib.sha1(recorded.encode()).digest())
    manifest.write_text(manifest.read_text().replace(checksum("fresh\n"), empty))
    assert statuses(flags_project)["ARTIFACT/app/fresh"].flags == ("up-to-date",)


def test_non_utf8_artifact_is_hashed_as_bytes(flags_project):
    (flags_project / "out" / "fresh.txt").write_bytes(b"\xff\xfe")
    status = statuses(flags_project)["ARTIFACT/app/fresh"]
    assert status.flags == ("modified",)
    assert status.checksum == b64(hashlib.sha1(b"\xff\xfe\n").digest())


def test_everything_up_to_date_exits_zero(fixture):
    root = fixture("status_flags")
    keep = {"SPEC/app", "SPEC/app/fresh"}
    for child in (root / "code-from-spec" / "app").iterdir():
        if child.is_dir() and f"SPEC/app/{child.name}" not in keep:
            shutil.rmtree(child)
    (root / "code-from-spec" / ".manifest").write_text(
        "code-from-spec: v5\n" + manifest_line("fresh", "out/fresh.txt", "fresh\n"))
    report = Project(root, use_index=False).report()
    assert [s.flags for s in report.artifacts] == [("up-to-date",)]
    assert report.exit_code == 0


def test_waiting_for_an_artifact(tree):
    # The entry was recorded when out/a.txt was empty: its input position was "\n".
    recorded = "ARTIFACT/b;path:out/b.txt;checksum:" + checksum("b\n")
    recorded += ";chain:" + chain_hash(b"I", "\n")
    root = tree({"SPEC/a": spec("SPEC/a", front="output: out/a.txt"),
                 "SPEC/b": spec("SPEC/b", front="input: ARTIFACT/a\noutput: out/b.txt"),
                 "out/b.txt": "b",
                 "code-from-spec/.manifest": f"code-from-spec: v5\n{recorded}\n"})
    b = statuses(root)["ARTIFACT/b"]
    assert b.chain is None
    # 7.4: waiting adds no flag, and with an entry an unknown chain is not `stale`.
    assert b.flags == ("up-to-date",)
    assert any(reason.startswith("waiting for ARTIFACT/a") for reason in b.reasons)
    (root / "out" / "a.txt").write_text("")
    assert statuses(root)["ARTIFACT/b"].flags == ("up-to-date",)
    (root / "out" / "a.txt").write_text("a")
    assert statuses(root)["ARTIFACT/b"].flags == ("stale",)


def test_ancestor_parse_error_leaves_the_chain_null(tree):
    root = tree({"SPEC/r": spec("SPEC/r", front="output: [\n"),
                 "SPEC/r/l": spec("SPEC/r/l", "# Agent\ndo\n", front="output: out/l.txt")})
    report = Project(root, use_index=False).report()
    (status,) = report.artifacts
    assert status.name == "ARTIFACT/r/l"
    assert status.chain is None
    assert "invalid" in status.flags
    assert any("SPEC/r has format errors" in reason for reason in status.reasons)
    assert report.as_dict()["artifacts"][0]["chain"] is None


def test_broken_leaf_keeps_its_entry_and_is_no_orphan(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n# Public\n", front="output: out/a.txt"),
                 "code-from-spec/.manifest": "code-from-spec: v5\nARTIFACT/a;path:out/a.txt;"
                                             f"checksum:{checksum('x')};chain:{chain_hash()}\n"})
    report = Project(root, use_index=False).report()
    assert report.artifacts == () and report.orphans == ()
    assert [f.rule for f in report.findings] == ["duplicate_section"]


# -- ranks -------------------------------------------------------------------------------------

def test_ranks(fixture):
    project = Project(fixture("ranks"), use_index=False)
    assert project.findings == ()
    assert project.ranks == {
        "SPEC/root": 0,
        "SPEC/root/child": 1,
        "SPEC/root/child/leaf": 2,
        "SPEC/root/spec_user": 3,      # SPEC import: rank(dep) + 1
        "SPEC/root/art_user": 4,       # ARTIFACT import: rank(producer) + 2
        "SPEC/root/input_user": 6,     # ARTIFACT input counts like an import
        "SPEC/root/ext_user": 1,       # EXTERNAL counts for nothing: only the parent
        "SPEC/solo": 0,
        "SPEC/solo_input": 2,          # SPEC input (qualified) + 1
    }
    ranks = {s.name: s.rank for s in project.report().artifacts}
    assert ranks["ARTIFACT/root/input_user"] == 6 and ranks["ARTIFACT/solo"] == 0


def test_nodes_on_or_behind_a_cycle_have_no_rank(fixture):
    project = Project(fixture("cycles"), use_index=False)
    ranks = project.ranks
    assert ranks["SPEC/ring"] == 0
    for member in ("SPEC/ring/a", "SPEC/ring/b", "SPEC/ring/c", "SPEC/ring/d"):
        assert ranks[member] is None


def test_a_hand_written_entry_without_an_artifact_name_is_an_orphan_saying_so(flags_project):
    # v5 reads a line whatever its first field is (FORMAT.md 7.2): it is an orphan, and
    # the advice is about its name, not about a node that never was.
    from cfs_build.analysis.explain import explain
    manifest = flags_project / "code-from-spec/.manifest"
    manifest.write_text(manifest.read_text() + "garbage;left.txt;c;h\n")
    project = Project(flags_project, use_index=False)
    assert ("garbage", "left.txt") in [(o.name, o.path) for o in project.report().orphans]
    said = explain(project, "garbage")
    assert said.reasons[0] == "'garbage' names no artifact (an entry's name is ARTIFACT/<node>)"


def test_an_entry_the_length_of_artifact_slash_is_no_node_s_entry(flags_project):
    # "artifact/app/fresh", cut where "ARTIFACT/" ends, would be SPEC/app/fresh, a live
    # node: explain of that node must explain the node, and the orphan belongs to none.
    from cfs_build.analysis.explain import explain
    manifest = flags_project / "code-from-spec/.manifest"
    manifest.write_text(manifest.read_text() + "artifact/app/fresh;left.txt;c;h\n")
    project = Project(flags_project, use_index=False)
    assert explain(project, "SPEC/app/fresh").name == "ARTIFACT/app/fresh"
    said = explain(project, "artifact/app/fresh")
    assert (said.name, said.node, said.flags) == ("artifact/app/fresh", None, ("orphan",))


@pytest.mark.parametrize("name, forget", [("", "cfs forget ''"),
                                          ("ARTIFACT/", "cfs forget ARTIFACT/"),
                                          ("ARTIFACT/a b", "cfs forget 'ARTIFACT/a b'")])
def test_an_odd_entry_name_is_explained_by_its_own_name_with_advice_a_shell_runs(
        flags_project, name, forget):
    from cfs_build.analysis.explain import explain
    manifest = flags_project / "code-from-spec/.manifest"
    manifest.write_text(manifest.read_text() + f"{name};left.txt;c;h\n")
    said = explain(Project(flags_project, use_index=False), name)
    assert said.name == name
    assert f"`{forget}` drops the entry" in said.reasons[-1]


def test_an_orphan_outside_the_project_has_no_heir_among_invalid_outputs(flags_project):
    # Neither "/etc/passwd" nor app/badpath's output is a project path: not the same file.
    from cfs_build.analysis.explain import explain
    manifest = flags_project / "code-from-spec/.manifest"
    manifest.write_text(manifest.read_text()
                        + "ARTIFACT/gone2;path:/etc/passwd;checksum:c;chain:h\n")
    said = explain(Project(flags_project, use_index=False), "ARTIFACT/gone2")
    assert said.reasons[0] == "SPEC/gone2 no longer exists (deleted, renamed or moved)"
