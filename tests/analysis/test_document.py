"""The generator's document (FORMAT.md section 9): sections, order, dispositions, old texts."""
from __future__ import annotations

import re

import pytest

from cfs_build.analysis.cache import Cache
from cfs_build.analysis.document import render_document
from cfs_build.errors import CfsError
from cfs_build.analysis.project import Project
from cfs_build.building import v5tools
from conftest import chain_hash, checksum, spec

LEAF = "SPEC/app/leaf"
APP = "## Context\nAll amounts in cents.\n"
API = "## Interface\nload() -> dict\n"
ERRORS = "## Errors\nLoadError\n"
LEAF_PUBLIC = "## Interface\nrun() -> int\n"


def leaf(depends=("SPEC/lib(Interface)", "EXTERNAL/notes.txt"), agent="Write it.\n",
         input_: str | None = "EXTERNAL/in.txt", public=LEAF_PUBLIC) -> str:
    front = f"depends_on: [{', '.join(depends)}]\noutput: out/leaf.txt"
    if input_:
        front += f"\ninput: {input_}"
    body = f"# Public\n\n{public}" if public else ""
    if agent is not None:
        body += f"\n# Agent\n\n{agent}"
    return spec(LEAF, body, front=front)


def project_files(**leaf_args) -> dict[str, str]:
    return {
        "SPEC/app": spec("SPEC/app", f"# Public\n\n{APP}"),
        LEAF: leaf(**leaf_args),
        "SPEC/lib": spec("SPEC/lib", f"# Public\n\n{API}\n{ERRORS}"),
        "notes.txt": "notes\n",
        "in.txt": "input text\n",
    }


def render(root, previous: str | None = None, **kw) -> str:
    project = Project(root, use_index=False)
    chain = project.resolver.chain(LEAF)
    return render_document(project.resolver, chain, cache=Cache(project.root),
                           previous_hash=previous, **kw)


def generated(root) -> str:
    """Pretend a generation happened: cache the chain, write the file; its chain hash."""
    project = Project(root, use_index=False)
    chain = project.resolver.chain(LEAF)
    Cache(project.root).store(project.resolver, chain)
    (root / "out").mkdir(exist_ok=True)
    (root / "out/leaf.txt").write_text("def run():\n    return 0\n")
    return chain.hash


def edit(root, rel: str, text: str) -> None:
    if rel.startswith("SPEC/"):
        rel = f"code-from-spec/{rel[5:]}/_node.md"
    (root / rel).write_text(text, encoding="utf-8")


def tags(document: str) -> list[str]:
    """The sections directly inside <chain>, in order."""
    found, depth = [], 0
    for closing, tag in re.findall(r"^<(/?)(\w+)[ >]", document, re.M):
        depth += -1 if closing else 1
        if not closing and depth == 2:
            found.append(tag)
    return found


FIRST = (
    "<chain>\n"
    "<constraints>\n"
    f'<entry name="SPEC/app">\n{APP}</entry>\n'
    '<entry name="EXTERNAL/notes.txt">\nnotes\n</entry>\n'
    f'<entry name="SPEC/lib(Interface)">\n{API}</entry>\n'
    f'<entry name="SPEC/app/leaf">\n{LEAF_PUBLIC}</entry>\n'
    "</constraints>\n"
    "<instructions>\nWrite it.\n</instructions>\n"
    "<input>\ninput text\n</input>\n"
    "</chain>\n")


def test_first_generation_document(tree):
    assert render(tree(project_files())) == FIRST


def test_existing_file_without_cached_chain_has_no_dispositions(tree):
    root = tree(project_files())
    (root / "out").mkdir()
    (root / "out/leaf.txt").write_bytes(b"old\r\nfile")
    document = render(root, previous="not-in-the-cache")
    assert document == FIRST.replace("<constraints>", "<existing_artifact>\nold\nfile\n"
                                     "</existing_artifact>\n<constraints>", 1)
    assert "disposition" not in document and "previous" not in document


def test_existing_false_leaves_the_file_and_history_out(tree):
    root = tree(project_files())
    previous = generated(root)
    edit(root, "SPEC/app", spec("SPEC/app", "# Public\n\n## Context\nEuros.\n"))
    document = render(root, previous=previous, existing=False)
    assert "existing_artifact" not in document and "disposition" not in document


def test_cached_chain_without_the_file_is_first_generation(tree):
    root = tree(project_files())
    previous = generated(root)
    (root / "out/leaf.txt").unlink()
    assert render(root, previous=previous) == FIRST


def test_nothing_changed_every_entry_unchanged(tree):
    root = tree(project_files())
    previous = generated(root)
    document = render(root, previous=previous)
    assert tags(document) == ["existing_artifact", "constraints", "instructions",
                              "input"]
    assert re.findall(r'disposition="(\w+)"', document) == ["unchanged"] * 6


def test_changes_since_the_previous_generation(tree):
    root = tree(project_files())
    previous = generated(root)
    edit(root, "SPEC/app", spec("SPEC/app", "# Public\n\n## Context\nAll amounts in euros.\n"))
    edit(root, LEAF, leaf(depends=("SPEC/lib(Interface)", "SPEC/lib(Errors)"),
                          agent="Write it well.\n"))
    edit(root, "in.txt", "new input\n")
    assert render(root, previous=previous) == (
        "<chain>\n"
        "<previous_constraints>\n"
        f'<entry name="SPEC/app" disposition="changed">\n{APP}</entry>\n'
        '<entry name="EXTERNAL/notes.txt" disposition="removed">\nnotes\n</entry>\n'
        "</previous_constraints>\n"
        "<previous_instructions>\n"
        '<instructions disposition="changed">\nWrite it.\n</instructions>\n'
        "</previous_instructions>\n"
        "<previous_input>\n"
        '<input disposition="changed">\ninput text\n</input>\n'
        "</previous_input>\n"
        "<existing_artifact>\ndef run():\n    return 0\n</existing_artifact>\n"
        "<constraints>\n"
        '<entry name="SPEC/app" disposition="changed">\n## Context\nAll amounts in euros.\n'
        "</entry>\n"
        f'<entry name="SPEC/lib(Errors)" disposition="added">\n{ERRORS}</entry>\n'
        f'<entry name="SPEC/lib(Interface)" disposition="unchanged">\n{API}</entry>\n'
        f'<entry name="SPEC/app/leaf" disposition="unchanged">\n{LEAF_PUBLIC}</entry>\n'
        "</constraints>\n"
        '<instructions disposition="changed">\nWrite it well.\n</instructions>\n'
        '<input disposition="changed">\nnew input\n</input>\n'
        "</chain>\n")


def test_previous_sections_only_for_what_changed(tree):
    root = tree(project_files())
    previous = generated(root)
    edit(root, "notes.txt", "other notes\n")
    document = render(root, previous=previous)
    assert tags(document) == ["previous_constraints", "existing_artifact",
                              "constraints", "instructions", "input"]
    assert '<entry name="EXTERNAL/notes.txt" disposition="changed">\nnotes\n</entry>' in document
    assert '<instructions disposition="unchanged">' in document
    assert '<input disposition="unchanged">' in document


def test_input_renamed_with_the_same_text_is_added(tree):
    # FORMAT.md 9.2, 9.3: dispositions go by label; an input naming another source has no
    # previous input, and its label is new to the cached chain.
    root = tree({**project_files(), "in2.txt": "input text\n"})
    previous = generated(root)
    edit(root, LEAF, leaf(input_="EXTERNAL/in2.txt"))
    document = render(root, previous=previous)
    assert "previous_input" not in document
    assert '<input disposition="added">\ninput text\n</input>' in document


def test_input_and_agent_dropped_show_as_removed(tree):
    root = tree(project_files())
    previous = generated(root)
    edit(root, LEAF, leaf(input_=None, agent=None))
    document = render(root, previous=previous)
    assert tags(document) == ["previous_instructions", "previous_input",
                              "existing_artifact", "constraints"]
    assert '<previous_instructions>\n<instructions disposition="removed">\nWrite it.\n' \
        in document
    assert '<previous_input>\n<input disposition="removed">\ninput text\n' in document


def test_agent_emptied_but_kept_is_removed_and_has_no_disposition(tree):
    # An empty # Agent is no position: <instructions> without a disposition (M6).
    root = tree(project_files())
    previous = generated(root)
    edit(root, LEAF, leaf(agent=""))
    document = render(root, previous=previous)
    assert '<instructions>\n</instructions>\n' in document
    assert '<previous_instructions>\n<instructions disposition="removed">\nWrite it.\n' \
        in document


def test_agent_and_input_added(tree):
    root = tree(project_files(agent=None, input_=None))
    previous = generated(root)
    edit(root, LEAF, leaf())
    document = render(root, previous=previous)
    assert "previous" not in document
    assert '<instructions disposition="added">\nWrite it.\n</instructions>' in document
    assert '<input disposition="added">\ninput text\n</input>' in document


def test_instructions_present_even_when_empty(tree):
    document = render(tree(project_files(agent="")))
    assert "<instructions>\n</instructions>\n" in document


def test_no_agent_section_no_instructions(tree):
    document = render(tree(project_files(agent=None)))
    assert "instructions" not in document


def test_input_with_empty_content_is_still_present(tree):
    # The input SPEC/empty has no Public: its position is left out, the marker is not.
    root = tree({**project_files(input_="SPEC/empty"),
                 "SPEC/empty": spec("SPEC/empty", "Nothing public.\n")})
    document = render(root)
    assert document.endswith("<input>\n</input>\n</chain>\n")


def test_input_of_a_spec_subsection(tree):
    root = tree(project_files(input_="SPEC/lib(errors)"))
    assert render(root).endswith(f"<input>\n{ERRORS}</input>\n</chain>\n")


def test_constraints_section_even_without_entries(tree):
    # M5: v5 always writes the <constraints> block.
    root = tree({"SPEC/solo": spec("SPEC/solo", "# Agent\n\nGo.\n", front="output: x.txt")})
    project = Project(root, use_index=False)
    document = render_document(project.resolver, project.resolver.chain("SPEC/solo"))
    assert document == ("<chain>\n<constraints>\n</constraints>\n<instructions>\nGo.\n"
                        "</instructions>\n</chain>\n")


def test_missing_old_content_keeps_dispositions_and_leaves_the_old_text_out(tree):
    # M6: a cache whose .content is gone still gives dispositions; old texts are left out.
    root = tree(project_files())
    previous = generated(root)
    (root / f"code-from-spec/.cache/.content/.{checksum(APP)}").unlink()
    edit(root, "SPEC/app", spec("SPEC/app", "# Public\n\n## Context\nEuros.\n"))
    document = render(root, previous=previous)
    assert '<entry name="SPEC/app" disposition="changed">' in document
    assert "previous" not in document
    assert tags(document) == ["existing_artifact", "constraints", "instructions",
                              "input"]


def test_missing_old_agent_text_leaves_out_previous_instructions(tree):
    root = tree(project_files())
    previous = generated(root)
    (root / f"code-from-spec/.cache/.content/.{checksum('Write it.' + chr(10))}").unlink()
    edit(root, LEAF, leaf(agent="Other.\n"))
    document = render(root, previous=previous)
    assert "previous_instructions" not in document
    assert '<instructions disposition="changed">\nOther.\n' in document


def test_unusable_chain_is_an_error(tree):
    root = tree(project_files())
    (root / "in.txt").unlink()
    with pytest.raises(CfsError) as caught:
        render(root)
    assert caught.value.exit_code == 2


def test_existing_file_that_is_not_utf8_arrives_with_replacement_characters(tree):
    # FORMAT.md 3: bytes are not decoded; in the document invalid bytes arrive as U+FFFD.
    root = tree(project_files())
    (root / "out").mkdir()
    (root / "out/leaf.txt").write_bytes(b"ok\xff\n")
    assert "<existing_artifact>\nok\ufffd\n</existing_artifact>\n" in v5tools.load_chain(root, LEAF)


def test_each_invalid_byte_is_one_replacement_character_as_in_v5s_json(tree):
    # v5's answer is JSON written by Go, which replaces every byte that does not start a
    # valid sequence on its own: a cut-short three- or four-byte sequence is two or three
    # U+FFFD (Python's "replace" would make each of them one). Valid text around stays.
    root = tree(project_files())
    (root / "out").mkdir()
    (root / "out/leaf.txt").write_bytes(b"a\xe2\x82b \xf0\x9f\x98c \xed\xa0\x80 \xc3\xa9\xff\n")
    assert ("<existing_artifact>\na\ufffd\ufffdb \ufffd\ufffd\ufffdc \ufffd\ufffd\ufffd \u00e9\ufffd\n"
            "</existing_artifact>\n") in v5tools.load_chain(root, LEAF)


def test_dump_chain_writes_the_bytes_of_a_file_that_is_not_utf8_as_they_are(tree):
    # The replacement is JSON's (FORMAT.md 3); dump_chain writes the document itself.
    root = tree(project_files())
    (root / "out").mkdir()
    (root / "out/leaf.txt").write_bytes(b"a\xe2\x82b\xff\n")
    assert v5tools.dump_chain(root, LEAF) == "wrote dump_chain.xml"
    assert b"<existing_artifact>\na\xe2\x82b\xff\n</existing_artifact>\n" in \
        (root / "dump_chain.xml").read_bytes()


# -- what each section of each node delivers, in one tree (FORMAT.md 4.5, 5, 9.1) ----------

SECTIONS_TREE = {
    # The root's # Public holds only level-3 headings (nothing delivered) and it has an
    # # Agent of its own (leaf_only_agent: never part of a leaf's chain).
    "SPEC/p": "# SPEC/p\nAbout p.\n## Notes\nnot delivered\n# Public\n### Deep\ntext\n"
              "# Agent\nparent's own instructions\n",
    # CRLF endings; blank lines of spaces, tabs and no-break spaces at a block's ends.
    "SPEC/p/m": b"# SPEC/p/m\r\n\r\n# Public\r\n\r\n## A  \r\n \t\r\n\xc2\xa0\r\na\tb  \r\n"
                b"\r\n\xc2\xa0\r\n\t\r\n## B\r\n\r\n \r\n",
    "SPEC/d": "# SPEC/d\n# Public\n##  a  ##  \n\n  x  \n\n## c\ny\n",
    # Blank lines before a name heading written otherwise; # Private first, with a ## A;
    # section headings in other case and spacing; a file ending in a heading, no newline.
    "SPEC/p/m/l": "---\ndepends_on: [SPEC/d(A), SPEC/d(c)]\ninput: SPEC/d(none)\n"
                  "output: out/l.txt\n---\n\n \t\n#  spec/P/M/L  #\n# PRIVATE\n## A\nmine\n"
                  "#  public \n## A\n\n## b\nb\n\n#\tAgent\n\ndo it\n## Steps\n1. go\n## Last",
}


def test_sections_deliver_their_blocks_in_chain_order(tree):
    root = tree(SECTIONS_TREE)
    m_public = "## A\n\u00a0\na\tb  \n\n\u00a0\n\n## B\n"
    l_public = "## A\n\n## b\nb\n"
    agent = "do it\n\n## Steps\n1. go\n\n## Last\n"
    assert v5tools.load_chain(root, "SPEC/p/m/l") == (
        "<chain>\n<constraints>\n"
        f'<entry name="SPEC/p/m">\n{m_public}</entry>\n'
        '<entry name="SPEC/d(A)">\n##  a  ##\n  x  \n</entry>\n'
        '<entry name="SPEC/d(c)">\n## c\ny\n</entry>\n'
        f'<entry name="SPEC/p/m/l">\n{l_public}</entry>\n'
        "</constraints>\n"
        f"<instructions>\n{agent}</instructions>\n"
        "<input>\n</input>\n"
        "</chain>\n")
    project = Project(root, use_index=False)
    assert project.resolver.chain("SPEC/p/m/l").hash == chain_hash(
        m_public, "##  a  ##\n  x  \n", "## c\ny\n", l_public, agent, b"I")
    # v5 reports the root's loose # Public text and its # Agent; nothing else.
    assert v5tools.validate_specs(root).startswith(
        "Format errors:\n"
        "  [SPEC/p] leaf_only_agent: # Agent section is only permitted on leaf nodes\n"
        "  [SPEC/p] public_subsection_required: content in # Public must be under a ## "
        "subsection\nStaleness:\n")
