"""The README, docs/*.md and every command's --help example say only what is true.

Each `cfs ...` line of a shell block names nodes, artifacts and files that exist in the project
it is about (examples/payments unless the block changes directory), and the read-only ones run
there as shown. The texts the docs quote (documents, spec files, the generator) are compared
with their sources, and the command generator the docs offer builds a real project.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from cfs_build.cli import COMMANDS, main
from cfs_build.config import load_config
from cfs_build.analysis.project import Project
from fakeapi import FakeAPI
from genkit import environment

REPO = Path(__file__).parent.parent
PAYMENTS = REPO / "examples" / "payments"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "shell", "console"}
READ_ONLY = {"status", "chain", "graph", "validate", "check", "explain"}
WITH_VALUE = {"-C", "-j", "--jobs", "-n", "--format", "-o", "--show"}
# Names a line may use although no example has them, each for a stated reason.
PLACEHOLDERS = {
    "ARTIFACT/gone/node": "forget's subject is an orphan, which by definition no node produces",
}
# Commands in a shell block that change nothing a later `cfs` line reads.
HARMLESS = {"cd", "doit", "pip", "pytest", "mkdir", "dot", "jq", "less"}
PARSER = MarkdownIt("commonmark")
# The README's "Your first project" is not shipped: its lines are checked by running the
# whole section (test_first_project_runs_as_shown), not against an example.
FIRST_PROJECT = Path("<the README's first project>")
FIRST_SECTION = "Your first project"


@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # 1-based line of the opening fence
    info: str
    text: str


@dataclass(frozen=True)
class Command:
    where: str  # doc:line, for messages
    argv: tuple[str, ...]  # after `cfs`
    project: Path | None
    after_change: bool  # something earlier in the block changed the project


def blocks(path: Path) -> list[Block]:
    tokens = PARSER.parse(path.read_text(encoding="utf-8"))
    return [Block(path.relative_to(REPO).as_posix(), t.map[0] + 1, t.info.strip(), t.content)
            for t in tokens if t.type == "fence"]


def all_blocks() -> list[Block]:
    return [b for path in DOCS for b in blocks(path)]


def section_blocks(path: Path, heading: str) -> list[Block]:
    """The fenced blocks under the ``## heading`` of ``path``, in order."""
    tokens = PARSER.parse(path.read_text(encoding="utf-8"))
    heads = [(t.map[0], tokens[i + 1].content) for i, t in enumerate(tokens)
             if t.type == "heading_open" and t.tag == "h2"]
    start = next(line for line, text in heads if text == heading)
    end = min([line for line, _ in heads if line > start], default=1 << 30)
    return [b for b in blocks(path) if start < b.line <= end]


def first_project_lines() -> set[int]:
    return {b.line for b in section_blocks(REPO / "README.md", FIRST_SECTION)}


def shell_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def segments(line: str) -> list[list[str]]:
    """The simple commands of one shell line: split at |, ||, &&, ;, & and redirections."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|<>"):
            out.append([])
        else:
            out[-1].append(token)
    words = [[w for w in seg if w not in ("{", "}", "(", ")", "!")] for seg in out]
    return [seg for seg in words if seg]


def commands_of(where: str, text: str, project: Path | None) -> list[Command]:
    found, changed = [], False
    for line in shell_lines(text):
        for words in segments(line):
            if words[0] == "cd" and len(words) > 1 and project == FIRST_PROJECT:
                pass  # the walkthrough's own directory
            elif words[0] == "cd" and len(words) > 1:
                target = (REPO / words[1]).resolve()
                project = target if (target / "code-from-spec").is_dir() else None
            elif words[0] == "cfs":
                argv = tuple(words[1:])
                found.append(Command(where, argv, project, changed))
                if subcommand(argv) not in READ_ONLY | {"prompt", "runs", "completion"}:
                    changed = True
            elif words[0] not in HARMLESS:
                changed = True  # sed, git checkout, ...
    return found


def subcommand(argv: tuple[str, ...]) -> str | None:
    words = list(argv)
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in WITH_VALUE else words[1:]
    return words[0] if words else None


def doc_commands() -> list[Command]:
    walkthrough = first_project_lines()
    return [c for b in all_blocks() if b.info in SHELL
            for c in commands_of(f"{b.doc}:{b.line}", b.text, FIRST_PROJECT
                                 if b.doc == "README.md" and b.line in walkthrough
                                 else PAYMENTS)]


def help_commands() -> list[Command]:
    return [c for name, module in COMMANDS.items()
            for c in commands_of(f"cfs {name} --help", module.EXAMPLE, PAYMENTS)]


def project_of(command: Command) -> Path | None:
    argv = command.argv
    if "-C" in argv:
        return (REPO / argv[argv.index("-C") + 1]).resolve()
    return command.project


def arguments(argv: tuple[str, ...]) -> list[str]:
    """The positional arguments after the subcommand (option values left out)."""
    out, words, seen_command = [], list(argv), False
    while words:
        word = words.pop(0)
        if word in WITH_VALUE:
            words = words[1:]
        elif word.startswith("-"):
            continue
        elif not seen_command:
            seen_command = True
        else:
            out.append(word)
    return out


def looks_like_path(word: str) -> bool:
    return "/" in word or re.search(r"\.[A-Za-z]\w*$", word) is not None


def problems_with(command: Command) -> list[str]:
    """What the line names that its project does not have."""
    project = project_of(command)
    if project == FIRST_PROJECT:
        return []  # run for real by test_first_project_runs_as_shown
    named = [w for w in arguments(command.argv)
             if w not in PLACEHOLDERS and not w.isupper() and
             (w.startswith(("SPEC/", "ARTIFACT/", "EXTERNAL/")) or looks_like_path(w))]
    if not named:
        return []
    line = f"{command.where}: cfs {' '.join(command.argv)}"
    if project is None:
        return [f"{line}: names {named} in a project the docs never ship"]
    nodes = Project(project, use_index=False).nodes
    out = []
    for word in named:
        base, _, qualifier = word.partition("(")
        qualifier = qualifier.split(")")[0]
        if word.startswith("SPEC/"):
            node = nodes.get(base.rstrip("/"))
            if node is None:
                out.append(f"{line}: no node {base}")
            elif qualifier and not re.search(rf"^##[ \t]+{re.escape(qualifier)}[ \t]*$",
                                             (project / node.file).read_text(), re.I | re.M):
                out.append(f"{line}: {base} has no '## {qualifier}'")
        elif word.startswith("ARTIFACT/"):
            node = nodes.get("SPEC/" + base[len("ARTIFACT/"):])
            if node is None or not node.output:
                out.append(f"{line}: no artifact {base}")
        elif word.startswith("EXTERNAL/"):
            if not (project / base[len("EXTERNAL/"):]).is_file():
                out.append(f"{line}: no file for {base}")
        elif not (project / word).exists():
            out.append(f"{line}: no file {word} in {project.relative_to(REPO)}")
    return out


def test_the_docs_have_shell_examples_to_check():
    # Guards the extraction itself: a parser change that found no blocks would pass vacuously.
    commands = doc_commands()
    assert len(commands) >= 30
    assert {"status", "chain", "build", "accept", "graph"} <= {subcommand(c.argv)
                                                               for c in commands}
    assert any("SPEC/payments/fees/calculation" in c.argv for c in commands)


def test_every_cfs_line_in_the_docs_names_what_exists():
    problems = [p for c in doc_commands() for p in problems_with(c)]
    assert problems == []


def test_every_help_example_names_what_exists():
    problems = [p for c in help_commands() for p in problems_with(c)]
    assert problems == []


def test_the_name_check_catches_what_the_docs_used_to_say():
    # The lines this test exists for: each must be reported.
    for text in ("cfs chain SPEC/payments/fees/calc", "cfs accept ARTIFACT/payments/fees/rounding",
                 "cfs build src/fees/calculation.py",
                 "cfs chain SPEC/payments/fees/calculation(implementation)"):
        [command] = commands_of("sample", text, PAYMENTS)
        assert problems_with(command), text


def run_cfs(root: Path, argv: tuple[str, ...]) -> tuple[int, str, str]:
    """`cfs ARGV` in this process, in ``root`` (a doc's own -C is taken relative to it)."""
    argv = list(argv)
    if "-C" in argv:
        del argv[argv.index("-C"):argv.index("-C") + 2]
    out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["-C", str(root), *argv])
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """One copy of each example project, shared by the read-only runs (they change nothing)."""
    made: dict[Path, Path] = {}

    def copy(project: Path) -> Path:
        if project not in made:
            made[project] = tmp_path_factory.mktemp("doc") / project.name
            shutil.copytree(project, made[project],
                            ignore=shutil.ignore_patterns(".cfs", ".cache", "__pycache__"))
        return made[project]

    return copy


def test_read_only_lines_run_as_shown(copies):
    ran = 0
    for command in doc_commands() + help_commands():
        if subcommand(command.argv) not in READ_ONLY or command.after_change or \
                command.project == FIRST_PROJECT:
            continue
        code, out, err = run_cfs(copies(project_of(command)), command.argv)
        where = f"{command.where}: cfs {' '.join(command.argv)}"
        # The examples are valid and up to date, so every read-only command succeeds there.
        assert code == 0, f"{where} exited {code}: {err}"
        quiet = {"-q", "--quiet"} & set(command.argv)  # silent when all is well
        assert (out or quiet) and "Traceback" not in err, where
        ran += 1
    assert ran >= 15


# -- texts the docs quote ---------------------------------------------------------------------

def fenced(doc: str) -> list[str]:
    return [b.text for b in blocks(REPO / doc)]


def test_generators_doc_quotes_the_v5_documents_exactly():
    case = REPO / "tests" / "vectors" / "history_dispositions"
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    quoted = fenced("docs/generators.md")
    assert expected["documents"]["ARTIFACT/r/l"] in quoted
    assert expected["regenerated_documents"]["ARTIFACT/r/l"] in quoted
    for spec in ("r", "x", "r/l"):
        assert (case / "code-from-spec" / spec / "_node.md").read_text() in quoted, spec
    assert (case / "in.txt").read_text() in quoted
    # The edited leaf the doc shows is the one the vector writes before regenerating.
    [edit] = [s for s in expected["steps"]
              if s["op"] == "write" and s["path"] == "code-from-spec/r/l/_node.md"]
    assert edit["text"] in quoted


def test_spec_format_doc_quotes_the_example_specs_exactly():
    quoted = fenced("docs/spec-format.md")
    for spec in ("payments", "payments/fees/calculation", "payments/tests/fees"):
        text = (PAYMENTS / "code-from-spec" / spec / "_node.md").read_text()
        assert text in quoted, spec


def test_chain_hash_outputs_in_spec_format_doc_are_real(copies):
    quoted = fenced("docs/spec-format.md")
    for leaf in ("SPEC/payments/fees/calculation", "SPEC/payments/tests/fees"):
        code, out, _ = run_cfs(copies(PAYMENTS), ("chain", "--hash", leaf))
        assert code == 0 and out in quoted, leaf


def payments_repo(tmp_path: Path) -> Path:
    """A copy of the payments example inside a git repository, as a clone would have it."""
    work = tmp_path / "repo"
    shutil.copytree(PAYMENTS, work / "examples" / "payments",
                    ignore=shutil.ignore_patterns(".cfs", ".cache", "__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(work)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    return work


def run_block(work: Path, text: str) -> subprocess.CompletedProcess:
    """A doc's shell block, run by bash in ``work`` with `cfs` being this checkout's."""
    script = f'cfs() {{ "{sys.executable}" -m cfs_build.cli "$@"; }}\n{text}'
    return subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True,
                          env=environment({"PYTHONPATH": str(REPO)}), timeout=60)


def block_after(doc: str, start: str) -> tuple[str, str]:
    """The shell block that begins with ``start``, and the block that follows it."""
    texts = fenced(doc)
    index = next(i for i, t in enumerate(texts) if t.startswith(start))
    return texts[index], texts[index + 1]


def test_regeneration_example_prints_what_the_doc_shows(tmp_path):
    work = payments_repo(tmp_path)
    script, shown = block_after("docs/generators.md", "cd examples/payments\ncfs cache reconstruct")
    done = run_block(work, script)
    assert done.returncode == 0, done.stderr
    assert shown in done.stdout
    assert 'disposition="changed"' in shown  # the example shows history, not a first generation
    assert subprocess.run(["git", "-C", str(work), "status", "--porcelain", "examples/payments/"
                           "code-from-spec/payments"], capture_output=True, text=True
                          ).stdout == ""  # the block undoes its edit


def test_staleness_example_makes_exactly_the_calculation_stale(tmp_path):
    work = payments_repo(tmp_path)
    script, _ = block_after("docs/spec-format.md", "cd examples/payments\nsed")
    before_undo = script.split("git checkout")[0]
    done = run_block(work, before_undo)
    assert done.returncode == 1, done.stderr  # cfs status: something is stale
    stale = re.findall(r"ARTIFACT/\S+", done.stdout)
    assert stale == ["ARTIFACT/payments/fees/calculation"]


def test_why_is_it_stale_example_prints_what_the_doc_shows(tmp_path):
    work = payments_repo(tmp_path)
    script, shown = block_after("docs/spec-format.md",
                                "cd examples/payments\ncfs cache reconstruct")
    done = run_block(work, script.split("git checkout")[0])
    assert done.returncode == 1, done.stderr  # cfs explain: not up to date
    assert done.stdout.split("\n", 1)[1] == shown


# Each row of the table "you edit / stale afterwards" in docs/spec-format.md.
EDITS = [
    ("payments", "- Python 3.11, standard library only.", {"src/fees.py", "tests/test_fees.py"}),
    ("payments/fees", "- Only positive amounts can be charged.", {"src/fees.py"}),
    ("payments/fees/calculation", "Implement `calculate_fee` in one module.", {"src/fees.py"}),
    ("payments/fees/calculation", "Module `fees`:", {"src/fees.py", "tests/test_fees.py"}),
    ("payments/tests/fees", "Given 1 cent, standard: 0.", {"tests/test_fees.py"}),
    ("payments", "Finance asked for exact arithmetic", set()),  # # Private
    ("payments/fees", "How much we charge for one payment.", set()),  # the intent line
]


@pytest.mark.parametrize("node, line, stale", EDITS)
def test_staleness_table(tmp_path, node, line, stale):
    root = tmp_path / "payments"
    shutil.copytree(PAYMENTS, root, ignore=shutil.ignore_patterns(".cfs", ".cache"))
    spec = root / "code-from-spec" / node / "_node.md"
    text = spec.read_text()
    assert line in text
    spec.write_text(text.replace(line, line + " (edited)"))
    report = Project(root, use_index=False).report()
    assert {a.path for a in report.artifacts if "stale" in a.flags} == stale


def test_a_changed_output_path_is_missing_until_the_file_is_there(tmp_path):
    # FORMAT.md 7.4: the recorded path is not looked at, and the chain is the same.
    root = tmp_path / "payments"
    shutil.copytree(PAYMENTS, root, ignore=shutil.ignore_patterns(".cfs", ".cache"))
    spec = root / "code-from-spec" / "payments" / "fees" / "calculation" / "_node.md"
    spec.write_text(spec.read_text().replace("output: src/fees.py", "output: src/fee.py"))
    flags = {a.path: a.flags for a in Project(root, use_index=False).report().artifacts}
    assert flags == {"src/fee.py": ("missing",), "tests/test_fees.py": ("up-to-date",)}
    (root / "src/fees.py").rename(root / "src/fee.py")  # what the doc's `git mv` does
    flags = {a.path: a.flags for a in Project(root, use_index=False).report().artifacts}
    assert flags == {"src/fee.py": ("up-to-date",), "tests/test_fees.py": ("up-to-date",)}


# -- the command generator the docs offer -----------------------------------------------------

def test_the_doc_shows_the_shipped_generator():
    assert (PAYMENTS / "tools" / "gen.py").read_text() in fenced("docs/generators.md")


@pytest.mark.slow
def test_the_doc_generator_builds_the_payments_example(tmp_path):
    work = payments_repo(tmp_path)
    root = work / "examples" / "payments"
    [toml] = [t for t in fenced("docs/generators.md") if t.startswith("[generator]\nkind = "
                                                                         "\"command\"")]
    with (root / "cfs.toml").open("a") as config:
        config.write("\n" + toml)
    spec = root / "code-from-spec" / "payments" / "fees" / "_node.md"
    spec.write_text(spec.read_text().replace("rounded down to a whole cent",
                                             "rounded to the nearest cent", 1))
    tests_before = (root / "tests" / "test_fees.py").read_bytes()
    code, document, _ = run_cfs(root, ("chain", "SPEC/payments/fees/calculation"))
    assert code == 0
    env = environment({"PYTHONPATH": str(REPO)})
    # `cfs` on PATH, as it is after `pip install`, for the generator's `cfs prompt`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cfs").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cfs_build.cli "$@"\n')
    (bin_dir / "cfs").chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    with FakeAPI() as api:
        env["GEN_URL"] = api.url + "/v1"
        done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "build"], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [request] = api.requests
    assert request["path"] == "/v1/chat/completions"
    messages = request["body"]["messages"]
    assert messages[0] == {"role": "system",
                           "content": (REPO / "cfs_build" / "prompt.md").read_text()}
    assert messages[1] == {"role": "user", "content": document}
    digest = hashlib.sha1(document.encode("utf-8")).hexdigest()
    assert (root / "src" / "fees.py").read_text() == f"# made from a document with sha1 {digest}\n"
    assert (root / "tests" / "test_fees.py").read_bytes() == tests_before
    assert run_cfs(root, ("status",))[0] == 0


# -- configuration and links ------------------------------------------------------------------

def test_every_generator_table_in_the_docs_is_valid_configuration(tmp_path):
    kinds = set()
    for block in all_blocks():
        if block.info == "toml" and block.text.startswith("[generator]"):
            (tmp_path / "cfs.toml").write_text(block.text)
            kinds.add(load_config(tmp_path).generator["kind"])
    assert kinds == {"command", "claude-code", "anthropic", "openai"}


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    tokens = PARSER.parse(path.read_text(encoding="utf-8"))
    return {slug(tokens[i + 1].content) for i, t in enumerate(tokens)
            if t.type == "heading_open"}


def test_links_between_docs_lead_somewhere():
    broken = []
    for path in DOCS:
        for token in PARSER.parse(path.read_text(encoding="utf-8")):
            for child in token.children or ():
                href = child.attrGet("href") if child.type == "link_open" else None
                if not href or re.match(r"[a-z]+:", href):
                    continue
                file, _, anchor = href.partition("#")
                target = (path.parent / file).resolve() if file else path
                if not target.exists() or anchor and target.suffix == ".md" \
                        and anchor not in anchors(target):
                    broken.append(f"{path.relative_to(REPO)}: {href}")
    assert broken == []


# -- the README's first project ---------------------------------------------------------------

WALK_INIT = "mkdir hello && cd hello\n"
# What differs from run to run: seconds, and the tokens a real model would spend.
VARYING = [(re.compile(r"\(\d+\.\d s\)"), "(S s)"), (re.compile(r"in \d+\.\d s"), "in S s"),
           (re.compile(r"tokens \d+ in / \d+ out"), "tokens N in / N out")]


def steady(text: str) -> list[str]:
    for pattern, fixed in VARYING:
        text = pattern.sub(fixed, text)
    return sorted(text.splitlines())  # parallel generations finish in either order


def written_file(block: Block, source: str) -> str:
    """The path the paragraph before a spec block names (the last `code-from-spec/...`)."""
    lines = source.splitlines()[:block.line - 1]
    before = "\n".join(lines[-6:])
    return re.findall(r"`(code-from-spec/[^`]+/_node\.md)`", before)[-1]


@pytest.mark.slow
def test_first_project_runs_as_shown(tmp_path):
    """Every step of the README's walkthrough, in order, against a loopback model server:
    the files it writes, the commands it runs and the output it shows."""
    readme = REPO / "README.md"
    source = readme.read_text(encoding="utf-8")
    steps = section_blocks(readme, FIRST_SECTION)
    assert [b.info for b in steps].count("markdown") == 3  # a root and two leaves
    home, ran, compared = tmp_path / "hello", 0, 0
    env = environment({"PYTHONPATH": str(REPO)})
    with FakeAPI() as api:
        for index, block in enumerate(steps):
            if block.info == "markdown":
                target = home / written_file(block, source)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.text, encoding="utf-8")
            elif block.info == "toml":
                assert block.text.startswith("[generator]")
                served = block.text.replace("http://127.0.0.1:11434", api.url)
                assert served != block.text
                (home / "cfs.toml").write_text(served, encoding="utf-8")
            elif block.info in SHELL:
                first = block.text.startswith(WALK_INIT)
                script = f'cfs() {{ "{sys.executable}" -m cfs_build.cli "$@"; }}\n' + \
                    (block.text[len(WALK_INIT):] if first else block.text)
                if first:
                    home.mkdir()
                done = subprocess.run(["bash", "-c", script], cwd=home, env=env, text=True,
                                      capture_output=True, timeout=120)
                assert "Traceback" not in done.stderr, done.stderr
                ran += 1
                shown = steps[index + 1]
                if shown.info == "text":
                    assert steady(done.stdout) == steady(shown.text), block.text
                    compared += 1
                if ran == 3:  # after the first build, as the prose between the steps says
                    assert "`2 up-to-date, ...`, and exits 0" in source
                    after = subprocess.run([sys.executable, "-m", "cfs_build.cli", "status"],
                                           cwd=home, env=env, text=True, capture_output=True,
                                           timeout=60)
                    assert after.returncode == 0 and after.stdout.startswith("2 up-to-date, ")
    assert (ran, compared) == (6, 6)
    # One request per generation: two leaves, then greet again after the # Agent edit.
    assert len(api.requests) == 3
    assert (home / "src" / "greet.py").is_file() and (home / "tests" / "test_greet.py").is_file()


@pytest.mark.slow
def test_quickstart_doit_at_the_repository_root_runs(tmp_path):
    """The Quickstart's `doit` and `doit verify`, with the repository's own dodo.py."""
    work = payments_repo(tmp_path)
    shutil.copy(REPO / "dodo.py", work / "dodo.py")
    script = next(t for t in fenced("README.md") if t.startswith("doit "))
    assert [line.split()[:2] for line in shell_lines(script) if line.startswith("doit")] == \
        [["doit", "#"], ["doit", "verify"]]
    for args in ([], ["verify"]):
        done = subprocess.run([sys.executable, "-m", "doit", *args], cwd=work, text=True,
                              capture_output=True, env=environment({"PYTHONPATH": str(REPO)}),
                              timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "0 failed" in done.stdout, done.stdout
        if not args:  # the first run runs the tests, never run before
            assert "verify 'pytest': passed" in done.stdout, done.stdout


def test_pre_commit_recipes_name_hooks_that_exist_and_run(copies):
    """Each hook of the docs' pre-commit configurations is one this repository ships, or a
    local hook whose `cfs -C DIR ...` entry names a shipped project and passes there."""
    import yaml
    shipped = {hook["id"]: hook for hook in
               yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    seen = 0
    for block in all_blocks():
        if block.info != "yaml":
            continue
        for repo in yaml.safe_load(block.text)["repos"]:
            for hook in repo["hooks"]:
                seen += 1
                if repo["repo"] != "local":
                    assert hook["id"] in shipped, f"{block.doc}:{block.line}: {hook['id']}"
                    continue
                words = shlex.split(hook["entry"])
                assert words[:2] == ["cfs", "-C"] and hook["pass_filenames"] is False
                project = (REPO / words[2]).resolve()
                code, out, err = run_cfs(copies(project), tuple(words[1:]))
                assert code == 0 and out, f"{block.doc}:{block.line}: {err}"
    assert seen >= 2
    for hook in shipped.values():  # the shipped hooks run cfs and want no file names
        assert hook["entry"].split()[0] == "cfs" and hook["pass_filenames"] is False
