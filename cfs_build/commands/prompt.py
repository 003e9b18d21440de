"""`cfs prompt`: print the system prompt the model backends send with every document."""
from __future__ import annotations

import sys

from ..generators import prompt_id, system_prompt

NEEDS_PROJECT = False  # the prompt belongs to the tool, not to a project
HELP = "print the system prompt sent to claude-code, anthropic and openai generators"
EXAMPLE = "cfs prompt | less"


def add_arguments(parser) -> None:
    parser.add_argument("--id", action="store_true",
                        help="print only its fingerprint (recorded with every generation)")


def run(args, project) -> int:
    sys.stdout.write(prompt_id() + "\n" if args.id else system_prompt())
    return 0
