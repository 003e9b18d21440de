"""A hostile checkout and a hostile generator against the one place cfs writes: the output.

Links that stay inside the project but lead into .git/, .cfs/ or code-from-spec/, a
directory swapped for a link while the model answers, modes a checkout planted, names
that would forge a line on the terminal: nothing is written anywhere but the declared
output, and each refusal is one clear line.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from buildkit import make_project
from cfs_build.errors import CfsError
from cfs_build.state.artifacts import output_directory
from conftest import spec, write_tree
from mcpkit import TRACEBACK, sync_client

ANSWER = "#!/bin/sh\necho generated\n"
# A generator that answers the same file whatever it is asked.
CONSTANT = f"""import sys
sys.stdin.read()
print("<artifact>\\n{ANSWER.replace(chr(10), chr(92) + 'n')}</artifact>")
"""
# A generator that, while "thinking", swaps the output's directory for a link to
# argv[2], as another process could between cfs's check and its write.
SWAPPER = """import os, sys
sys.stdin.read()
out = sys.argv[1]
for name in os.listdir(out):
    os.unlink(os.path.join(out, name))
os.rmdir(out)
os.symlink(sys.argv[2], out)
print("<artifact>\\nswapped\\n</artifact>")
"""


def hostile_project(tmp_path: Path, output: str, script: str = CONSTANT,
                    args: tuple[str, ...] = ()) -> Path:
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        "SPEC/a/leaf": spec("SPEC/a/leaf", "# Agent\n\nWrite it.\n", front=f"output: {output}"),
    })
    generator = tmp_path / "generator.py"
    generator.write_text(script)
    command = [sys.executable, "-S", str(generator), *args]
    (root / "cfs.toml").write_text(f'[generator]\nkind = "command"\ncommand = '
                                   f"{json.dumps(command)}\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    return root


def cfs(root: Path, *args: str):
    import subprocess
    return subprocess.run([sys.executable, "-m", "cfs_build.cli", *args], cwd=root,
                          capture_output=True, text=True, timeout=60)


def snapshot_of(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (links not followed) and its bytes."""
    found = {}
    for base, dirs, files in os.walk(directory):
        for name in files:
            path = Path(base) / name
            found[str(path.relative_to(directory))] = \
                b"<link>" if path.is_symlink() else path.read_bytes()
    return found


# -- a link inside the project into a place cfs never writes ---------------------------------

# (link name, where it points, the output through it, the place it leads into)
INTO = [
    ("out", ".git", "out/hooks/post-checkout", ".git"),
    ("out", ".", "out/.git/hooks/post-checkout", ".git"),
    ("out", "code-from-spec", "out/a/fresh/_node.md", "code-from-spec"),
    ("out", "code-from-spec/a", "out/leaf/_node.md", "code-from-spec"),
    ("gen", ".cfs", "gen/pending/x.json", ".cfs"),
]


@pytest.mark.parametrize("link, target, output, place", INTO)
def test_output_through_a_link_into_a_protected_place_is_invalid_and_never_written(
        tmp_path, link, target, output, place):
    root = hostile_project(tmp_path, output)
    (root / ".cfs").mkdir()
    (root / link).symlink_to(target)
    protected = {name: snapshot_of(root / name) for name in (".git", "code-from-spec")}
    report = json.loads(cfs(root, "status", "--json").stdout)
    assert [(f["rule"], f"path leads into {place}/ through a symbolic link" in f["detail"])
            for f in report["errors"]] == [("output_paths", True)]
    assert report["artifacts"][0]["status"][0] == "invalid"
    done = cfs(root, "build")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"code-from-spec/a/leaf/_node.md:2: output_paths: output path is invalid: path " \
           f"leads into {place}/ through a symbolic link" in done.stderr
    assert TRACEBACK not in done.stdout + done.stderr
    assert {name: snapshot_of(root / name) for name in protected} == protected
    assert not (root / ".cfs" / "pending" / "x.json").exists()


def test_an_output_in_the_directory_git_links_to_is_inside_git(tmp_path):
    # .git itself a link to a directory of the project: that directory is .git, whatever
    # its own name (the same check finds .GIT on a file system that ignores case).
    root = hostile_project(tmp_path, "gitstore/hooks/post-checkout")
    (root / ".git").rename(root / "gitstore")
    (root / ".git").symlink_to("gitstore")
    done = cfs(root, "build")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "path leads into .git/ through a symbolic link" in done.stderr
    assert os.listdir(root / "gitstore" / "hooks") == []


def test_git_config_through_a_link_is_never_shown_to_the_generator(tmp_path):
    token = "ghp_TOKEN-7f3a-not-for-any-model"
    root = hostile_project(tmp_path, "out/config")
    (root / ".git" / "config").write_text(f'[remote "origin"]\n\turl = https://u:{token}@h/r\n')
    (root / "out").symlink_to(".git")
    chain = cfs(root, "chain", "SPEC/a/leaf")
    assert chain.returncode == 0 and "<existing_artifact" not in chain.stdout
    with sync_client(root) as client:
        result = client.result("load_chain", logical_name="SPEC/a/leaf")
    assert result.is_error and result.content[0].text == "output path is invalid"
    assert token not in chain.stdout + chain.stderr + result.content[0].text


def test_mcp_write_file_never_writes_through_a_link_into_git(tmp_path):
    root = hostile_project(tmp_path, "out/hooks/post-checkout")
    (root / "out").symlink_to(".git")
    with sync_client(root) as client:
        for tool, args in (("write_file", {"content": ANSWER}), ("load_chain", {}),
                           ("accept", {})):
            result = client.result(tool, logical_name="SPEC/a/leaf", **args)
            text = result.content[0].text
            assert result.is_error, (tool, text)
            assert TRACEBACK not in text
            assert "leads into .git/" in text or text == "output path is invalid", (tool, text)
    assert os.listdir(root / ".git" / "hooks") == []
    assert not (root / "code-from-spec" / ".manifest").exists()


# -- the output's directory swapped for a link while the model answers ---------------------

@pytest.mark.parametrize("to", ["outside", ".git"])
def test_output_directory_swapped_for_a_link_during_generation_is_never_written_through(
        tmp_path, to):
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep.txt").write_text("mine\n")
    root = tmp_path / "proj"
    target = str(home) if to == "outside" else str(root / ".git" / "hooks")
    root = hostile_project(tmp_path, "out/leaf.txt", SWAPPER, (str(root / "out"), target))
    (root / "out").mkdir()
    (root / "out" / "old.txt").write_text("x\n")
    done = cfs(root, "build")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "out/leaf.txt" in done.stdout and "through a symbolic link; nothing was written" in done.stdout
    assert "nothing was written. Remove the link or change the output path" in done.stdout
    assert TRACEBACK not in done.stdout + done.stderr
    assert sorted(os.listdir(home)) == ["keep.txt"]
    assert os.listdir(root / ".git" / "hooks") == []
    assert not (root / "code-from-spec" / ".manifest").exists()
    assert os.listdir(root / ".cfs" / "pending") == [] \
        if (root / ".cfs" / "pending").exists() else True


# A generator that, while "thinking", swaps the spec tree of the project argv[1] for a
# link to argv[2].
TREE_SWAPPER = """import os, sys
sys.stdin.read()
os.chdir(sys.argv[1])
os.rename("code-from-spec", "specs")
os.symlink(sys.argv[2], "code-from-spec")
print("<artifact>\\nswapped\\n</artifact>")
"""


def test_the_tree_swapped_for_a_link_during_generation_leads_no_manifest_out(tmp_path):
    # The scan saw a real code-from-spec/; the manifest and its lock were then reached
    # by path, so they were made in whatever directory the link named.
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep.txt").write_text("mine\n")
    root = hostile_project(tmp_path, "out/leaf.txt", TREE_SWAPPER,
                           (str(tmp_path / "proj"), str(home)))
    done = cfs(root, "build")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("code-from-spec: is a symbolic link; cfs never reads or writes the manifest "
            "through a link") in done.stdout
    assert TRACEBACK not in done.stdout + done.stderr
    assert sorted(os.listdir(home)) == ["keep.txt"]
    assert not (root / "out").exists()
    assert not (root / "specs" / ".manifest").exists()


@pytest.mark.parametrize("output", ["out/leaf.txt", "out/new/deeper/leaf.txt"])
@pytest.mark.parametrize("to", ["outside", ".git"])
def test_the_write_itself_checks_each_directory_where_it_really_is(tmp_path, output, to):
    # The narrowest race: the directory becomes a link after every path check passed.
    # The write opens each directory relative to the one before and looks where it
    # really is before making or writing anything in it.
    home = tmp_path / "home"
    home.mkdir()
    root = hostile_project(tmp_path, output)
    (root / "out").symlink_to(home if to == "outside" else root / ".git")
    with pytest.raises(CfsError, match="path leads (outside the project|into "
                                       r"\.git/)"):
        with output_directory(os.path.realpath(root), output):
            raise AssertionError("a directory was handed out")
    assert os.listdir(home) == []
    assert sorted(os.listdir(root / ".git")) == ["config", "hooks"]
    with output_directory(os.path.realpath(root), "gen/x/y.txt") as directory:
        made = os.stat(root / "gen" / "x")
        assert (os.fstat(directory).st_dev, os.fstat(directory).st_ino) == \
            (made.st_dev, made.st_ino)


# -- modes a checkout planted -----------------------------------------------------------------

def test_a_rewritten_output_never_keeps_set_user_id_bits(tmp_path):
    proj = make_project(tmp_path)
    assert proj.cfs("build", "SPEC/other").returncode == 0
    target = proj.root / "gen" / "other.txt"
    os.chmod(target, 0o6755)
    proj.edit("SPEC/other", "Say hello.", "Say hello again.")
    done = proj.cfs("build", "SPEC/other")
    assert done.returncode == 0, done.stdout + done.stderr
    mode = stat.S_IMODE(os.lstat(target).st_mode)
    assert mode == 0o755  # the permissions kept, set-user-ID and set-group-ID not


# -- names that would forge a line on the terminal --------------------------------------------

def test_a_node_name_with_a_line_break_cannot_forge_an_output_line(tmp_path):
    name = "x\ncfs: 0 format error(s); all up to date"
    root = write_tree(tmp_path / "proj", {
        "SPEC/a": spec("SPEC/a", "# Public\n\n## Shared\n\nShared.\n"),
        f"SPEC/a/{name}": spec("SPEC/a/x", "# Agent\n\nWrite it.\n", front="output: o.txt"),
    })
    done = cfs(root, "status")
    lines = (done.stdout + done.stderr).splitlines()
    assert not [line for line in lines if line.startswith("cfs: 0 format")], lines
    # ("(s)" makes it a name v5 reads as qualified: the finding that names it.)
    assert any("qualified_node_name" in line and "\\ncfs: 0 format" in line
               for line in lines), lines


# -- something else where the output's directory should be -----------------------------------

def test_a_file_where_the_output_directory_should_be_is_named_and_kept(tmp_path):
    marker = tmp_path / "asked"
    root = hostile_project(tmp_path, "out/deeper/leaf.txt",
                           f"open({str(marker)!r}, 'w').close()\n{CONSTANT}")
    (root / "out").write_text("mine\n")
    done = cfs(root, "build")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "out/deeper/leaf.txt: out is in the way: it is not a directory; nothing was " \
           "written. Remove or rename it, or change the output path" in done.stdout
    assert not marker.exists()  # (said before the model was asked for a file it cannot keep)
    with sync_client(root) as client:
        result = client.result("write_file", logical_name="SPEC/a/leaf", content=ANSWER)
    assert result.is_error and "out is in the way" in result.content[0].text
    assert TRACEBACK not in done.stdout + done.stderr + result.content[0].text
    assert (root / "out").read_text() == "mine\n"
    assert not (root / "code-from-spec" / ".manifest").exists()


# -- a reply that names a place of its own --------------------------------------------------

REPLIES = {
    "path attribute": '<artifact path="{home}/planted.txt">\nx\n</artifact>',
    "file tag": '<file name="../home/planted.txt">\nx\n</file>',
    "two files": "<artifact>\nfirst\n</artifact>\n<artifact>\nsecond\n</artifact>",
}
# Prints the reply its argument names, formatted with the home directory.
REPLIER = """import sys
sys.stdin.read()
print(sys.argv[1].replace("{home}", sys.argv[2]))
"""


@pytest.mark.parametrize("kind", sorted(REPLIES))
def test_a_reply_never_chooses_where_cfs_writes(tmp_path, kind):
    home = tmp_path / "home"
    home.mkdir()
    root = hostile_project(tmp_path, "out/leaf.txt", REPLIER, (REPLIES[kind], str(home)))
    done = cfs(root, "build")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "unusable reply" in done.stdout and "(saved in .cfs/reports/a/leaf.reply.txt)" \
        in done.stdout
    assert TRACEBACK not in done.stdout + done.stderr
    assert os.listdir(home) == []
    assert not (root / "out").exists()
    assert not (root / "code-from-spec" / ".manifest").exists()


def test_a_link_inside_the_project_to_an_ordinary_directory_is_still_written_through(tmp_path):
    root = hostile_project(tmp_path, "out/deeper/leaf.txt")
    (root / "build" / "out").mkdir(parents=True)
    (root / "out").symlink_to("build/out")
    done = cfs(root, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "build" / "out" / "deeper" / "leaf.txt").read_text() == ANSWER
    assert json.loads(cfs(root, "status", "--json").stdout)["artifacts"][0]["status"] == \
        ["up-to-date"]


@pytest.mark.parametrize("output", ["out/" + "x" * 300 + ".txt",
                                    "/".join(["y" * 200] * 25) + "/f.txt"],
                         ids=["name", "path"])
def test_an_output_the_file_system_cannot_hold_is_refused_before_the_model_is_asked(
        tmp_path, output):
    # A name over 255 bytes (or a path over 4096) is a `missing` artifact, as for v5 (its
    # open fails); the build failed with a bare "File name too long" once the model had
    # answered, and accept said no more. cfs's own error stops both before anything.
    marker = tmp_path / "asked"
    root = hostile_project(tmp_path, output, f"open({str(marker)!r}, 'w').close()\n{CONSTANT}")
    done = cfs(root, "validate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert (f"code-from-spec/a/leaf/_node.md:2: unwritable_output: output path {output!r} is "
            "too long for the file system (a name in it, or the whole path): the artifact "
            "can never be written; change the output") in done.stdout, done.stdout
    assert json.loads(cfs(root, "status", "--json").stdout)["artifacts"][0]["status"] \
        == ["stale", "missing"]
    for args in (("build",), ("accept", "SPEC/a/leaf")):
        done = cfs(root, *args)
        assert done.returncode == 2 and "unwritable_output" in done.stdout + done.stderr, done
        assert "Traceback" not in done.stderr
    assert not marker.exists()
