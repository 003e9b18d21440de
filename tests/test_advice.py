"""Hints a newcomer can trust: a misspelt frontmatter key and a leaf that can never be generated
are named (warnings, outside v5's report), an orphan is never answered with "delete the file",
and `cfs accept` refuses while a format error concerns the artifact."""
from __future__ import annotations

import json

import pytest

from cfs_build.building import v5tools
from cfs_build.cli import main
from cfs_build.state.manifest import MANIFEST
from conftest import spec

ROOT = spec("SPEC/r", "\n# Public\n## X\nx\n")


def leaf(name: str, front: str | None, agent: str = "do it\n") -> str:
    return spec(name, f"\n# Agent\n{agent}", front=front)


def cfs(root, capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["-C", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- warnings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key, hint", [
    ("ouptut", "did you mean 'output'?"),
    ("Output", "did you mean 'output'?"),
    ("depends-on", "did you mean 'depends_on'?"),
    ("inptu", "did you mean 'input'?"),
    ("owner", "the keys are depends_on, input and output"),
])
def test_an_unknown_frontmatter_key_is_a_warning_with_the_closest_key(tree, capsys, key, hint):
    root = tree({"SPEC/r": ROOT,
                 "SPEC/r/a": leaf("SPEC/r/a", f"output: a.txt\n{key}: x\n")})
    code, out, _ = cfs(root, capsys, "validate")
    assert code == 0  # a warning never fails validation
    assert out.splitlines()[0] == (
        f"code-from-spec/r/a/_node.md:3: warning: frontmatter_key: unknown frontmatter key "
        f"{key!r}: {hint} (an unknown key is ignored)")


def test_a_leaf_with_agent_but_no_output_is_a_warning(tree, capsys):
    root = tree({"SPEC/r": ROOT, "SPEC/r/a": leaf("SPEC/r/a", "ouptut: a.txt"),
                 "SPEC/r/lib": spec("SPEC/r/lib", "\n# Public\n## API\nf()\n")})
    code, out, _ = cfs(root, capsys, "validate")
    assert code == 0
    lines = out.splitlines()
    assert "code-from-spec/r/a/_node.md:2: warning: frontmatter_key: unknown frontmatter key " \
           "'ouptut': did you mean 'output'? (an unknown key is ignored)" in lines
    assert "code-from-spec/r/a/_node.md:6: warning: agent_without_output: this leaf has a " \
           "# Agent section but no output, so nothing is ever generated from it; add " \
           "'output: PATH' to its frontmatter" in lines
    # A leaf with neither (one that only states rules for others) is fine as it is.
    assert not any("r/lib" in line for line in lines)


def test_the_warnings_stay_out_of_the_v5_report(tree):
    root = tree({"SPEC/r": ROOT, "SPEC/r/a": leaf("SPEC/r/a", "ouptut: a.txt")})
    assert v5tools.validate_specs(root) == "All specs are valid.\n"


def test_status_counts_warnings_apart_from_errors(tree, capsys):
    root = tree({"SPEC/r": ROOT, "SPEC/r/a": leaf("SPEC/r/a", "ouptut: a.txt")})
    code, out, _ = cfs(root, capsys, "status")
    assert code == 0
    assert out.startswith("Format problems (0 errors, 2 warnings):\n")


# -- orphans ----------------------------------------------------------------------------------

@pytest.fixture
def recorded(tree, capsys):
    """Two leaves whose files cfs recorded (accepted), ready to be renamed or misspelt."""
    root = tree({"SPEC/r": ROOT,
                 "SPEC/r/a": leaf("SPEC/r/a", "output: a.txt"),
                 "SPEC/r/b": leaf("SPEC/r/b", "output: b.txt"),
                 "a.txt": "a\n", "b.txt": "b\n"})
    assert cfs(root, capsys, "accept", "SPEC/r/a", "SPEC/r/b")[0] == 0
    return root


def orphans_of(root, capsys) -> dict[str, list[str]]:
    code, out, _ = cfs(root, capsys, "status", "--json")
    assert code == 1
    return {o["name"]: o["reasons"] for o in json.loads(out)["orphans"]}


def never_delete(text: str) -> None:
    assert "delete" not in text.lower() and "remove" not in text.lower(), text


def test_a_misspelt_output_key_is_named_and_the_file_is_kept(recorded, capsys):
    spec_file = recorded / "code-from-spec/r/a/_node.md"
    spec_file.write_text(spec_file.read_text().replace("output:", "ouptut:"))
    reasons = orphans_of(recorded, capsys)["ARTIFACT/r/a"]
    assert reasons[0] == ("SPEC/r/a still exists but declares no output: "
                          "code-from-spec/r/a/_node.md:2: unknown frontmatter key 'ouptut': "
                          "did you mean 'output'? (an unknown key is ignored)")
    assert "fix its frontmatter" in reasons[1] and "cfs forget ARTIFACT/r/a" in reasons[1]
    code, out, _ = cfs(recorded, capsys, "status")
    orphan_part = out[out.index("orphan (1):"):]
    never_delete(orphan_part)
    assert "fix the spec" in orphan_part.splitlines()[0]
    assert "      " + reasons[0] in orphan_part.splitlines()
    code, out, _ = cfs(recorded, capsys, "explain", "ARTIFACT/r/a")
    assert code == 1
    assert out.splitlines() == ["ARTIFACT/r/a  a.txt: orphan", *("  " + r for r in reasons)]
    # Fixing the key makes the entry the node's own again, file and record untouched.
    spec_file.write_text(spec_file.read_text().replace("ouptut:", "output:"))
    assert cfs(recorded, capsys, "status")[0] == 0


def test_a_moved_node_is_pointed_at_its_new_name(recorded, capsys):
    old = recorded / "code-from-spec/r/b"
    old.rename(recorded / "code-from-spec/r/c")
    spec_file = recorded / "code-from-spec/r/c/_node.md"
    spec_file.write_text(spec_file.read_text().replace("SPEC/r/b", "SPEC/r/c"))
    [reason] = orphans_of(recorded, capsys)["ARTIFACT/r/b"]
    assert reason == ("b.txt is now the output of ARTIFACT/r/c (`cfs accept ARTIFACT/r/c` "
                      "records the file for it); `cfs forget ARTIFACT/r/b` drops the entry and "
                      "leaves b.txt as it is")
    # explain by the old name, by SPEC name; the path itself means the new node's artifact.
    assert cfs(recorded, capsys, "explain", "SPEC/r/b")[1].startswith("ARTIFACT/r/b  b.txt: orphan")
    assert cfs(recorded, capsys, "explain", "b.txt")[1].startswith("ARTIFACT/r/c  b.txt: stale")
    # Following the advice settles everything without losing the file.
    assert cfs(recorded, capsys, "accept", "ARTIFACT/r/c")[0] == 0
    assert cfs(recorded, capsys, "forget", "ARTIFACT/r/b")[0] == 0
    assert cfs(recorded, capsys, "status")[0] == 0
    assert (recorded / "b.txt").read_text() == "b\n"


def test_a_deleted_node_gets_forget_not_delete(recorded, capsys):
    (recorded / "code-from-spec/r/b/_node.md").unlink()
    (recorded / "code-from-spec/r/b").rmdir()
    reasons = orphans_of(recorded, capsys)["ARTIFACT/r/b"]
    assert reasons == ["SPEC/r/b no longer exists (deleted, renamed or moved)",
                       "if another node should produce b.txt, give it `output: b.txt`; if none "
                       "should, `cfs forget ARTIFACT/r/b` drops the entry and leaves b.txt as "
                       "it is"]
    for reason in reasons:
        never_delete(reason.replace("(deleted, renamed or moved)", ""))


# -- accept -----------------------------------------------------------------------------------

def test_accept_refuses_while_a_format_error_concerns_the_artifact(tree, capsys):
    root = tree({"SPEC/r": ROOT,
                 "SPEC/r/a": leaf("SPEC/r/a", "output: out.txt"),
                 "SPEC/r/b": leaf("SPEC/r/b", "output: ./out.txt"),
                 "out.txt": "x\n"})
    # The finding sits on one of the two leaves; both are refused, each naming it.
    for name in ("SPEC/r/a", "SPEC/r/b", "out.txt"):
        code, out, err = cfs(root, capsys, "accept", name)
        assert code == 2 and out == ""
        assert "while the spec is in error: code-from-spec/r/b/_node.md:2: output_paths: " \
               "output path out.txt is also the output of SPEC/r/a" in err
        assert err.rstrip().endswith("fix the spec first")
    assert not (root / MANIFEST).exists()


def test_accept_refuses_a_node_with_a_bad_reference_but_not_for_a_warning(tree, capsys):
    root = tree({"SPEC/r": ROOT,
                 "SPEC/r/a": leaf("SPEC/r/a", "output: a.txt\ndepends_on:\n  - SPEC/nope"),
                 "SPEC/r/b": leaf("SPEC/r/b", "output: b.txt\nowner: me"),
                 "a.txt": "a\n", "b.txt": "b\n"})
    code, _, err = cfs(root, capsys, "accept", "SPEC/r/a")
    assert code == 2 and "dependency_targets" in err and "SPEC/nope" in err
    assert cfs(root, capsys, "accept", "SPEC/r/b")[:2] == (0, "accepted ARTIFACT/r/b (b.txt)\n")


def test_the_v5_accept_tool_keeps_v5s_answer(tree):
    # MCP's `accept` is v5's: it records a node v5 would (FORMAT.md 7.5), errors elsewhere or not.
    root = tree({"SPEC/r": ROOT,
                 "SPEC/r/a": leaf("SPEC/r/a", "output: out.txt"),
                 "SPEC/r/b": leaf("SPEC/r/b", "output: out.txt"),
                 "out.txt": "x\n"})
    assert v5tools.accept(root, "SPEC/r/a") == "accepted out.txt"
