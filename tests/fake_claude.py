"""A stand-in for Claude Code's `claude` program, for the claude-code generator tests.

It parses its arguments the way the real CLI does (unknown options are an error; variadic
options take values up to the next option), enforces the real CLI's rules for the
stream-json formats, records what it was given, and answers in Claude Code's json or
stream-json shape. Like the real CLI, a prompt that arrives as text (an argument, or plain
stdin) has its `@/path` mentions replaced by the file's contents; a stream-json message
is taken as it is.

Environment: FAKE_CLAUDE_LOG, a file that gets one JSON line per call; FAKE_CLAUDE_PLAN,
comma-separated behaviours for successive calls (ok, overloaded, cut, error, hang), then ok.
"""
import hashlib
import json
import os
import re
import sys
import time
import uuid

VARIADIC = {"--tools", "--allowedTools", "--allowed-tools", "--disallowedTools",
            "--disallowed-tools", "--mcp-config", "--add-dir", "--betas"}
VALUED = {"--input-format", "--output-format", "--setting-sources", "--system-prompt",
          "--system-prompt-file", "--append-system-prompt", "--model", "--fallback-model",
          "--max-turns", "--permission-mode", "--settings", "--max-budget-usd", "--effort"}
SWITCHES = {"-p", "--print", "--verbose", "--strict-mcp-config", "--no-session-persistence",
            "--bare", "--dangerously-skip-permissions", "--include-partial-messages"}
COST = 0.0123
USAGE = {"input_tokens": 3, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 0,
         "output_tokens": 40}


def parse(argv: list[str]) -> tuple[dict, list[str]]:
    options, positional, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if arg.startswith("-") and name in VALUED | VARIADIC:
            if eq:
                values, i = [inline], i + 1
            else:
                values, i = [], i + 1
                while i < len(argv) and not argv[i].startswith("-") and \
                        (name in VARIADIC or not values):
                    values.append(argv[i])
                    i += 1
                if not values:
                    fail(f"error: option '{name}' argument missing")
            options[name] = values if name in VARIADIC else values[0]
        elif arg in SWITCHES:
            options[arg] = True
            i += 1
        elif arg.startswith("-"):
            fail(f"error: unknown option '{arg}'")
        else:
            positional.append(arg)
            i += 1
    return options, positional


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def expand_mentions(text: str, read: list[str]) -> str:
    def file_text(match):
        path = match.group(1)
        try:
            with open(path, encoding="utf-8") as handle:
                content = handle.read()
        except OSError:
            return match.group(0)
        read.append(path)
        return content
    return re.sub(r"@(/[^\s]+)", file_text, text)


def plan_step(log: str) -> str:
    plan = [s for s in os.environ.get("FAKE_CLAUDE_PLAN", "").split(",") if s]
    counter = log + ".count"
    calls = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as handle:
        handle.write(str(calls + 1))
    return plan[calls] if calls < len(plan) else "ok"


def main() -> int:
    options, positional = parse(sys.argv[1:])
    if not (options.get("-p") or options.get("--print")):
        fail("this stand-in only runs in print mode (-p)")
    input_format = options.get("--input-format", "text")
    output_format = options.get("--output-format", "text")
    if input_format == "stream-json" and output_format != "stream-json":
        fail("Error: --input-format=stream-json requires output-format=stream-json.")
    if output_format == "stream-json" and not options.get("--verbose"):
        fail("Error: When using --print, --output-format=stream-json requires --verbose")
    stdin = sys.stdin.read()
    read: list[str] = []
    if input_format == "stream-json":
        prompt = ""
        for line in stdin.splitlines():
            message = json.loads(line)
            assert message["type"] == "user", message
            content = message["message"]["content"]
            prompt += content if isinstance(content, str) else \
                "".join(block["text"] for block in content if block["type"] == "text")
    else:
        prompt = expand_mentions(" ".join(positional) or stdin, read)
    log = os.environ["FAKE_CLAUDE_LOG"]
    step = plan_step(log)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "argv": sys.argv[1:], "options": options, "cwd": os.getcwd(),
            "cwd_files": os.listdir("."), "stdin": stdin, "prompt": prompt,
            "files_read": read, "api_key_set": "ANTHROPIC_API_KEY" in os.environ,
            "auto_memory_off": os.environ.get("CLAUDE_CODE_DISABLE_AUTO_MEMORY") == "1",
            "step": step}) + "\n")
    if step == "hang":
        time.sleep(30)
    if step == "error":
        print("Error: something broke", file=sys.stderr)
        return 2
    digest = hashlib.sha1(prompt.encode("utf-8")).hexdigest()
    reply = f"<artifact>\n# model saw a prompt with sha1 {digest}\n</artifact>\n"
    session = str(uuid.uuid4())
    model = options.get("--model", "claude-default")
    result = {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 12,
              "duration_api_ms": 10, "num_turns": 1, "result": reply, "session_id": session,
              "total_cost_usd": COST, "usage": USAGE, "stop_reason": "end_turn",
              "modelUsage": {model: {"inputTokens": 503, "outputTokens": 40}},
              "permission_denials": []}
    if step == "overloaded":
        result.update(is_error=True, api_error_status=529, total_cost_usd=0, usage={},
                      result="API Error: 529 Overloaded")
    elif step == "cut":
        result.update(stop_reason="max_tokens")
    if output_format == "json":
        print(json.dumps(result))
    elif output_format == "stream-json":
        print(json.dumps({"type": "system", "subtype": "init", "cwd": os.getcwd(),
                          "session_id": session, "tools": [], "mcp_servers": [],
                          "model": model}))
        print(json.dumps({"type": "assistant", "session_id": session,
                          "parent_tool_use_id": None,
                          "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                      "model": model, "stop_reason": result["stop_reason"],
                                      "content": [{"type": "text", "text": reply}],
                                      "usage": USAGE}}))
        print(json.dumps(result))
    else:
        print(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
