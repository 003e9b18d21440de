"""History in the generator's document over several generations (FORMAT.md 8, 9.2, 9.3),
stepped with the v5 operations as a generator would: load_chain, then write_file."""
from __future__ import annotations

import shutil
from pathlib import Path

from cfs_build.building import v5tools
from conftest import digest, b64, spec

LEAF = "SPEC/app/leaf"


def chain_file(root: Path) -> Path:
    """The one chain file the manifest names for the leaf."""
    manifest = (root / "code-from-spec/.manifest").read_text().splitlines()
    chain = [line for line in manifest if line.startswith("ARTIFACT/app/leaf;")][0]
    return root / f"code-from-spec/.cache/.chains/.{chain.rsplit('chain:', 1)[1]}"


def content_hash(text: str) -> str:
    return b64(digest(text))


def generate(root: Path, content: str = "generated\n") -> str:
    """One generation: the document it is sent, then the file written."""
    document = v5tools.load_chain(root, LEAF)
    v5tools.write_file(root, LEAF, content)
    return document


def test_a_label_listed_twice_in_a_chain_file_takes_its_last_hash(tree):
    # FORMAT.md 8: a chain file is read back line by line into label -> hash; v5 keeps
    # the last line of a label (a map filled in file order), as a damaged or hand-merged
    # file may repeat one. Its old text is the one the last line names.
    root = tree({"SPEC/app": spec("SPEC/app", "# Public\n\n## Context\nv1\n"),
                 LEAF: spec(LEAF, "# Agent\nDo it.\n", front="output: out/leaf.txt")})
    generate(root)
    listing = chain_file(root)
    other = "## Context\nv0\n"
    (root / f"code-from-spec/.cache/.content/.{content_hash(other)}").write_text(other)
    listing.write_text(listing.read_text() + f"SPEC/app: {content_hash(other)}\n")
    document = v5tools.load_chain(root, LEAF)
    assert ('<previous_constraints>\n<entry name="SPEC/app" disposition="changed">\n'
            "## Context\nv0\n</entry>\n</previous_constraints>\n") in document
    assert '<entry name="SPEC/app" disposition="changed">\n## Context\nv1\n' in document


def leaf_tree(tree, front: str = "", public: str = "## Interface\nrun()\n",
              agent: str | None = "Do it.\n"):
    body = f"# Public\n\n{public}" if public else ""
    if agent is not None:
        body += f"\n# Agent\n\n{agent}"
    return tree({"SPEC/app": spec("SPEC/app", "# Public\n\n## Context\nv1\n"),
                 "SPEC/lib": spec("SPEC/lib", "# Public\n\n## a: b\ncolon\n\n## Other\nx\n"),
                 LEAF: spec(LEAF, body, front=f"output: out/leaf.txt\n{front}")})


def test_existing_artifact_is_the_normalized_read_of_any_file(tree):
    # FORMAT.md 9.1: <existing_artifact> holds the normalized text (section 3): CRLF read
    # as LF, a final LF added, and a 0-byte file reads as one empty line. An untracked
    # file (no manifest entry) is shown too, with no history (9.2).
    root = leaf_tree(tree)
    (root / "out").mkdir()
    for data, shown in ((b"a\r\nb\r\n", "a\nb\n"), (b"last", "last\n"), (b"", "\n"),
                        (b"\n\n", "\n\n"), (b"x\r", "x\n")):
        (root / "out/leaf.txt").write_bytes(data)
        document = v5tools.load_chain(root, LEAF)
        assert f"<chain>\n<existing_artifact>\n{shown}</existing_artifact>\n<constraints>\n" \
            in document
        assert "disposition" not in document


def test_a_tracked_file_whose_chain_file_is_gone_has_no_history(tree):
    # FORMAT.md 9.2: history needs the recorded chain's file in the cache.
    root = leaf_tree(tree)
    generate(root)
    chain_file(root).unlink()
    (root / "code-from-spec/app/_node.md").write_text(
        spec("SPEC/app", "# Public\n\n## Context\nv2\n"))
    document = v5tools.load_chain(root, LEAF)
    assert "disposition" not in document and "previous" not in document
    assert "<existing_artifact>\ngenerated\n</existing_artifact>\n" in document


def test_a_qualifier_holding_colon_space_is_added_at_every_generation(tree):
    # FORMAT.md 8: a chain line is split at its first ': ', so `SPEC/lib(a: b)` reads back
    # as the label `SPEC/lib(a`: never found again, so the position is always `added`,
    # and the misread label is no position of any chain (its old text cannot be found).
    root = leaf_tree(tree, front="depends_on: ['SPEC/lib(a: b)']")
    generate(root)
    generate(root, "second\n")
    document = v5tools.load_chain(root, LEAF)
    assert '<entry name="SPEC/lib(a: b)" disposition="added">\n## a: b\ncolon\n' in document
    assert "previous_constraints" not in document
    assert '<entry name="SPEC/app" disposition="unchanged">' in document


def test_two_nodes_with_the_same_contents_share_one_chain_file(tree):
    # FORMAT.md 6, 8: the chain hash covers content hashes, not labels, so two leaves
    # with the same texts have one chain hash, and the chain file is write-once: the
    # second leaf reads the first one's labels. Its own are `added`; the first leaf's
    # public is `removed` (a label of no current position), its agent label is skipped.
    same = "# Public\n\n## Interface\nrun()\n\n# Agent\nDo it.\n"
    root = tree({"SPEC/app": spec("SPEC/app", "# Public\n\n## Context\nv1\n"),
                 "SPEC/app/one": spec("SPEC/app/one", same, front="output: out/one.txt"),
                 "SPEC/app/two": spec("SPEC/app/two", same, front="output: out/two.txt")})
    for node in ("SPEC/app/one", "SPEC/app/two"):
        v5tools.load_chain(root, node)
        v5tools.write_file(root, node, "generated\n")
    assert v5tools.load_chain(root, "SPEC/app/two") == (
        "<chain>\n"
        "<previous_constraints>\n"
        '<entry name="SPEC/app/one" disposition="removed">\n## Interface\nrun()\n</entry>\n'
        "</previous_constraints>\n"
        "<existing_artifact>\ngenerated\n</existing_artifact>\n"
        "<constraints>\n"
        '<entry name="SPEC/app" disposition="unchanged">\n## Context\nv1\n</entry>\n'
        '<entry name="SPEC/app/two" disposition="added">\n## Interface\nrun()\n</entry>\n'
        "</constraints>\n"
        '<instructions disposition="added">\nDo it.\n</instructions>\n'
        "</chain>\n")


def test_three_generations_with_every_disposition_at_once(tree):
    # FORMAT.md 9.2, 9.3: in one step an ancestor's public emptied (removed, first group,
    # chain order), two imports taken out (removed, last group, cached chain order: X2),
    # an artifact import changed, a qualified import added, one unchanged; the next
    # generation sees only what changed since the one before it.
    leaf = "SPEC/app/leaf"

    def node(deps: str) -> str:
        return spec(leaf, "# Public\n\n## Interface\nrun()\n",
                    front=f"output: out/leaf.txt\ndepends_on: [{deps}]")

    root = tree({"SPEC/app": spec("SPEC/app", "# Public\n\n## Context\nv1\n"),
                 "SPEC/lib": spec("SPEC/lib", "# Public\n\n## A\nalpha\n\n## b\nbeta\n"),
                 "SPEC/p": spec("SPEC/p", "# Public\n\n## I\np\n", front="output: out/p.txt"),
                 leaf: node("EXTERNAL/e2.txt, SPEC/lib(A), ARTIFACT/p, EXTERNAL/e1.txt"),
                 "e1.txt": "one\n", "e2.txt": "two\n", "out/p.txt": "p1\n"})
    generate(root)
    (root / "code-from-spec/app/_node.md").write_text(spec("SPEC/app", "# Public\n"))
    (root / "code-from-spec/app/leaf/_node.md").write_text(
        node("SPEC/lib(b), ARTIFACT/p, SPEC/lib(A)"))
    (root / "out/p.txt").write_text("p2\r\n")
    assert generate(root, "second\n") == (
        "<chain>\n"
        "<previous_constraints>\n"
        '<entry name="SPEC/app" disposition="removed">\n## Context\nv1\n</entry>\n'
        '<entry name="ARTIFACT/p" disposition="changed">\np1\n</entry>\n'
        '<entry name="EXTERNAL/e1.txt" disposition="removed">\none\n</entry>\n'
        '<entry name="EXTERNAL/e2.txt" disposition="removed">\ntwo\n</entry>\n'
        "</previous_constraints>\n"
        "<existing_artifact>\ngenerated\n</existing_artifact>\n"
        "<constraints>\n"
        '<entry name="ARTIFACT/p" disposition="changed">\np2\n</entry>\n'
        '<entry name="SPEC/lib(A)" disposition="unchanged">\n## A\nalpha\n</entry>\n'
        '<entry name="SPEC/lib(b)" disposition="added">\n## b\nbeta\n</entry>\n'
        '<entry name="SPEC/app/leaf" disposition="unchanged">\n## Interface\nrun()\n'
        "</entry>\n"
        "</constraints>\n"
        "</chain>\n")
    (root / "code-from-spec/app/_node.md").write_text(
        spec("SPEC/app", "# Public\n\n## Context\nv2\n"))
    assert generate(root, "third\n") == (
        "<chain>\n"
        "<existing_artifact>\nsecond\n</existing_artifact>\n"
        "<constraints>\n"
        '<entry name="SPEC/app" disposition="added">\n## Context\nv2\n</entry>\n'
        '<entry name="ARTIFACT/p" disposition="unchanged">\np2\n</entry>\n'
        '<entry name="SPEC/lib(A)" disposition="unchanged">\n## A\nalpha\n</entry>\n'
        '<entry name="SPEC/lib(b)" disposition="unchanged">\n## b\nbeta\n</entry>\n'
        '<entry name="SPEC/app/leaf" disposition="unchanged">\n## Interface\nrun()\n'
        "</entry>\n"
        "</constraints>\n"
        "</chain>\n")


def test_a_chain_file_with_a_line_without_colon_space_gives_no_history(tree):
    # v5 (internal/cache ReadChain) refuses a whole chain file when one line does not split
    # at ': ' (ErrChainFileCorrupted), an empty line included; load_chain then serves the
    # first-generation form, and prune_cache keeps no content for that chain.
    for damage in ("garbage\n", "\n"):
        root = leaf_tree(tree)
        generate(root)
        listing = chain_file(root)
        listing.write_text(listing.read_text() + damage)
        (root / "code-from-spec/app/_node.md").write_text(
            spec("SPEC/app", "# Public\n\n## Context\nv2\n"))
        assert v5tools.load_chain(root, LEAF) == (
            "<chain>\n"
            "<existing_artifact>\ngenerated\n</existing_artifact>\n"
            "<constraints>\n"
            '<entry name="SPEC/app">\n## Context\nv2\n</entry>\n'
            '<entry name="SPEC/app/leaf">\n## Interface\nrun()\n</entry>\n'
            "</constraints>\n"
            "<instructions>\nDo it.\n</instructions>\n"
            "</chain>\n")
        # Kept: the recorded chain. Deleted: the chain just loaded, and every text, since
        # the kept chain names none that v5 can read.
        assert v5tools.prune_cache(root) == \
            "pruned cache: 1 chain files deleted, 4 content files deleted"


def test_an_empty_chain_file_is_the_chain_with_no_position(tree):
    # A chain with no position is written as a 0-byte file; v5 reads it as no lines (not
    # as one empty, corrupted line): what is there now is `added`.
    root = tree({"SPEC/l": spec("SPEC/l", "", front="output: out/l.txt")})
    v5tools.load_chain(root, "SPEC/l")
    v5tools.write_file(root, "SPEC/l", "x\n")
    (root / "code-from-spec/l/_node.md").write_text(
        spec("SPEC/l", "# Agent\nDo.\n", front="output: out/l.txt"))
    assert v5tools.load_chain(root, "SPEC/l") == (
        "<chain>\n<existing_artifact>\nx\n</existing_artifact>\n<constraints>\n"
        '</constraints>\n<instructions disposition="added">\nDo.\n</instructions>\n</chain>\n')


def test_an_input_taken_out_put_back_from_another_source_and_switched_again(tree):
    # FORMAT.md 9.3: a cached INPUT[...] label with no input declared now is the removed
    # previous input; an input declared again is `added` with no previous input, and one
    # naming another source than the cached one has none either (the old INPUT label is
    # never listed among the previous constraints). Between them: a hand edit accepted
    # (its chain's file is there: history stays) and the cache pruned to what the
    # manifest names.
    def leaf(front: str = "") -> str:
        return spec(LEAF, "# Public\n\n## Interface\nrun()\n\n# Agent\nDo it.\n",
                    front=f"output: out/leaf.txt\n{front}")

    root = tree({"SPEC/app": spec("SPEC/app", "# Public\n\n## Context\nv1\n"),
                 LEAF: leaf("input: EXTERNAL/in.txt"), "in.txt": "one\n",
                 "other.txt": "other\n"})
    unchanged = ('<entry name="SPEC/app" disposition="unchanged">\n## Context\nv1\n</entry>\n'
                 '<entry name="SPEC/app/leaf" disposition="unchanged">\n## Interface\nrun()\n'
                 "</entry>\n</constraints>\n"
                 '<instructions disposition="unchanged">\nDo it.\n</instructions>\n')
    node = root / "code-from-spec/app/leaf/_node.md"
    generate(root, "g1\n")
    node.write_text(leaf())
    assert generate(root, "g2\n") == (
        "<chain>\n"
        '<previous_input>\n<input disposition="removed">\none\n</input>\n</previous_input>\n'
        "<existing_artifact>\ng1\n</existing_artifact>\n"
        "<constraints>\n" + unchanged + "</chain>\n")
    (root / "out/leaf.txt").write_text("g2 by hand\n")
    assert v5tools.accept(root, LEAF) == "accepted out/leaf.txt"
    assert v5tools.load_chain(root, LEAF) == (
        "<chain>\n<existing_artifact>\ng2 by hand\n</existing_artifact>\n"
        "<constraints>\n" + unchanged + "</chain>\n")
    # The first chain and the input's text go; the recorded chain and its texts stay.
    assert v5tools.prune_cache(root) == \
        "pruned cache: 1 chain files deleted, 1 content files deleted"
    node.write_text(leaf("input: EXTERNAL/other.txt"))
    assert generate(root, "g3\n") == (
        "<chain>\n<existing_artifact>\ng2 by hand\n</existing_artifact>\n"
        "<constraints>\n" + unchanged + '<input disposition="added">\nother\n</input>\n'
        "</chain>\n")
    node.write_text(leaf("input: EXTERNAL/in.txt"))
    assert v5tools.load_chain(root, LEAF) == (
        "<chain>\n<existing_artifact>\ng3\n</existing_artifact>\n"
        "<constraints>\n" + unchanged + '<input disposition="added">\none\n</input>\n'
        "</chain>\n")


def test_history_stays_with_the_recorded_chain_while_generations_fail_and_prune_runs(tree):
    # FORMAT.md 8, 9.2: until a file is written the manifest keeps the first chain; every
    # load_chain compares with it. prune_cache deletes the chain loaded in between (no
    # entry names it) and the text only it named, never the recorded chain's texts.
    root = leaf_tree(tree)
    app = root / "code-from-spec/app/_node.md"
    generate(root, "g1\n")

    def document(now: str) -> str:
        return ("<chain>\n<previous_constraints>\n"
                '<entry name="SPEC/app" disposition="changed">\n## Context\nv1\n</entry>\n'
                "</previous_constraints>\n<existing_artifact>\ng1\n</existing_artifact>\n"
                "<constraints>\n"
                f'<entry name="SPEC/app" disposition="changed">\n## Context\n{now}\n</entry>\n'
                '<entry name="SPEC/app/leaf" disposition="unchanged">\n## Interface\nrun()\n'
                '</entry>\n</constraints>\n<instructions disposition="unchanged">\nDo it.\n'
                "</instructions>\n</chain>\n")

    app.write_text(spec("SPEC/app", "# Public\n\n## Context\nv2\n"))
    assert v5tools.load_chain(root, LEAF) == document("v2")  # and no write_file
    assert v5tools.prune_cache(root) == \
        "pruned cache: 1 chain files deleted, 1 content files deleted"
    app.write_text(spec("SPEC/app", "# Public\n\n## Context\nv3\n"))
    assert v5tools.load_chain(root, LEAF) == document("v3")


def test_an_old_text_ending_lines_in_cr_comes_back_without_it(tree):
    # FORMAT.md 3, 8: a file line ending in two CRs is delivered with one (only one CR
    # before a LF is dropped) and stored so; v5 reads the stored text back as lines, which
    # drops that CR too: the previous entry shows the line without it.
    root = leaf_tree(tree, front="depends_on: [EXTERNAL/e.txt]")
    (root / "e.txt").write_bytes(b"a\r\r\nb\n")
    first = generate(root)
    assert '<entry name="EXTERNAL/e.txt">\na\r\nb\n</entry>\n' in first
    (root / "e.txt").write_bytes(b"c\n")
    document = v5tools.load_chain(root, LEAF)
    assert ("<previous_constraints>\n"
            '<entry name="EXTERNAL/e.txt" disposition="changed">\na\nb\n</entry>\n'
            "</previous_constraints>\n") in document
    assert '<entry name="EXTERNAL/e.txt" disposition="changed">\nc\n</entry>\n' in document


def test_a_deleted_cache_rebuilt_by_reconstruct_cache_gives_history_back(tree):
    # FORMAT.md 8: reconstruct_cache writes the current chain of every entry; for an up-to-
    # date artifact that is the recorded one, so the next edit is shown against it again.
    root = leaf_tree(tree)
    generate(root)
    shutil.rmtree(root / "code-from-spec/.cache")
    assert v5tools.reconstruct_cache(root) == ("reconstructed cache: 1 entries processed, "
                                               "3 content files written, 1 chain files written")
    (root / "code-from-spec/app/_node.md").write_text(
        spec("SPEC/app", "# Public\n\n## Context\nv2\n"))
    assert v5tools.load_chain(root, LEAF).startswith(
        "<chain>\n<previous_constraints>\n"
        '<entry name="SPEC/app" disposition="changed">\n## Context\nv1\n</entry>\n'
        "</previous_constraints>\n<existing_artifact>\ngenerated\n</existing_artifact>\n")
