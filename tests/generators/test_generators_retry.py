"""The shared retry helper: what is retried, how long it waits, and how it gives up."""
from __future__ import annotations

import email.utils
import threading
import time

import pytest

from cfs_build.generators import GenerationFailed, Outcome, Usage
from cfs_build.generators.session import Session
from cfs_build.generators.retry import (LONGEST_WAIT, Retryable, RetryPolicy, retry_after,
                                        with_retries)

FAST = RetryPolicy(attempts=3, base_delay=0.001)


def scripted(*steps):
    """An attempt function that raises or returns the given steps in turn."""
    calls = []

    def attempt():
        step = steps[len(calls)]
        calls.append(step)
        if isinstance(step, Exception):
            raise step
        return step

    return attempt, calls


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after": "0"}, 0.0),
    ({"retry-after": "2.5"}, 2.5),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": "soon"}, None),
    ({}, None),
    (None, None),
])
def test_retry_after_headers(headers, seconds):
    assert retry_after(headers) == seconds


def test_retry_after_as_an_http_date():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_after({"retry-after": later}) <= 31


def test_backoff_doubles_with_jitter_up_to_a_ceiling():
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=8.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (7, 8.0)):
        waits = {policy.delay(attempt, None) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered, so parallel generations do not retry in step
    assert policy.delay(1, 42.0) == 42.0  # the server's retry-after wins


def test_transient_failures_are_retried_and_their_cost_added():
    attempt, calls = scripted(Retryable("HTTP 529", 0, Usage(10, 0, 0.5)), Retryable("HTTP 503"),
                              Outcome("reply", Usage(100, 20, 1.0)))
    outcome = with_retries(attempt, FAST)
    assert outcome.reply == "reply" and outcome.attempts == 3 and len(calls) == 3
    assert outcome.usage == Usage(110, 20, 1.5)


def test_gives_up_after_the_last_attempt_with_the_last_error():
    attempt, calls = scripted(Retryable("HTTP 529"), Retryable("HTTP 529"),
                              Retryable("HTTP 503: busy"))
    with pytest.raises(GenerationFailed) as caught:
        with_retries(attempt, FAST)
    assert str(caught.value) == "HTTP 503: busy (gave up after 3 attempts)"
    assert caught.value.attempts == 3 and len(calls) == 3


def test_other_failures_are_not_retried():
    attempt, calls = scripted(Retryable("HTTP 529"), GenerationFailed("HTTP 401: bad key",
                                                                      usage=Usage(1, 2, None)))
    with pytest.raises(GenerationFailed) as caught:
        with_retries(attempt, FAST)
    assert str(caught.value) == "HTTP 401: bad key"
    assert caught.value.attempts == 2 and caught.value.usage == Usage(1, 2, None)


def test_a_server_asking_for_a_very_long_pause_is_a_final_answer():
    attempt, calls = scripted(Retryable("HTTP 429", LONGEST_WAIT + 1))
    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="asks to wait"):
        with_retries(attempt, FAST)
    assert time.monotonic() - started < 1


def test_an_interrupted_build_ends_the_wait_at_once():
    attempt, _ = scripted(Retryable("HTTP 429", 30))
    session, other = Session(), Session()
    threading.Timer(0.05, session.interrupt).start()
    started = time.monotonic()
    with pytest.raises(GenerationFailed, match="interrupted"):
        with_retries(attempt, FAST, session)
    assert time.monotonic() - started < 5
    assert not other.stopped  # another run in the same process goes on
