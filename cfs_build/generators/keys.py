"""Key groups several backends share (run limits, retries, HTTP APIs); see tomlfile.Key."""
from __future__ import annotations

from ..tomlfile import Key


RUN = {
    "timeout": Key((int, float), "seconds one generation (one attempt) may take",
                   most=7 * 24 * 3600),
    "max_concurrency": Key((int,), "generations this backend runs at once", most=10_000),
}
RETRY = {
    "max_attempts": Key((int,), "how often one generation is tried on overload, rate limit, "
                                "5xx or timeout", most=100),
    "retry_delay": Key((int, float), "seconds to wait before the first retry (doubles each "
                                     "time)", zero_ok=True, most=3600),
}
API = {
    "model": Key((str,), "the model name, e.g. \"claude-sonnet-4-5\"", required=True),
    "base_url": Key((str,), "the API's address, e.g. \"http://127.0.0.1:8000/v1\""),
    "api_key_env": Key((str,), "the environment variable holding the API key"),
    "temperature": Key((int, float), "the sampling temperature", zero_ok=True),
    "input_usd_per_mtok": Key((int, float), "US dollars per million input tokens",
                              zero_ok=True),
    "output_usd_per_mtok": Key((int, float), "US dollars per million output tokens",
                               zero_ok=True),
    **RUN, **RETRY,
}
