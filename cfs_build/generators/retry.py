"""Retrying transient backend failures: bounded attempts, backoff with jitter, retry-after."""
from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from . import GenerationFailed, Outcome, Usage
from .session import Session

# Overloaded (529), rate limited (429), server trouble (5xx), request timeout (408) and the
# conflicts some gateways send while a model loads (409, 425).
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
# A server asking for a longer pause than this is treated as a final answer, not a delay.
LONGEST_WAIT = 600.0


class Retryable(GenerationFailed):
    """A failure worth another attempt; ``retry_after`` is the wait the server asked for."""

    def __init__(self, message: str, retry_after: float | None = None,
                 usage: Usage | None = None):
        super().__init__(message, usage=usage)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one generation is tried."""

    attempts: int = 4
    base_delay: float = 2.0
    max_delay: float = 60.0

    @classmethod
    def from_config(cls, table: dict) -> "RetryPolicy":
        """``max_attempts`` and ``retry_delay`` (the first wait, in seconds) of a [generator]."""
        return cls(int(table.get("max_attempts", cls.attempts)),
                   float(table.get("retry_delay", cls.base_delay)))

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Half fixed, half random: still backs off, yet parallel generations spread out.
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if any."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            pass
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return email.utils.mktime_tz(parsed) - time.time()
    return None


def with_retries(attempt: Callable[[], Outcome], policy: RetryPolicy,
                 session: Session | None = None) -> Outcome:
    """Call ``attempt`` until it returns, a non-retryable failure, or attempts run out.

    A wait between attempts ends at once when ``session`` (the run) is stopped.

    Tokens spent by failed attempts are added to what the generation cost.
    """
    session = Session() if session is None else session
    started = time.monotonic()
    spent = Usage()
    for number in range(1, policy.attempts + 1):
        try:
            outcome = attempt()
        except Retryable as exc:
            spent = spent.plus(exc.usage)
            if number == policy.attempts:
                raise GenerationFailed(f"{exc} (gave up after {number} attempts)",
                                       usage=spent, attempts=number) from None
            wait = policy.delay(number, exc.retry_after)
            if wait > LONGEST_WAIT:
                raise GenerationFailed(f"{exc} (the server asks to wait {wait:.0f} s; not "
                                       "waiting that long)", usage=spent,
                                       attempts=number) from None
            if session.wait(wait):
                raise GenerationFailed("interrupted", usage=spent, attempts=number) from None
            continue
        except GenerationFailed as exc:
            exc.usage = spent.plus(exc.usage)
            exc.attempts = number
            raise
        return replace(outcome, usage=spent.plus(outcome.usage), attempts=number,
                       seconds=time.monotonic() - started)
    raise AssertionError("unreachable: attempts must be at least 1")
