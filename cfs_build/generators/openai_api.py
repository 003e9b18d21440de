"""The `openai` generator: Chat Completions through the official SDK, for any compatible server."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..tomlfile import Key
from . import GenerationFailed, Outcome, system_prompt
from .keys import API
from .httpclient import http_client
from .sdk import ApiGenerator, api_key, load_sdk, translate

# Local servers (vLLM, Ollama, llama.cpp, LM Studio) ignore the key, but the SDK wants one.
PLACEHOLDER_KEY = "unused"


@dataclass
class OpenAIGenerator(ApiGenerator):
    """A system and a user message, one choice back; token limits only when configured."""

    KEYS: ClassVar[dict[str, Key]] = {
        "max_tokens": Key((int,), "the most tokens one reply may have (sent as max_tokens)"),
        "max_completion_tokens": Key((int,), "the most tokens one reply may have (sent as "
                                             "max_completion_tokens)"),
        **API,
    }
    # OpenAI's newer models take max_completion_tokens; most local servers max_tokens.
    EXCLUSIVE: ClassVar[tuple[tuple[str, str], ...]] = (("max_tokens", "max_completion_tokens"),)

    limits: dict | None = None
    temperature: float | None = None
    kind: str = "openai"

    @classmethod
    def from_config(cls, table: dict, root: Path | None = None) -> "OpenAIGenerator":
        sdk = load_sdk("openai", "openai")
        common = cls.common(table)
        base_url = table.get("base_url")
        key = api_key(table, "OPENAI_API_KEY", "openai", required=base_url is None)
        # Retries are ours (tested, shared with the other backends), so the SDK's are off.
        client = sdk.OpenAI(api_key=key or PLACEHOLDER_KEY, base_url=base_url, max_retries=0,
                            timeout=common["timeout"], http_client=http_client(sdk))
        # OpenAI's newer models take max_completion_tokens; most local servers max_tokens.
        limits = {name: table[name] for name in ("max_tokens", "max_completion_tokens")
                  if name in table}
        return cls(client=client, sdk=sdk, limits=limits,
                   temperature=table.get("temperature"), **common)

    def _attempt(self, document: str) -> Outcome:
        request = {"model": self.model,
                   "messages": [{"role": "system", "content": system_prompt()},
                                {"role": "user", "content": document}],
                   **(self.limits or {})}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        try:
            completion = self.client.chat.completions.create(**request)
        except self.sdk.APIError as exc:
            raise translate(exc, self.sdk, self.timeout) from None
        reported = completion.usage
        usage = self.usage(getattr(reported, "prompt_tokens", None),
                           getattr(reported, "completion_tokens", None))
        if not completion.choices:
            raise GenerationFailed("the server answered without a choice", usage=usage)
        choice = completion.choices[0]
        if choice.finish_reason == "length":
            limit = ", ".join(f"{k} = {v}" for k, v in (self.limits or {}).items()) or \
                "the server's default limit"
            raise GenerationFailed(f"the reply was cut off at the token limit ({limit}); "
                                   "raise it in cfs.toml", usage=usage)
        if choice.finish_reason == "content_filter":
            raise GenerationFailed("the server's content filter stopped the reply", usage=usage)
        if choice.message.content is None:
            refusal = getattr(choice.message, "refusal", None)
            raise GenerationFailed(f"no text in the reply{': ' + refusal if refusal else ''}",
                                   usage=usage)
        return Outcome(choice.message.content, usage)
