"""Project configuration: cfs.toml or [tool.cfs], every key checked, errors naming the key."""
from __future__ import annotations

import pytest

from cfs_build.config import Config, load_config
from cfs_build.errors import CfsError

GOOD = '[generator]\nkind = "command"\ncommand = ["python3", "tools/gen.py"]\n'


@pytest.fixture
def root(tmp_path):
    (tmp_path / "code-from-spec").mkdir()
    return tmp_path


def error(root, text: str, name: str = "cfs.toml") -> CfsError:
    (root / name).write_text(text, encoding="utf-8")
    with pytest.raises(CfsError) as caught:
        load_config(root)
    return caught.value


def test_no_config_at_all_is_an_empty_config(root):
    config = load_config(root)
    assert config == Config(root=root)
    assert config.generator == {} and config.source is None


def test_pyproject_without_tool_cfs_is_no_config(root):
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.black]\nline-length = 99\n')
    assert load_config(root).generator == {}


def test_cfs_toml(root):
    (root / "cfs.toml").write_text(GOOD + "timeout = 30\nmax_concurrency = 2\n")
    config = load_config(root)
    assert config.source == "cfs.toml"
    assert config.root == root
    assert config.generator == {"kind": "command", "command": ["python3", "tools/gen.py"],
                                "timeout": 30, "max_concurrency": 2}


def test_tool_cfs_in_pyproject(root):
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.cfs.generator]\nkind = "command"\ncommand = ["gen"]\n'
        "timeout = 1.5\n")
    config = load_config(root)
    assert config.source == "pyproject.toml"
    assert config.generator == {"kind": "command", "command": ["gen"], "timeout": 1.5}


def test_cfs_toml_wins_over_pyproject(root):
    (root / "pyproject.toml").write_text('[tool.cfs.generator]\nkind = "nope"\n')
    (root / "cfs.toml").write_text(GOOD)
    assert load_config(root).source == "cfs.toml"


def test_unknown_top_level_key(root):
    exc = error(root, GOOD + "[extra]\nx = 1\n")
    assert "unknown key extra" in exc.message
    assert exc.file == "cfs.toml"


def test_unknown_generator_key(root):
    exc = error(root, GOOD + "retries = 3\n")
    assert "unknown key generator.retries" in exc.message
    assert "command" in exc.message and "timeout" in exc.message  # the known keys


def test_unknown_key_in_pyproject_names_the_full_path(root):
    exc = error(root, '[tool.cfs]\ngenerators = 1\n', "pyproject.toml")
    assert "tool.cfs.generators" in exc.message
    exc = error(root, '[tool.cfs.generator]\nkind = "command"\ncommand = ["g"]\ncolour = 1\n',
                "pyproject.toml")
    assert "tool.cfs.generator.colour" in exc.message
    assert exc.file == "pyproject.toml"


@pytest.mark.parametrize("line, key", [
    ("timeout = \"30\"", "generator.timeout"),
    ("timeout = true", "generator.timeout"),
    ("max_concurrency = 2.5", "generator.max_concurrency"),
    ("max_concurrency = false", "generator.max_concurrency"),
    ("max_concurrency = \"4\"", "generator.max_concurrency"),
])
def test_wrong_types_name_the_key(root, line, key):
    exc = error(root, GOOD + line + "\n")
    assert key in exc.message


@pytest.mark.parametrize("line", ["timeout = 0", "timeout = -5", "max_concurrency = 0",
                                  "max_concurrency = -1"])
def test_numbers_must_be_positive(root, line):
    key = line.split(" ")[0]
    exc = error(root, GOOD + line + "\n")
    assert f"generator.{key}" in exc.message


@pytest.mark.parametrize("command", ['"python3 gen.py"', "[]", '["python3", 3]', "true"])
def test_command_must_be_a_non_empty_list_of_strings(root, command):
    exc = error(root, f'[generator]\nkind = "command"\ncommand = {command}\n')
    assert "generator.command" in exc.message


def test_command_is_required(root):
    exc = error(root, '[generator]\nkind = "command"\n')
    assert "generator.command" in exc.message


def test_missing_kind(root):
    exc = error(root, '[generator]\ncommand = ["gen"]\n')
    assert "generator.kind is missing" in exc.message
    exc = error(root, "[generator]\n")
    assert "generator.kind is missing" in exc.message


def test_empty_cfs_toml_configures_no_generator(root):
    (root / "cfs.toml").write_text("")
    config = load_config(root)
    assert (config.source, config.generator, config.verify) == ("cfs.toml", {}, ())


def test_missing_kind_in_pyproject(root):
    exc = error(root, '[tool.cfs.generator]\ncommand = ["gen"]\n', "pyproject.toml")
    assert "tool.cfs.generator.kind is missing" in exc.message


def test_unknown_kind(root):
    exc = error(root, '[generator]\nkind = "telepathy"\n')
    assert "'telepathy'" in exc.message and "generator.kind" in exc.message


@pytest.mark.parametrize("kind", ['["command"]', "{ name = \"command\" }", "3", "true"])
def test_kind_of_the_wrong_type_is_an_error_not_a_crash(root, kind):
    exc = error(root, f'[generator]\nkind = {kind}\ncommand = ["gen"]\n')
    assert "generator.kind" in exc.message


def test_generator_must_be_a_table(root):
    exc = error(root, 'generator = "command"\n')
    assert "generator must be a table" in exc.message


@pytest.mark.parametrize("text", ["[tool]\ncfs = 3\n", "[tool]\ncfs = [1]\n"])
def test_tool_cfs_that_is_not_a_table_is_an_error_not_a_crash(root, text):
    exc = error(root, text, "pyproject.toml")
    assert "tool.cfs" in exc.message
    assert exc.file == "pyproject.toml"


def test_pyproject_whose_tool_is_not_a_table_has_no_cfs_config(root):
    (root / "pyproject.toml").write_text('tool = "x"\n')
    assert load_config(root).generator == {}


def test_verify_tables(root):
    (root / "cfs.toml").write_text(
        GOOD + '[[verify]]\ncommand = ["pytest", "-q"]\noutputs = ["tests/*.py"]\n'
        '[[verify]]\nname = "unit"\ncommand = ["make", "test"]\noutputs = ["t/**"]\n'
        "timeout = 60\n")
    first, second = load_config(root).verify
    assert (first.name, first.command, first.outputs) == ("pytest -q", ("pytest", "-q"),
                                                          ("tests/*.py",))
    assert (second.name, second.timeout) == ("unit", 60.0)


@pytest.mark.parametrize("entry, key", [
    ('command = ["t"]\noutputs = []', "verify[1].outputs"),
    ('command = "make test"\noutputs = ["x"]', "verify[1].command"),
    ('command = ["t"]\noutputs = ["x"]\ntimeout = false', "verify[1].timeout"),
    ('command = ["t"]\noutputs = ["x"]\ntimeout = 0', "verify[1].timeout"),
    ('command = ["t"]\noutputs = ["x"]\nretries = 2', "verify[1].retries"),
])
def test_bad_verify_entries_name_the_key(root, entry, key):
    exc = error(root, f"[[verify]]\n{entry}\n")
    assert key in exc.message


def test_invalid_toml_names_the_file_and_line(root):
    exc = error(root, '[generator]\nkind = "command\n')
    assert exc.file == "cfs.toml"
    assert "TOML error" in exc.message and exc.line == 2
    assert str(exc).startswith("cfs.toml:2: TOML error")
    assert exc.exit_code == 3


def test_invalid_pyproject_toml(root):
    exc = error(root, "[tool.cfs\n", "pyproject.toml")
    assert exc.file == "pyproject.toml" and "TOML error" in exc.message


def test_config_that_is_not_utf8(root):
    (root / "cfs.toml").write_bytes(b'[generator]\nkind = "\xff"\n')
    with pytest.raises(CfsError) as caught:
        load_config(root)
    assert caught.value.file == "cfs.toml"


@pytest.mark.parametrize("text, line, wanted", [
    (GOOD + "timeuot = 3\n", 4, "did you mean timeout?"),
    ('[generator]\nkind = "command"\n"comand" = ["x"]\n', 3, "did you mean command?"),
    (GOOD + "[[verify]]\ncommand = ['a']\noutputs = ['b']\n[[verify]]\ncommand = ['a']\n"
     "outputs = 'b'\n", 9, "verify[2].outputs must be"),
    ("[generatr]\nkind = 'command'\n", 1, "did you mean generator?"),
])
def test_errors_name_the_line_of_the_key_and_what_to_do(root, text, line, wanted):
    exc = error(root, text)
    assert exc.line == line and wanted in exc.message, (exc.line, exc.message)
    assert str(exc).startswith(f"cfs.toml:{line}: ")
