"""The reply protocol every generator speaks: one <artifact>, or <findings>, plus assumptions."""
from __future__ import annotations

import re
from dataclasses import dataclass

_FINDINGS = re.compile(r"<findings>(.*?)</findings>", re.S)
_ASSUMPTIONS = re.compile(r"<assumptions>(.*?)</assumptions>", re.S)


@dataclass(frozen=True)
class Reply:
    """What a reply says: file content, or findings; ``problem`` when it says neither."""

    artifact: str | None = None
    findings: str | None = None
    assumptions: str | None = None
    problem: str | None = None


def _strip(text: str) -> str:
    return text.strip("\n")


def parse_reply(text: str) -> Reply:
    """Read a reply. The file is the lines between the <artifact> line and the last </artifact> line."""
    assumptions = None
    found = _ASSUMPTIONS.search(text)
    if found:
        assumptions = _strip(found.group(1)) or None
    findings = _FINDINGS.search(text)
    if findings:
        body = _strip(findings.group(1))
        return Reply(findings=body or "(the generator reported findings without text)",
                     assumptions=assumptions)
    lines = text.replace("\r\n", "\n").split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "<artifact>")
    except StopIteration:
        return Reply(assumptions=assumptions, problem="the reply has no <artifact> line and no "
                     "<findings>")
    end = next((i for i in range(len(lines) - 1, start, -1)
                if lines[i].strip() == "</artifact>"), None)
    if end is None:
        return Reply(assumptions=assumptions, problem="the reply opens <artifact> but never "
                     "closes it on a line of its own (cut off?)")
    body = lines[start + 1:end]
    return Reply(artifact="\n".join(body) + "\n" if body else "", assumptions=assumptions)
