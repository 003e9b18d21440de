"""`cfs runs`: what the last builds generated, and what they cost, from the run log."""
from __future__ import annotations

import json

from ..analysis.project import Project
from ..errors import CfsError
from ..state.runlog import RunLog, totals

HELP = "show the last build runs: generations, tokens, cost and time (from .cfs/runs.jsonl)"
EXAMPLE = ("cfs runs                # the last 10 runs, one line each\n"
           "  cfs runs --show last    # every generation of the last run\n"
           "  cfs runs --json | jq '.[-1].cost_usd'")


def add_arguments(parser) -> None:
    parser.add_argument("-n", type=int, default=10, metavar="N", help="how many runs (default 10)")
    parser.add_argument("--show", metavar="RUN",
                        help="list the generations of one run: its id (or a prefix) or 'last'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args, project: Project) -> int:
    return runs(project, count=args.n, show=args.show, as_json=args.json)


def runs(project: Project, *, count: int = 10, show: str | None = None,
         as_json: bool = False) -> int:
    """The verb: the last ``count`` runs, one line each, or the generations of the run
    ``show`` (its id, a prefix of it, or "last")."""
    if count < 1 and not show:
        raise CfsError("-n must be at least 1")
    entries = RunLog(project.root).entries()
    if show:
        return _show(entries, show, as_json)
    found = totals(entries)[-count:]
    if as_json:
        print(json.dumps([r.as_dict() for r in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no runs recorded yet (cfs build records every generation in .cfs/runs.jsonl)")
        return 0
    print(f"{'run':<22} {'started':<20} {'gen':>4} {'ok':>4} {'fail':>4} {'find':>4} "
          f"{'tokens in':>10} {'tokens out':>10} {'cost':>9} {'time':>8}  backend")
    for r in found:
        print(f"{r.run:<22} {r.started:<20} {r.generations:>4} "
              f"{r.outcomes.get('generated', 0):>4} {r.outcomes.get('failed', 0):>4} "
              f"{r.outcomes.get('findings', 0):>4} {r.input_tokens:>10,} {r.output_tokens:>10,} "
              f"{_money(r.cost_usd):>9} {r.seconds:>7.1f}s  {', '.join(r.backends)}")
    return 0


def _show(entries: list[dict], wanted: str, as_json: bool) -> int:
    ids = list(dict.fromkeys(e["run"] for e in entries))
    if wanted == "last":
        matches = ids[-1:]
    else:
        matches = [i for i in ids if i.startswith(wanted)]
    if len(matches) != 1:
        raise CfsError(f"no run {wanted!r}; `cfs runs` lists the recorded ones" if not matches else
                       f"{wanted!r} matches {len(matches)} runs; give more of the id")
    chosen = [e for e in entries if e["run"] == matches[0]]
    if as_json:
        print(json.dumps(chosen, indent=2, ensure_ascii=False))
        return 0
    for e in chosen:
        tokens = f"{e.get('input_tokens') or 0:,} in / {e.get('output_tokens') or 0:,} out"
        tries = f", {e['attempts']} attempts" if (e.get("attempts") or 1) > 1 else ""
        print(f"{e.get('outcome', '?'):<9} {e.get('node', '?')}: {tokens}, "
              f"{_money(e.get('cost_usd'))}, {e.get('seconds') or 0:.1f} s{tries}")
        if e.get("message") and e.get("outcome") != "generated":
            print(f"          {e['message']}")
    return 0


def _money(value) -> str:
    return f"${value:.4f}" if value else "-"
