"""`cfs check`: the CI gate. Validate and compare with the manifest; non-zero unless all is well."""
from __future__ import annotations

import json

from ..analysis.project import Project
from ..analysis.status import Flag
from ..config import config_error
from ..errors import WARNING, printable

HELP = "CI gate: fail unless the tree is valid and every artifact is up to date"
EXAMPLE = "cfs check || { cfs status; exit 1; }     # in CI or a pre-commit hook"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--strict", action="store_true",
                        help="fail on warnings too (exit 2): places where v5 reads a spec "
                             "otherwise than it looks")


def run(args, project: Project) -> int:
    return check(project, as_json=args.json, strict=args.strict)


def check(project: Project, *, as_json: bool = False, strict: bool = False) -> int:
    """The verb: print what is wrong (or one ok line); 0 valid and up to date, 1 something
    to do, 2 format errors (warnings too with ``strict``), 3 a broken cfs.toml."""
    report = project.report()
    counts = report.summary()
    broken = config_error(project.root)
    problems = [str(broken)] if broken else []
    problems += [f.render() for f in report.errors]
    warnings = [f for f in report.findings if f.severity == WARNING] if strict else []
    if warnings:
        counts["warnings"] = len(warnings)
        problems += [f.render() for f in warnings]
    for status in report.artifacts:
        if not status.up_to_date:
            problems.append(f"{status.name} ({status.path}): {', '.join(status.flags)}")
    problems += [f"{o.name} ({o.path}): orphan" for o in report.orphans]
    code = 2 if warnings else report.exit_code
    if broken and code != 2:
        code = broken.exit_code  # as build and verify would fail
    if as_json:
        print(json.dumps({"ok": code == 0, "exit_code": code, "summary": counts,
                          "problems": problems}, indent=2))
        return code
    for line in problems:
        print(printable(line))
    artifacts = len(report.artifacts)
    if code == 0:
        print(f"cfs check: ok, {len(project.node_names())} nodes valid, {artifacts} "
              "artifacts up to date")
    else:
        wrong = [f"{v} {k}" for k, v in counts.items() if v and k != Flag.UP_TO_DATE]
        todo = ["`cfs status` says what to do"] if wrong else []
        if broken:  # (cfs status never reads it: only this says what is wrong there)
            wrong.insert(0, f"{broken.file} is not valid")
            todo.insert(0, f"fix {broken.file} as said above")
        print(f"cfs check: FAILED ({', '.join(wrong)}); {', and '.join(todo)}")
    return code
