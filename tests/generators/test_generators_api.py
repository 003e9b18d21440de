"""The anthropic and openai generators over their real HTTP protocols, on a loopback server."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from fakeapi import TOKENS_IN, TOKENS_OUT, FakeAPI
from genkit import cfs, cfs_process, document_of, environment, model_project, prompt_text

ARTIFACTS = 4
OTHER = "SPEC/other"


def toml(kind: str, url: str, extra: str = "") -> str:
    base = url if kind == "anthropic" else url + "/v1"
    return (f'[generator]\nkind = "{kind}"\nmodel = "test-model"\nbase_url = "{base}"\n'
            f"retry_delay = 0.01\n{extra}")


KEYS = {"anthropic": {"ANTHROPIC_API_KEY": "sk-ant-test"}, "openai": {"OPENAI_API_KEY": "sk-test"}}


def sent_key(headers: dict) -> str:
    """The API key as sent: SDK versions differ (x-api-key, or a bearer token)."""
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, key = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return key


def sent_system_prompt(kind: str, body: dict) -> str:
    if kind == "anthropic":
        return body["system"]
    assert body["messages"][0]["role"] == "system"
    return body["messages"][0]["content"]


@pytest.mark.slow
@pytest.mark.parametrize("kind, first", [("anthropic", 529), ("openai", 429)])
def test_build_sends_our_prompt_and_the_document_with_no_tools_and_retries(tmp_path, kind,
                                                                           first):
    with FakeAPI(plan=[first]) as api:
        proj = model_project(tmp_path, toml(kind, api.url, "input_usd_per_mtok = 3\n"
                                                           "output_usd_per_mtok = 15\n"))
        expected = document_of(proj, OTHER)
        # The whole way once: the installed entry point in a process of its own.
        result = cfs_process(proj, "build", "-j", "2", env=KEYS[kind])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(api.requests) == ARTIFACTS + 1  # the first answer was an overload: retried
    for request in api.requests:
        body = request["body"]
        assert not {"tools", "tool_choice", "functions", "function_call"} & set(body)
        assert body["model"] == "test-model"
        assert sent_system_prompt(kind, body) == prompt_text()
        users = [m for m in body["messages"] if m["role"] == "user"]
        assert len(users) == 1 and len(body["messages"]) == (1 if kind == "anthropic" else 2)
        if kind == "anthropic":
            assert sent_key(request["headers"]) == "sk-ant-test"
            assert request["path"] == "/v1/messages"
        else:
            assert sent_key(request["headers"]) == "sk-test"
            assert request["path"] == "/v1/chat/completions"
    assert expected in api.documents()  # byte for byte what `cfs chain` shows
    tokens = f"tokens {ARTIFACTS * TOKENS_IN} in / {ARTIFACTS * TOKENS_OUT} out"
    assert tokens in result.stdout
    cost = ARTIFACTS * (TOKENS_IN * 3 + TOKENS_OUT * 15) / 1e6
    assert f"${cost:.4f}" in result.stdout
    assert all(flags == ["up-to-date"] for flags in proj.flags().values())
    log = [json.loads(line) for line in
           (proj.root / ".cfs/runs.jsonl").read_text().splitlines()]
    assert sorted(e["attempts"] for e in log) == [1, 1, 1, 2]
    assert {e["backend"] for e in log} == {kind} and {e["model"] for e in log} == {"test-model"}
    assert {e["prompt"] for e in log} == {hashlib.sha1(prompt_text().encode()).hexdigest()[:12]}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_service_unavailable_until_attempts_run_out_is_a_clear_failure(tmp_path, kind):
    with FakeAPI(plan=[503, 503]) as api:
        proj = model_project(tmp_path, toml(kind, api.url, "max_attempts = 2\n"))
        result = cfs(proj, "build", "gen/other.txt", env=KEYS[kind])
    assert result.returncode == 1
    assert "HTTP 503" in result.stdout and "gave up after 2 attempts" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert len(api.requests) == 2
    assert not (proj.root / "gen/other.txt").exists()


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_reply_cut_off_by_the_token_limit_is_a_failure_but_is_paid_for(tmp_path, kind):
    with FakeAPI(plan=["cut"]) as api:
        proj = model_project(tmp_path, toml(kind, api.url, "max_tokens = 64\n"))
        result = cfs(proj, "build", "gen/other.txt", env=KEYS[kind])
    assert result.returncode == 1
    assert "cut off" in result.stdout and "max_tokens = 64" in result.stdout
    assert len(api.requests) == 1  # not retried: the same limit would cut it again
    assert api.requests[0]["body"]["max_tokens"] == 64
    assert not (proj.root / "gen/other.txt").exists()
    assert f"tokens {TOKENS_IN} in / {TOKENS_OUT} out" in result.stdout


@pytest.mark.slow
def test_a_request_that_times_out_is_retried(tmp_path):
    with FakeAPI(plan=["slow"], slow_seconds=1.5) as api:
        proj = model_project(tmp_path, toml("anthropic", api.url, "timeout = 0.4\n"))
        result = cfs(proj, "build", "gen/other.txt", env=KEYS["anthropic"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(api.requests) == 2
    assert (proj.root / "gen/other.txt").exists()


@pytest.mark.slow
def test_max_concurrency_caps_requests_in_flight_below_jobs(tmp_path):
    with FakeAPI() as api:
        api.hold = 0.3
        proj = model_project(tmp_path, toml("openai", api.url, "max_concurrency = 2\n"))
        result = cfs(proj, "build", "-j", "4", env=KEYS["openai"])
    assert result.returncode == 0, result.stdout + result.stderr
    # Three leaves are independent: -j 4 would send them together; the backend allows two.
    assert api.most_in_flight == 2


def test_findings_are_paid_for_and_counted(tmp_path):
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml("anthropic", api.url))
        proj.edit(OTHER, "Say hello.", "Say hello. CANNED-FINDINGS")
        result = cfs(proj, "build", env=KEYS["anthropic"])
    assert result.returncode == 1
    assert "which currency" in result.stdout
    assert f"tokens {ARTIFACTS * TOKENS_IN} in" in result.stdout


def test_openai_compatible_local_server_needs_no_key(tmp_path):
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml("openai", api.url,
                                            "max_completion_tokens = 100\ntemperature = 0\n"))
        result = cfs(proj, "build", "gen/other.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    (request,) = api.requests
    assert sent_key(request["headers"]) == "unused"
    assert request["body"]["max_completion_tokens"] == 100
    assert request["body"]["temperature"] == 0 and "max_tokens" not in request["body"]


def test_key_from_a_named_environment_variable(tmp_path):
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml("anthropic", api.url,
                                            'api_key_env = "GATEWAY_KEY"\n'))
        result = cfs(proj, "build", "gen/other.txt", env={"GATEWAY_KEY": "gw-123"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert sent_key(api.requests[0]["headers"]) == "gw-123"


def test_missing_key_is_one_line_before_any_request(tmp_path):
    with FakeAPI() as api:
        proj = model_project(tmp_path, toml("anthropic", api.url))
        result = cfs(proj, "build")
    assert result.returncode == 3
    assert result.stderr.strip() == "cfs: the anthropic generator needs an API key: set " \
                                    "ANTHROPIC_API_KEY"
    assert api.requests == []


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_missing_sdk_is_one_line_naming_the_package(tmp_path, kind):
    from cfs_build.extras import install_command
    proj = model_project(tmp_path, toml(kind, "http://127.0.0.1:9"))
    # A None entry in sys.modules makes `import` fail as if the package were not installed.
    code = (f"import sys; sys.modules[{kind!r}] = None; from cfs_build.cli import main; "
            "sys.exit(main(['build']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=proj.root, capture_output=True,
                            text=True, timeout=60, env=environment(KEYS[kind]))
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"cfs: the {kind} generator needs the {kind} package: {install_command(kind)}"]
    assert install_command(kind).startswith(f"pip install '{kind}>=")


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_server_not_reached_is_named_by_its_address(kind):
    """A local server that was not started is the usual cause: the failure says where
    cfs looked (base_url in cfs.toml), not only that the connection was refused."""
    from importlib import import_module
    from cfs_build.generators.sdk import translate
    sdk = import_module(kind)
    base = "http://127.0.0.1:9"  # the discard port: nothing listens there
    if kind == "anthropic":
        client = sdk.Anthropic(api_key="k", base_url=base, max_retries=0)
        url = base + "/v1/messages"
        call = lambda: client.messages.create(model="m", max_tokens=1, messages=[
            {"role": "user", "content": "x"}])
    else:
        client = sdk.OpenAI(api_key="k", base_url=base + "/v1", max_retries=0)
        url = base + "/v1/chat/completions"
        call = lambda: client.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "x"}])
    with pytest.raises(sdk.APIConnectionError) as refused:
        call()
    assert str(translate(refused.value, sdk, 600)).startswith(
        f"cannot reach the server at {url}: ")
