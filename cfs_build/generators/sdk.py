"""What the HTTP API backends share: the optional SDK, the key, retries, prices, errors."""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar
from importlib import import_module

from ..errors import CfsError
from ..tomlfile import Key
from . import OUT_OF_MEMORY, GenerationFailed, Outcome, Usage
from .keys import API
from .retry import RETRY_STATUS, Retryable, RetryPolicy, retry_after, with_retries
from .session import Session

DEFAULT_TIMEOUT = 600.0


def load_sdk(module: str, kind: str):
    """The SDK module, or a one-line error saying which extra installs it."""
    try:
        return import_module(module)
    except ImportError:
        from ..extras import install_command
        raise CfsError(f"the {kind} generator needs the {module} package: "
                       f"{install_command(module)}") from None


def api_key(table: dict, default_env: str, kind: str, *, required: bool) -> str | None:
    env = table.get("api_key_env", default_env)
    key = os.environ.get(env)
    if not key and required:
        raise CfsError(f"the {kind} generator needs an API key: set {env}")
    return key or None


def translate(exc: Exception, sdk, timeout: float) -> GenerationFailed:
    """Our failure for an SDK exception: transient ones are Retryable."""
    if isinstance(exc, sdk.APIStatusError):
        detail = _short(str(exc))
        status = exc.status_code
        if status in RETRY_STATUS:
            return Retryable(f"HTTP {status}: {detail}", retry_after(exc.response.headers))
        return GenerationFailed(f"HTTP {status}: {detail}")
    if isinstance(exc, sdk.APITimeoutError):
        return Retryable(f"no answer within {timeout:g} s")
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc
        if isinstance(cause, MemoryError):  # (the answer, not the connection)
            return GenerationFailed(OUT_OF_MEMORY)
        if isinstance(cause, GenerationFailed):  # the answer, past its bound (httpclient)
            return cause
        url = getattr(getattr(exc, "request", None), "url", None)
        # The address: a local server not started is the usual cause (base_url in cfs.toml).
        where = f" at {url}" if url else ""
        return Retryable(f"cannot reach the server{where}: "
                         f"{_short(str(cause)) or type(cause).__name__}")
    return GenerationFailed(_short(str(exc)) or type(exc).__name__)


def _short(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class ApiGenerator(ABC):
    """One model behind an HTTP API: subclasses make one attempt, this class retries it."""

    SENDS_PROMPT: ClassVar[bool] = True
    KEYS: ClassVar[dict[str, Key]] = API
    EXCLUSIVE: ClassVar[tuple[tuple[str, str], ...]] = ()
    model: str
    client: object
    sdk: object
    timeout: float = DEFAULT_TIMEOUT
    max_concurrency: int | None = None
    policy: RetryPolicy = RetryPolicy()
    prices: tuple[float | None, float | None] = (None, None)

    @staticmethod
    def common(table: dict) -> dict:
        return {"model": table["model"], "timeout": float(table.get("timeout", DEFAULT_TIMEOUT)),
                "max_concurrency": table.get("max_concurrency"),
                "policy": RetryPolicy.from_config(table),
                "prices": (table.get("input_usd_per_mtok"), table.get("output_usd_per_mtok"))}

    def generate(self, document: str, session=None) -> Outcome:
        session = Session() if session is None else session
        return with_retries(lambda: self._bounded(document, session), self.policy, session)

    def _bounded(self, document: str, session: Session) -> Outcome:
        """One attempt, given up at ``timeout`` seconds in all or when the run stops.

        The SDK's timeout bounds each wait for the next bytes, not the answer: a server
        that sends a byte now and then holds a request forever, and a request in progress
        never looks at the run being stopped. So the request runs in a thread of its own
        that is left behind when it takes too long (it ends with its connection, or with
        the process; what it gets then is dropped).
        """
        done: dict = {}
        finished = threading.Event()

        def request() -> None:
            try:
                done["outcome"] = self._attempt(document)
            except BaseException as exc:  # handed to the caller, whatever it is
                done["error"] = exc
            finally:
                finished.set()

        threading.Thread(target=request, name=f"cfs-{self.kind}-request", daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while not finished.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            if session.stopped:
                raise GenerationFailed("interrupted")
            if time.monotonic() >= deadline:
                raise Retryable(f"no complete answer within {self.timeout:g} s, the "
                                "generator.timeout in cfs.toml")
        error = done.get("error")
        if isinstance(error, (AttributeError, KeyError, TypeError, ValueError)):
            # The SDK builds its objects from the JSON without checking it: an answer of
            # another shape (a text that is a list, no usage) shows as one of these.
            raise GenerationFailed(f"{self._not_a_reply()} ({type(error).__name__}: "
                                   f"{_short(str(error))})") from None
        if error is not None:
            raise error
        outcome = done["outcome"]
        if not isinstance(outcome.reply, str):
            raise GenerationFailed(f"{self._not_a_reply()} (its text is a "
                                   f"{type(outcome.reply).__name__}, not a string)",
                                   usage=outcome.usage)
        return outcome

    def _not_a_reply(self) -> str:
        return (f"the server's answer is not a reply of the {self.kind} API; check that "
                "generator.base_url in cfs.toml is such a server")

    @abstractmethod
    def _attempt(self, document: str) -> Outcome:
        """One request to the backend (retries happen around it)."""

    def usage(self, tokens_in: int | None, tokens_out: int | None) -> Usage:
        """Tokens as reported, and their cost when the project set prices per million."""
        price_in, price_out = self.prices
        cost = None
        if price_in is not None and price_out is not None \
                and tokens_in is not None and tokens_out is not None:
            cost = (tokens_in * price_in + tokens_out * price_out) / 1_000_000
        return Usage(tokens_in, tokens_out, cost)
