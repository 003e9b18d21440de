"""Generators: one small class per backend, all with the same `generate(document)` method."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..config import Config
from ..errors import CfsError


@dataclass(frozen=True)
class Usage:
    """What one generation cost, where the backend reports it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


@dataclass(frozen=True)
class Outcome:
    """A generator's answer: the raw reply text and what it cost."""

    reply: str
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0


class GenerationFailed(Exception):
    """The backend could not produce a reply (exit status, timeout, transport error)."""


class Generator(Protocol):
    kind: str
    max_concurrency: int | None

    def generate(self, document: str) -> Outcome:
        """Send the document, and nothing else, to the model; return its reply."""


def make_generator(config: Config) -> Generator:
    """The configured backend, or a clear error when none is configured."""
    kind = config.generator.get("kind")
    if kind is None:
        raise CfsError("no generator configured: add a [generator] table to cfs.toml "
                       "(see the README, section Generators)", file="cfs.toml")
    if kind == "command":
        from .command import CommandGenerator
        return CommandGenerator.from_config(config.generator, config.root)
    raise CfsError(f"generator kind {kind!r} is not available", file=config.source)
