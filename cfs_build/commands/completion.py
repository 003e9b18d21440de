"""`cfs completion SHELL`: a shell completion script generated from cfs's own argument parser."""
from __future__ import annotations

import sys

HELP = "print a completion script for bash, zsh or tcsh"
EXAMPLE = ("cfs completion bash > ~/.local/share/bash-completion/completions/cfs\n"
           "  cfs completion zsh > ~/.zfunc/_cfs     # with fpath+=~/.zfunc")
NEEDS_PROJECT = False
SHELLS = ("bash", "zsh", "tcsh")


def add_arguments(parser) -> None:
    parser.add_argument("shell", choices=SHELLS)


def run(args, project=None) -> int:
    return completion(args.shell)


def completion(shell: str) -> int:
    """The verb: print the completion script for ``shell`` (one of SHELLS)."""
    import shtab

    from ..cli import build_parser
    sys.stdout.write(shtab.complete(build_parser(), shell=shell))
    return 0
