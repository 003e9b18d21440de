"""Each `cfs` verb is a typed function returning the exit status: callable from Python,
printing what the command line prints."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from buildkit import make_project
from cfs_build.commands.build import build
from cfs_build.commands.check import check
from cfs_build.commands.explain import explain
from cfs_build.commands.forget import forget
from cfs_build.commands.graph import graph
from cfs_build.commands.prompt import prompt
from cfs_build.commands.runs import runs
from cfs_build.commands.status import status
from cfs_build.commands.validate import validate
from cfs_build.errors import CfsError
from cfs_build.generators import prompt_id
from cfs_build.state.manifest import MANIFEST
from cfs_build.analysis.project import Project

ROUNDING = "ARTIFACT/payments/fees/rounding"


def cli(root, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("verb, args, kwargs", [
    (status, ["status"], {}),
    (status, ["status", "--json", "--all"], {"as_json": True, "show_all": True}),
    (check, ["check"], {}),
    (check, ["check", "--json", "--strict"], {"as_json": True, "strict": True}),
    (validate, ["validate"], {}),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_a_verb_called_from_python_prints_and_returns_what_the_command_does(
        vector, capsys, verb, args, kwargs):
    root = vector("statuses")
    expected = cli(root, *args)
    code = verb(Project(root), **kwargs)
    assert (code, capsys.readouterr().out) == (expected.returncode, expected.stdout)


def test_explain_and_graph_take_a_name_and_a_format(vector, capsys):
    project = Project(vector("statuses"))
    assert explain(project, ROUNDING, as_json=True) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["name"] == ROUNDING and answer["status"] == ["stale", "modified"]
    assert graph(project, "SPEC/payments/fees", fmt="json") == 0
    nodes = {node["id"] for node in json.loads(capsys.readouterr().out)["nodes"]}
    assert ROUNDING in nodes and "ARTIFACT/gone/node" not in nodes


def test_forget_drops_an_orphan_and_refuses_a_live_entry(vector, capsys):
    root = vector("statuses")
    with pytest.raises(CfsError, match="is not an orphan"):
        forget(Project(root), [ROUNDING])
    assert forget(Project(root), orphans=True) == 0
    assert "forgot ARTIFACT/gone/node" in capsys.readouterr().out
    assert "ARTIFACT/gone/node" not in (root / MANIFEST).read_text()
    assert forget(Project(root), orphans=True) == 0
    assert capsys.readouterr().out == "no orphans\n"


def test_build_then_runs_from_python(tmp_path, capsys):
    proj = make_project(tmp_path)
    assert build(Project(proj.root), ["SPEC/other"], jobs=2, quiet=True) == 0
    assert (proj.root / "gen/other.txt").exists() and not (proj.root / "gen/cli.txt").exists()
    capsys.readouterr()
    assert runs(Project(proj.root), as_json=True) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert len(recorded) == 1 and recorded[0]["outcomes"] == {"generated": 1}
    assert status(Project(proj.root)) == 1  # the rest is still to build
    assert "1 up-to-date, 3 stale, 3 missing," in capsys.readouterr().out


def test_prompt_needs_no_project(capsys):
    assert prompt(id_only=True) == 0
    assert capsys.readouterr().out == prompt_id() + "\n"


NUL_VERBS = [
    # (the verb, its exit code, what it must say: the output is named in escaped form)
    (["status"], 2, "code-from-spec/r/out/_node.md:2: unwritable_output: output path "
                    "'a\\x00b.py' holds a NUL character"),
    (["status", "--json"], 2, '"rule": "unwritable_output"'),
    (["validate"], 2, "code-from-spec/r/out/_node.md:2: unwritable_output: "),
    (["chain", "SPEC/r/out"], 0, "<instructions>\ndo\n</instructions>\n"),
    (["explain", "ARTIFACT/r/out"], 1, "a\\x00b.py does not exist\n"),
    (["graph"], 0, '"ARTIFACT/r/out" [shape=note, label="ARTIFACT/r/out\\na\\\\x00b.py"];'),
    (["makefile"], 3, "which GNU make cannot use in a target name"),
    (["build"], 2, "code-from-spec/r/out/_node.md:2: unwritable_output: "),
    (["accept", "SPEC/r/out"], 2, "cannot accept ARTIFACT/r/out while the spec is in error"),
    (["forget", "ARTIFACT/r/out"], 3, "ARTIFACT/r/out has no manifest entry: nothing to forget")]


@pytest.mark.parametrize("args, exit_code, said", NUL_VERBS,
                         ids=[" ".join(verb[0]) for verb in NUL_VERBS])
def test_every_verb_answers_a_frontmatter_holding_nul_without_a_traceback(
        tree, monkeypatch, capsys, args, exit_code, said):
    # v5 reads NUL as a character of the text; no file name can hold it, and Python's os
    # calls raise ValueError on such a path: each verb must answer, never write there.
    from cfs_build.cli import main
    from conftest import spec
    root = tree({"SPEC/r": spec("SPEC/r"),
                 "SPEC/r/out": spec("SPEC/r/out", "# Agent\n\ndo\n", front="output: a\x00b.py"),
                 "SPEC/r/use": spec("SPEC/r/use", front="output: use.py\ndepends_on: "
                                    "[ARTIFACT/r/out, EXTERNAL/x\x00y, SPEC/a\x00b]\n"
                                    "input: EXTERNAL/x\x00y\nout\x00put: k"),
                 "cfs.toml": '[generator]\nkind = "command"\ncommand = ["true"]\n'})
    monkeypatch.chdir(root)
    before = sorted(p.name for p in root.iterdir())
    code = main(args)
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    # Each verb answers as it does for any spec in error, the NUL shown escaped.
    assert code == exit_code, out + err
    assert said in out + err, out + err
    if args[0] in ("build", "accept"):
        assert code != 0 and "NUL character" in err  # refused: file, line, rule, what to do
        assert "code-from-spec/r/out/_node.md:2" in err
    created = set(p.name for p in root.iterdir()) - set(before)
    assert created <= {".cfs", "Makefile"}
    assert not any("\x00" in p.name or p.name.startswith("a") for p in root.iterdir())
