"""Time a running `cfs mcp` (and `cfs chain`) on a generated project against the floor.

The server is driven by the MCP SDK's own client over stdio, as Claude Code drives it;
every time is the client's, from sending a request to holding its answer. Rows:

- `load_chain` of one leaf, nothing changed since the last request;
- `load_chain` of that leaf right after its spec was edited;
- `validate_specs` and `status` (its default answer: what needs attention), nothing changed;
- `validate_specs` right after one spec edit, and `status` right after another;
- `cfs chain NAME` as a new process (interpreter start-up and imports included);
- the server's peak memory (VmHWM of its process);
- then, for reference, `status` with `all: true` (the whole `cfs status --json`
  document), nothing changed, and the server's peak memory once it has sent that.

The floor is a plain loop reading and SHA-1-hashing every spec and output once. Rows
are measured side by side in interleaved rounds and reported as medians.

    python benchmarks/bench_mcp.py --leaves 10000 [--dir DIR] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_status import byte_compile, floor, project_files  # noqa: E402
from gen_tree import add_project_arguments, benchmark_project  # noqa: E402

from cfs_build.reading.names import TREE_DIR  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GOALS = {"version": float("inf"), "load_chain": 0.02, "load_chain_edited": 0.05,
         "validate_specs": 0.3, "status": 0.3, "validate_specs_edited": 0.5, "status_edited": 0.5,
         "chain_process": 0.3, "status_all": float("inf")}
PEAK_GOAL_MIB = 150


def server_params(root: Path):
    from mcp import StdioServerParameters
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO)),
           "TMPDIR": os.environ.get("TMPDIR", "/tmp"), "PATH": os.environ.get("PATH", "")}
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "cfs_build.cli", "-C", str(root), "mcp"],
                                 cwd=str(root), env=env)


def edit(spec: Path, round_: int) -> None:
    """A real edit of the leaf's own text: its chain changes."""
    text = spec.read_text(encoding="utf-8")
    marker = "\nEdited in round "
    text = text.split(marker)[0].rstrip("\n") + f"{marker}{round_}.\n"
    spec.write_text(text, encoding="utf-8")


def chain_process(root: Path, leaf: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cfs_build.cli", "-C", str(root), "chain",
                           leaf], stdout=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"cfs chain exited {done.returncode}")


def peak_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def server_pid(parent: int) -> int | None:
    """The `cfs mcp` child this process started (the SDK does not say its pid)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read()
            except OSError:
                continue
            if int(fields[1]) == parent and b"cfs_build.cli" in command and b"mcp" in command:
                return int(entry)
    return None


async def measure(root: Path, runs: int) -> dict:
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client
    files = project_files(root)
    leaves = sorted(p.parent for p in (root / TREE_DIR).glob("*/*/*/_node.md"))
    leaf_dir = leaves[len(leaves) // 3]
    leaf = "SPEC/" + leaf_dir.relative_to(root / TREE_DIR).as_posix()
    spec = leaf_dir / "_node.md"
    samples: dict[str, list[float]] = {key: [] for key in ("floor", *GOALS)}
    counts = {key: 0 for key in GOALS}

    async def timed(key: str, call) -> None:
        start = time.perf_counter()
        result = await call()
        samples[key].append(time.perf_counter() - start)
        counts[key] += 1
        if getattr(result, "is_error", False):
            raise SystemExit(f"{key}: {result.content[0].text}")

    with open(os.devnull, "w") as quiet:
        async with stdio_client(server_params(root), errlog=quiet) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                pid = server_pid(os.getpid())
                # Not timed: imports, the first analysis, its snapshot, the page cache.
                for tool in ("validate_specs", "status", "validate_specs"):
                    await session.call_tool(tool, {})
                await session.call_tool("load_chain", {"logical_name": leaf})
                floor(files)
                for round_ in range(runs):
                    samples["floor"].append(_time(floor, files))
                    await timed("version", lambda: session.call_tool("version", {}))
                    for _ in range(5):
                        await timed("load_chain", lambda: session.call_tool(
                            "load_chain", {"logical_name": leaf}))
                    await timed("validate_specs", lambda: session.call_tool("validate_specs",
                                                                            {}))
                    await timed("status", lambda: session.call_tool("status", {}))
                    edit(spec, round_)
                    await timed("load_chain_edited", lambda: session.call_tool(
                        "load_chain", {"logical_name": leaf}))
                    edit(spec, round_ + runs)
                    await timed("validate_specs_edited", lambda: session.call_tool(
                        "validate_specs", {}))
                    edit(spec, round_ + 2 * runs)
                    await timed("status_edited", lambda: session.call_tool("status", {}))
                    # Settled: the analysis recorded as a snapshot, then kept from it.
                    await session.call_tool("validate_specs", {})
                    await session.call_tool("validate_specs", {})
                    samples["chain_process"].append(_time(chain_process, root, leaf))
                    counts["chain_process"] += 1
                peak = peak_mib(pid) if pid else float("nan")
                # Last, so that the peak above is the one of a server never asked for it.
                await session.call_tool("status", {"all": True})  # computed, not timed
                for _ in range(runs):
                    await timed("status_all", lambda: session.call_tool("status",
                                                                        {"all": True}))
                peak_all = peak_mib(pid) if pid else float("nan")
    result = {key: statistics.median(values) for key, values in samples.items()}
    return {"median": result, "counts": counts, "peak": peak, "peak_all": peak_all,
            "files": len(files), "leaf": leaf}


def _time(action, *args) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


ROWS = [("MCP `version` (the protocol's own round trip, for reference)", "version"),
        ("MCP `load_chain` of one leaf, nothing changed", "load_chain"),
        ("MCP `load_chain` right after that leaf's spec was edited", "load_chain_edited"),
        ("MCP `validate_specs`, nothing changed", "validate_specs"),
        ("MCP `status` (what needs attention), nothing changed", "status"),
        ("MCP `validate_specs` after one spec edit", "validate_specs_edited"),
        ("MCP `status` (what needs attention) after one spec edit", "status_edited"),
        ("`cfs chain NAME`, process start included", "chain_process"),
        ("MCP `status` with `all: true` (the whole document), nothing changed, for "
         "reference", "status_all")]


def table(found: dict, leaves: int, runs: int) -> str:
    median, base = found["median"], found["median"]["floor"]
    lines = [f"{leaves:,} leaves, {runs} rounds, medians, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, leaf {found['leaf']}", "",
             "| request | seconds | ratio to floor | requests | goal |",
             "|---|---:|---:|---:|---|"]
    lines.append(f"| floor: read + SHA-1 of {found['files']:,} files | {base:.3f} | 1.00 | "
                 f"{runs} | |")
    for label, key in ROWS:
        ratio = median[key] / base
        verdict = "met" if ratio <= GOALS[key] else "MISSED"
        goal = f"<= {GOALS[key]:g}x: {verdict}" if GOALS[key] != float("inf") else ""
        lines.append(f"| {label} | {median[key]:.4f} | {ratio:.3f} | {found['counts'][key]} "
                     f"| {goal} |")
    peak = found["peak"]
    lines.append(f"| server peak memory (VmHWM) | {peak:.0f} MiB | | | <= {PEAK_GOAL_MIB} MiB: "
                 f"{'met' if peak <= PEAK_GOAL_MIB else 'MISSED'} |")
    lines.append(f"| server peak memory once `status` `all: true` was answered | "
                 f"{found['peak_all']:.0f} MiB | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_project_arguments(parser, leaves=10_000)
    args = parser.parse_args(argv)
    byte_compile()
    with benchmark_project(args.dir, args.leaves) as root:
        found = anyio.run(measure, root, args.runs)
    print(table(found, args.leaves, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
