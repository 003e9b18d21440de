"""The `command` generator: any program that reads the document on stdin and prints a reply."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import GenerationFailed, Outcome

_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


def kill_all() -> None:
    """Stop every generator process still running (Ctrl-C, or the build ending early)."""
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _anchor(command: list[str], root: Path | None) -> list[str]:
    # The command runs in an empty directory, so a project path such as "tools/gen.py"
    # is passed as an absolute path; everything else is passed as written.
    if root is None:
        return command
    anchored = []
    for part in command:
        if ("/" in part or part.startswith(".")) and not os.path.isabs(part) \
                and (root / part).exists():
            part = str((root / part).resolve())
        anchored.append(part)
    return anchored


@dataclass
class CommandGenerator:
    """Runs ``command`` in a fresh empty directory outside the project, document on stdin."""

    command: list[str]
    timeout: float = 600.0
    max_concurrency: int | None = None
    kind: str = "command"

    @classmethod
    def from_config(cls, table: dict, root: Path | None = None) -> "CommandGenerator":
        return cls(_anchor(list(table["command"]), root), float(table.get("timeout", 600)),
                   table.get("max_concurrency"))

    def generate(self, document: str) -> Outcome:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="cfs-gen-") as workdir:
            try:
                # Its own process group, so a timeout or Ctrl-C can stop whatever it started.
                proc = subprocess.Popen(
                    self.command, cwd=workdir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, start_new_session=True)
            except OSError as exc:
                raise GenerationFailed(f"cannot run {self.command[0]!r}: "
                                       f"{exc.strerror or exc}") from None
            with _LIVE_LOCK:
                _LIVE.add(proc)
            try:
                out, err = proc.communicate(document.encode("utf-8"), timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                proc.communicate()
                raise GenerationFailed(f"timed out after {self.timeout:g} s") from None
            except BaseException:
                _kill(proc)
                proc.communicate()
                raise
            finally:
                with _LIVE_LOCK:
                    _LIVE.discard(proc)
        stderr = err.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            tail = f": {stderr[-2000:]}" if stderr else ""
            raise GenerationFailed(f"{self.command[0]} exited with status {proc.returncode}{tail}")
        try:
            reply = out.decode("utf-8")
        except UnicodeDecodeError:
            raise GenerationFailed(f"{self.command[0]} printed bytes that are not UTF-8") from None
        return Outcome(reply, seconds=time.monotonic() - started)
