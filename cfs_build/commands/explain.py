"""`cfs explain NAME`: why one artifact is stale, modified, missing, untracked or invalid."""
from __future__ import annotations

import json

from ..analysis.explain import explain as explain_artifact
from ..analysis.project import Project
from ..analysis.status import Need, need_of
from ..errors import printable, printable_json

HELP = "say why one artifact is not up to date, with a diff of each chain entry that changed"
EXAMPLE = "cfs explain ARTIFACT/payments/fees/calculation     # or a SPEC/ name, or src/fees.py"


def add_arguments(parser) -> None:
    parser.add_argument("name", help="SPEC/x, ARTIFACT/x or the output path of a leaf")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def run(args, project: Project) -> int:
    return explain(project, args.name, as_json=args.json)


def explain(project: Project, name: str, *, as_json: bool = False) -> int:
    """The verb: why ``name`` stands where it does; 0 up to date, 1 not."""
    answer = explain_artifact(project, name)
    code = 0 if need_of(answer.flags) is Need.NOTHING else 1
    if as_json:
        print(printable_json(json.dumps(answer.as_dict(), indent=2, ensure_ascii=False)))
        return code
    print(f"{printable(answer.name)}  {printable(answer.path)}: {', '.join(answer.flags)}")
    for reason in answer.reasons:
        print(f"  {printable(reason)}")
    for change in answer.changes:
        if change.diff:
            print()
            # Old texts come from code-from-spec/.cache, which a checkout can carry: no
            # escape sequence in them (or in a spec) may drive the terminal.
            print(printable(change.diff, lines=True), end="")
    return code
