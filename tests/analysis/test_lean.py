"""One chain read lean (lean.py) answers exactly as the whole analysis does: every document,
refusal, chain, write and accept, on every v5 vector and on random trees."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfs_build.building import v5tools
from cfs_build.analysis.cache import Cache
from cfs_build.analysis.document import generator_document
from cfs_build.errors import CfsError
from cfs_build.analysis.lean import LeanMemo, LeanProject, NeedsFull
from cfs_build.state.manifest import MANIFEST
from cfs_build.reading.names import artifact_of
from cfs_build.analysis.project import Project
from conftest import VECTORS

CASES = sorted(p.name for p in VECTORS.iterdir() if (p / "expected.json").is_file())
ODD_NAMES = ["SPEC/", "SPEC", "SPEC/nope", "SPEC/a/../a", "SPEC/./a", "SPEC//a", "SPEC/.cache",
             "SPEC/a(Interface)", "ARTIFACT/a", "EXTERNAL/a", "src/a.py", "SPEC/a/", "spec/a"]


def names_to_ask(root: Path) -> list[str]:
    """Every node, every directory, every name any depends_on or input holds, odd names."""
    project = Project(root, use_index=False)
    names = set(project.tree.nodes) | set(ODD_NAMES)
    for directory in project.tree.dirs:
        names.add("SPEC/" + directory.partition("/")[2])
    for info in project.tree.nodes.values():
        for raw in (*info.depends_on, info.input or ""):
            names.add(raw)
            names.add(raw.split("(")[0])
    for name in list(names):
        if name.startswith("SPEC/"):
            names.add(artifact_of(name))
    return sorted(n for n in names if n)


def _answer(call) -> tuple[str, str]:
    try:
        return "ok", call()
    except v5tools.Refusal as refusal:
        return "refused", f"{refusal.message} ({refusal.exit_code})"
    except CfsError as exc:
        return "error", f"{exc} ({exc.exit_code})"


def _document(project, name: str, hashed: bool):
    """What `cfs chain NAME` (or `--hash`) prints, through the project given."""
    chain = project.chain(name)
    if hashed:
        return (chain.hash, [(p.label, p.content_hash) for p in chain.positions], chain.blocked,
                chain.waiting, chain.failure)
    entry = project.manifest.get(artifact_of(chain.node))
    return generator_document(project.resolver, Cache(project.root), chain,
                              entry.chain if entry else None)


def answers(root: Path, lean: bool, names: list[str], memo: LeanMemo | None = None) -> list:
    """Every one-chain answer on ``root``, in order (the cache each writes is seen next).

    The readers share one project (what they write, the cache and dump_chain.xml, is
    read afresh by each); each writer gets a new one, as each call of the server does.
    """

    def project():
        return LeanProject(root, memo) if lean else Project(root, use_index=False)

    def through(call, shared=None):
        def run():
            try:
                return call(shared or project())
            except NeedsFull:
                assert lean
                return call(Project(root, use_index=False))
        return run

    out = []
    try:
        reader = project()
    except NeedsFull:  # a tree v5 cannot scan (a link, no node): the whole analysis answers
        assert lean
        reader = Project(root, use_index=False)
    for name in names:
        out.append(_answer(through(lambda p: v5tools.load_chain(p, name), reader)))
        out.append(_answer(through(lambda p: _document(p, name, True), reader)))
        out.append(_answer(through(lambda p: _document(p, name, False), reader)))
        out.append(_answer(through(lambda p: v5tools.dump_chain(p, name), reader)))
        dump = root / v5tools.DUMP_FILE
        out.append(dump.read_bytes() if dump.exists() else None)  # (bytes kept as read)
    # The writers, each on the state the previous left: same answers, same manifest.
    for name in names:
        out.append(_answer(through(lambda p: v5tools.accept(p, name))))
    for name in names:
        out.append(_answer(through(lambda p: v5tools.write_file(p, name, f"{name}\n"))))
        manifest = root / MANIFEST
        out.append(manifest.read_bytes() if manifest.exists() else None)
    return [_placeless(item, root) for item in out]


def _placeless(item, root: Path):
    """An answer with the project's place in it written <root> (two copies are compared)."""
    if isinstance(item, str):
        return item.replace(str(root.resolve()), "<root>")
    if isinstance(item, bytes):
        return item.replace(os.fsencode(root.resolve()), b"<root>")
    if isinstance(item, tuple):
        return tuple(_placeless(part, root) for part in item)
    return item


def compare(source: Path, work: Path, *, memo: bool = False, extra: tuple[str, ...] = (),
            after_copy=None) -> None:
    full_root, lean_root = work / "full", work / "lean"
    for root in (full_root, lean_root):
        shutil.copytree(source, root, symlinks=True)
        (root / "expected.json").unlink(missing_ok=True)
        if after_copy is not None:
            after_copy(root)
    names = sorted(set(names_to_ask(full_root)) | set(extra))
    want = answers(full_root, False, names)
    got = answers(lean_root, True, names, LeanMemo() if memo else None)
    assert len(got) == len(want)
    for index, (ours, theirs) in enumerate(zip(got, want)):
        assert ours == theirs, (index, names[index // 5] if index < 5 * len(names) else index)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_lean_answers_equal_the_whole_analysis_on_every_vector(case, tmp_path):
    compare(VECTORS / case, tmp_path, memo=case.startswith(("h", "q", "d")))


# -- random trees ------------------------------------------------------------------

# (beyond ASCII: composed and decomposed, a byte that is no UTF-8, and ';')
_SEGMENTS = st.sampled_from(["a", "b", "c", "Ab", "x y", "\u00e9t\u00e9", "e\u0301", "x\udcff",
                             "a;b"])
# Bytes that are no UTF-8 (a lone byte, a sequence cut short), as surrogateescape text.
_BAD = st.sampled_from(["", "", "\udcff", "\udcc3", "\udce2\udc82"])
_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=3).map(tuple)


def _output_of(path: tuple) -> str:
    """A node's output path, written in UTF-8 whatever its directory is named (a byte
    that is no UTF-8 in a frontmatter value is another name, U+FFFD)."""
    return "out/" + "_".join(path).encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace").replace("\ufffd", "ff") + ".txt"


@st.composite
def trees(draw):
    """A small project: nodes (some broken or missing), imports of every kind, outputs,
    artifact files, a manifest that records some of them."""
    paths = draw(st.lists(_PATHS, min_size=1, max_size=7, unique=True))
    known = ["SPEC/" + "/".join(p) for p in paths]
    refs = st.one_of(
        st.sampled_from(known + ["SPEC/zz", "SPEC/a/", "src/x", "SPEC/a(Interface)"]),
        st.sampled_from(known).map(lambda n: n + "(Interface)"),
        st.sampled_from(known).map(lambda n: "ARTIFACT/" + n[5:]),
        st.sampled_from(["EXTERNAL/notes.txt", "EXTERNAL/missing.txt", "EXTERNAL/dir"]))
    files = {"notes.txt": draw(st.sampled_from([b"notes\r\n", b"no\xfftes\r\n"])),
             "dir/inner.txt": b"x"}
    nodes = {}
    for path, name in zip(paths, known):
        kind = draw(st.sampled_from(["good", "good", "good", "bad_yaml", "wrong_name",
                                     "absent"]))
        if kind == "absent":
            continue
        # (numbers and booleans are taken as their text; a value may hold bad bytes)
        deps = draw(st.lists(st.one_of(refs, st.sampled_from(["1", "true", "2.5"]),
                                       st.tuples(refs, _BAD).map("".join)), max_size=3))
        tab = draw(st.sampled_from(["", "", "\t", " \t"]))  # after a line's text: white space
        front = []
        if deps:
            front.append(f"depends_on:{tab}\n" + "".join(f"  - {d}{tab}\n" for d in deps))
        if draw(st.booleans()):
            front.append(f"output: {_output_of(path)}{tab}\n")
        if draw(st.integers(0, 4)) == 0:
            front.append(f"input: {draw(refs)}{draw(_BAD)}\n")
        head = "---\n" + "".join(front) + "---\n" if front else ""
        if kind == "bad_yaml":
            head = "---\noutput: [unclosed\n---\n"
        title = "Other" if kind == "wrong_name" else name
        bad = draw(_BAD)
        body = draw(st.sampled_from([
            "# Public\n\n## Interface\n\nThe interface.\n",
            "# Public\n\n## Interface\n\nI.\n\n## Rules\n\nR.\n\n# Agent\n\nDo it.\n",
            f"# Public\n\n## Inter{bad}face\n\nI{bad}.\n\n# Agent\n\nDo {bad}it.\n",
            "# Public\n\n## Interface\n\nI.\n\r## Rules\n\r---\n\r```\n\n# Agent\n\nDo it.\n",
            "# Private\n\nnothing public\n", ""]))
        nodes[path] = f"{head}# {title}{draw(_BAD)}\n\n{bad}{body}"
        if draw(st.booleans()):
            files[_output_of(path)] = draw(st.sampled_from(
                [b"", b"made\n", b"x\r\n", b"m\xffade\n", b"\xe2\x82\n"]))
    return nodes, files, draw(st.booleans())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(trees())
def test_lean_answers_equal_the_whole_analysis_on_random_trees(tmp_path_factory, tree):
    nodes, files, record = tree
    work = tmp_path_factory.mktemp("random")
    source = work / "source"
    (source / "code-from-spec").mkdir(parents=True)
    for path, text in nodes.items():
        directory = source / "code-from-spec" / Path(*path)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "_node.md").write_bytes(text.encode("utf-8", "surrogateescape"))
    for rel, data in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    if record:  # a manifest recording whatever can be accepted now
        for name in names_to_ask(source):
            try:
                v5tools.accept(Project(source, use_index=False), name)
            except (v5tools.Refusal, CfsError):
                pass
    compare(source, work / "copies", memo=record)


def test_lean_finds_exactly_the_nodes_the_walk_finds_in_odd_layouts(tmp_path):
    """Dot directories, a _node.md that is a directory or a FIFO, a file where a node
    directory would be, another case, a node below a directory without _node.md."""
    source = tmp_path / "source"
    deps = ["SPEC/.hidden/x", "SPEC/b/.y", "SPEC/d", "SPEC/f", "SPEC/fifo", "SPEC/g",
            "SPEC/g/h", "SPEC/B", "ARTIFACT/.hidden/x", "ARTIFACT/g/h", "EXTERNAL/f", "SPEC/p",
            "ARTIFACT/p"]
    layout = {
        "a/_node.md": "---\noutput: out/a.txt\ndepends_on:\n" + "".join(
            f"  - {d}\n" for d in deps) + "---\n# SPEC/a\n\n# Public\n\n## Interface\n\nA.\n",
        "b/_node.md": "# SPEC/b\n\n# Public\n\n## Interface\n\nB.\n",
        "b/.y/_node.md": "# SPEC/b/.y\n",
        ".hidden/x/_node.md": "---\noutput: out/x.txt\n---\n# SPEC/.hidden/x\n",
        "d/_node.md/keep": "a directory named _node.md\n",
        "f": "a file where a node directory would be\n",
        "g/h/_node.md": "---\noutput: out/h.txt\n---\n# SPEC/g/h\n\n# Agent\n\nh\n",
        "g/h/notes.txt": "other files in a node directory are ignored\n",
        # p is no leaf: a node sits below it across a directory without _node.md.
        "p/_node.md": "---\noutput: out/p.txt\n---\n# SPEC/p\n",
        "p/gap/c/_node.md": "---\noutput: out/c.txt\n---\n# SPEC/p/gap/c\n",
    }
    for rel, text in layout.items():
        path = source / "code-from-spec" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (source / "out").mkdir()
    (source / "out" / "h.txt").write_text("h\n")

    def fifo(root: Path) -> None:
        (root / "code-from-spec" / "fifo").mkdir()
        os.mkfifo(root / "code-from-spec" / "fifo" / "_node.md")
    compare(source, tmp_path / "copies", extra=tuple(deps), after_copy=fifo)
    compare(source, tmp_path / "memo", memo=True, extra=tuple(deps), after_copy=fifo)


# -- where the lean reading gives way to the whole analysis ---------------------------

def _small(root: Path) -> Path:
    for rel, text in {"a/_node.md": "---\noutput: out/a.txt\n---\n# SPEC/a\n\n# Public\n\n"
                                    "## Interface\n\nA.\n",
                      "b/_node.md": "# SPEC/b\n\n# Public\n\n## Interface\n\nB.\n"}.items():
        path = root / "code-from-spec" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_link_on_the_way_or_an_output_path_hands_over_to_the_whole_analysis(tmp_path):
    root = _small(tmp_path / "p")
    assert LeanProject(root).chain("SPEC/a").hash == Project(root).chain("SPEC/a").hash
    with pytest.raises(NeedsFull):
        LeanProject(root).chain("out/a.txt")  # an output path names its node via the tree
    with pytest.raises(NeedsFull):
        list(LeanProject(root).tree.nodes)
    (root / "code-from-spec" / "link").symlink_to(root / "code-from-spec" / "b")
    with pytest.raises(NeedsFull):
        LeanProject(root)  # a link anywhere fails v5's scan: only the whole analysis says so
    # The front doors fall back and answer as the whole analysis does: v5's refusal.
    for where in (root, Project(root)):
        with pytest.raises(v5tools.Refusal, match="symlinks are not allowed in the spec tree"):
            v5tools.load_chain(where, "SPEC/a")


def test_a_directory_name_that_is_no_utf8_is_refused_as_one_with_a_semicolon(tmp_path):
    # Found by the random trees: accept (and a build's write) of such a node failed with
    # an internal UnicodeEncodeError while writing the manifest, which cfs reads as UTF-8.
    # Like a ';', the name cannot be recorded: refused before anything is written, lean
    # and whole alike, and `cfs status` warns of it (node_name).
    source = tmp_path / "source"
    for directory in ("x\udcff", "a;b"):
        node = source / "code-from-spec" / directory
        node.mkdir(parents=True)
        (node / "_node.md").write_bytes(
            f"---\noutput: out/{len(directory)}.txt\n---\n# SPEC/{directory}\n\n# Public\n\n"
            "## Interface\n\nI.\n\n# Agent\n\nDo it.\n".encode("utf-8", "surrogateescape"))
        (source / "out").mkdir(exist_ok=True)
        (source / "out" / f"{len(directory)}.txt").write_text("made\n")
    compare(source, tmp_path / "copies")
    for name in ("SPEC/x\udcff", "SPEC/a;b"):
        with pytest.raises(v5tools.Refusal, match="cannot record"):
            v5tools.accept(source, name)
    assert not (source / MANIFEST).exists()
    warned = [f.node for f in Project(source, use_index=False).report().findings
              if f.rule == "node_name"]
    assert warned == ["SPEC/a;b", "SPEC/x\udcff"]


def test_lean_sees_a_node_below_a_directory_without_node_md(tree):
    # As the whole tree does (tree.assemble_tree): p is no leaf, its child across the gap.
    root = tree({"SPEC/p": "---\noutput: out/p.txt\n---\n# SPEC/p\n",
                 "SPEC/p/gap/c": "---\noutput: out/c.txt\n---\n# SPEC/p/gap/c\n",
                 "code-from-spec/p/.dot/d/_node.md": "# SPEC/p/.dot/d\n",
                 "SPEC/q": "# SPEC/q\n", "code-from-spec/q/.dot/d/_node.md": "# SPEC/q/.dot/d\n"})
    lean, full = LeanProject(root).tree, Project(root, use_index=False).tree
    for tree_ in (lean, full):
        assert not tree_.is_leaf("SPEC/p")
        assert tree_.children.get("SPEC/p") == ["SPEC/p/gap/c"]
        assert tree_.is_leaf("SPEC/q")


def test_a_chain_deeper_than_the_interpreter_recurses(tmp_path):
    # v5 resolves a leaf a thousand directories down like any other; so must the lean
    # reading, which finds each ancestor's directory from the tree's root down.
    depth, made, name = 1100, [tmp_path / "code-from-spec"], "SPEC"
    try:
        for _ in range(depth):
            made.append(made[-1] / "a")
            name += "/a"
            made[-1].mkdir(parents=True)
            (made[-1] / "_node.md").write_text(f"# {name}\n")
        (made[-1] / "_node.md").write_text(f"---\noutput: out/l.txt\n---\n# {name}\n\n"
                                           "# Public\n\n## P\nx\n\n# Agent\nW\n")
        assert v5tools.load_chain(LeanProject(tmp_path), name) == (
            f'<chain>\n<constraints>\n<entry name="{name}">\n## P\nx\n</entry>\n'
            "</constraints>\n<instructions>\nW\n</instructions>\n</chain>\n")
    finally:  # (the test runner's own clean-up recurses into each directory)
        shutil.rmtree(tmp_path / "code-from-spec" / ".cache", ignore_errors=True)
        for directory in reversed(made):
            for child in directory.iterdir():
                if not child.is_dir():
                    child.unlink()
            directory.rmdir()
