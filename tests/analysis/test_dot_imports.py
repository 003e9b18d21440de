"""A chain naming a node inside a dot directory: no part of the tree (FORMAT.md 1), so
validation calls the name unknown, yet v5 reads that node by its path into the chain's
hash and document, and cfs must too (and notice when it changes)."""
from __future__ import annotations

import contextlib
import shutil
import time

import pytest

from cfs_build.analysis import snapshot
from cfs_build.analysis.project import Project
from cfs_build.building.v5tools import Refusal, load_chain, validate_specs, write_file
from conftest import chain_hash, spec

SHARED = "## Interface\nshared api\n\n## Other\nmore\n"
INTERFACE = "## Interface\nshared api\n"
APP = "## A\ntext\n"
MADE = "gen shared\n"


def dot_tree(tree, shared: str | None = None):
    """SPEC/app/imp takes from the node in code-from-spec/.shared/x a subsection, its
    artifact and (as input) its whole public; SPEC/app/plain imports only that node."""
    return tree({
        "SPEC/.shared/x": shared if shared is not None else spec(
            "SPEC/.shared/x", "# Public\n" + SHARED, "output: out/shared.txt"),
        "SPEC/app": spec("SPEC/app", "# Public\n" + APP),
        "SPEC/app/imp": spec("SPEC/app/imp", "# Agent\nDo it.\n",
                             "depends_on: [SPEC/.shared/x(Interface), ARTIFACT/.shared/x]\n"
                             "input: SPEC/.shared/x\noutput: out/imp.txt"),
        "SPEC/app/plain": spec("SPEC/app/plain", "# Agent\nPlain.\n",
                               "depends_on: [SPEC/.shared/x]\noutput: out/plain.txt"),
        "out/shared.txt": MADE,
    })


def imp_hash(shared: str = SHARED, interface: str = INTERFACE, made: str = MADE) -> str:
    # FORMAT.md 6: the ancestor, the imports sorted by name without qualifier (ARTIFACT/
    # before SPEC/), the agent, then the marker and the input's public content.
    return chain_hash(APP, made, interface, "Do it.\n", b"I", shared)


def flags(root) -> dict[str, tuple[str, ...]]:
    return {s.name: tuple(s.flags) for s in Project(root, use_index=False).report().artifacts}


def test_the_chain_reads_the_node_in_the_dot_directory(tree):
    root = dot_tree(tree)
    project = Project(root, use_index=False)
    chain = project.chain("SPEC/app/imp")
    assert chain.hash == imp_hash()
    assert [p.label for p in chain.positions] == [
        "SPEC/app", "ARTIFACT/.shared/x", "SPEC/.shared/x(Interface)", "AGENT[SPEC/app/imp]",
        "INPUT[SPEC/.shared/x]"]
    assert project.chain("SPEC/app/plain").hash == chain_hash(APP, SHARED, "Plain.\n")
    assert load_chain(root, "SPEC/app/imp") == (
        "<chain>\n<constraints>\n"
        f'<entry name="SPEC/app">\n{APP}</entry>\n'
        f'<entry name="ARTIFACT/.shared/x">\n{MADE}</entry>\n'
        f'<entry name="SPEC/.shared/x(Interface)">\n{INTERFACE}</entry>\n'
        "</constraints>\n<instructions>\nDo it.\n</instructions>\n"
        f"<input>\n{SHARED}</input>\n</chain>\n")
    # The whole analysis agrees (not read lean), and records that chain.
    assert load_chain(Project(root, use_index=False), "SPEC/app/imp") == \
        load_chain(root, "SPEC/app/imp")
    assert write_file(root, "SPEC/app/imp", "made\n") == "wrote out/imp.txt"
    assert f"chain:{imp_hash()}" in (root / "code-from-spec/.manifest").read_text()
    assert flags(root)["ARTIFACT/app/imp"] == ("up-to-date",)


def test_validation_still_calls_the_names_unknown(tree):
    root = dot_tree(tree)
    write_file(root, "SPEC/app/imp", "made\n")
    assert validate_specs(root) == (
        "Format errors:\n"
        "  [SPEC/app/imp] dependency_targets: depends_on references unknown SPEC node: "
        "SPEC/.shared/x(Interface)\n"
        "  [SPEC/app/imp] dependency_targets: depends_on references unknown ARTIFACT: "
        "ARTIFACT/.shared/x\n"
        "  [SPEC/app/imp] input_target: input references unknown SPEC node: SPEC/.shared/x\n"
        "  [SPEC/app/plain] dependency_targets: depends_on references unknown SPEC node: "
        "SPEC/.shared/x\n"
        "Staleness:\n"
        "  [missing] SPEC/app/plain (out/plain.txt) rank=0: no manifest entry\n")
    # cfs's own words say what the reference does all the same.
    details = [f.detail for f in Project(root, use_index=False).findings]
    assert all("code-from-spec/.shared/x/ lies in a dot directory" in d for d in details)
    assert len(details) == 4


def test_a_missing_or_unparsable_node_there_stops_the_chain(tree):
    root = dot_tree(tree)
    where = root / "code-from-spec/.shared/x/_node.md"
    where.write_text(spec("SPEC/.shared/y", "# Public\n" + SHARED))
    with pytest.raises(Refusal) as refused:
        load_chain(root, "SPEC/app/plain")
    assert str(refused.value) == ('computing chain hash: parse failure: SPEC/.shared/x: node '
                                  'name does not match: got "spec/.shared/y", want '
                                  '"spec/.shared/x"')
    assert "invalid" in flags(root)["ARTIFACT/app/plain"]
    where.unlink()
    with pytest.raises(Refusal) as refused:
        load_chain(root, "SPEC/app/imp")
    assert str(refused.value) == (
        'resolving chain: unresolvable artifact: resolving artifact "ARTIFACT/.shared/x": '
        f'file unreadable: cannot open file "{root}/code-from-spec/.shared/x/_node.md" for '
        "reading: file unreadable")
    assert "invalid" in flags(root)["ARTIFACT/app/imp"]


def test_load_chain_of_the_node_there_reads_its_ancestors_by_path(tree):
    # v5 parses the target by its path; its ancestors then are SPEC/.shared, read the same way.
    root = dot_tree(tree)
    with pytest.raises(Refusal) as refused:
        load_chain(root, "SPEC/.shared/x")
    assert str(refused.value) == (
        "computing chain hash: parse failure: ancestor SPEC/.shared: file unreadable: cannot "
        f'open file "{root}/code-from-spec/.shared/_node.md" for reading: file unreadable')
    (root / "code-from-spec/.shared/_node.md").write_text(
        spec("SPEC/.shared", "# Public\n## Top\ntop\n"))
    assert load_chain(root, "SPEC/.shared/x") == (
        f"<chain>\n<existing_artifact>\n{MADE}</existing_artifact>\n<constraints>\n"
        '<entry name="SPEC/.shared">\n## Top\ntop\n</entry>\n'
        f'<entry name="SPEC/.shared/x">\n{SHARED}</entry>\n</constraints>\n</chain>\n')
    # Still no node of the tree: no status of its own, and no node for `cfs`.
    assert "ARTIFACT/.shared/x" not in flags(root)


@contextlib.contextmanager
def short_margin(seconds: float = 0.005):
    saved = snapshot.MARGIN, snapshot.COARSE_MARGIN
    snapshot.MARGIN = snapshot.COARSE_MARGIN = int(seconds * 1e9)
    try:
        yield
    finally:
        snapshot.MARGIN, snapshot.COARSE_MARGIN = saved


def settled_snapshot(root) -> None:
    for _ in range(3):  # (a loaded machine can keep a step from recording it)
        time.sleep(0.03)
        Project(root).report()
        if (root / snapshot.SNAPSHOT_FILE).exists():
            return
    pytest.fail("no snapshot was recorded")


def comparable(report) -> tuple:
    return report.findings, report.artifacts, report.orphans


@pytest.mark.parametrize("edited", ["code-from-spec/.shared/x/_node.md", "out/shared.txt"])
def test_an_edit_there_reaches_the_importers_status_on_the_next_analysis(tree, edited):
    with short_margin():
        root = dot_tree(tree)
        write_file(root, "SPEC/app/imp", "made\n")
        write_file(root, "SPEC/app/plain", "made\n")
        settled_snapshot(root)
        assert Project(root).report().artifacts[0].flags == ("up-to-date",)
        path = root / edited
        path.write_text(path.read_text() + "added\n")  # (at the end of `## Other` there)
        time.sleep(0.03)
        project = Project(root)
        report = project.report()
        assert project.update is not None  # brought up to date, not analysed anew
        assert comparable(report) == comparable(
            Project(root, use_index=False).report(keep=False))
        stale = {s.name for s in report.artifacts if "stale" in s.flags}
        assert stale == ({"ARTIFACT/app/imp", "ARTIFACT/app/plain"}
                         if edited.endswith("_node.md") else {"ARTIFACT/app/imp"})
        # The node read there is watched, never taken for a node of the tree.
        assert "SPEC/.shared/x" not in Project(root).node_names()


def test_a_link_on_the_way_is_never_followed(tree):
    root = dot_tree(tree)
    project = Project(root, use_index=False)
    assert project.tree.nodes  # (read before the link is there)
    shared = root / "code-from-spec/.shared"
    shutil.move(shared, root / "elsewhere")
    shared.symlink_to(root / "elsewhere")
    chain = project.resolver.chain("SPEC/app/plain")
    assert chain.hash is None
    assert any("symbolic link code-from-spec/.shared" in why for why in chain.blocked)
    # And the tree with that link is refused as a whole, as v5's scan refuses it.
    assert validate_specs(root) == (
        "Format errors:\n  [] scan: listing files: symlinks are not allowed in the spec tree\n")
    with pytest.raises(Refusal) as refused:
        load_chain(root, "SPEC/app/imp")
    assert str(refused.value) == "scan: listing files: symlinks are not allowed in the spec tree"
