"""After edits, the analysis brought up to date equals a full re-analysis, reading only
what changed."""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build import cli
from cfs_build.analysis import incremental, snapshot
from cfs_build.analysis.document import as_sent, render_document
from cfs_build.analysis.incremental import differing
from cfs_build.errors import CfsError
from cfs_build.state.manifest import MANIFEST
from cfs_build.analysis.project import Project
from conftest import spec, write_tree

# Files count as too recent to trust within MARGIN of an analysis; each step waits SETTLE.
# The wait is longer than the margin by more than a coarse kernel clock tick (10 ms at
# 100 Hz), by which file times and the clock probe (snapshot.file_system_clock) may lag.
MARGIN = 0.005
SETTLE = 0.03

NAMES = ("SPEC/app", "SPEC/app/store", "SPEC/app/cli", "SPEC/lib", "SPEC/lib/api")
REFS = ("SPEC/lib", "SPEC/lib(Api)", "SPEC/lib(Rules)", "SPEC/app/store", "ARTIFACT/app/store",
        "ARTIFACT/lib/api", "EXTERNAL/docs/usage.txt", "EXTERNAL/out/store.py", "SPEC/nowhere",
        "EXTERNAL/code-from-spec/lib/_node.md")
OUTPUTS = (None, "out/store.py", "out/cli.py", "out/api.py", "out/x.py")
WORDS = ("alpha", "beta", "gamma")
# Bytes that are no UTF-8 (a lone byte, a sequence cut short), carried as surrogateescape
# text and written back as the bytes (write below).
BAD = ("\udcff", "\udcc3", "\udce2\udc82")
# Directory names beyond ASCII letters: non-ASCII, and ';' (node_name, a warning).
ODD_DIRS = ("n\u00e9", "n;x", "e\u0301", "x\udcff")


def render(node: dict) -> str:
    """A _node.md from a node's model: frontmatter, intent, # Public with subsections, # Agent.

    ``odd`` (bits) mixes in what the parser reads since it stopped refusing it: bytes that
    are no UTF-8 in the intent, a heading, the frontmatter's values; depends_on items that
    are numbers and booleans; tabs after a frontmatter line's text; lines opened by a CR.
    """
    odd = node.get("odd", 0)
    bad = BAD[odd % 3]
    deps = list(node["depends_on"])
    if odd & 8:
        deps += ["1", "true", "2.5"]
    if odd & 4 and deps:
        deps[0] += bad
    tab = "\t" if odd & 16 else ""
    front = []
    if deps:
        front.append(f"depends_on:{tab}\n" + "".join(f"  - {ref}{tab}\n" for ref in deps))
    if node["input"]:
        front.append(f"input: {node['input']}{bad if odd & 4 else ''}{tab}\n")
    if node["output"]:
        front.append(f"output: {node['output']}{tab}\n")
    if node["broken"]:
        front.append("output: [unclosed\n")
    intent = node["intent"] + (f" {bad}x" if odd & 1 else "")
    public = node["public"] + ("\n\r## Hidden\n\r---\n\r```" if odd & 32 else "")
    body = f"{intent}\n\n# Public\n{public}\n"
    for heading in node["subs"]:
        body += f"\n## {heading}\n{node['public']} {heading}\n"
    if odd & 2:
        body += f"\n## B{bad}d\nsection {bad}\n"
    if node["agent"]:
        body += f"\n# Agent\n{node['agent']}\n"
    return spec(node["name"], body, "".join(front) if front else None)


def model(name: str, output: str | None = None) -> dict:
    return {"name": name, "depends_on": [], "input": None, "output": output, "broken": False,
            "intent": f"About {name}.", "public": "Shared.", "subs": ["Rules"], "agent": ""}


def initial() -> dict[str, dict]:
    nodes = {name: model(name) for name in NAMES}
    nodes["SPEC/app/store"].update(output="out/store.py", agent="Write the store.")
    nodes["SPEC/app/cli"].update(output="out/cli.py", agent="Write the cli.",
                                 depends_on=["ARTIFACT/app/store", "EXTERNAL/docs/usage.txt",
                                             "SPEC/lib(Api)"])
    nodes["SPEC/lib"].update(subs=["Api", "Rules"])
    nodes["SPEC/lib/api"].update(output="out/api.py", agent="Write the api.",
                                 input="EXTERNAL/docs/usage.txt")
    return nodes


def node_file(root: Path, name: str) -> Path:
    return root / "code-from-spec" / name[len("SPEC/"):] / "_node.md"


def clear(path: Path) -> None:
    """Nothing at ``path`` any more: a file, a link or a directory removed."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def run_cfs(root: Path, *args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["-C", str(root), *args])


def leaves(nodes: dict) -> list[str]:
    return [n for n in nodes if not any(other.startswith(n + "/") for other in nodes)]


# -- edits: (kind, two choices); each applies to the project and its model --------------
def apply(root: Path, nodes: dict, edit: tuple) -> set[str]:
    """Make one edit; returns the project files it wrote, created or removed."""
    kind, a, b = edit
    names = sorted(nodes)
    name = names[a % len(names)] if names else None
    node = nodes.get(name)
    touched: set[str] = set()

    def save(which: str) -> None:
        path = node_file(root, which)
        write(path, render(nodes[which]))
        touched.add(str(path.relative_to(root)))

    if kind == "agent" and node:
        node["agent"] = WORDS[b % 3] if b % 4 else ""
        save(name)
    elif kind == "public" and node:
        node["public"] = f"Shared {WORDS[b % 3]}."
        save(name)
    elif kind == "subs" and node:
        node["subs"] = [["Rules"], ["Api", "Rules"], [], ["Api"]][b % 4]
        save(name)
    elif kind == "intent" and node:
        node["intent"] = f"Now {WORDS[b % 3]}."
        save(name)
    elif kind == "depends" and node:
        node["depends_on"] = [REFS[i] for i in range(len(REFS)) if (b >> i) & 1][:3]
        save(name)
    elif kind == "input" and node:
        node["input"] = [None, "EXTERNAL/docs/usage.txt", "ARTIFACT/app/store", "SPEC/lib"][b % 4]
        save(name)
    elif kind == "output" and node:
        node["output"] = OUTPUTS[b % len(OUTPUTS)]
        save(name)
    elif kind == "break" and node:
        node["broken"] = not node["broken"]
        save(name)
    elif kind == "odd" and node:
        node["odd"] = b % 64
        save(name)
    elif kind == "resave" and node:
        save(name)  # the same bytes again: times change, nothing else
    elif kind == "output_file":
        rel = [o for o in OUTPUTS if o][b % 4]
        path = root / rel
        clear(path)  # (whatever output_kind left there)
        if a % 3:
            write(path, f"made {WORDS[a % 3]}{BAD[b % 3] if a % 2 else ''}\n")
        touched.add(rel)
    elif kind == "output_kind":  # what is at an output path: X8 refuses all but a file
        rel = [o for o in OUTPUTS if o][b % 4]
        path = root / rel
        clear(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if a % 4 == 0:
            path.symlink_to("/nonexistent/elsewhere.py")
        elif a % 4 == 1:
            path.mkdir()
        elif a % 4 == 2:
            path.write_text(f"made {WORDS[b % 3]}\n")
        touched.add(rel)
    elif kind == "external":
        path = root / "docs/usage.txt"
        if a % 3 == 0 and path.exists():
            path.unlink()
        else:
            write(path, f"usage {WORDS[a % 3]}{BAD[b % 3] if b % 2 else ''}\n")
        touched.add("docs/usage.txt")
    elif kind == "accept":
        artifacts = [n for n in leaves(nodes) if nodes[n]["output"]]
        if artifacts:
            run_cfs(root, "accept", artifacts[b % len(artifacts)].replace("SPEC/", "ARTIFACT/", 1))
            touched.add(MANIFEST)
    elif kind == "manifest":
        path = root / MANIFEST
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        if len(lines) > 1:
            del lines[1 + b % (len(lines) - 1)]  # an entry dropped by hand
            path.write_text("".join(lines))
            touched.add(MANIFEST)
    elif kind == "add":
        parent = name if name and b % 2 else None
        new = f"{parent or 'SPEC'}/" + (f"n{a % 7}", *ODD_DIRS)[b % 10 // 2]
        if new not in nodes:
            nodes[new] = model(new, OUTPUTS[b % len(OUTPUTS)])
            nodes[new]["agent"] = "New."
            save(new)
    elif kind == "remove" and name:
        gone = [n for n in nodes if n == name or n.startswith(name + "/")]
        if len(gone) < len(nodes):
            shutil.rmtree(node_file(root, name).parent)
            for n in gone:
                del nodes[n]
                touched.add(str(node_file(root, n).relative_to(root)))
    elif kind == "bare" and name:
        path = node_file(root, name).parent / "bare"
        if path.exists():
            path.rmdir()
        else:
            path.mkdir()
    elif kind == "dot":  # a directory under a dot directory (walked for links only)
        path = root / "code-from-spec" / ".notes" / f"d{b % 2}"
        if path.exists():
            path.rmdir()
        else:
            path.mkdir()
    elif kind == "way":  # a directory on the way to outputs or files read, moved out
        # of the project behind a link to it (every file below keeps its signature)
        rel = ("out", "docs")[a % 2]
        path, away = root / rel, away_of(root) / rel
        if path.is_symlink():
            path.unlink()
            away.rename(path)
        elif path.is_dir():
            away.parent.mkdir(exist_ok=True)
            path.rename(away)
            path.symlink_to(away)
        touched.update(str(p.relative_to(root)) for p in root.glob(f"{rel}/*"))
    elif kind == "rename" and name:
        new = name + ("r", "r", "\u00e9", ";", "\udcfe")[b % 5] + str(b % 3)
        if new not in nodes and not any(n.startswith(new + "/") for n in nodes):
            node_file(root, name).parent.rename(node_file(root, new).parent)
            for old in [n for n in nodes if n == name or n.startswith(name + "/")]:
                moved = new + old[len(name):]
                nodes[moved] = nodes.pop(old)
                nodes[moved]["name"] = moved
                save(moved)  # the heading must name the node where it now is
    return touched


EDITS = st.tuples(st.sampled_from(["agent", "public", "subs", "intent", "depends", "input",
                                   "output", "break", "odd", "odd", "resave", "output_file",
                                   "output_kind", "external",
                                   "accept", "manifest", "add", "remove", "rename", "bare",
                                   "dot", "way"]),
                  st.integers(0, 63), st.integers(0, 511))


def away_of(root: Path) -> Path:
    """Outside the project, beside it (see the "way" edit)."""
    return root.with_name(root.name + ".away")


def settle() -> None:
    time.sleep(SETTLE)


@contextlib.contextmanager
def short_margin():
    """The snapshot's margins shortened to MARGIN for the body (settle() outlasts it)."""
    saved = snapshot.MARGIN, snapshot.COARSE_MARGIN
    snapshot.MARGIN = snapshot.COARSE_MARGIN = int(MARGIN * 1e9)
    try:
        yield
    finally:
        snapshot.MARGIN, snapshot.COARSE_MARGIN = saved


def comparable(report) -> tuple:
    return report.findings, report.artifacts, report.orphans


def documents(project, nodes: dict) -> dict[str, str]:
    """Each leaf's document as a generator is sent it (or why there is none)."""
    out = {}
    for name in leaves(nodes):
        try:
            out[name] = as_sent(render_document(project.resolver, project.chain(name)))
        except CfsError as exc:
            out[name] = f"{exc} ({exc.exit_code})"
    return out


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(EDITS, min_size=1, max_size=8))
def test_an_updated_analysis_equals_a_full_one(edits):
    with short_margin():
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            nodes = initial()
            write_tree(root, {name: render(node) for name, node in nodes.items()})
            write(root / "docs/usage.txt", "usage\n")
            write(root / "out/store.py", "store\n")
            (root / "code-from-spec" / ".notes").mkdir()  # (see the "dot" edit)
            settle()
            run_cfs(root, "accept", "ARTIFACT/app/store")
            settle()
            Project(root).report()  # the analysis that records the snapshot
            for edit in edits:
                touched = apply(root, nodes, edit)
                settle()
                # (A loaded machine can keep a step from recording its snapshot: the
                # clock probe then errs on the side of "too recent".)
                kept = (root / snapshot.SNAPSHOT_FILE).exists()
                project = Project(root)
                updated = project.report()
                whole = Project(root, use_index=False)
                full = whole.report(keep=False)
                assert comparable(updated) == comparable(full), edit
                assert documents(project, nodes) == documents(whole, nodes), edit
                # The snapshot was brought up to date, not made again: only what an
                # edit wrote (and files first needed now) was read.
                if kept:
                    assert project.snapshot is not None
                if project.update is not None:
                    assert project.update.files_read <= len(touched) + 3, edit
            # What the last step saved (the loaded payload and its changes) reads back as
            # the full analysis.
            assert comparable(Project(root).report()) == comparable(
                Project(root, use_index=False).report(keep=False))
            shutil.rmtree(away_of(root), ignore_errors=True)


def test_one_agent_edit_reads_one_file(tmp_path):
    # A wider tree: the edit of one leaf's # Agent reads that file and nothing else.
    with short_margin():
        files = {}
        for i in range(30):
            files[f"SPEC/g{i}"] = spec(f"SPEC/g{i}", "Group.\n\n# Public\nShared.\n")
            files[f"SPEC/g{i}/leaf"] = spec(f"SPEC/g{i}/leaf", "Leaf.\n\n# Agent\nDo it.\n",
                                            f"output: out/{i}.py")
            files[f"out/{i}.py"] = f"made {i}\n"
        root = write_tree(tmp_path, files)
        for _ in range(3):  # (see above: a loaded machine)
            settle()
            Project(root).report()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        path = node_file(root, "SPEC/g7/leaf")
        path.write_text(path.read_text().replace("Do it.", "Do it well."))
        settle()
        project = Project(root)
        assert project.update is not None and project.update.files_read == 1
        assert comparable(project.report()) == comparable(
            Project(root, use_index=False).report(keep=False))
        again = Project(root)
        assert again.update is None and again.snapshot is not None  # the kept update holds
        # Saved as the payload loaded before plus the one status recomputed, and read
        # back as the full analysis.
        assert list(again.snapshot._rows["patch"]["statuses"]) == [
            [s.node for s in again.report().artifacts].index("SPEC/g7/leaf")]
        assert comparable(again.report()) == comparable(
            Project(root, use_index=False).report(keep=False))


def test_differing_finds_each_changed_signature():
    recorded = bytes(32 * 1000)
    current = bytearray(recorded)
    for at in (0, 255, 256, 999):
        current[at * 32 + 5] = 1
    assert differing(recorded, bytes(current)) == [0, 255, 256, 999]
    assert differing(recorded, recorded) == []



def test_a_write_into_the_content_cache_is_listed_again_not_analysed_in_full(tmp_path):
    # load_chain writes code-from-spec/.cache/: the next status lists the changed cache
    # directory again for links (v5's scan fails on one) and reads no spec.
    from cfs_build.building import v5tools
    with short_margin():
        root = write_tree(tmp_path, {
            "SPEC/a": spec("SPEC/a", "A.\n\n# Public\n\n## Api\n\nShared.\n"),
            "SPEC/a/b": spec("SPEC/a/b", "B.\n\n# Agent\nDo it.\n", "output: out/b.py"),
            "out/b.py": "made\n"})
        v5tools.load_chain(root, "SPEC/a/b")  # makes .cache/.content and .cache/.chains
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            Project(root).report()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        chains = root / "code-from-spec" / ".cache" / ".chains"
        (chains / ".extra").write_text("x\n")
        settle()
        project = Project(root)
        assert project.update is not None and project.update.files_read == 0
        assert comparable(project.report()) == comparable(
            Project(root, use_index=False).report(keep=False))
        (chains / ".link").symlink_to(tmp_path)
        settle()
        assert [f.rule for f in Project(root).report().findings] == ["scan"]


def test_the_content_cache_made_after_the_snapshot_costs_no_whole_analysis(tmp_path,
                                                                           monkeypatch):
    # The first load_chain makes code-from-spec/.cache/ after status recorded its
    # snapshot: the tree's own directory changed, but only by a dot directory, which is
    # walked for links; the edited spec is the one file read.
    from cfs_build.building import v5tools
    with short_margin():
        root = write_tree(tmp_path, {
            "SPEC/a": spec("SPEC/a", "A.\n\n# Public\n\n## Api\n\nShared.\n"),
            "SPEC/a/b": spec("SPEC/a/b", "B.\n\n# Agent\nDo it.\n", "output: out/b.py"),
            "SPEC/a/c": spec("SPEC/a/c", "C.\n\n# Agent\nDo it.\n", "output: out/c.py"),
            "out/b.py": "made\n", "out/c.py": "made\n"})
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            Project(root).report()
            if snapshot.load(root) is not None:
                break
        v5tools.load_chain(root, "SPEC/a/b")  # makes .cache/.content and .cache/.chains
        path = node_file(root, "SPEC/a/c")
        path.write_text(path.read_text().replace("Do it.", "Do it well."))
        settle()
        whole = incremental.analyse
        monkeypatch.setattr(incremental, "analyse", lambda *a: pytest.fail("analysed whole"))
        project = Project(root)
        monkeypatch.setattr(incremental, "analyse", whole)
        assert project.update is not None and project.update.files_read == 1
        assert comparable(project.report()) == comparable(
            Project(root, use_index=False).report(keep=False))
        assert "code-from-spec/.cache/.chains" in project.snapshot.paths  # watched now
        (root / "code-from-spec" / ".cache" / ".chains" / ".link").symlink_to(tmp_path)
        settle()
        assert [f.rule for f in Project(root).report().findings] == ["scan"]


def test_a_link_in_a_new_dot_subdirectory_is_seen_after_the_directory_was_taken_in(tmp_path):
    # The update that lists a changed dot directory again must watch what it found there:
    # a link made later in a new subdirectory changes only that subdirectory.
    with short_margin():
        root = write_tree(tmp_path, {
            "SPEC/a": spec("SPEC/a", "A.\n\n# Agent\nDo it.\n", "output: out/a.py"),
            "out/a.py": "made\n"})
        dot = root / "code-from-spec" / ".notes"
        dot.mkdir()
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            Project(root).report()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        (dot / "deeper").mkdir()
        for attempt in range(3):
            settle()
            project = Project(root)
            if attempt == 0:  # brought up to date, nothing read: only the watch list grows
                assert project.update is not None and project.update.files_read == 0
            assert comparable(project.report()) == comparable(
                Project(root, use_index=False).report(keep=False))
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        (dot / "deeper" / "link").symlink_to(tmp_path)
        settle()
        assert [f.rule for f in Project(root).report().findings] == ["scan"]


def test_a_file_put_in_an_empty_directory_makes_it_a_finding(tmp_path):
    # An empty directory is not seen (FORMAT.md 1); a file put in it later changes only
    # that directory, and the brought-up-to-date analysis must then report it.
    with short_margin():
        root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
        empty = root / "code-from-spec" / "a" / "empty" / "deeper"
        empty.mkdir(parents=True)
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            assert Project(root).report().findings == ()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        (empty / "notes.txt").write_text("x\n")
        settle()
        found = Project(root).report().findings
        assert [(f.node, f.rule) for f in found] == [
            ("SPEC/a/empty", "missing_node_md"), ("SPEC/a/empty/deeper", "missing_node_md")]
        assert comparable(Project(root).report()) == comparable(
            Project(root, use_index=False).report(keep=False))


@pytest.mark.parametrize("made", ["link", "directory"])
def test_an_output_refused_for_what_is_there_is_watched(tmp_path, made):
    # X8: an output path holding a link or a directory is never opened; the snapshot
    # must still notice when a regular file takes its place.
    with short_margin():
        root = write_tree(tmp_path / "p", {"SPEC/a": spec(
            "SPEC/a", "A.\n\n# Agent\n\nWrite it.\n", "output: out/sub/a.txt\n")})
        target = root / "out" / "sub" / "a.txt"
        target.parent.mkdir(parents=True)
        if made == "link":
            (tmp_path / "elsewhere.txt").write_text("not the project's\n")
            target.symlink_to(tmp_path / "elsewhere.txt")
        else:
            target.mkdir()
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            assert [s.flags[0].value for s in Project(root).report().artifacts] == ["invalid"]
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        if made == "link":
            target.unlink()
        else:
            target.rmdir()
        target.write_text("by hand\n")
        settle()
        project = Project(root)
        assert [[f.value for f in s.flags] for s in project.report().artifacts] == [
            ["stale", "untracked"]]
        assert project.snapshot is not None  # (brought up to date, not made again)
        assert comparable(project.report()) == comparable(
            Project(root, use_index=False).report(keep=False))


def test_a_dangling_link_put_where_an_output_was_missing_is_seen(tmp_path):
    # Looked at through the link, the path is still "not there"; the snapshot must tell
    # the link itself from nothing, or status would keep saying missing.
    with short_margin():
        root = write_tree(tmp_path / "p", {"SPEC/a": spec(
            "SPEC/a", "A.\n\n# Agent\n\nWrite it.\n", "output: out/a.txt\n")})
        (root / "out").mkdir()
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            assert [[f.value for f in s.flags] for s in Project(root).report().artifacts] \
                == [["stale", "missing"]]
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        (root / "out" / "a.txt").symlink_to(tmp_path / "nowhere.txt")
        settle()
        project = Project(root)
        assert [[f.value for f in s.flags] for s in project.report().artifacts] == [
            ["invalid", "stale"]]
        assert comparable(project.report()) == comparable(
            Project(root, use_index=False).report(keep=False))


def test_a_file_put_in_a_dot_directory_below_a_bare_directory_makes_it_a_finding(tmp_path):
    # v5 lists the files inside dot directories too: a file put there later makes the
    # directory above it (no _node.md) a missing_node_md finding, and one taken out again
    # makes it no finding.
    with short_margin():
        root = write_tree(tmp_path, {"SPEC/a": spec("SPEC/a", "A.\n")})
        dot = root / "code-from-spec" / "a" / "drafts" / ".obsidian"
        dot.mkdir(parents=True)
        for _ in range(3):  # (a loaded machine may keep no snapshot: files too recent)
            settle()
            assert Project(root).report().findings == ()
            if (root / snapshot.SNAPSHOT_FILE).exists():
                break
        (dot / "workspace.json").write_text("{}\n")
        settle()
        found = Project(root).report().findings
        assert [(f.node, f.rule) for f in found] == [("SPEC/a/drafts", "missing_node_md")]
        assert comparable(Project(root).report()) == comparable(
            Project(root, use_index=False).report(keep=False))
        (dot / "workspace.json").unlink()
        settle()
        assert Project(root).report().findings == ()
