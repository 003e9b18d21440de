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


def _outside(pattern: re.Pattern, text: str, opened: int, tail: str) -> re.Match | None:
    # A tag inside the file is the file's content (a generated file may speak this protocol
    # itself); only a block that opens before the <artifact> line or follows the file counts.
    found = pattern.search(text)
    if found is not None and found.start() >= opened:
        found = pattern.search(tail)
    return found


def parse_reply(text: str) -> Reply:
    """Read a reply. The file is the lines between the <artifact> line and the last </artifact> line."""
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "<artifact>"), None)
    end = None if start is None else next(
        (i for i in range(len(lines) - 1, start, -1) if lines[i].strip() == "</artifact>"), None)
    opened = len(text) if start is None else len("\n".join(lines[:start]))
    tail = "" if end is None else "\n".join(lines[end + 1:])
    assumptions = None
    found = _outside(_ASSUMPTIONS, text, opened, tail)
    if found:
        assumptions = _strip(found.group(1)) or None
    findings = _outside(_FINDINGS, text, opened, tail)
    if findings:
        body = _strip(findings.group(1))
        return Reply(findings=body or "(the generator reported findings without text)",
                     assumptions=assumptions)
    if start is None:
        return Reply(assumptions=assumptions, problem="the reply has no <artifact> line and no "
                     "<findings>")
    if end is None:
        return Reply(assumptions=assumptions, problem="the reply opens <artifact> but never "
                     "closes it on a line of its own (cut off?)")
    body = lines[start + 1:end]
    return Reply(artifact="\n".join(body) + "\n" if body else "", assumptions=assumptions)
