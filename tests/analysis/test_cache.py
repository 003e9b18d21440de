"""The v5 cache (FORMAT.md section 8): position texts, chain listings, write-once, prune."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cfs_build.analysis.cache import Cache
from cfs_build.state.manifest import ManifestEntry, render_manifest
from cfs_build.analysis.project import Project
from conftest import chain_hash, checksum, spec

CACHE = "code-from-spec/.cache"
APP = "## Context\nAll amounts in cents.\n"
API = "## Interface\nload() -> dict\n"
LEAF = "## Interface\nrun() -> int\n"
AGENT = "Write it.\n"


def files(lib_public: str = API) -> dict[str, str]:
    return {
        "SPEC/app": spec("SPEC/app", f"# Public\n\n{APP}"),
        "SPEC/app/leaf": spec("SPEC/app/leaf", f"# Public\n\n{LEAF}\n# Agent\n\n{AGENT}",
                              front="depends_on: [SPEC/lib(Interface), EXTERNAL/notes.txt]\n"
                                    "input: EXTERNAL/in.txt\noutput: out/leaf.txt"),
        "SPEC/lib": spec("SPEC/lib", f"# Public\n\n{lib_public}"),
        "SPEC/other": spec("SPEC/other", "# Agent\n\nSay hello.\n",
                           front="depends_on: [SPEC/lib]\noutput: out/other.txt"),
        "notes.txt": "notes\r\n",
        "in.txt": "input text\n",
    }


def stored(root, *nodes):
    project = Project(root, use_index=False)
    cache = Cache(project.root)
    chains = [project.resolver.chain(node) for node in nodes]
    for chain in chains:
        cache.store(project.resolver, chain)
    return cache, chains


def listing(root, kind: str) -> set[str]:
    directory = root / CACHE / kind
    return set(os.listdir(directory)) if directory.exists() else set()


def test_store_writes_every_position_text_under_its_content_hash(tree):
    root = tree(files())
    stored(root, "SPEC/app/leaf")
    texts = [APP, "notes\n", API, LEAF, AGENT, "input text\n"]
    assert listing(root, ".content") == {f".{checksum(t)}" for t in texts}
    for text in texts:
        assert (root / CACHE / ".content" / f".{checksum(text)}").read_bytes() == \
            text.encode("utf-8")


def test_store_lists_the_chain_in_order_with_labels(tree):
    root = tree(files())
    _, (chain,) = stored(root, "SPEC/app/leaf")
    expected = chain_hash(APP, "notes\n", API, LEAF, AGENT, b"I", "input text\n")
    assert chain.hash == expected
    assert listing(root, ".chains") == {f".{expected}"}
    assert (root / CACHE / ".chains" / f".{expected}").read_text(encoding="utf-8") == (
        f"SPEC/app: {checksum(APP)}\n"
        f"EXTERNAL/notes.txt: {checksum('notes' + chr(10))}\n"
        f"SPEC/lib(Interface): {checksum(API)}\n"
        f"SPEC/app/leaf: {checksum(LEAF)}\n"
        f"AGENT[SPEC/app/leaf]: {checksum(AGENT)}\n"
        f"INPUT[EXTERNAL/in.txt]: {checksum('input text' + chr(10))}\n")


def test_load_chain_and_content_round_trip(tree):
    root = tree(files())
    cache, (chain,) = stored(root, "SPEC/app/leaf")
    cached = cache.load_chain(chain.hash)
    assert cached.entries == tuple((p.label, p.content_hash) for p in chain.positions)
    assert cached.hash_of("SPEC/lib(Interface)") == checksum(API)
    assert cached.hash_of("SPEC/nope") is None
    assert cache.content(checksum(API)) == API
    assert cache.load_chain("nope") is None and cache.content("nope") is None


def test_lone_cr_in_a_position_comes_back_byte_for_byte(tree):
    root = tree({**files(), "notes.txt": "no\rtes\n"})
    cache, (chain,) = stored(root, "SPEC/app/leaf")
    assert cache.content(checksum("no\rtes\n")) == "no\rtes\n"


def test_labels_read_back_split_at_the_first_colon_space(tree):
    # FORMAT.md 8: v5 splits a chain line at its first ': ', so such a label reads back wrong.
    odd = "## a: b\u2028c\nx\n"
    root = tree({"SPEC/lib": spec("SPEC/lib", f"# Public\n\n{odd}"),
                 "SPEC/leaf": spec("SPEC/leaf", front="depends_on: ['SPEC/lib(a: b\u2028c)']\n"
                                                      "output: out.txt")})
    cache, (chain,) = stored(root, "SPEC/leaf")
    assert cache.load_chain(chain.hash).entries == (
        ("SPEC/lib(a", f"b\u2028c): {checksum(odd)}"),)


def test_content_is_read_back_normalized_as_it_is(tree):
    # v5 reads an old text as the file holds it (FORMAT.md 8), not checked against its name.
    root = tree(files())
    cache, _ = stored(root, "SPEC/app/leaf")
    (root / CACHE / ".content" / f".{checksum(API)}").write_bytes(b"truncat\r\n")
    assert cache.content(checksum(API)) == "truncat\n"


def test_files_are_write_once(tree):
    root = tree(files())
    cache, (chain,) = stored(root, "SPEC/app/leaf")
    content = root / CACHE / ".content" / f".{checksum(API)}"
    listing_file = root / CACHE / ".chains" / f".{chain.hash}"
    before = (content.stat().st_ino, listing_file.stat().st_ino)
    stored(root, "SPEC/app/leaf")
    assert (content.stat().st_ino, listing_file.stat().st_ino) == before
    assert not [n for n in os.listdir(root / CACHE / ".content") if n.endswith(".tmp")]


def test_chain_that_cannot_be_computed_stores_nothing(tree):
    root = tree({**files(), "SPEC/app/leaf": spec(
        "SPEC/app/leaf", front="depends_on: [EXTERNAL/gone.txt]\noutput: out/leaf.txt")})
    cache, (chain,) = stored(root, "SPEC/app/leaf")
    assert chain.hash is None
    assert not (root / CACHE).exists()


def test_unwritable_cache_is_ignored(tree):
    root = tree(files())
    (root / CACHE).parent.mkdir(exist_ok=True)
    (root / CACHE).write_text("a file where the cache directory should be")
    cache, (chain,) = stored(root, "SPEC/app/leaf")  # no exception
    assert cache.load_chain(chain.hash) is None


def test_prune_keeps_named_chains_and_their_content_only(tree):
    root = tree(files())
    cache, (leaf, other) = stored(root, "SPEC/app/leaf", "SPEC/other")
    # An older chain of other, with a lib text no kept chain names any more.
    old_api = "## Interface\nload() -> list\n"
    (root / "code-from-spec/lib/_node.md").write_text(spec("SPEC/lib", f"# Public\n\n{old_api}"))
    _, (old_other,) = stored(root, "SPEC/other")
    assert len(listing(root, ".chains")) == 3
    removed = cache.prune({leaf.hash, other.hash})
    assert listing(root, ".chains") == {f".{leaf.hash}", f".{other.hash}"}
    assert f".{checksum(old_api)}" not in listing(root, ".content")
    # API is named by leaf only through its qualified subsection, other by the whole lib.
    assert f".{checksum(API)}" in listing(root, ".content")
    assert removed == (1, 1)
    assert cache.prune({leaf.hash, other.hash}) == (0, 0)


def test_prune_with_nothing_kept_empties_the_cache(tree):
    root = tree(files())
    cache, _ = stored(root, "SPEC/app/leaf")
    cache.prune(set())
    assert listing(root, ".chains") == set() and listing(root, ".content") == set()


def test_prune_of_a_missing_cache(tree):
    assert Cache(tree(files())).prune(set()) == (0, 0)


def cfs(root, *args):
    result = subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_cfs_cache_reconstruct_then_prune(tree):
    root = tree(files())
    project = Project(root, use_index=False)
    leaf, other = (project.resolver.chain(n) for n in ("SPEC/app/leaf", "SPEC/other"))
    entries = {
        "ARTIFACT/app/leaf": ManifestEntry("ARTIFACT/app/leaf", "out/leaf.txt", "x" * 27,
                                           leaf.hash),
        # A chain from before an edit: it cannot be rebuilt from the current specs.
        "ARTIFACT/other": ManifestEntry("ARTIFACT/other", "out/other.txt", "x" * 27, "y" * 27),
    }
    (root / "code-from-spec/.manifest").write_text(render_manifest(entries))
    out = cfs(root, "cache", "reconstruct")
    assert "cached 1 chain(s); 1 entry not current" in out
    assert listing(root, ".chains") == {f".{leaf.hash}"}
    assert Cache(root).load_chain(leaf.hash).entries == tuple(
        (p.label, p.content_hash) for p in leaf.positions)
    Cache(root).store(project.resolver, other)  # e.g. left over from an earlier build
    stray = root / CACHE / ".content" / (".stray" + "x" * 22)  # named as cfs names them
    stray.write_text("no chain names this\n")
    foreign = root / CACHE / ".content" / ".stray"  # not a name cfs makes: never deleted
    foreign.write_text("someone else's\n")
    out = cfs(root, "cache", "prune")
    assert "removed 1 chain(s) and 2 content file(s)" in out  # other's agent text and stray
    assert listing(root, ".chains") == {f".{leaf.hash}"}
    assert listing(root, ".content") == {f".{p.content_hash}" for p in leaf.positions} | {
        ".stray"}


def test_accept_writes_nothing_to_the_cache(tree):
    # FORMAT.md 8: "`accept` writes nothing". A cached chain would give the next document
    # dispositions and previous sections v5 does not give after its accept (9.2).
    root = tree({"SPEC/leaf": spec("SPEC/leaf", "# Public\n\n## I\n\nx\n\n# Agent\n\nGo.\n",
                                   front="output: out/leaf.txt"),
                 "out/leaf.txt": "by hand\n"})
    run = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "accept",
                          "ARTIFACT/leaf"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert not (root / CACHE).exists()
    from cfs_build.building import v5tools
    assert v5tools.load_chain(root, "SPEC/leaf") == (
        "<chain>\n<existing_artifact>\nby hand\n</existing_artifact>\n<constraints>\n"
        '<entry name="SPEC/leaf">\n## I\nx\n</entry>\n</constraints>\n'
        "<instructions>\nGo.\n</instructions>\n</chain>\n")
