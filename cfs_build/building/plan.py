"""What a build will hand to doit: the targets' artifacts, what they are made from, what may run."""
from __future__ import annotations

from dataclasses import dataclass

from ..analysis.deps import upstream
from ..analysis.project import Project
from ..analysis.status import Need
from ..errors import CfsError
from ..reading.names import ARTIFACT, SPEC, artifact_of, is_within, spec_of
from .generate import BuildState


@dataclass(frozen=True)
class Plan:
    """One build's selection. ``to_run``: the artifacts handed to doit (each may still turn
    out up to date once its producers ran); ``up_to_date``: the rest of the closure."""

    closure: frozenset[str]
    changing: frozenset[str]
    to_run: frozenset[str]

    @property
    def up_to_date(self) -> list[str]:
        return sorted(self.closure - self.to_run)


def wanted_artifacts(project: Project, targets: list[str]) -> list[str]:
    """The artifacts the requested targets name (every artifact when none are given).

    Output paths are taken relative to the working directory too (see Project.node_name).
    """
    artifacts = [s.name for s in project.report(keep=False).artifacts]
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
                    project.node_name(ref)  # raises what every command says: no node X (...)
                raise CfsError(f"{ref} has no artifact at or below it")
            names += below
            continue
        names.append(artifact_of(project.node_name(target)))
    return list(dict.fromkeys(names))


def plan_build(state: BuildState, targets: list[str]) -> Plan:
    """Only the tasks that can have work to do go to doit: the wanted artifacts and what
    they are made from that are not up to date, and their consumers (judged again by
    doit once their producers ran). The rest are up to date now and no task of this run
    can change that; the summary counts them as such."""
    closure = upstream(state.producers, wanted_artifacts(state.project, targets))
    changing = state.may_run(state.statuses())
    return Plan(frozenset(closure), frozenset(changing), frozenset(closure & changing))


def needs_generator(state: BuildState, plan: Plan) -> bool:
    """Whether any artifact to run will ask the generator (CI with everything up to date,
    or only hand-edited files, needs no SDK or `claude` program)."""
    now = state.statuses()
    return any(now[artifact].need is Need.GENERATE for artifact in plan.to_run)
