"""The `anthropic` generator: the Messages API through the official SDK, no tools offered."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..tomlfile import Key
from . import GenerationFailed, Outcome, system_prompt
from .keys import API
from .httpclient import http_client
from .sdk import ApiGenerator, api_key, load_sdk, translate

DEFAULT_MAX_TOKENS = 16000


@dataclass
class AnthropicGenerator(ApiGenerator):
    """Our system prompt, the document as the one user message, one text reply back."""

    KEYS: ClassVar[dict[str, Key]] = {
        "max_tokens": Key((int,), "the most tokens one reply may have"), **API}

    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    kind: str = "anthropic"

    @classmethod
    def from_config(cls, table: dict, root: Path | None = None) -> "AnthropicGenerator":
        sdk = load_sdk("anthropic", "anthropic")
        common = cls.common(table)
        # Retries are ours (tested, shared with the other backends), so the SDK's are off.
        client = sdk.Anthropic(api_key=api_key(table, "ANTHROPIC_API_KEY", "anthropic",
                                               required=True),
                               base_url=table.get("base_url"), max_retries=0,
                               timeout=common["timeout"], http_client=http_client(sdk))
        return cls(client=client, sdk=sdk, max_tokens=int(table.get("max_tokens",
                                                                     DEFAULT_MAX_TOKENS)),
                   temperature=table.get("temperature"), **common)

    def _attempt(self, document: str) -> Outcome:
        request = {"model": self.model, "max_tokens": self.max_tokens, "system": system_prompt(),
                   "messages": [{"role": "user", "content": document}]}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        try:
            message = self.client.messages.create(**request)
        except self.sdk.APIError as exc:
            raise translate(exc, self.sdk, self.timeout) from None
        reported = message.usage
        # Cached input is billed apart from input_tokens; count every input token sent.
        tokens_in = sum(getattr(reported, name, None) or 0 for name in (
            "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        usage = self.usage(tokens_in, reported.output_tokens)
        if message.stop_reason == "max_tokens":
            raise GenerationFailed(f"the reply was cut off at max_tokens = {self.max_tokens}; "
                                   "raise max_tokens in cfs.toml", usage=usage)
        if message.stop_reason == "refusal":
            raise GenerationFailed("the model refused to answer", usage=usage)
        text = "".join(block.text for block in message.content if block.type == "text")
        return Outcome(text, usage)
