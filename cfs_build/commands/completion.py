"""`cfs completion SHELL`: a shell completion script generated from cfs's own argument parser."""
from __future__ import annotations

import argparse
import sys

HELP = "print a completion script for bash, zsh or tcsh"
EXAMPLE = ("cfs completion bash > ~/.local/share/bash-completion/completions/cfs\n"
           "  cfs completion zsh > ~/.zfunc/_cfs     # with fpath+=~/.zfunc")
NEEDS_PROJECT = False
SHELLS = ("bash", "zsh", "tcsh")


def add_arguments(parser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def run(args, project=None) -> int:
    return completion(args.shell, args.cli_parser)


def completion(shell: str, parser: argparse.ArgumentParser) -> int:
    """The verb: print the completion script of ``parser`` (cfs's own, from cli.build_parser)
    for ``shell`` (one of SHELLS)."""
    import shtab

    sys.stdout.write(shtab.complete(parser, shell=shell))
    return 0
