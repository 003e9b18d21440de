"""The command generator: an empty directory outside the project, exact stdin, stoppable."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from cfs_build.errors import CfsError
from cfs_build.generators import GenerationFailed
from cfs_build.generators.command import CommandGenerator

PY = sys.executable


def python(code: str, root: Path | None = None, **table) -> CommandGenerator:
    return CommandGenerator.from_config({"command": [PY, "-c", code], **table}, root)


def alive(pid: int) -> bool:
    # A zombie is gone for our purpose (nothing reaps orphans in some containers).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_runs_in_a_fresh_empty_directory_outside_the_project_removed_after(tmp_path):
    root = tmp_path / "proj"
    (root / "code-from-spec").mkdir(parents=True)
    code = ("import json, os; print(json.dumps([os.getcwd(), os.listdir('.')]));"
            "open('stray.txt', 'w').write('x')")
    reply = python(code, root).generate("doc").reply
    cwd, listing = json.loads(reply)
    assert listing == []
    assert not Path(cwd).resolve().is_relative_to(root.resolve())
    assert not os.path.exists(cwd)
    assert sorted(os.listdir(root)) == ["code-from-spec"]
    second = json.loads(python(code, root).generate("doc").reply)[0]
    assert second != cwd


def test_document_arrives_on_stdin_byte_for_byte():
    document = "<chain>\nZürich – 東京 \U0001F600\r\nlone\rcr\n\x00tab\t" + "x" * 300_000
    code = "import sys, hashlib; data = sys.stdin.buffer.read(); print(hashlib.sha1(data)" \
           ".hexdigest(), len(data))"
    outcome = python(code).generate(document)
    data = document.encode("utf-8")
    assert outcome.reply.split() == [hashlib.sha1(data).hexdigest(), str(len(data))]
    assert outcome.seconds > 0


def test_reply_is_stdout_as_utf8():
    reply = python("import sys; sys.stdout.buffer.write('<artifact>\\nπ\\r\\n</artifact>\\n'"
                   ".encode())").generate("").reply
    assert reply == "<artifact>\nπ\r\n</artifact>\n"


def test_nonzero_exit_fails_with_the_end_of_stderr():
    code = "import sys; sys.stderr.write('noise ' * 1000 + 'THE REAL REASON\\n'); sys.exit(3)"
    with pytest.raises(GenerationFailed) as caught:
        python(code).generate("doc")
    message = str(caught.value)
    assert "status 3" in message
    assert message.rstrip().endswith("THE REAL REASON")
    assert len(message) < 2200


def test_nonzero_exit_without_stderr():
    with pytest.raises(GenerationFailed, match="status 1$"):
        python("raise SystemExit(1)").generate("doc")


def test_stdout_that_is_not_utf8_is_a_failure():
    with pytest.raises(GenerationFailed, match="not UTF-8"):
        python("import sys; sys.stdout.buffer.write(b'<artifact>\\n\\xff\\n</artifact>\\n')"
               ).generate("doc")


def test_missing_program_is_a_failure(tmp_path):
    generator = CommandGenerator.from_config({"command": [str(tmp_path / "no-such-program")]})
    with pytest.raises(GenerationFailed, match="cannot run"):
        generator.generate("doc")


@pytest.mark.parametrize("command, named", [
    (["python3", "tools/missing.py"], "'tools/missing.py' is not a file of the project"),
    (["tools/missing.sh", "--fast"], "'tools/missing.sh' is not a file of the project"),
    (["no-such-program-anywhere"], "'no-such-program-anywhere' is not a program on PATH"),
])
def test_a_missing_program_or_script_names_the_setting_not_a_temp_dir(tmp_path, command,
                                                                       named):
    (tmp_path / "tools").mkdir()
    (tmp_path / "cfs.toml").write_text(f'[generator]\nkind = "command"\n\ncommand = '
                                       f'{json.dumps(command)}\n')
    with pytest.raises(CfsError) as caught:
        CommandGenerator.from_config({"command": command}, tmp_path)
    error = str(caught.value)
    assert error.startswith(f"cfs.toml:4: generator.command: {named}"), error
    assert str(tmp_path) in error and "cfs-gen-" not in error


def test_arguments_that_are_not_project_scripts_are_not_checked(tmp_path):
    (tmp_path / "gen.py").write_text("print('<artifact>')\nprint('</artifact>')\n")
    generator = CommandGenerator.from_config(
        {"command": [PY, "gen.py", "--model", "org/model-7b", "out/put"]}, tmp_path)
    assert generator.command[1] == str((tmp_path / "gen.py").resolve())


def test_timeout_kills_the_whole_process_group(tmp_path):
    pids = tmp_path / "pids"
    code = ("import os, subprocess, sys, time\n"
            "child = subprocess.Popen(['sleep', '60'])\n"
            f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
            "time.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="timed out"):
        python(code, timeout=0.5).generate("doc")
    assert time.monotonic() - started < 5
    generator_pid, grandchild_pid = map(int, pids.read_text().split())
    deadline = time.monotonic() + 2
    while (alive(generator_pid) or alive(grandchild_pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(generator_pid)
    assert not alive(grandchild_pid)


def test_project_relative_script_paths_are_anchored_to_the_root(tmp_path):
    root = tmp_path / "proj"
    (root / "tools").mkdir(parents=True)
    (root / "tools/gen.py").write_text("import sys\nprint('from gen.py', sys.argv[1:])\n")
    script = root / "tools/gen.sh"
    script.write_text("#!/bin/sh\necho from gen.sh \"$@\"\n")
    script.chmod(0o755)
    generator = CommandGenerator.from_config(
        {"command": [PY, "tools/gen.py", "--mode", "x/not-a-file"]}, root)
    assert generator.command == [PY, str(root.resolve() / "tools/gen.py"), "--mode",
                                 "x/not-a-file"]
    assert generator.generate("").reply == "from gen.py ['--mode', 'x/not-a-file']\n"
    generator = CommandGenerator.from_config({"command": ["./tools/gen.sh", "a"]}, root)
    assert generator.command == [str(root.resolve() / "tools/gen.sh"), "a"]
    assert generator.generate("").reply == "from gen.sh a\n"


def test_command_is_left_as_written_without_a_root():
    generator = CommandGenerator.from_config({"command": ["tools/gen.py"]})
    assert generator.command == ["tools/gen.py"]


def test_settings_from_config():
    generator = CommandGenerator.from_config({"command": ["gen"], "timeout": 7,
                                              "max_concurrency": 2})
    assert (generator.timeout, generator.max_concurrency, generator.kind) == (7.0, 2, "command")
    assert CommandGenerator.from_config({"command": ["gen"]}).max_concurrency is None


def test_bare_script_name_at_the_project_root_is_anchored(tmp_path):
    from cfs_build.generators.command import CommandGenerator
    (tmp_path / "gen.py").write_text("print('x')\n")
    generator = CommandGenerator.from_config({"command": ["python3", "gen.py", "-v"]}, tmp_path)
    assert generator.command == ["python3", str((tmp_path / "gen.py").resolve()), "-v"]


def test_background_children_do_not_outlive_a_successful_generation(tmp_path):
    import os

    from buildkit import still_running
    from cfs_build.generators.command import CommandGenerator
    marker = tmp_path / "pid"
    script = tmp_path / "spawn.py"
    script.write_text(
        "import os, subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '30'], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL)\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "print('<artifact>\\nx\\n</artifact>')\n")
    generator = CommandGenerator.from_config({"command": ["python3", str(script)],
                                              "timeout": 20}, tmp_path)
    generator.generate("doc")
    pid = int(marker.read_text())
    if still_running(pid):
        os.kill(pid, 9)
        raise AssertionError("the background child survived the generation")
