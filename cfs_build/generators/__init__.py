"""Generators: one small class per backend, all with the same `generate(document)` method."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module, resources
from pathlib import Path
from typing import Protocol

from ..errors import CfsError


@dataclass(frozen=True)
class Usage:
    """What one generation cost, where the backend reports it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None

    def plus(self, other: "Usage | None") -> "Usage":
        """Both costs added; a figure neither side reports stays unknown (None)."""
        if other is None:
            return self

        def add(a, b):
            return b if a is None else a if b is None else a + b

        return Usage(add(self.input_tokens, other.input_tokens),
                     add(self.output_tokens, other.output_tokens),
                     add(self.cost_usd, other.cost_usd))


@dataclass(frozen=True)
class Outcome:
    """A generator's answer: the raw reply text and what it cost."""

    reply: str
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    attempts: int = 1


# The most cfs reads of one answer, from a generator's stdout or a model server's response
# body: a reply is one file and a short report, so this is generous; past it, a program
# printing or a server sending without end would take all the memory there is before the
# timeout ends it.
MAX_ANSWER = 256 * 1024 * 1024

# Why a generation failed when holding the answer took the memory (the address space
# capped by ulimit; otherwise it is the kernel that steps in).
OUT_OF_MEMORY = ("ran out of memory holding the generator's answer (a server that never ends "
                 "it?); nothing was written. Check the server the generator in cfs.toml "
                 "talks to")


class GenerationFailed(Exception):
    """The backend could not produce a reply (exit status, timeout, transport error).

    ``usage`` is what the failed generation still cost (a reply cut off at the token
    limit is paid for), ``attempts`` how many tries were made.
    """

    def __init__(self, message: str, *, usage: Usage | None = None, attempts: int = 1):
        super().__init__(message)
        self.usage = usage or Usage()
        self.attempts = attempts


class Generator(Protocol):
    kind: str
    max_concurrency: int | None

    def generate(self, document: str, session=None) -> Outcome:
        """Send the document, and nothing else, to the model; return its reply.

        ``session`` (session.Session) is the run this generation belongs to: a process
        started for it is killed, and a wait between retries ends, when the run stops.
        """


# kind -> "module:Class"; adding a backend is one module (its class declares its
# configuration keys as KEYS) and one line here.
BACKENDS = {
    "command": "command:CommandGenerator",
    "claude-code": "claude_code:ClaudeCodeGenerator",
    "anthropic": "anthropic_api:AnthropicGenerator",
    "openai": "openai_api:OpenAIGenerator",
}


def make_generator(table: dict, root: Path | None, source: str | None) -> Generator:
    """The backend a configuration's [generator] ``table`` names (config.Config.generator,
    already checked against the backend's keys), or a clear error when none is configured.
    """
    kind = table.get("kind")
    if kind is None:
        raise CfsError("no generator configured: add a [generator] table to cfs.toml with a "
                       "kind (command, claude-code, anthropic or openai); cfs-build's "
                       "docs/generators.md says what each needs", file="cfs.toml")
    if kind not in BACKENDS:
        raise CfsError(f"generator kind {kind!r} is not available", file=source)
    return backend_class(kind).from_config(table, root)


def backend_class(kind: str) -> type:
    """The class of a backend in BACKENDS (its module is imported only now)."""
    module, name = BACKENDS[kind].split(":")
    return getattr(import_module(f"{__name__}.{module}"), name)


@lru_cache(maxsize=1)  # a pure function of the installed package: cached, not state
def system_prompt() -> str:
    """Our system prompt for model backends; it ships with (and is versioned by) the tool."""
    return resources.files("cfs_build").joinpath("prompt.md").read_text(encoding="utf-8")


def prompt_id() -> str:
    """A short fingerprint of the system prompt, recorded with every generation."""
    return hashlib.sha1(system_prompt().encode("utf-8")).hexdigest()[:12]
