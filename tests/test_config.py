"""Project configuration: cfs.toml or [tool.cfs], every key checked, errors naming the key."""
from __future__ import annotations

import pytest

from cfs_build.config import Config, load_config
from cfs_build.errors import CfsError

from conftest import spec, write_tree

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


@pytest.mark.parametrize("line", ["timeout = nan", "timeout = inf", "timeout = -inf",
                                  "timeout = 1e400", "timeout = 1e12", "timeout = 604801",
                                  "timeout = -0.0", "max_concurrency = 9999999999"])
def test_non_finite_or_absurd_numbers_are_refused_naming_the_key(root, line):
    exc = error(root, GOOD + line + "\n")
    key = line.split(" ")[0]
    assert f"generator.{key} must be" in exc.message
    assert "at most" in exc.message  # says what would do
    assert (exc.file, exc.exit_code) == ("cfs.toml", 3)


def test_a_week_is_the_longest_timeout(root):
    (root / "cfs.toml").write_text(GOOD + "timeout = 604800\n")
    assert load_config(root).generator["timeout"] == 604800


@pytest.mark.parametrize("table, line, key", [
    ("generator", "temperature = nan", "generator.temperature"),
    ("generator", "retry_delay = inf", "generator.retry_delay"),
    ("generator", "max_attempts = 1000000", "generator.max_attempts"),
    ("generator", "input_usd_per_mtok = nan", "generator.input_usd_per_mtok"),
])
def test_every_number_of_an_api_generator_must_be_finite(root, table, line, key):
    exc = error(root, f'[{table}]\nkind = "anthropic"\nmodel = "m"\n{line}\n')
    assert f"{key} must be" in exc.message


@pytest.mark.parametrize("line", ["timeout = nan", "timeout = inf", "timeout = 1e9"])
def test_verify_timeout_must_be_finite_and_sane(root, line):
    exc = error(root, f'[[verify]]\ncommand = ["t"]\noutputs = ["x"]\n{line}\n')
    assert "verify[1].timeout must be" in exc.message


@pytest.mark.parametrize("text, key", [
    ('[generator]\nkind = "command"\ncommand = ["python3", "gen\\u0000.py"]\n',
     "generator.command"),
    ('[generator]\nkind = "claude-code"\nexecutable = "cl\\u0000aude"\n',
     "generator.executable"),
    ('[generator]\nkind = "claude-code"\nextra_args = ["--x", "\\u0000"]\n',
     "generator.extra_args"),
    ('[generator]\nkind = "anthropic"\nmodel = "m"\napi_key_env = "KEY\\u0000"\n',
     "generator.api_key_env"),
    ('[[verify]]\ncommand = ["t\\u0000"]\noutputs = ["x"]\n', "verify[1].command"),
    ('[[verify]]\ncommand = ["t"]\noutputs = ["x\\u0000"]\n', "verify[1].outputs"),
])
def test_a_nul_character_in_a_string_is_refused_naming_the_key(root, text, key):
    exc = error(root, text)
    assert f"{key} contains a NUL character" in exc.message
    assert exc.file == "cfs.toml"


@pytest.mark.slow
def test_bad_values_are_one_line_and_exit_3_from_the_cli(root):
    import subprocess
    import sys
    # A valid tree with something to build: the configuration is what stops the build.
    write_tree(root, {"SPEC/app": spec("SPEC/app", "Say hi.\n", "output: app.txt")})
    for toml, line in (('[generator]\nkind = "command"\ncommand = ["python3", "g\\u0000"]\n',
                        3),
                       ('[generator]\nkind = "command"\ncommand = ["python3"]\ntimeout = nan\n',
                        4)):
        (root / "cfs.toml").write_text(toml)
        done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"], cwd=root,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 3, done.stderr
        assert done.stderr.startswith(f"cfs: cfs.toml:{line}: generator."), done.stderr
        assert len(done.stderr.splitlines()) == 1
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize("text, line, wanted", [
    (GOOD + "timeuot = 3\n", 4, "did you mean timeout?"),
    ('[generator]\nkind = "command"\n"comand" = ["x"]\n', 3, "did you mean command?"),
    (GOOD + "[[verify]]\ncommand = ['a']\noutputs = ['b']\n[[verify]]\ncommand = ['a']\n"
     "outputs = 'b'\n", 9, "verify[2].outputs must be"),
    ("[generatr]\nkind = 'command'\n", 1, "did you mean generator?"),
    # A key left out: the line of the table that lacks it, and what to write there.
    (GOOD + "[[verify]]\ncommand = ['a']\noutputs = ['b']\n\n[[verify]]\nname = 'b'\n"
     "outputs = ['b']\n", 8, "verify[2] has no command: add one, a non-empty list of "
     'strings (command = ["python3", "-m", "pytest", "-q"])'),
    ("[[verify]]\ncommand = ['a']\n", 1, "verify[1] has no outputs"),
])
def test_errors_name_the_line_of_the_key_and_what_to_do(root, text, line, wanted):
    exc = error(root, text)
    assert exc.line == line and wanted in exc.message, (exc.line, exc.message)
    assert str(exc).startswith(f"cfs.toml:{line}: ")


# -- each backend declares its own keys ----------------------------------------------------

def test_every_backend_declares_its_keys_and_load_config_asks_it(root, monkeypatch):
    from cfs_build.tomlfile import Key
    from cfs_build.generators import BACKENDS, backend_class
    for kind in BACKENDS:
        keys = backend_class(kind).KEYS
        assert keys and all(isinstance(key, Key) and key.meaning for key in keys.values())
    # A new backend is known to the configuration by its class alone.
    monkeypatch.setitem(BACKENDS, "echo", "command:CommandGenerator")
    (root / "cfs.toml").write_text('[generator]\nkind = "echo"\ncommand = ["cat"]\n'
                                   'timout = 3\n')
    with pytest.raises(CfsError) as caught:
        load_config(root)
    assert "unknown key generator.timout: did you mean timeout?" in str(caught.value)
    assert caught.value.line == 4


def test_exclusive_keys_come_from_the_backend(root):
    (root / "cfs.toml").write_text('[generator]\nkind = "openai"\nmodel = "m"\n'
                                   'max_tokens = 5\nmax_completion_tokens = 5\n')
    with pytest.raises(CfsError) as caught:
        load_config(root)
    assert "set max_tokens or max_completion_tokens, not both" in str(caught.value)
    assert caught.value.line == 5


@pytest.mark.parametrize("line, says", [
    ("fresh = \"yes\"", "generator.fresh must be true or false (generate from the chain "
                        "alone, without the existing file); got a string"),
    ("max_concurrency = 2.5", "generator.max_concurrency must be a whole number "
                              "(generations this backend runs at once); got a float"),
    ("timeout = true", "generator.timeout must be a number (seconds one generation (one "
                       "attempt) may take); got a boolean"),
])
def test_a_wrong_type_is_said_in_words_that_read(root, line, says):
    exc = error(root, GOOD + line + "\n")
    assert (exc.line, exc.message) == (4, says)


@pytest.mark.parametrize("url", ["http://[::1", "localhost:11434/v1", "ftp://host/v1",
                                 "http:///v1", "http://host:99999/v1"])
def test_a_base_url_that_is_no_http_url_is_a_config_error_naming_its_line(root, url):
    exc = error(root, f'[generator]\nkind = "openai"\nmodel = "m"\nbase_url = "{url}"\n')
    assert exc.line == 4
    assert exc.message.startswith(f"generator.base_url = {url!r} is not an http(s) URL")
    assert "e.g. http://127.0.0.1:11434/v1" in exc.message


# -- a configuration file that is no regular file -----------------------------------------

def _plant(path, kind: str) -> None:
    import os
    if kind == "FIFO":
        os.mkfifo(path)
    else:
        path.mkdir()


@pytest.mark.parametrize("name", ["cfs.toml", "pyproject.toml"])
@pytest.mark.parametrize("kind, says", [("FIFO", "is a FIFO, not a regular file"),
                                        ("directory", "is a directory, not a file")])
def test_a_config_file_that_is_no_regular_file_is_an_error_and_never_opened(root, name, kind,
                                                                             says):
    from test_hostile_reads import Waiter
    _plant(root / name, kind)
    waiter = Waiter(root / name) if kind == "FIFO" else None
    with pytest.raises(CfsError) as caught:
        load_config(root)
    assert caught.value.file == name and caught.value.line is None
    assert caught.value.message.startswith(says + "; cfs reads its settings only from a "
                                           "regular file: replace it with one, or remove it")
    assert waiter is None or not waiter.opened_by_someone_else()


@pytest.mark.slow
def test_a_fifo_cfs_toml_stops_build_and_check_naming_it(root):
    import subprocess
    import sys
    write_tree(root, {"SPEC/app": spec("SPEC/app", "Say hi.\n", "output: app.txt")})
    _plant(root / "cfs.toml", "FIFO")
    for verb in ("build", "check"):
        done = subprocess.run([sys.executable, "-m", "cfs_build.cli", verb], cwd=root,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 3, (verb, done.stdout, done.stderr)
        said = done.stdout + done.stderr  # (check reports on stdout, build's error on stderr)
        assert "cfs.toml: is a FIFO, not a regular file;" in said, said
        assert "no generator configured" not in said


def test_a_verify_table_of_pyproject_lacking_a_key_is_named_with_its_line(root):
    exc = error(root, "[tool.cfs]\n\n[[tool.cfs.verify]]\ncommand = ['a']\n",
                name="pyproject.toml")
    assert exc.line == 3 and "tool.cfs.verify[1] has no outputs" in exc.message
