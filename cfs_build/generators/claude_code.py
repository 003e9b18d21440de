"""The `claude-code` generator: Claude Code headless; no tools, MCP, settings or session."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..errors import CfsError
from ..tomlfile import Key
from . import GenerationFailed, Outcome, Usage, system_prompt
from .keys import RETRY, RUN
from .process import TimedOut, TooLong, run_confined, stderr_tail
from .program import missing_program
from .retry import RETRY_STATUS, Retryable, RetryPolicy, with_retries

DEFAULT_TIMEOUT = 900.0
EMPTY_MCP = '{"mcpServers": {}}'
# The flags cfs sets to confine the agent (or to read its answer); extra_args may not
# set them again, nor widen what the agent may touch.
RESERVED = frozenset({
    "-p", "--print", "--tools", "--allowedTools", "--allowed-tools", "--mcp-config",
    "--strict-mcp-config", "--setting-sources", "--settings", "--add-dir", "--system-prompt",
    "--system-prompt-file", "--append-system-prompt", "--append-system-prompt-file",
    "--input-format", "--output-format", "--permission-mode", "--dangerously-skip-permissions",
    "--allow-dangerously-skip-permissions", "--permission-prompt-tool", "-r", "--resume",
    "-c", "--continue", "--session-id", "--fork-session", "--no-session-persistence",
    "--plugin-dir", "--agents", "--agent", "--bare", "--model", "--ide", "--chrome",
    "--max-turns",
    # Each of these offers the model a tool, loads code, fetches files or moves the run
    # somewhere else (a worktree, the background, the cloud).
    "--json-schema", "--brief", "--plugin-url", "--file", "--worktree", "-w", "--tmux",
    "--bg", "--background", "--cloud", "--remote-control", "--teleport", "--from-pr",
    "--desktop",
})
# Set for every run: the CLI's own switches for what its flags leave on.
RUN_ENV = (
    # Auto memory is loaded whatever --setting-sources says.
    ("CLAUDE_CODE_DISABLE_AUTO_MEMORY", "1"),
    # Without --bare, the files that `@path` mentions name (absolute, `~/`, `./`, `../`) are
    # read and sent to the model along with the document, even from a stream-json message.
    ("CLAUDE_CODE_DISABLE_ATTACHMENTS", "1"),
    # Every request but the model call: traffic to a fixed Anthropic host whatever the base
    # URL says, and in some versions a title request that carries the document again.
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    # Retries are cfs's own, as for every backend; the CLI would retry on its own first.
    ("CLAUDE_CODE_MAX_RETRIES", "0"),
)


@dataclass
class ClaudeCodeGenerator:
    """`claude -p` in an empty temporary directory; the document goes in as a stream-json message.

    Claude Code reads the files that `@path` mentions name and sends them along, even with
    every tool off; CLAUDE_CODE_DISABLE_ATTACHMENTS stops that, so a spec that says
    `see @/etc/passwd` reaches the model as those words. One turn only: a model that asks
    for a tool gets no second request, and the run ends as `error_max_turns`.
    """

    SENDS_PROMPT: ClassVar[bool] = True
    KEYS: ClassVar[dict[str, Key]] = {
        "executable": Key((str,), "the Claude Code program (default: claude on PATH)"),
        "model": Key((str,), "the model, e.g. \"sonnet\" or a full model name"),
        "extra_args": Key((list,), "more arguments for claude, e.g. [\"--fallback-model\", "
                                   "\"haiku\"]", strings="a list of strings"),
        "bare": Key((bool,), "pass --bare (default: when ANTHROPIC_API_KEY is set)"),
        **RUN, **RETRY,
    }
    EXCLUSIVE: ClassVar[tuple[tuple[str, str], ...]] = ()

    executable: str
    model: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    extra_args: list[str] = field(default_factory=list)
    bare: bool = False
    max_concurrency: int | None = None
    policy: RetryPolicy = RetryPolicy()
    kind: str = "claude-code"

    @classmethod
    def from_config(cls, table: dict, root: Path | None = None) -> "ClaudeCodeGenerator":
        written = wanted = table.get("executable", "claude")
        if root is not None and "/" in wanted and not os.path.isabs(wanted):
            wanted = str(root / wanted)
        executable = shutil.which(wanted)
        if executable is None:
            raise missing_program("generator.executable", written, root,
                                  "install Claude Code, or set generator.executable to its "
                                  "path")
        extra = list(table.get("extra_args", []))
        for arg in extra:
            if arg.split("=", 1)[0] in RESERVED:
                raise CfsError(f"generator.extra_args may not contain {arg!r}: cfs sets it "
                               "to keep the agent confined", file="cfs.toml")
        # --bare skips hooks, plugins, CLAUDE.md and keychain logins; it needs an API key.
        bare = table.get("bare", bool(os.environ.get("ANTHROPIC_API_KEY")))
        return cls(executable, table.get("model"), float(table.get("timeout", DEFAULT_TIMEOUT)),
                   extra, bare, table.get("max_concurrency"), RetryPolicy.from_config(table))

    def argv(self) -> list[str]:
        args = [self.executable, "-p",
                "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
                "--tools", "",
                "--strict-mcp-config", "--mcp-config", EMPTY_MCP,
                "--setting-sources", "",
                "--no-session-persistence", "--max-turns", "1",
                "--system-prompt", system_prompt()]
        if self.model:
            args.append(f"--model={self.model}")  # one word: it can never read as a flag
        if self.bare:
            args.append("--bare")
        return args + self.extra_args

    @staticmethod
    def message(document: str) -> bytes:
        """The one stream-json user message carrying the document, verbatim."""
        line = {"type": "user", "session_id": "", "parent_tool_use_id": None,
                "message": {"role": "user", "content": [{"type": "text", "text": document}]}}
        return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")

    def generate(self, document: str, session=None) -> Outcome:
        return with_retries(lambda: self._attempt(document, session), self.policy, session)

    def _attempt(self, document: str, session=None) -> Outcome:
        # Claude Code started from a Claude Code session would take itself for a nested one.
        env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
        env.update(RUN_ENV)
        try:
            done = run_confined(self.argv(), self.message(document), self.timeout, env,
                                session=session)
        except TimedOut as exc:
            raise Retryable(str(exc)) from None
        except TooLong as exc:
            # Claude Code prints what its model server sent: that server is the one to
            # check (the advice of run_confined's message is for a command of the user's).
            server = env.get("ANTHROPIC_BASE_URL") or "the Anthropic API"
            raise GenerationFailed(f"{os.path.basename(self.executable)} printed more than "
                                   f"{exc.limit:,} bytes (a reply is one file and a short "
                                   "report): it was stopped and nothing was written; check "
                                   f"the model server it talks to ({server})") from None
        result = _result_event(done.stdout)
        name = os.path.basename(self.executable)
        if result is None:
            if done.returncode != 0:
                raise GenerationFailed(f"{name} exited with status {done.returncode}"
                                       f"{stderr_tail(done.stderr)}")
            raise GenerationFailed(f"{name} printed no result{stderr_tail(done.stderr)}")
        usage = _usage(result)
        if result.get("is_error") or result.get("subtype") != "success":
            detail = result.get("result") or "; ".join(map(str, result.get("errors") or [])) \
                or result.get("subtype") or "no detail"
            status = result.get("api_error_status")
            if isinstance(status, int) and status in RETRY_STATUS:
                raise Retryable(f"API error {status}: {detail}", usage=usage)
            if result.get("subtype") == "error_max_turns":
                raise GenerationFailed("the model asked to use a tool instead of answering; "
                                       "it has none, nothing was run (Claude Code: "
                                       "error_max_turns)", usage=usage)
            # An API error ends as subtype "success" with is_error set.
            subtype = result.get("subtype")
            kind = f" ({subtype})" if subtype and subtype != "success" else ""
            raise GenerationFailed(f"Claude Code reported an error{kind}: {detail}",
                                   usage=usage)
        if result.get("stop_reason") == "max_tokens":
            raise GenerationFailed("the reply was cut off at the output token limit",
                                   usage=usage)
        text = result.get("result") or ""
        if not isinstance(text, str):
            raise GenerationFailed(f"{name} printed a result whose text is a "
                                   f"{type(text).__name__}, not a string; is "
                                   "generator.executable Claude Code?", usage=usage)
        return Outcome(text, usage)


def _result_event(stdout: bytes) -> dict | None:
    """The last `{"type": "result"}` object Claude Code printed (stream-json or json)."""
    found = None
    for line in stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict) and event.get("type") == "result":
            found = event
    return found


def _usage(result: dict) -> Usage:
    """Tokens and cost of every request the run made.

    `usage` covers only the last request; a run can make more (the CLI continues a reply cut
    at the output limit, and repeats a broken stream without streaming), and
    `total_cost_usd` counts them all, as does `modelUsage`, per model.
    """
    cost = result.get("total_cost_usd")
    cost = float(cost) if isinstance(cost, (int, float)) else None
    per_model = result.get("modelUsage")
    if isinstance(per_model, dict) and per_model and all(
            isinstance(m, dict) and isinstance(m.get("inputTokens"), int)
            for m in per_model.values()):
        names = ("inputTokens", "cacheCreationInputTokens", "cacheReadInputTokens")
        tokens_in = sum(m.get(n) or 0 for m in per_model.values() for n in names)
        tokens_out = sum(m.get("outputTokens") or 0 for m in per_model.values())
        return Usage(tokens_in, tokens_out, cost)
    reported = result.get("usage") or {}
    tokens_in = None
    names = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    if any(isinstance(reported.get(n), int) for n in names):
        tokens_in = sum(reported.get(n) or 0 for n in names)
    tokens_out = reported.get("output_tokens")
    return Usage(tokens_in, tokens_out if isinstance(tokens_out, int) else None, cost)
