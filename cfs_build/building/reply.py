"""The reply protocol every generator speaks: one <artifact>, or <findings>, plus assumptions."""
from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"(`{3,}|~{3,})[^`]*")
MARKDOWN = (".md", ".markdown")
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
    """Read a reply: the file is the lines between <artifact> and the last </artifact> line."""
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
    if _two_blocks(body):
        return Reply(assumptions=assumptions, problem="the reply has more than one <artifact> "
                     "block; one generation writes one file")
    return Reply(artifact="\n".join(body) + "\n" if body else "", assumptions=assumptions)


def _two_blocks(body: list[str]) -> bool:
    """A `</artifact>` line and, after it, an `<artifact>` line, neither inside a code fence.

    The file may quote the protocol (a Markdown page about it, in fences); two blocks
    one after the other are a reply that tried to write two files, or one file twice.
    """
    fence, closed = None, False
    for line in body:
        opened = _FENCE.match(line.strip())
        if opened and fence is None:
            fence = opened.group(1)
        elif fence is not None and line.strip().startswith(fence) and \
                line.strip().strip(fence[0]) == "":
            fence = None
        elif fence is None and line.strip() == "</artifact>":
            closed = True
        elif fence is None and closed and line.strip() == "<artifact>":
            return True
    return False


def unfence(artifact: str, output: str) -> tuple[str, str | None]:
    """The file without a Markdown fence wrapped around all of it, and a note saying so.

    Models often put the file in a fence inside <artifact>; for anything but Markdown
    (where a page may well be one fenced block) the fence lines are not part of the file.
    """
    lines = artifact.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if output.lower().endswith(MARKDOWN) or len(lines) < 2:
        return artifact, None
    opened = _FENCE.fullmatch(lines[0].strip())
    if opened is None:
        return artifact, None
    fence = opened.group(1)
    # As in CommonMark, the first line of the fence's characters (at least as many, and
    # nothing else) closes it: that must be the last line, or the fences are two blocks.
    closing = next((i for i, line in enumerate(lines[1:], start=1)
                    if line.strip().startswith(fence) and not line.strip().strip(fence[0])),
                   None)
    if closing != len(lines) - 1:
        return artifact, None
    inner = lines[1:-1]
    text = "\n".join(inner) + "\n" if inner else ""
    return text, f"the generator wrapped the file in a {opened.group(1)} fence; it was removed"
