"""Verification: run the project's test commands and tie failures back to spec nodes."""
from __future__ import annotations

import re
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..analysis.deps import deps_of
from ..analysis.project import Project
from ..analysis.verified import VERIFIED, verification, write_record
from ..config import VerifyEntry, load_config
from ..errors import CfsError, printable
from ..reading.names import artifact_of, spec_of



def glob_regex(pattern: str) -> re.Pattern:
    """A project-relative glob as a regex: `**/` spans directories, `*` and `?` do not."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class Failure:
    """One failing test, with the specs to look at."""

    test: str
    file: str | None
    message: str
    test_node: str | None = None
    exercises: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntryResult:
    """The outcome of one [[verify]] command."""

    name: str
    command: tuple[str, ...]
    returncode: int
    tests: int | None
    failures: tuple[Failure, ...] = ()
    problem: str | None = None
    output_tail: str = ""

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.failures and self.problem is None


@dataclass(frozen=True)
class Plan:
    """What a verification run covers: per entry the test artifacts, and what they exercise."""

    covered: dict[str, tuple[str, ...]]
    exercised: dict[str, tuple[str, ...]]
    artifacts: frozenset[str] = frozenset()  # every artifact of the project
    warnings: tuple[str, ...] = field(default=())

    def build_targets(self) -> list[str]:
        """The covered test files and the artifacts of the nodes they exercise."""
        names = set()
        for artifacts in self.covered.values():
            for artifact in artifacts:
                names.add(artifact)
                names |= {artifact_of(node) for node in self.exercised.get(artifact, ())
                          if artifact_of(node) in self.artifacts}
        return sorted(names)


def exercised_nodes(project: Project, node: str) -> tuple[str, ...]:
    """Spec nodes a test leaf imports (SPEC/x(q) -> SPEC/x, ARTIFACT/y -> SPEC/y)."""
    return deps_of(project.tree).exercised(node)


def plan(project: Project, entries: tuple[VerifyEntry, ...]) -> Plan:
    outputs = deps_of(project.tree).artifacts
    covered, exercised, warnings = {}, {}, []
    for entry in entries:
        patterns = [glob_regex(p) for p in entry.outputs]
        mine = tuple(sorted(a for a, path in outputs.items()
                            if any(p.match(path) for p in patterns)))
        if not mine:
            warnings.append(f"verify {entry.name!r}: outputs {list(entry.outputs)} match no "
                            "generated file")
        covered[entry.name] = mine
        for artifact in mine:
            nodes = exercised_nodes(project, spec_of(artifact))
            exercised[artifact] = nodes
            if not nodes:
                warnings.append(f"{spec_of(artifact)} imports no spec: a failure in "
                                f"{outputs[artifact]} cannot be tied to the code it exercises; "
                                "add `depends_on: [SPEC/<code>(interface)]`")
    result = Plan(covered, exercised, frozenset(outputs), tuple(warnings))
    return result


def _is_pytest(command: tuple[str, ...]) -> bool:
    return any(Path(part).name in ("pytest", "py.test") for part in command) or \
        any(a == "-m" and b == "pytest" for a, b in zip(command, command[1:]))


def _junit_failures(path: Path) -> tuple[int, list[tuple[str, str | None, str]]]:
    root = ElementTree.parse(path).getroot()
    failures, count = [], 0
    for case in root.iter("testcase"):
        count += 1
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is None:
            continue
        file = case.get("file")
        if file is None and case.get("classname"):
            parts = case.get("classname").split(".")
            file = "/".join(parts[:-1] if parts[-1][:1].isupper() else parts) + ".py"
        message = (bad.get("message") or (bad.text or "").strip().splitlines()[-1:] or [""])
        message = message if isinstance(message, str) else message[0]
        failures.append((f"{file}::{case.get('name')}", file, message.strip()))
    return count, failures


def run_entry(project: Project, entry: VerifyEntry, covered: tuple[str, ...],
              exercised: dict[str, tuple[str, ...]]) -> EntryResult:
    """Run one test command in the project root and map its failures to spec nodes."""
    by_path = {project.tree.nodes[spec_of(a)].output: spec_of(a) for a in covered}
    command = list(entry.command)
    with tempfile.TemporaryDirectory(prefix="cfs-verify-") as scratch:
        junit = Path(scratch) / "junit.xml"
        if _is_pytest(entry.command):
            command += [f"--junitxml={junit}", "-o", "junit_family=xunit1"]
        try:
            # (errors="replace": generated tests may print bytes that are no UTF-8; what
            # they print is only shown)
            done = subprocess.run(command, cwd=project.root, capture_output=True, text=True,
                                  errors="replace", timeout=entry.timeout)
        except FileNotFoundError:
            raise CfsError(f"verify {entry.name!r}: cannot run {command[0]!r}: not found",
                           file="cfs.toml") from None
        except subprocess.TimeoutExpired:
            return EntryResult(entry.name, entry.command, -1, None,
                               problem=f"timed out after {entry.timeout:g} s")
        output = done.stdout + done.stderr
        tests, raw = None, []
        if junit.exists():
            try:
                tests, raw = _junit_failures(junit)
            except ElementTree.ParseError:
                raw = []
        elif done.returncode != 0:
            # Not pytest: the exit code says it failed; the files it names say where.
            raw = [(path, path, "named in the test output") for path in by_path
                   if path in output]
    failures = []
    for test, file, message in raw:
        node = _owner(by_path, file)
        failures.append(Failure(test, file, message, node,
                                exercised.get(artifact_of(node), ()) if node else ()))
    problem = None
    if done.returncode != 0 and not failures:
        problem = f"exited with status {done.returncode}"
    return EntryResult(entry.name, entry.command, done.returncode, tests, tuple(failures),
                       problem, "\n".join(output.strip().splitlines()[-15:]))


def _owner(by_path: dict[str, str], file: str | None) -> str | None:
    # The runner names files relative to its own root dir, which may lie above the project.
    if not file:
        return None
    file = file.replace("\\", "/")
    for path, node in by_path.items():
        if file == path or file.endswith("/" + path):
            return node
    return None


def record(project: Project, results: list[EntryResult]) -> None:
    """Remember which chain hashes and files were verified, and how it went."""
    write_record(project, all(r.passed for r in results),
                 [{**asdict(r), "passed": r.passed} for r in results])


def run_all(project: Project, config) -> list:
    """Run every [[verify]] entry on the files as they are, and record the outcome."""
    the_plan = plan(project, config.verify)
    results = [run_entry(project, entry, the_plan.covered[entry.name], the_plan.exercised)
               for entry in config.verify]
    record(project, results)
    return results


def print_results(results) -> None:
    """What `cfs verify` and the doit task `verify` print: each run, and each failure's specs.

    Test names, messages and output come from the tests, node names from the checkout:
    their control characters are shown escaped."""
    for result in results:
        counted = f", {result.tests} tests" if result.tests is not None else ""
        state = "passed" if result.passed else "FAILED"
        print(f"verify {result.name!r}: {state}{counted}")
        for failure in result.failures:
            print(f"  {printable(failure.test)}")
            if failure.test_node:
                print(f"    test spec: {printable(failure.test_node)}")
                if failure.exercises:
                    print(f"    exercises: {printable(', '.join(failure.exercises))}")
            else:
                print("    not a generated test file: no spec to point at")
            for line in failure.message.splitlines()[:6]:
                print(f"    | {printable(line)}")
        if result.problem:
            print(f"  {printable(result.problem)}")
            if result.output_tail:
                print("  " + printable(result.output_tail, lines=True).replace("\n", "\n  "))


def verify_task(root, prefix: str = "", gen_task=None, project=None) -> dict | None:
    """The doit task `verify`: after every generation it covers, run the tests.

    Up to date when the last verification passed on exactly the current artifacts.
    ``project`` (a callable giving the Project) spares reading the project again.
    """
    from doit.exceptions import TaskFailed

    config = load_config(Path(root).resolve())
    if not config.verify:
        return None  # nothing to read the project for
    project = project() if project is not None else Project(root)
    targets = plan(project, config.verify).build_targets()

    def action():
        fresh = Project(project.root)
        results = run_all(fresh, config)
        print_results(results)
        if not all(r.passed for r in results):
            return TaskFailed("tests failed; the specs named above are where to look")
        return None

    return {
        "basename": f"{prefix}verify",
        "doc": "run the tests of the generated code ([[verify]] in cfs.toml)",
        "actions": [action],
        "task_dep": [gen_task(t) for t in targets] if gen_task else [],
        "uptodate": [lambda: verification(Project(project.root))["state"] == VERIFIED],
        "verbosity": 2,
    }
