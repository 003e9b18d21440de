"""The parse index: trusted only for the exact bytes it was made from."""
from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

import cfs_build
from cfs_build.reading import index
from cfs_build.reading.index import FORMAT, INDEX_DIR, INDEX_FILE, Index, content_key
from cfs_build.analysis.project import Project
from conftest import spec

NODE = "code-from-spec/a/_node.md"


def index_path(root):
    return root / INDEX_DIR / INDEX_FILE


def test_an_edit_that_keeps_size_and_mtime_is_parsed_again(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\none\n")})
    path = root / NODE
    first = Project(root).nodes["SPEC/a"]
    stat = path.stat()
    path.write_text(spec("SPEC/a", "# Public\n## A\nowt\n"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    second = Project(root).nodes["SPEC/a"]
    assert second.public_digest != first.public_digest
    assert second == Project(root, use_index=False).nodes["SPEC/a"]


def test_an_entry_is_used_only_for_the_bytes_it_was_made_from(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\none\n")})
    Project(root)
    index = Index(root)
    key, row = index.entries[NODE]
    summary = marshal.loads(row)
    forged = summary[:8] + (b"\0" * 20,) + summary[9:]  # a different public digest
    index.put(NODE, key, marshal.dumps(forged))
    index.save()
    assert Project(root).nodes["SPEC/a"].public_digest == b"\0" * 20  # same bytes: trusted
    (root / NODE).write_text(spec("SPEC/a", "# Public\n## A\none \n"))
    assert Project(root).nodes["SPEC/a"] == Project(root, use_index=False).nodes["SPEC/a"]


def test_key_is_size_and_a_128_bit_hash():
    size, digest = content_key(b"abc")
    assert size == 3 and len(digest) == 16
    assert content_key(b"abd") != (size, digest)


def test_a_corrupt_or_foreign_index_is_ignored_and_replaced(tree):
    root = tree({"SPEC/a": spec("SPEC/a", "# Public\n## A\none\n")})
    want = Project(root, use_index=False).nodes["SPEC/a"]
    for junk in (b"", b"\x00garbage", marshal.dumps((FORMAT, b"other code", {})),
                 marshal.dumps((FORMAT - 1, Index(root).fingerprint, {}))):
        index_path(root).parent.mkdir(exist_ok=True)
        index_path(root).write_bytes(junk)
        assert Project(root).nodes["SPEC/a"] == want
        assert NODE in Index(root).entries


def test_entries_of_removed_files_are_dropped(tree):
    root = tree({"SPEC/a": spec("SPEC/a"), "SPEC/b": spec("SPEC/b")})
    Project(root)
    assert set(Index(root).entries) == {NODE, "code-from-spec/b/_node.md"}
    (root / "code-from-spec/b/_node.md").unlink()
    (root / "code-from-spec/b").rmdir()
    Project(root)
    assert set(Index(root).entries) == {NODE}


def test_index_lives_under_dot_cfs_and_replaces_older_formats(tree):
    root = tree({"SPEC/a": spec("SPEC/a")})
    (root / INDEX_DIR).mkdir()
    (root / INDEX_DIR / "index.v1").write_bytes(b"old")
    Project(root)
    assert sorted(p.name for p in (root / INDEX_DIR).iterdir()) == [".gitignore", INDEX_FILE]


def test_no_index_means_nothing_written(tree, monkeypatch):
    root = tree({"SPEC/a": spec("SPEC/a")})
    monkeypatch.setenv("CFS_NO_INDEX", "1")
    Project(root)
    assert not (root / INDEX_DIR).exists()


def test_every_module_a_summary_comes_from_stamps_the_index():
    """An edit to any module the reading code runs (the frontmatter's decoding included)
    must make the index's entries obsolete: each is a producer of its fingerprint. (The
    state package only opens directories safely; what a summary holds never comes from it.)"""
    code = ("import sys, cfs_build.reading.tree, cfs_build.reading.index\n"
            "print('\\n'.join(m.__file__ for n, m in sys.modules.items() "
            "if n.startswith('cfs_build') and not n.startswith('cfs_build.state')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    package = Path(cfs_build.__file__).parent
    used = {Path(f).relative_to(package).as_posix() for f in done.stdout.split()}
    used -= {"__init__.py", "reading/__init__.py"}
    assert "reading/go_scalars.py" in used and "reading/frontmatter.py" in used
    assert used <= set(index.producers())
