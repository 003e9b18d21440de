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
    return prompt(id_only=args.id)


def prompt(*, id_only: bool = False) -> int:
    """The verb: print the system prompt (only its fingerprint with ``id_only``)."""
    sys.stdout.write(prompt_id() + "\n" if id_only else system_prompt())
    return 0
