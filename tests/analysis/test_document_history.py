"""History in the generator's document over several generations (FORMAT.md 8, 9.2, 9.3),
stepped with the v5 operations as a generator would: load_chain, then write_file."""
from __future__ import annotations

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
