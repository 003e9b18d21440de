"""A hostile checkout against what cfs reads: a FIFO or device a spec names is never even
opened (opening one can act: a writer waiting on a FIFO wakes, a tape rewinds), inside
the project or through a link out of it, and a huge sparse file is refused in one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import spec, write_tree


def cfs(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


def project(tmp_path: Path, front: str) -> Path:
    return write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n",
                            front=f"{front}\noutput: out/leaf.txt"),
    })


class Waiter:
    """A writer blocked opening a FIFO: released when anybody opens it to read."""

    def __init__(self, fifo: Path):
        self.fifo = fifo
        self.released_at: float | None = None
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self) -> None:
        fd = os.open(self.fifo, os.O_WRONLY)  # blocks until a reader opens it
        self.released_at = time.monotonic()
        os.close(fd)

    def opened_by_someone_else(self) -> bool:
        """Whether a reader came before this call (which opens it itself, to end the wait)."""
        ours = time.monotonic()
        fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.thread.join(10)
        os.close(fd)
        assert self.released_at is not None
        return self.released_at < ours


@pytest.mark.parametrize("where", ["inside", "outside"])
@pytest.mark.parametrize("key, rule", [("input: EXTERNAL/pipe", "input_target"),
                                       ("depends_on: [EXTERNAL/pipe]", "dependency_targets")])
def test_a_fifo_a_spec_names_is_never_opened(tmp_path, where, key, rule):
    root = project(tmp_path, key)
    if where == "inside":
        os.mkfifo(root / "pipe")
        fifo = root / "pipe"
    else:
        fifo = tmp_path / "home-pipe"
        os.mkfifo(fifo)
        (root / "pipe").symlink_to(fifo)
    waiter = Waiter(fifo)
    done = cfs(root, "status", "--json")
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert not waiter.opened_by_someone_else()
    findings = json.loads(done.stdout)["errors"]
    assert [f["rule"] for f in findings] == [rule]
    expected = "FIFO, not a regular file" if where == "inside" else \
        "resolves outside the project"
    assert expected in findings[0]["detail"]
    assert "Traceback" not in done.stderr + chain.stderr


@pytest.mark.parametrize("rel, verb, said", [
    ("code-from-spec/.manifest", "accept", "FIFO, not a regular file"),
    ("code-from-spec/.manifest.lock", "accept", "FIFO, not a regular file"),
    (".cfs/build.lock", "build", "is not a regular file")])
def test_a_fifo_in_place_of_the_manifest_or_a_lock_is_never_opened(tmp_path, rel, verb, said):
    root = project(tmp_path, "depends_on: []")
    (root / "out").mkdir()
    (root / "out" / "leaf.txt").write_text("made\n")
    (root / ".cfs").mkdir()
    fifo = root / rel
    os.mkfifo(fifo)
    waiter = Waiter(fifo)
    done = cfs(root, verb, "SPEC/a/leaf")
    assert not waiter.opened_by_someone_else()
    assert done.returncode != 0 and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_huge_sparse_file_a_spec_names_is_refused_in_one_line(tmp_path):
    root = project(tmp_path, "input: EXTERNAL/big.bin")
    with open(root / "big.bin", "wb") as handle:
        handle.truncate(1 << 40)  # a terabyte of nothing, no disk used
    done = cfs(root, "status")
    assert "big.bin is too big to read (1099511627776 bytes)" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_huge_sparse_node_file_is_an_unreadable_node_not_a_crash(tmp_path):
    # The walk read a _node.md a megabyte at a time until the memory ran out: an internal
    # error (MemoryError) where the address space is limited, the OOM killer where not.
    root = project(tmp_path, "depends_on: []")
    (root / "code-from-spec" / "a" / "big").mkdir()
    with open(root / "code-from-spec" / "a" / "big" / "_node.md", "wb") as handle:
        handle.truncate(1 << 40)
    def limited():  # should the read come back, it fails here, not on the whole machine
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    for args in (("status",), ("chain", "SPEC/a/big")):
        done = subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                              capture_output=True, text=True, timeout=60, preexec_fn=limited)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "internal error" not in done.stdout + done.stderr
        if args == ("status",):
            assert ("code-from-spec/a/big/_node.md: unreadable: cannot read: is too big to "
                    "read (1099511627776 bytes)") in done.stdout, done.stdout


# -- cfs init in a checkout that brought links --------------------------------------------

@pytest.fixture
def home(tmp_path):
    found = tmp_path / "home"
    found.mkdir()
    (found / "id_rsa").write_text("PRIVATE KEY\n")
    return found


def contents(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [(), ("--mcp",)])
def test_init_never_writes_through_a_linked_spec_directory(tmp_path, home, args):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "code-from-spec").symlink_to(home)
    done = cfs(root, "init", *args)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith("cfs: code-from-spec: is a symbolic link (to ")
    assert "nothing was written. Remove the link" in done.stderr
    assert contents(home) == {"id_rsa": b"PRIVATE KEY\n"}
    assert sorted(os.listdir(root)) == ["code-from-spec"]  # nothing else made either


@pytest.mark.parametrize("rel, made, kind", [("code-from-spec", os.mkfifo, "FIFO"),
                                             ("code-from-spec/app", Path.touch, "regular file")])
def test_init_names_what_is_in_place_of_the_spec_tree(tmp_path, rel, made, kind):
    # It said "cfs: /tmp/.../code-from-spec/app: Not a directory" (or "File exists").
    root = tmp_path / "proj"
    (root / rel).parent.mkdir(parents=True)
    made(root / rel)
    done = cfs(root, "init")
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr == (f"cfs: {rel}: is a {kind}, not a directory; cfs init makes the spec "
                           "tree there, so nothing was written. Move it away, then run cfs init "
                           "again\n")
    assert sorted(os.listdir(root)) == ["code-from-spec"]


@pytest.mark.parametrize("name, args", [(".gitignore", ()), (".mcp.json", ("--mcp",))])
def test_init_never_copies_a_file_from_outside_into_the_project(tmp_path, home, name, args):
    root = tmp_path / "proj"
    root.mkdir()
    (root / name).symlink_to(home / "id_rsa")
    done = cfs(root, "init", *args)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith(f"cfs: {name}: resolves outside the project (to ")
    assert "nothing was written" in done.stderr and "Traceback" not in done.stderr
    assert sorted(os.listdir(root)) == [name] and (root / name).is_symlink()
    assert contents(home) == {"id_rsa": b"PRIVATE KEY\n"}


# -- names and paths a hostile manifest or spec brings, on the terminal ----------------------

def test_names_from_a_hostile_manifest_or_spec_never_reach_the_terminal_raw(tmp_path):
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n",
                            front='output: "out/o\\e[2Jther.txt"'),
    })
    (root / "code-from-spec" / ".manifest").write_bytes(
        b"code-from-spec: v5\nARTIFACT/gone\x1b[31m;path:x\x1b[2J\xe2\x80\xae.txt;"
        b"checksum:b8-d-9R57YJpf-5xm5-MYQoR_yo;chain:lcsL_Sl3x2EpjZYk5LTUxyo5l0o\n")
    explain = cfs(root, "explain", "SPEC/a/leaf")
    forget = cfs(root, "forget", "--orphans")
    for done in (explain, forget):
        text = done.stdout + done.stderr
        assert not set(text) & {"\x1b", "\u202e"}, text
        assert "Traceback" not in text
    assert "out/o\\x1b[2Jther.txt" in explain.stdout
    assert forget.stdout == "forgot ARTIFACT/gone\\x1b[31m (the file x\\x1b[2J\\u202e.txt " \
                           "was left as it is)\n"


def test_a_node_md_that_is_a_fifo_is_named_and_never_opened(tmp_path):
    root = project(tmp_path, "input: EXTERNAL/notes.txt")
    (root / "notes.txt").write_text("notes\n")
    (root / "code-from-spec" / "b").mkdir()
    fifo = root / "code-from-spec" / "b" / "_node.md"
    os.mkfifo(fifo)
    waiter = Waiter(fifo)
    done = cfs(root, "validate")
    assert not waiter.opened_by_someone_else()
    assert done.returncode == 2
    assert ("code-from-spec/b: missing_node_md: code-from-spec/b/_node.md is a FIFO, not a "
            "regular file, so this directory is no node (cfs never opens it); make it a "
            "regular file") in done.stdout, done.stdout
    assert "has no _node.md" not in done.stdout and "Traceback" not in done.stderr


def test_a_planted_cache_cannot_name_a_file_outside_the_project(tmp_path):
    # The content cache is the checkout's too: a chain listing there whose content "hash"
    # climbs out of .cache/.content must not bring that file into the document.
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    root = write_tree(tmp_path / "proj", {"SPEC/a": spec(
        "SPEC/a", "# Public\n\n## Interface\n\nSay hi.\n\n# Agent\n\nWrite it.\n",
        front="output: out/a.txt")})
    (root / "out").mkdir()
    (root / "out/a.txt").write_text("print(1)\n")
    assert cfs(root, "accept", "SPEC/a").returncode == 0
    recorded = (root / "code-from-spec/.manifest").read_text().rsplit("chain:", 1)[1].strip()
    chains = root / "code-from-spec/.cache/.chains"
    chains.mkdir(parents=True, exist_ok=True)
    (chains / f".{recorded}").write_text("SPEC/gone: /../../../../secret.txt\n"
                                         "SPEC/also: x/../../../../../secret.txt\n")
    shown = cfs(root, "chain", "SPEC/a")
    assert shown.returncode == 0, shown.stderr
    assert "<existing_artifact>" in shown.stdout  # (the previous chain was looked up)
    assert "SECRET" not in shown.stdout + shown.stderr
    assert 'name="SPEC/gone"' not in shown.stdout  # an old text that cannot be read is left out


@pytest.mark.parametrize("nested", ["[" * 100_000, "\n  " + "- " * 40_000 + "y",
                                    "{a: " * 40_000], ids=["flow", "block", "mapping"])
def test_frontmatter_nested_past_the_stack_is_a_finding_not_a_crash(tmp_path, nested):
    # libyaml's loader recurses in C, where nothing stops it before the stack is gone.
    root = project(tmp_path, f"x: {nested}")
    done = cfs(root, "validate")
    assert done.returncode == 2, (done.returncode, done.stderr[-300:])
    assert "code-from-spec/a/leaf/_node.md:2: malformed_frontmatter: YAML error" \
        in done.stdout, done.stdout[-500:]


def test_a_body_nested_past_the_stack_is_read_not_a_crash(tmp_path):
    # markdown-it-pyrs builds its tree by recursing, unchecked: 50,000 nested list items
    # in one line ended the process with SIGSEGV.
    root = write_tree(tmp_path / "proj", {"SPEC/a": spec(
        "SPEC/a", "# Public\n\n## Deep\n\n" + "- " * 50_000 + "x\n\n# Agent\n\nWrite it.\n",
        front="output: out/a.txt")})
    done = cfs(root, "validate")
    assert done.returncode == 0, (done.returncode, done.stdout[-300:], done.stderr[-300:])


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "json"])
def test_graph_never_puts_a_node_names_escape_sequence_on_the_terminal(tmp_path, fmt):
    # A directory name comes with the checkout; `cfs graph` is read on a terminal too.
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/le\x1b]0;PWNED\x07af\u202e": spec("SPEC/a/le\x1b]0;PWNED\x07af\u202e",
                                                "# Agent\n\nWrite it.\n",
                                                front="output: out/o\\e[2J.txt"),
    })
    done = cfs(root, "graph", "--format", fmt)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert not set(done.stdout) & {"\x1b", "\x07", "\u202e"}, done.stdout
    # (in dot's quoted strings a backslash is written twice)
    shown = {"json": "le\\u001b]0;PWNED\\u0007af", "mermaid": "le\\x1b]0;PWNED\\x07af",
             "dot": "le\\\\x1b]0;PWNED\\\\x07af"}[fmt]
    assert shown in done.stdout, done.stdout


@pytest.mark.parametrize("place", [".cfs/pending", "code-from-spec/.cache/.content"])
def test_a_fifo_among_cfs_state_files_is_never_opened(tmp_path, place):
    # The journals, the content cache and the snapshot are read by dirs.read_at: a FIFO
    # a checkout put there must not wake the writer waiting on it.
    from cfs_build.state import dirs

    directory = tmp_path / place
    directory.mkdir(parents=True)
    fifo = directory / "entry"
    os.mkfifo(fifo)
    waiter = Waiter(fifo)
    time.sleep(0.2)  # the writer is waiting in its open by then (a subprocess takes longer)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert dirs.read_at(fd, "entry") is None
    finally:
        os.close(fd)
    assert not waiter.opened_by_someone_else()


def on_terminal(root: Path, *args: str) -> bytes:
    """What `cfs ARGS` writes when its stdout and stderr are a terminal."""
    import pty
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the program ended and closed the terminal
            break
        if not data:
            break
        out += data
    os.close(leader)
    assert proc.wait(timeout=60) == 0, out
    return out


HOSTILE_TEXT = "\x1b]8;;http://evil\x07here\x1b]8;;\x07 \x1b[2J\x9b31m\u202e"


def test_chain_escapes_the_document_on_a_terminal_and_pipes_it_exactly(tmp_path):
    # The document is the specs' own text: exact for a program reading the pipe, but a
    # person looking at it must not have a spec's escape sequences drive the terminal.
    node = "SPEC/a/le\u202eaf\x9b"
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", f"# Public\n\n## Shared {HOSTILE_TEXT}\n\n{HOSTILE_TEXT}\n"),
        node: spec(node, f"# Agent\n\nWrite {HOSTILE_TEXT}\n", front="output: out/o.txt")})
    piped = cfs(root, "chain", node)
    assert piped.returncode == 0, piped.stderr
    assert f"<entry name=\"SPEC/a\">\n## Shared {HOSTILE_TEXT}\n" in piped.stdout
    assert f"<instructions>\nWrite {HOSTILE_TEXT}\n</instructions>" in piped.stdout
    shown = on_terminal(root, "chain", node).decode("utf-8")
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in shown, shown
    assert "Write \\x1b]8;;http://evil\\x07here\\x1b]8;;\\x07 \\x1b[2J\\x9b31m\\u202e" in shown


def test_chain_hash_escapes_the_labels(tmp_path):
    # Labels name nodes and headings: a directory name and a qualifier come from the specs.
    node = "SPEC/a/le\u202eaf\x9b"
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/x": spec("SPEC/x", "# Public\n\n## Sub \x1b[5mblink\n\nsub\n"),
        node: spec(node, "# Agent\n\nWrite it.\n",
                   front='output: out/o.txt\ndepends_on:\n  - "SPEC/x(Sub \\e[5mblink)"')})
    done = cfs(root, "chain", "--hash", node)
    assert done.returncode == 0, done.stderr
    assert not set(done.stdout) & {"\x1b", "\x9b", "\u202e"}, done.stdout
    assert "SPEC/x(Sub \\x1b[5mblink): " in done.stdout
    assert "AGENT[SPEC/a/le\\u202eaf\\x9b]: " in done.stdout


# -- the tree changed between the walk and the read ------------------------------------------

SWAP_AFTER_THE_WALK = """
import os, shutil, sys
from cfs_build.reading import tree
read = tree.read_all
how, outside = sys.argv[1:3]
def swapped_first(path, *rest):
    leaf = "code-from-spec/a/leaf"
    if path.endswith(leaf + "/_node.md") and not os.path.exists("swapped"):
        open("swapped", "w").close()
        if how == "link":
            shutil.rmtree(leaf)
            os.symlink(outside, leaf)
        else:
            os.unlink(leaf + "/_node.md")
            os.mkfifo(leaf + "/_node.md")
    return read(path, *rest)
tree.read_all = swapped_first
from cfs_build import cli
sys.argv[1:] = sys.argv[3:]
sys.exit(cli.main())
"""


@pytest.mark.parametrize("swap, said", [
    ("link", "resolves outside the project (to {outside}/_node.md); cfs reads only files "
             "inside it"),
    ("fifo", "is a FIFO, not a regular file")])
def test_a_node_swapped_after_the_walk_saw_it_is_never_read_from_outside_or_waited_on(
        tmp_path, swap, said):
    # The walk proves no link lies below code-from-spec/, and the nodes it found are read
    # after it: a directory swapped for a link out of the project in between had its
    # _node.md read into the document, and a _node.md swapped for a FIFO hung cfs.
    root = project(tmp_path, "depends_on: []")
    outside = tmp_path / "home"
    outside.mkdir()
    (outside / "_node.md").write_text("# SPEC/a/leaf\n\n# Agent\n\nSECRET FROM HOME\n")
    for args in (("validate",), ("chain", "SPEC/a/leaf")):
        (root / "swapped").unlink(missing_ok=True)
        leaf = root / "code-from-spec/a/leaf"
        if leaf.is_symlink():  # (the swap of the run before, put back)
            leaf.unlink()
            leaf.mkdir()
        (leaf / "_node.md").unlink(missing_ok=True)
        (leaf / "_node.md").write_text(spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n",
                                            front="output: out/leaf.txt"))
        done = subprocess.run([sys.executable, "-c", SWAP_AFTER_THE_WALK, swap, str(outside),
                               *args], cwd=root, capture_output=True, text=True, timeout=30)
        assert (root / "swapped").exists()
        assert "SECRET" not in done.stdout + done.stderr
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        if args == ("validate",):
            assert (f"code-from-spec/a/leaf/_node.md: unreadable: cannot read: "
                    f"{said.format(outside=outside)}") in done.stdout, done.stdout


def test_a_tree_directory_that_cannot_be_listed_fails_the_scan_in_one_line(tmp_path):
    # A directory the walk could not list (here: its path is past PATH_MAX; elsewhere no
    # permission) was taken as listed and empty: the nodes below it vanished without a
    # word, or it was called a directory with no _node.md.
    root = project(tmp_path, "depends_on: []")
    here = os.getcwd()
    os.chdir(root / "code-from-spec" / "a")
    try:
        name = "SPEC/a"
        while len(os.getcwd()) < 4200:  # (long names: few levels, no deep recursion)
            os.mkdir("d" * 200)
            os.chdir("d" * 200)
            name += "/" + "d" * 200
            Path("_node.md").write_text(f"# {name}\n\n# Public\n\n## S\n\nx\n")
    finally:
        os.chdir(here)
    for args in (("validate",), ("status",), ("build",)):
        done = cfs(root, *args)
        text = done.stdout + done.stderr
        assert done.returncode == 2, text[-600:]
        assert ": scan: this directory of the spec tree cannot be listed (File name too long), " \
               "so the nodes below it are unknown and no node was read; make it readable, or " \
               "rename it to start with '.'" in text, text[-600:]
        assert "missing_node_md" not in text and "Traceback" not in text


@pytest.mark.parametrize("args", [("status",), ("build",), ("accept", "SPEC/a/leaf")])
def test_a_socket_in_place_of_the_manifest_is_named_with_what_to_do(tmp_path, args):
    import socket
    root = project(tmp_path, "depends_on: []")
    here = os.getcwd()
    os.chdir(root / "code-from-spec")  # (a socket's path must be short)
    listener = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(".manifest")
    finally:
        os.chdir(here)
    with listener:
        done = cfs(root, *args)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.endswith(
        "code-from-spec/.manifest: cannot read the manifest: it is a socket, not a regular "
        "file; move it away and restore the manifest file from version control (or leave "
        "none: every artifact then counts as stale)\n"), done.stderr
