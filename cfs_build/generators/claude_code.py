"""The `claude-code` generator: Claude Code headless; no tools, MCP, settings or session."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..errors import CfsError
from . import GenerationFailed, Outcome, Usage, system_prompt
from .process import TimedOut, run_confined, stderr_tail
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
})


@dataclass
class ClaudeCodeGenerator:
    """`claude -p` in an empty temporary directory; the document goes in as a stream-json message.

    A prompt given as text (argument or plain stdin) has its `@path` mentions expanded
    into file contents by Claude Code, even with every tool off. A stream-json user
    message is taken as it is, so a spec that says `see @/etc/passwd` is sent as text.
    """

    SENDS_PROMPT: ClassVar[bool] = True

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
                "--no-session-persistence",
                "--system-prompt", system_prompt()]
        if self.model:
            args += ["--model", self.model]
        if self.bare:
            args.append("--bare")
        return args + self.extra_args

    @staticmethod
    def message(document: str) -> bytes:
        """The one stream-json user message carrying the document, verbatim."""
        line = {"type": "user", "session_id": "", "parent_tool_use_id": None,
                "message": {"role": "user", "content": [{"type": "text", "text": document}]}}
        return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")

    def generate(self, document: str) -> Outcome:
        return with_retries(lambda: self._attempt(document), self.policy)

    def _attempt(self, document: str) -> Outcome:
        # Claude Code started from a Claude Code session would take itself for a nested one.
        env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
        # Auto memory is loaded whatever --setting-sources says; this is its documented off switch.
        env["CLAUDE_CODE_DISABLE_AUTO_MEMORY"] = "1"
        try:
            done = run_confined(self.argv(), self.message(document), self.timeout, env)
        except TimedOut as exc:
            raise Retryable(str(exc)) from None
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
            if status in RETRY_STATUS:
                raise Retryable(f"API error {status}: {detail}", usage=usage)
            raise GenerationFailed(f"Claude Code reported an error ({result.get('subtype')}): "
                                   f"{detail}", usage=usage)
        if result.get("stop_reason") == "max_tokens":
            raise GenerationFailed("the reply was cut off at the output token limit",
                                   usage=usage)
        return Outcome(result.get("result") or "", usage)


def _result_event(stdout: bytes) -> dict | None:
    """The last `{"type": "result"}` object Claude Code printed (stream-json or json)."""
    found = None
    for line in stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") == "result":
            found = event
    return found


def _usage(result: dict) -> Usage:
    reported = result.get("usage") or {}
    tokens_in = None
    names = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    if any(isinstance(reported.get(n), int) for n in names):
        tokens_in = sum(reported.get(n) or 0 for n in names)
    tokens_out = reported.get("output_tokens")
    cost = result.get("total_cost_usd")
    return Usage(tokens_in, tokens_out if isinstance(tokens_out, int) else None,
                 float(cost) if isinstance(cost, (int, float)) else None)
