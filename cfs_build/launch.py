"""Where the `cfs` console script starts: a Ctrl-C before cfs can handle one ends it quietly."""
from __future__ import annotations

import signal


def entry() -> None:
    """cli.entry(), with a Ctrl-C that lands while the command is still being imported
    ending the process as SIGINT does by default: without Python's traceback, and with
    nothing to tidy up, since nothing is written yet. A shell loop running `cfs` then
    sees its child killed by SIGINT, and stops. cli.entry() takes Ctrl-C back first.

    An ignored SIGINT stays ignored (`cfs build &` in a script).
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from .cli import entry as run_cfs

    run_cfs()
