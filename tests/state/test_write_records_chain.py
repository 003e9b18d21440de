"""A write records the chain as it is once the file is written (FORMAT.md 7.6, 11: v5's
write_file writes, then computes the chain it records), which matters for a node that
reads its own output back (`EXTERNAL/<its output>`, a tree with no finding)."""
from __future__ import annotations

import json
import subprocess
import sys

from cfs_build.analysis.project import Project
from cfs_build.building import v5tools
from cfs_build.state.manifest import read_manifest
from conftest import chain_hash, spec

REFINE = spec("SPEC/l", "# Agent\n\nImprove it.\n",
              front="depends_on:\n  - EXTERNAL/out/l.txt\noutput: out/l.txt")


def test_write_file_records_the_chain_over_what_it_wrote(tree):
    root = tree({"SPEC/l": REFINE, "out/l.txt": "draft\n"})
    assert v5tools.accept(root, "SPEC/l") == "accepted out/l.txt"
    assert v5tools.write_file(root, "SPEC/l", "better\n") == "wrote out/l.txt"
    recorded = read_manifest(root).entries["ARTIFACT/l"].chain
    assert recorded == chain_hash("better\n", "Improve it.\n")
    assert v5tools.validate_specs(root) == "All specs are valid.\n"
    assert (root / "code-from-spec/.cache/.chains" / f".{recorded}").is_file()


def test_a_refused_write_leaves_the_reads_as_they_were(tree):
    root = tree({"SPEC/l": REFINE, "out/l.txt": "by hand\n"})
    project = Project(root, use_index=False)
    before = project.resolver.chain("SPEC/l").hash
    try:
        v5tools.write_file(project, "SPEC/l", "other\n")
    except v5tools.Refusal as refusal:
        assert "untracked" in refusal.message
    else:
        raise AssertionError("an untracked file was overwritten")
    assert project.resolver.chain("SPEC/l").hash == before
    assert project.resolver.file_text("out/l.txt") == "by hand\n"


REPLY = 'import sys\nsys.stdin.read()\nprint("<artifact>\\nbetter\\n</artifact>")\n'


def test_a_build_records_the_chain_over_what_it_wrote(tree, tmp_path):
    root = tree({"SPEC/l": REFINE, "out/l.txt": "draft\n"})
    script = tmp_path / "gen.py"
    script.write_text(REPLY)
    (root / "cfs.toml").write_text('[generator]\nkind = "command"\n'
                                   f"command = {json.dumps([sys.executable, str(script)])}\n")
    assert v5tools.accept(root, "SPEC/l") == "accepted out/l.txt"
    (root / "code-from-spec/l/_node.md").write_text(REFINE.replace("Improve", "Polish"))

    def cfs(*args):
        return subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), *args],
                              capture_output=True, text=True, timeout=120)

    built = cfs("build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert (root / "out/l.txt").read_text() == "better\n"
    recorded = read_manifest(root).entries["ARTIFACT/l"].chain
    assert recorded == chain_hash("better\n", "Polish it.\n")
    status = json.loads(cfs("status", "--json").stdout)
    assert [a["status"] for a in status["artifacts"]] == [["up-to-date"]]
    assert (root / "code-from-spec/.cache/.chains" / f".{recorded}").is_file()


# The output read back through a link inside the project to its directory: v5 reads the
# disk after writing, so the alias shows what was written too.
ALIASED = spec("SPEC/l", "# Agent\n\nImprove it.\n",
               front="depends_on:\n  - EXTERNAL/alias/l.txt\noutput: out/l.txt")


def test_write_file_records_the_chain_over_what_it_wrote_read_through_a_link(tree):
    root = tree({"SPEC/l": ALIASED, "out/l.txt": "draft\n"})
    (root / "alias").symlink_to("out")
    assert v5tools.accept(root, "SPEC/l") == "accepted out/l.txt"
    assert v5tools.write_file(root, "SPEC/l", "better\n") == "wrote out/l.txt"
    assert read_manifest(root).entries["ARTIFACT/l"].chain == \
        Project(root, use_index=False).resolver.chain("SPEC/l").hash
    assert v5tools.validate_specs(root) == "All specs are valid.\n"


def test_a_build_records_the_chain_over_what_it_wrote_read_through_a_link(tree, tmp_path):
    root = tree({"SPEC/l": ALIASED, "out/l.txt": "draft\n"})
    (root / "alias").symlink_to("out")
    script = tmp_path / "gen.py"
    script.write_text(REPLY)
    (root / "cfs.toml").write_text('[generator]\nkind = "command"\n'
                                   f"command = {json.dumps([sys.executable, str(script)])}\n")
    assert v5tools.accept(root, "SPEC/l") == "accepted out/l.txt"
    (root / "code-from-spec/l/_node.md").write_text(ALIASED.replace("Improve", "Polish"))
    built = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "build"],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    assert (root / "out/l.txt").read_text() == "better\n"
    assert read_manifest(root).entries["ARTIFACT/l"].chain == \
        Project(root, use_index=False).resolver.chain("SPEC/l").hash
    assert v5tools.validate_specs(root) == "All specs are valid.\n"
