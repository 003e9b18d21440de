"""`cfs build`: run the project's generations through doit, without a dodo.py."""
from __future__ import annotations

import os
import sys

from ..buildlock import build_lock
from ..errors import CfsError
from ..names import ARTIFACT, SPEC, artifact_of, is_within, spec_of
from ..project import Project

HELP = "regenerate every stale artifact (or only TARGETs), several at once"
EXAMPLE = ("cfs build                         # everything stale\n"
           "  cfs build -j 8 SPEC/payments/fees   # one subtree, 8 generations at once\n"
           "  cfs build src/fees.py               # one artifact, by its output path\n"
           "  cfs build --fresh SPEC/payments     # without the existing files in the documents")
DEFAULT_JOBS = 4  # generations wait on a model, not on this machine's CPUs


def add_arguments(parser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=DEFAULT_JOBS, metavar="N",
                        help=f"generations at once (default {DEFAULT_JOBS})")
    parser.add_argument("--stop", action="store_true",
                        help="stop at the first failure (default: go on with independent work)")
    parser.add_argument("--fresh", action="store_true",
                        help="generate from the chain alone, without showing the generator the "
                             "existing file (as `fresh = true` in cfs.toml)")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true",
                      help="print only failures and the summary")
    loud.add_argument("-v", "--verbose", action="store_true",
                      help="also list what was up to date")
    parser.add_argument("--no-wait", action="store_true",
                        help="when another build of this project is running, exit at once "
                             "(default: wait for it)")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="SPEC/x (a whole subtree), ARTIFACT/x, or an output path")


def wanted_artifacts(project: Project, targets: list[str]) -> list[str]:
    """The artifacts the requested targets name (every artifact when none are given).

    Call it before changing directory: output paths may be relative to where cfs started.
    """
    artifacts = [s.name for s in project.report().artifacts]
    if not targets:
        return artifacts
    names: list[str] = []
    for target in targets:
        ref = target.rstrip("/")
        if ref.startswith(ARTIFACT + "/"):
            ref = spec_of(ref)
        if ref.startswith(SPEC + "/"):
            below = [a for a in artifacts if is_within(spec_of(a), ref)]
            if not below:
                if ref not in project.tree.nodes:
                    raise CfsError(f"no node {ref}")
                raise CfsError(f"{ref} has no artifact at or below it")
            names += below
            continue
        names.append(artifact_of(project.node_name(target)))
    return list(dict.fromkeys(names))


def with_producers(state, artifacts: list[str]) -> set[str]:
    """``artifacts`` and everything they are made from, transitively (as make would)."""
    found, stack = set(artifacts), list(artifacts)
    while stack:
        for producer in state.producers.get(stack.pop(), ()):
            if producer not in found:
                found.add(producer)
                stack.append(producer)
    return found


def _needs_generator(flags: tuple[str, ...]) -> bool:
    return flags != ("up-to-date",) and "modified" not in flags and "untracked" not in flags \
        and "invalid" not in flags


def run(args, project: Project) -> int:
    # One build of a project at a time, taken before anything is judged stale: a second
    # build waits, then finds what the first made up to date instead of making it again.
    with build_lock(project.root, wait=not getattr(args, "no_wait", False)):
        return _run_locked(args, project)


def _run_locked(args, project: Project) -> int:
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from ..generators.process import STOP, interrupt, kill_all
    from ..tasks import STATE_FILE, doit_config, make_tasks, state_for, task_name

    if args.jobs < 1:
        raise CfsError("-j must be at least 1")
    errors = [f for f in project.findings if f.severity == "error"]
    if errors:
        for finding in errors:
            print(finding.render(), file=sys.stderr)
        raise CfsError(f"{len(errors)} format error(s); nothing was built", exit_code=2)
    wanted = wanted_artifacts(project, args.targets)
    os.chdir(project.root)  # like make -C: doit's targets and state are relative to the root
    (project.root / STATE_FILE).parent.mkdir(exist_ok=True)
    state = state_for(project.root, project)
    if args.fresh:
        state.fresh = True
    # doit is handed only the tasks that can have work to do: the wanted artifacts and
    # what they are made from that are not up to date, and their consumers (judged
    # again by doit once their producers ran). The rest are up to date now and no task
    # of this run can change that; the summary counts them as such.
    closure = with_producers(state, wanted)
    now = state.statuses()
    changing = state.may_run(now)
    to_run = closure & changing
    try:
        _ = state.generator
    except CfsError:
        # Said once, up front, instead of once per artifact; but when everything is
        # up to date, no generator is needed (CI without the SDK or the `claude` program).
        # (A hand-edited or untracked file is refused before any generator is asked.)
        if any(_needs_generator(now[a].flags) for a in to_run):
            raise
    STOP.clear()

    def task_gen():
        yield from make_tasks(state, only=to_run, changing=changing)

    task_gen.__doc__ = "generate stale artifacts"
    from ..progress import NORMAL, QUIET, VERBOSE, ProgressReporter, wants_live
    level = QUIET if getattr(args, "quiet", False) else \
        VERBOSE if getattr(args, "verbose", False) else NORMAL
    reporter = ProgressReporter(sys.stdout, {"cfs_verbosity": level,
                                             "cfs_live": wants_live(sys.stdout)})
    reporter.known_up_to_date(sorted(task_name(spec_of(a)) for a in closure - to_run))
    namespace = {"DOIT_CONFIG": doit_config({"reporter": reporter}), "task_gen": task_gen}
    argv = ["run", "-n", str(args.jobs), "-P", "thread"]
    if not args.stop:
        argv.append("--continue")
    # doit swaps sys.stdout and sys.stderr around each action it runs; with several
    # actions in threads the swaps interleave and can leave one of its capture objects
    # in place. Whatever ran, this process prints to its own streams afterwards.
    streams = sys.stdout, sys.stderr
    try:
        code = DoitMain(ModuleTaskLoader(namespace)).run(argv)
    except KeyboardInterrupt:
        interrupt()
        # doit swaps sys.stderr while actions run; write to the real one.
        print("cfs: interrupted; running generations were stopped, nothing half-written "
              "was recorded", file=sys.__stderr__)
        return 130
    finally:
        sys.stdout, sys.stderr = streams
        kill_all()
    # doit: 1 = a task failed, 2 = a task errored (e.g. what it needs failed), 3 = usage.
    return {0: 0, 1: 1, 2: 1}.get(code, 3)
