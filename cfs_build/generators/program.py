"""A generator program or script that is not there, named by cfs.toml key and project path."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import CfsError
from ..tomlfile import CONFIG_FILE, line_of_key

# A relative argument ending like this is a script of the project, wherever it lives.
SCRIPT_SUFFIXES = (".py", ".sh", ".bash", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".php")


def missing_program(key: str, written: str, root: Path | None, what_to_do: str, *,
                    bare_in_project: bool = False) -> CfsError:
    """The error for `written`, set by ``key`` ("generator.command"), that cannot be run.

    The generator runs in an empty temporary directory, so its own complaint would name
    a path in there; this names the setting and where in the project it was looked for.
    ``bare_in_project``: a bare name is also looked for at the project root.
    """
    source, line = CONFIG_FILE, None
    if root is not None:
        if not (root / CONFIG_FILE).is_file() and (root / "pyproject.toml").is_file():
            source, key = "pyproject.toml", f"tool.cfs.{key}"
        line = line_of_key(root / source, key)
    if root is None or os.path.isabs(written):
        where = "does not exist" if os.path.isabs(written) else "is not a program on PATH"
    elif "/" in written or written.startswith("."):
        where = f"is not a file of the project ({root / written} does not exist)"
    elif bare_in_project:
        where = f"is not a program on PATH nor a file of the project ({root})"
    else:
        where = "is not a program on PATH"
    return CfsError(f"{key}: {written!r} {where}; {what_to_do}", file=source, line=line)


def check_command(command: list[str], root: Path | None) -> None:
    """Raise missing_program when the program, or a project script it is given, is absent."""
    if root is None or not command:
        return
    program = command[0]
    fix = f"fix generator.command in {CONFIG_FILE} or create the file"
    if "/" in program or program.startswith(".") or os.path.isabs(program):
        if not Path(root, program).exists():
            raise missing_program("generator.command", program, root, fix)
    elif shutil.which(program) is None and not (root / program).is_file():
        raise missing_program("generator.command", program, root,
                              f"install it or fix generator.command in {CONFIG_FILE}",
                              bare_in_project=True)
    for part in command[1:]:
        if _names_a_project_file(part, root) and not (root / part).exists():
            raise missing_program("generator.command", part, root, fix)


def _names_a_project_file(part: str, root: Path) -> bool:
    # Only what is plainly a script of the project, "tools/gen.py": never an option, an
    # absolute path, or a value such as a model name "org/model".
    return "/" in part and part.endswith(SCRIPT_SUFFIXES) and not part.startswith("-") \
        and not os.path.isabs(part) and "=" not in part and ":" not in part
