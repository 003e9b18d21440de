"""A long-running `cfs mcp` keeps the analysed project, and still answers exactly what a fresh
server answers after every kind of change on disk: a spec edited, an output edited, the
manifest rewritten by another cfs process, a node added or removed, a directory renamed,
many files swapped at once with their old modification times (a `git checkout`)."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from buildkit import make_project
from cfs_build.state.manifest import LOCK, MANIFEST, render_manifest
from cfs_build.mcpserver.tools import call_v5, status
from cfs_build.analysis.project import Project
from cfs_build.analysis.snapshot import MARGIN
from cfs_build.mcpserver.warm import APART_DIRS, Warm
from mcpkit import REPO, sync_client

pytest.importorskip("mcp")

TREE = "code-from-spec"
LEAVES = ["SPEC/app/api", "SPEC/app/db", "SPEC/lib/util"]


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def node(name: str, *, output: str | None = None, deps: tuple[str, ...] = (),
         words: str = "alpha") -> str:
    front = ""
    if output or deps:
        front = "---\n" + (f"output: {output}\n" if output else "") + (
            "depends_on:\n" + "".join(f"  - {d}\n" for d in deps) if deps else "") + "---\n"
    return (f"{front}# {name}\n\n# Public\n\n## Interface\n\nThe {words} words.\n\n"
            f"# Agent\n\nWrite {name}.\n")


def make_tree(root: Path) -> Path:
    write(root, f"{TREE}/app/_node.md", node("SPEC/app"))
    write(root, f"{TREE}/app/api/_node.md",
          node("SPEC/app/api", output="src/api.py", deps=("SPEC/lib/util(Interface)",
                                                          "ARTIFACT/app/db")))
    write(root, f"{TREE}/app/db/_node.md", node("SPEC/app/db", output="src/db.py"))
    write(root, f"{TREE}/lib/_node.md", node("SPEC/lib"))
    write(root, f"{TREE}/lib/util/_node.md", node("SPEC/lib/util", output="src/util.py"))
    return root


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def every_answer(client, leaves: list[str]) -> dict:
    """What a client sees: the report, the status, the graph, every leaf's document."""
    out = {"validate_specs": client.result("validate_specs"),
           "status": client.result("status"), "status all": client.result("status", all=True),
           "graph": client.result("graph")}
    for leaf in leaves:
        out[leaf] = client.result("load_chain", logical_name=leaf)
    return {key: (result.is_error, [c.text for c in result.content], result.structured_content)
            for key, result in out.items()}


@pytest.mark.slow
def test_every_answer_of_the_kept_server_equals_a_fresh_servers_after_each_change(tmp_path):
    root = make_tree(tmp_path / "p")
    leaves = list(LEAVES)
    # Every artifact made and recorded by a first server, then one server kept throughout.
    with sync_client(root) as first:
        for leaf in ["SPEC/lib/util", "SPEC/app/db", "SPEC/app/api"]:
            first.call("load_chain", logical_name=leaf)
            first.call("write_file", logical_name=leaf, content=f"# made from {leaf}\n")

    def spec_edit():
        path = root / TREE / "lib/util/_node.md"
        path.write_text(path.read_text().replace("alpha", "gamma"))

    def output_edit():
        (root / "src/db.py").write_text("# edited by hand\n")

    def accept_elsewhere():
        done = cfs(root, "accept", "SPEC/app/db")
        assert done.returncode == 0, done.stderr

    def add_node():
        write(root, f"{TREE}/lib/more/_node.md", node("SPEC/lib/more", output="src/more.py"))
        leaves.append("SPEC/lib/more")

    def remove_node():
        for name in ("_node.md",):
            (root / TREE / "lib/more" / name).unlink()
        (root / TREE / "lib/more").rmdir()

    def rename_directory():
        os.rename(root / TREE / "lib", root / TREE / "base")
        leaves.append("SPEC/base/util")

    def checkout_with_old_times():
        # Same sizes, same modification times: only the content (and the change time) moves.
        for rel in ("app/_node.md", "app/api/_node.md", "app/db/_node.md", "base/_node.md"):
            path = root / TREE / rel
            before = path.stat()
            path.write_text(path.read_text().replace("alpha", "omega"))
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
            assert path.stat().st_size == before.st_size

    def bytes_and_odd_frontmatter():
        # What the parser reads since it stopped refusing it: bytes that are no UTF-8 in
        # a heading, text and a frontmatter value, numbers in depends_on, a tab after a
        # frontmatter line's text, a line opened by a CR; an output that is no UTF-8.
        (root / TREE / "base/util/_node.md").write_bytes(
            b"---\noutput: src/util.py\t\ndepends_on:\n  - 1\n  - true\n"
            b"  - EXTERNAL/n\xffo.txt\n---\n# SPEC/base/util\n\n# Public\n\n"
            b"## Inter\xc3face\n\nThe \xe2\x82 words.\n\r## Hidden\n\n# Agent\n\nWrite.\n")
        (root / "src/db.py").write_bytes(b"# made \xff by hand\n")

    def odd_directory():
        write(root, f"{TREE}/base/\u00e9;x/_node.md",
              node("SPEC/base/\u00e9;x", output="src/odd.py", deps=("ARTIFACT/app/db",)))
        leaves.append("SPEC/base/\u00e9;x")

    steps = [("nothing", lambda: None), ("spec", spec_edit), ("output", output_edit),
             ("accept by another process", accept_elsewhere), ("node added", add_node),
             ("node removed", remove_node), ("directory renamed", rename_directory),
             ("checkout", checkout_with_old_times),
             ("bytes that are no UTF-8", bytes_and_odd_frontmatter),
             ("a directory named with ';' and non-ASCII", odd_directory)]
    with sync_client(root, errlog=tmp_path / "kept.log") as kept:
        for what, change in steps:
            change()
            ours = every_answer(kept, leaves)
            again = every_answer(kept, leaves)  # a second asking changes nothing
            with sync_client(root) as fresh:
                theirs = every_answer(fresh, leaves)
            assert ours == theirs, what
            assert again == theirs, what
    assert "Traceback" not in (tmp_path / "kept.log").read_text()


@pytest.mark.slow
def test_status_after_a_build_through_the_server_reflects_it_without_a_restart(tmp_path):
    proj = make_project(tmp_path)
    with sync_client(proj.root, errlog=tmp_path / "stderr") as client:
        before = client.result("status").structured_content
        assert before["summary"]["up-to-date"] == 0
        report_before = client.call("validate_specs")
        built = client.result("build", jobs=2).structured_content
        assert built["exit_code"] == 0 and built["generated"]
        after = client.result("status").structured_content
        whole = client.result("status", all=True).structured_content
        report_after = client.call("validate_specs")
    assert after["summary"]["up-to-date"] == len(whole["artifacts"]) > 0
    assert after["artifacts"] == [] and after["left_out"]["up_to_date"] == len(whole["artifacts"])
    assert report_before != report_after == "All specs are valid.\n"
    assert whole == proj.status()  # what a fresh `cfs status --json` says


# -- the kept project: reused while it holds, replaced when anything changed ----------------

def analyses(warm: Warm) -> int:
    """Projects made, and kept ones brought up to date from the changes the kernel told."""
    return warm.fresh + warm.refreshed


def test_the_kept_project_is_reused_until_something_it_read_changes(tmp_path):
    root = make_tree(tmp_path / "p")
    # A snapshot is recorded only for files older than its margin (snapshot.MARGIN).
    time.sleep(3 * MARGIN / 1e9)
    warm = Warm(root)
    first = call_v5(warm, "validate_specs", {})
    call_v5(warm, "validate_specs", {})
    made = analyses(warm)  # the first analysis, then the one loaded from its snapshot
    for _ in range(3):
        assert call_v5(warm, "validate_specs", {}) == first
    assert analyses(warm) == made  # nothing changed: no new analysis
    (root / "src").mkdir(exist_ok=True)
    (root / "src/db.py").write_text("made by hand\n")
    changed = call_v5(warm, "validate_specs", {})
    assert analyses(warm) > made and changed != first
    assert changed == call_v5(Warm(root), "validate_specs", {})
    # Settled again, then a spec rewritten in place: same size, same modification time.
    time.sleep(3 * MARGIN / 1e9)
    call_v5(warm, "validate_specs", {})
    call_v5(warm, "validate_specs", {})
    made = analyses(warm)
    assert call_v5(warm, "validate_specs", {}) == changed and analyses(warm) == made
    status_before = status(warm, {"all": True}).data
    path = root / TREE / "app/db/_node.md"
    before = path.stat()
    path.write_text(path.read_text().replace("alpha", "omega"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    swapped = status(warm, {"all": True}).data
    assert analyses(warm) > made
    assert swapped == status(Warm(root), {"all": True}).data
    assert status(warm, {}).data == status(Warm(root), {}).data
    chains = {a["name"]: a["chain"] for a in swapped["artifacts"]}
    assert chains != {a["name"]: a["chain"] for a in status_before["artifacts"]}


def test_a_manifest_write_in_progress_elsewhere_is_never_half_seen(tmp_path):
    """Another process holds the manifest lock and rewrites the manifest in place: the
    server's answer waits for the lock and then equals a fresh reader's."""
    root = make_tree(tmp_path / "p")
    warm = Warm(root)
    call_v5(warm, "write_file", {"logical_name": "SPEC/app/db", "content": "db\n"})
    call_v5(warm, "write_file", {"logical_name": "SPEC/lib/util", "content": "util\n"})
    call_v5(warm, "load_chain", {"logical_name": "SPEC/app/db"})
    manifest = root / MANIFEST
    whole = manifest.read_bytes()
    lock = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    answers = []
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(manifest, "r+b") as handle:  # in place, as a non-atomic writer does
            handle.truncate(0)
            handle.write(whole[: len(whole) // 2])
            handle.flush()
            reader = threading.Thread(target=lambda: answers.append(
                call_v5(warm, "load_chain", {"logical_name": "SPEC/app/db"})))
            reader.start()
            reader.join(0.3)
            assert reader.is_alive()  # waiting for the lock, not reading half a manifest
            handle.seek(0)
            handle.write(whole)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    reader.join(30)
    assert answers == [call_v5(Warm(root), "load_chain", {"logical_name": "SPEC/app/db"})]
    assert not answers[0].error


def test_answers_given_at_once_in_many_threads_equal_a_fresh_servers(tmp_path):
    root = make_tree(tmp_path / "p")
    warm = Warm(root)
    calls = [("validate_specs", {}), *(("load_chain", {"logical_name": leaf})
                                       for leaf in LEAVES)] * 4
    got: dict[int, object] = {}

    def ask(index: int, tool: str, args: dict) -> None:
        got[index] = call_v5(warm, tool, args)

    threads = [threading.Thread(target=ask, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    fresh = Warm(root)
    assert [got[i] for i in range(len(calls))] == [call_v5(fresh, *call) for call in calls]


# -- told by the kernel: changes between requests, with no delay -----------------------------

def answers(warm: Warm, leaves: list[str]) -> dict:
    out = {"validate_specs": call_v5(warm, "validate_specs", {}),
           "status": status(warm, {}), "status all": status(warm, {"all": True})}
    for leaf in leaves:
        out[leaf] = call_v5(warm, "load_chain", {"logical_name": leaf})
    return out


def watched_warm(root: Path) -> Warm:
    """A Warm told of changes: its analysis loaded from a settled snapshot."""
    time.sleep(3 * MARGIN / 1e9)  # a snapshot is recorded only of files older than this
    warm = Warm(root)
    call_v5(warm, "validate_specs", {})  # the analysis, recorded
    call_v5(warm, "validate_specs", {})  # loaded from its record: now the watches hold
    if not warm.watching:
        # inotify_simple is a dependency on Linux: there, not watching is a failure.
        assert sys.platform != "linux", "the server fell back to stats on Linux"
        pytest.skip("the kernel does not tell changes here (no inotify)")
    return warm


def same_as_fresh(warm: Warm, root: Path, leaves: list[str]) -> None:
    ours = answers(warm, leaves)
    assert ours == answers(Warm(root, watch=False), leaves)
    assert answers(warm, leaves) == ours  # asked again: nothing moves


def test_an_edit_right_before_a_request_is_answered_from_the_changed_paths_alone(tmp_path):
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    same_as_fresh(warm, root, LEAVES)
    made, refreshed = warm.fresh, warm.refreshed
    path = root / TREE / "lib/util/_node.md"
    for word in ("gamma", "delta", "omega"):  # same size each time, no delay in between
        text = path.read_text()
        path.write_text(text.replace(text.split("The ")[1].split(" ")[0], word))
        same_as_fresh(warm, root, LEAVES)
    # Twice within one request's reach, the second write within the same clock tick.
    path.write_text(path.read_text().replace("omega", "kappa"))
    path.write_text(path.read_text().replace("kappa", "sigma"))
    same_as_fresh(warm, root, LEAVES)
    assert warm.fresh == made and warm.refreshed > refreshed and warm.watching


def test_a_new_directory_then_its_node_are_seen_without_a_new_analysis(tmp_path):
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    same_as_fresh(warm, root, LEAVES)
    made = warm.fresh
    (root / TREE / "lib/extra").mkdir()
    (root / TREE / "lib/extra/deeper").mkdir()
    same_as_fresh(warm, root, LEAVES)
    write(root, f"{TREE}/lib/extra/deeper/_node.md",
          node("SPEC/lib/extra/deeper", output="src/deeper.py", deps=("SPEC/lib/util",)))
    leaves = [*LEAVES, "SPEC/lib/extra/deeper"]
    same_as_fresh(warm, root, leaves)
    os.rename(root / TREE / "lib/extra", root / TREE / "lib/moved")
    same_as_fresh(warm, root, [*LEAVES, "SPEC/lib/moved/deeper", "SPEC/lib/extra/deeper"])
    assert warm.fresh == made  # every change was followed, none needed a whole analysis



def test_a_file_put_in_an_empty_directory_is_reported_as_a_fresh_server_says(tmp_path):
    # An empty directory is no finding (FORMAT.md 1); a file put in it makes it one.
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    (root / TREE / "lib/empty/deeper").mkdir(parents=True)
    same_as_fresh(warm, root, LEAVES)
    assert "missing_node_md" not in call_v5(warm, "validate_specs", {}).text
    write(root, f"{TREE}/lib/empty/deeper/notes.txt", "x\n")
    same_as_fresh(warm, root, LEAVES)
    assert call_v5(warm, "validate_specs", {}).text.count("missing_node_md") == 2

def test_a_link_made_in_a_new_subdirectory_fails_the_scan_as_a_fresh_server_says(tmp_path):
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    same_as_fresh(warm, root, LEAVES)
    (root / TREE / "app/new").mkdir()
    (root / TREE / "app/new/sub").mkdir()
    os.symlink(root / TREE / "lib", root / TREE / "app/new/sub/link")
    same_as_fresh(warm, root, LEAVES)
    assert "scan" in call_v5(warm, "validate_specs", {}).text
    os.unlink(root / TREE / "app/new/sub/link")
    same_as_fresh(warm, root, LEAVES)
    # A link in a dot directory (where the content cache lives) fails the scan too.
    (root / TREE / ".hidden").mkdir()
    os.symlink("/", root / TREE / ".hidden/root")
    same_as_fresh(warm, root, LEAVES)


@pytest.mark.slow
def test_a_big_trees_whole_analysis_is_made_by_a_child_with_the_same_answers(tmp_path):
    root = make_tree(tmp_path / "p")
    # Bytes that are no UTF-8 (a heading, text, a frontmatter value) travel through the
    # child's snapshot as they are.
    util = root / TREE / "lib/util/_node.md"
    util.write_bytes(util.read_bytes().replace(b"src/util.py", b"src/util.py\t").replace(
        b"# Agent", b"## Od\xffd\n\nx\xe2\x82\n\r## y\n\n# Agent"))
    (root / TREE / "app/_node.md").write_bytes(b"---\ndepends_on:\n  - EXTERNAL/\xc3.txt\n---\n"
                                               + (root / TREE / "app/_node.md").read_bytes())
    time.sleep(3 * MARGIN / 1e9)  # old enough for the child's analysis to be recorded
    warm = Warm(root, apart_dirs=1)  # every tree counts as big
    assert answers(warm, LEAVES) == answers(Warm(root, watch=False, apart_dirs=10**9), LEAVES)
    assert warm.apart == 1 and warm.fresh == 1  # the child's snapshot, loaded once
    assert warm.watching or sys.platform != "linux"  # kept: it came from a snapshot
    path = root / TREE / "app/db/_node.md"
    path.write_text(path.read_text() + "\nMore words.\n")
    same_as_fresh(warm, root, LEAVES)
    # A tree the child cannot record (a link fails the scan): the server analyses it.
    os.symlink(root / TREE / "lib", root / TREE / "app/link")
    linked = Warm(root, apart_dirs=1)
    assert answers(linked, LEAVES) == answers(Warm(root, watch=False, apart_dirs=10**9), LEAVES)
    assert "scan" in call_v5(linked, "validate_specs", {}).text



@pytest.mark.slow
def test_a_big_tree_never_analysed_is_not_read_by_the_server_itself(tmp_path):
    # A manifest but no lock yet: the child makes the lock while it reads, which changes
    # the tree's directory under it; that directory is recorded as unsure (snapshot.py),
    # the rest of the child's snapshot is kept, and the server holds only what it says.
    root = make_tree(tmp_path / "p")
    (root / MANIFEST).write_text(render_manifest({}), encoding="utf-8")
    time.sleep(3 * MARGIN / 1e9)
    assert not (root / LOCK).exists()
    warm = Warm(root, apart_dirs=1)
    with warm.project() as project:
        assert project.snapshot is not None and "tree" not in vars(project)
    assert warm.apart == 1 and warm.fresh == 1
    fresh = Warm(root, watch=False, apart_dirs=10**9)
    assert call_v5(warm, "validate_specs", {}) == call_v5(fresh, "validate_specs", {})


def test_without_change_notification_every_request_looks_at_the_disk(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p")
    time.sleep(3 * MARGIN / 1e9)
    monkeypatch.setenv("CFS_NO_WATCH", "1")
    for warm in (Warm(root), Warm(root, watch=False)):
        first = answers(warm, LEAVES)
        assert answers(warm, LEAVES) == first and not warm.watching
        path = root / TREE / "app/db/_node.md"
        path.write_text(path.read_text() + "\nMore words.\n")
        assert answers(warm, LEAVES) == answers(Warm(root, watch=False), LEAVES)
        assert not warm.watching


def test_status_kept_while_told_of_nothing_follows_the_content_cache_and_the_test_record(
        tmp_path):
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    call_v5(warm, "write_file", {"logical_name": "SPEC/app/db", "content": "db\n"})
    path = root / TREE / "app/db/_node.md"
    path.write_text(path.read_text().replace("alpha", "beta"))  # stale, with a reason
    # (src/ was made by the write: watched once the changes there have settled.)
    time.sleep(3 * MARGIN / 1e9)
    status(warm, {})
    first, whole = status(warm, {}), status(warm, {"all": True})
    assert warm.watching
    # Kept, both shapes: nothing told.
    assert status(warm, {}) is first and status(warm, {"all": True}) is whole
    assert first == status(Warm(root, watch=False), {})
    assert whole == status(Warm(root, watch=False), {"all": True})
    # The cached chain its reason compares with goes away: the reason changes.
    for cached in (root / TREE / ".cache").rglob("*"):
        if cached.is_file():
            cached.unlink()
    for args in ({}, {"all": True}):
        assert status(warm, args) == status(Warm(root, watch=False), args) not in (first, whole)
    (root / ".cfs").mkdir(exist_ok=True)
    (root / ".cfs/verify.json").write_text('{"artifacts": {}, "results": [], "passed": true}')
    for args in ({}, {"all": True}):
        assert status(warm, args).data == status(Warm(root, watch=False), args).data


def test_more_changes_than_the_kernel_queues_fall_back_to_looking_at_the_disk(tmp_path,
                                                                             monkeypatch):
    root = make_tree(tmp_path / "p")
    warm = watched_warm(root)
    same_as_fresh(warm, root, LEAVES)
    # The changes below stay "recent" however long a loaded machine takes to make them.
    from cfs_build.analysis import snapshot
    from cfs_build.mcpserver import warm as warm_module
    for module in (snapshot, warm_module):
        monkeypatch.setattr(module, "MARGIN", 30 * snapshot.SECOND)
    with open("/proc/sys/fs/inotify/max_queued_events") as handle:
        limit = int(handle.read())
    # Alternating files: the kernel merges only an event equal to the one queued last.
    a, b = root / TREE / "app/_node.md", root / TREE / "lib/_node.md"
    for i in range(limit // 2 + 10):
        os.utime(a)
        os.utime(b)
    path = root / TREE / "app/db/_node.md"
    path.write_text(path.read_text().replace("alpha", "zeta"))
    made = warm.fresh
    call_v5(warm, "validate_specs", {})
    # The queue overflowed: a whole look at the disk, and no trust in events until the
    # changes have settled.
    assert warm.fresh == made + 1 and not warm.watching
    same_as_fresh(warm, root, LEAVES)


def test_an_analysis_made_within_a_clock_tick_of_an_edit_is_not_kept_for_stat_checks(
        tmp_path, monkeypatch):
    # On a file system that keeps whole seconds, a spec edited and put back within one
    # second keeps its signature: an analysis made right after the edit cannot be told
    # from a stale one by signatures, so it is not reused once the events are not told.
    from cfs_build.analysis import snapshot
    second = snapshot.SECOND

    def coarse(st):
        return (st.st_mtime_ns // second * second, st.st_ctime_ns // second * second,
                st.st_size, st.st_ino)

    from cfs_build.reading import ledger
    monkeypatch.setattr(ledger, "signature", coarse)  # (as signatures packs them)
    monkeypatch.setattr(snapshot, "COARSE_MARGIN", second * 3 // 10)
    root = make_tree(tmp_path / "p")
    time.sleep(0.5)
    Project(root).report()  # a settled snapshot
    warm = Warm(root, watch=False)
    call_v5(warm, "validate_specs", {})
    path = root / TREE / "app/db/_node.md"
    original = path.read_text()
    while time.time() % 1 > 0.3:  # early in a second: both writes fall within it
        time.sleep(0.02)
    path.write_text(original.replace("alpha", "omega"))
    edited = status(warm, {"all": True})  # an analysis made right after the edit
    path.write_text(original)
    assert status(warm, {"all": True}) == status(Warm(root, watch=False), {"all": True})
    assert status(warm, {"all": True}) != edited  # (the edit showed in the chains)


@pytest.mark.slow
def test_the_child_analysis_of_a_big_tree_never_imports_the_projects_own_modules(tmp_path):
    """An editor starts `cfs mcp` in the project; for a big tree the server runs a child
    `python -m cfs_build.cli status`, and `-m` put that directory first on the child's
    import path: a checkout's own xxhash.py (or yaml.py) ran as the user."""
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    root = make_tree(tmp_path / "p")
    for i in range(APART_DIRS):  # enough for the analysis to be made by a child
        write(root, f"{TREE}/lib/n{i}/_node.md", node(f"SPEC/lib/n{i}"))
    ran = tmp_path / "ran"
    for module in ("xxhash", "yaml", "markdown_it"):
        (root / f"{module}.py").write_text(f"open({str(ran)!r}, 'a').write({module!r})\n")
    launcher = tmp_path / "bin" / "cfs"  # as the console script starts cfs
    launcher.parent.mkdir()
    launcher.write_text("import sys\nfrom cfs_build.launch import entry\nsys.exit(entry())\n")
    params = StdioServerParameters(command=sys.executable, args=[str(launcher), "mcp"],
                                   cwd=str(root), env={"PYTHONPATH": str(REPO),
                                                       "TMPDIR": os.environ.get("TMPDIR",
                                                                                "/tmp")})

    async def main():
        with anyio.fail_after(60):
            async with stdio_client(params) as (read, write_):
                async with ClientSession(read, write_) as session:
                    await session.initialize()
                    result = await session.call_tool("validate_specs", {})
                    return result.is_error, result.content[0].text

    failed, text = anyio.run(main)
    assert not ran.exists(), ran.read_text()
    assert not failed and "\nStaleness:\n" in text, text


@pytest.mark.parametrize("told", [True, False], ids=["told by the kernel", "stat checks"])
def test_an_output_directory_moved_out_behind_a_link_is_seen_as_a_fresh_server_sees_it(
        tmp_path, monkeypatch, told):
    # The files below keep every signature: only the directory on the way changed.
    root = make_tree(tmp_path / "p")
    for name in ("api", "db", "util"):
        write(root, f"src/{name}.py", f"{name} = 1\n")
    if not told:
        monkeypatch.setenv("CFS_NO_WATCH", "1")
        time.sleep(3 * MARGIN / 1e9)
        warm = Warm(root)
        answers(warm, LEAVES)
        answers(warm, LEAVES)
    else:
        warm = watched_warm(root)
    same_as_fresh(warm, root, LEAVES)
    (root / "src").rename(tmp_path / "elsewhere")
    (root / "src").symlink_to(tmp_path / "elsewhere")
    same_as_fresh(warm, root, LEAVES)
    assert "outside the project" in repr(answers(warm, LEAVES))
