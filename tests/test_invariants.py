"""Invariants the vectors cannot enumerate: line endings, the order of depends_on, and the
two ways to write a heading (property tests over whole projects)."""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cfs_build.reading.headings import structural_headings
from cfs_build.analysis.project import Project
from conftest import spec, write_tree

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Lines that make every kind of structure: sections, subsections, setext underlines,
# thematic breaks, fences, quotes, lists, indented code, trailing blanks.
LINES = ["", "", "text", "  indented", "trailing  ", "a\tb", "# Public", "# Agent", "# Private",
         "## Interface", "## interface ", "## Errors", "Title", "---", "===", "```", "> quote",
         "- item", "    code", "### deeper", "## `Foo` API", "\u00a0", "#", "*x*",
         # a CR opening a line (paragraph text); bytes that are no UTF-8 (surrogateescape)
         "\r## Hidden", "\r---", "\r```", "b\udcffd", "## B\udcc3", "\udce2\udc82"]
BODY = st.lists(st.sampled_from(LINES), max_size=14)


def _project(files: dict[str, str | bytes]):
    """Write ``files`` to a fresh directory and read it; the caller closes the directory."""
    tmp = tempfile.TemporaryDirectory()
    root = write_tree(Path(tmp.name), {rel: text.encode("utf-8", "surrogateescape")
                                       if isinstance(text, str) else text
                                       for rel, text in files.items()})
    return tmp, Project(root, use_index=False)


def _outcome(project: Project) -> tuple:
    """What must not change: every leaf's chain hash and content digests, and the findings."""
    chains = {}
    for name in project.tree.leaves():
        chain = project.chain(name)
        chains[name] = (chain.hash, [p.digest for p in chain.positions])
    findings = Counter((f.node, f.rule, f.severity) for f in project.findings)
    return chains, findings


def _join(lines: list[str], crlf: list[bool]) -> str:
    """The lines, each ended by CRLF or LF as ``crlf`` says (LF where it says nothing)."""
    return "".join(line + ("\r\n" if i < len(crlf) and crlf[i] else "\n")
                   for i, line in enumerate(lines))


def _mixed_tree(lib: list[str], other: list[str], ext: list[str], crlf: list[bool]) -> dict:
    leaf = ["---", "depends_on:", "  - SPEC/other(Interface)", "  - SPEC/other",
            "  - EXTERNAL/ext.txt", "input: SPEC/other(errors)", "output: out/leaf.txt", "---",
            "# SPEC/lib/leaf", "", "# Public", "", "## Own", "own", "", "# Agent", "", "do it"]
    return {"SPEC/lib": _join(["# SPEC/lib", *lib], crlf),
            "SPEC/lib/leaf": _join(leaf, crlf[len(lib):]),
            "SPEC/other": _join(["# SPEC/other", *other], crlf[::-1]),
            "ext.txt": _join(ext, crlf[1:])}


@pytest.mark.slow
@SETTINGS
@given(BODY, BODY, BODY, st.lists(st.booleans(), min_size=1, max_size=40))
def test_any_crlf_lf_mix_hashes_like_its_lf_form(lib, other, ext, crlf):
    tmp_lf, lf = _project(_mixed_tree(lib, other, ext, []))
    tmp_mix, mixed = _project(_mixed_tree(lib, other, ext, crlf))
    with tmp_lf, tmp_mix:
        assert _outcome(mixed) == _outcome(lf)


ENTRIES = ["SPEC/lib(Interface)", "SPEC/lib(interface)", "SPEC/lib( Errors )", "SPEC/lib(errors)",
           "SPEC/lib", "SPEC/other", "SPEC/other(Missing)", "SPEC/other(A)tail", "EXTERNAL/ext.txt",
           "EXTERNAL/ext.txt(v1)", "ARTIFACT/gen", "ARTIFACT/gen(I)"]


def _deps_tree(entries: list[str]) -> dict:
    listed = "".join(f"\n  - '{entry}'" for entry in entries)
    return {
        "SPEC/lib": spec("SPEC/lib", "# Public\n## Interface\nf()\n## Errors\nE\n"),
        "SPEC/other": spec("SPEC/other", "# Public\n## A\na\n"),
        "SPEC/gen": spec("SPEC/gen", "# Agent\ngen\n", front="output: gen.txt"),
        "gen.txt": "generated\n",
        "ext.txt": "external\n",
        "ext.txt(v1)": "the name as written\n",
        "SPEC/leaf": spec("SPEC/leaf", "# Agent\ndo\n",
                          front=f"depends_on:{listed}\noutput: out/leaf.txt"),
    }


@SETTINGS
@given(st.lists(st.sampled_from(ENTRIES), min_size=1, max_size=8).flatmap(
    lambda entries: st.tuples(st.just(entries), st.permutations(entries))))
@pytest.mark.slow
def test_reordering_depends_on_never_changes_the_chain(pair):
    entries, shuffled = pair
    tmp_one, one = _project(_deps_tree(entries))
    tmp_two, two = _project(_deps_tree(shuffled))
    with tmp_one, tmp_two:
        assert _outcome(one) == _outcome(two)
        assert one.chain("SPEC/leaf").hash == two.chain("SPEC/leaf").hash


# Heading texts with inline markup, escapes, entities and odd spacing.
HEADING_TEXT = st.lists(st.sampled_from(["Foo", "bar", " ", "  ", "`code`", "*em*", "_u_",
                                         "[l](u)", "<b>", "&amp;", "\\_", "a*b", "ß", "\u00a0",
                                         "<http://a.invalid>", "![i](p)", "x"]),
                        min_size=1, max_size=6).map("".join)

# Where a heading's raw line is never hashed, so ATX and setext must give one chain:
# the name heading, the # Public and # Private headings, a ## under # Private or under
# the name heading. (Under # Public or # Agent the raw line is delivered: it differs.)
PLACES = ["name", "public", "private", "private_sub", "name_sub"]


def _heading_doc(place: str, text: str, setext: bool) -> str:
    def heading(level: int, words: str) -> str:
        if setext:
            return f"{words}\n{'=' if level == 1 else '-' * 3}\n"
        return f"{'#' * level} {words}\n"

    name = heading(1, text) if place == "name" else "# SPEC/lib\n"
    public = heading(1, text) if place == "public" else "# Public\n"
    private = heading(1, text) if place == "private" else "# Private\n"
    sub = heading(2, text)
    return (name + (f"\n{sub}\nabout\n" if place == "name_sub" else "\nIntro.\n")
            + f"\n{public}\n## Interface\n\nf()\n\n{private}\n"
            + (f"\n{sub}\nnotes\n" if place == "private_sub" else "\nnotes\n"))


def _headings(text: str) -> list[tuple[int, str]]:
    lines = text.split("\n")[:-1]
    return [(h.level, h.text) for h in structural_headings(text, lines)]


@SETTINGS
@given(st.sampled_from(PLACES), st.one_of(HEADING_TEXT, st.sampled_from(
    ["SPEC/lib", " spec/LIB ", "SPEC/*lib*", "Public", "PUBLIC ", "private", "Private"])))
@pytest.mark.slow
def test_setext_and_atx_headings_give_one_chain(place, text):
    atx, setext = _heading_doc(place, text, False), _heading_doc(place, text, True)
    # "Where both parse": both read one heading there, of that level and text.
    expected = 5 if place.endswith("_sub") else 4
    assume(_headings(atx) == _headings(setext) and len(_headings(atx)) == expected)
    leaf = spec("SPEC/lib/leaf", "# Agent\ndo\n",
                front="depends_on: ['SPEC/other(Interface)']\noutput: out/l.txt")
    trees = [{"SPEC/lib": doc, "SPEC/lib/leaf": leaf, "SPEC/other": doc.replace(
        "SPEC/lib", "SPEC/other")} for doc in (atx, setext)]
    tmp_one, one = _project(trees[0])
    tmp_two, two = _project(trees[1])
    with tmp_one, tmp_two:
        chains_one, findings_one = _outcome(one)
        chains_two, findings_two = _outcome(two)
        assert chains_one == chains_two
        # A setext # Public's underline is content: public_subsection_required, a verdict
        # only (FORMAT.md 4.2); nothing else may differ.
        extra = Counter({key: n for key, n in (findings_two - findings_one).items()
                         if not (place == "public" and key[1] == "public_subsection_required")})
        assert not extra and not findings_one - findings_two


@pytest.mark.slow
@SETTINGS
@given(HEADING_TEXT)
def test_setext_and_atx_subsections_are_imported_by_one_text(text):
    docs = [spec("SPEC/lib", f"# Public\n\n{form}\n\nbody\n") for form in
            (f"## {text}", f"{text}\n---")]
    assume(_headings(docs[0]) == _headings(docs[1]) and len(_headings(docs[0])) == 3)
    outcomes = []
    for doc in docs:
        tmp, project = _project({"SPEC/lib": doc, "SPEC/leaf": spec(
            "SPEC/leaf", "# Agent\ndo\n", front=f"depends_on: ['SPEC/lib({text})']\noutput: o")})
        with tmp:
            chain = project.chain("SPEC/leaf")
            outcomes.append([(p.label, p.role) for p in chain.positions])
    # The same positions; only the raw heading inside the delivered text differs.
    assert outcomes[0] == outcomes[1]
