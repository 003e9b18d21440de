"""The `cfs` entry point: parse arguments, dispatch to a command, turn errors into one line."""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from . import __version__
from .analysis import lookahead

# The rest of the package is imported by main(), once the lookahead (a second process
# looking at the last snapshot's paths meanwhile) is started: see entry().


class _Commands(Mapping):
    """Command name -> its module, imported when first asked for: a run imports the one
    command it runs, not all of them (start-up is a real part of a quick `cfs status`)."""

    NAMES = ("validate", "status", "chain", "accept", "build", "graph", "cache", "verify",
             "check", "init", "makefile", "completion", "runs", "prompt", "forget", "explain",
             "mcp")

    def __getitem__(self, name):
        if name not in self.NAMES:
            raise KeyError(name)
        return importlib.import_module(f"{__package__}.commands.{name}")

    def __contains__(self, name) -> bool:  # (Mapping's would import the module)
        return name in self.NAMES

    def __iter__(self):
        return iter(self.NAMES)

    def __len__(self):
        return len(self.NAMES)


COMMANDS = _Commands()


# Commands that report a failed scan (a link in the tree, no node) as a finding; every
# other command refuses to work on such a tree (Project.require_scan).
REPORTING = {"validate", "status", "check", "mcp"}


SHORT_LIVED = {"validate", "status", "check", "chain", "graph", "accept", "forget", "makefile",
               "cache", "explain"}

# Commands whose run starts with the last snapshot's signatures (Project): what entry()
# starts a lookahead for.
LOOKING_AHEAD = {"validate", "status", "check"}


BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell reports for `yes | head -1`


def _flushed(code: int) -> int:
    """Flush stdout while a closed pipe can still be told from a failed command."""
    if sys.stdout is not None:  # (none when started with it closed: `cfs status >&-`)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk: the output, not a file of the project
            from .errors import OutputLost
            raise OutputLost(exc) from None
    return code


class _Version(argparse.Action):
    """--version: named only when asked, as finding the parser imports it."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .errors import CfsError, printable
        from .reading.parsers import describe
        try:
            named = describe()
        except CfsError as exc:
            parser.exit(3, f"cfs: {printable(str(exc))}\n")
        print(f"cfs-build {__version__} (parser: {named})")
        parser.exit()


def _verb(argv: list[str]) -> str | None:
    """The command named in ``argv`` (None: none, or not one of COMMANDS)."""
    return _read_ahead(argv)[0]


def _read_ahead(argv: list[str]) -> tuple[str | None, str]:
    """What ``argv`` says before argparse reads it: the command (see _verb) and the
    directory it runs in, as the parser reads it (the last -C's: -C DIR, -CDIR or
    -C=DIR; else the current one)."""
    directory = "."
    words = iter(argv)
    for word in words:
        if word == "-C":
            directory = next(words, directory)
        elif word.startswith("-C"):
            directory = word[3:] if word.startswith("-C=") else word[2:]
        elif word == "--" or not word.startswith("-"):
            verb = next(words, None) if word == "--" else word
            return (verb if verb in COMMANDS else None), directory
    return None, directory


def _first_word(argv: list[str]) -> list[str]:
    """The word where a command belongs (after the options and -C's value), if any."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif word == "--":
            return [next(words, "")][:1]
        elif not word.startswith("-"):
            return [word]
    return []


def _options_of(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings]


def _did_you_mean(words: list[str], known: list[str]) -> str:
    """'; did you mean X?' for the first of ``words`` close to one of ``known``."""
    import difflib
    for word in words:
        close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.6)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``only``: with that command alone (what parsing a command
    line naming it needs: the others' modules are then not imported)."""
    parser = argparse.ArgumentParser(
        prog="cfs", description="Build tool for Code from Spec v5 spec trees.",
        epilog="exit codes: 0 valid and up to date, 1 something to do, 2 format errors, "
               "3 usage or I/O error, 130 interrupted, 141 the reader of the output went away")
    parser.add_argument("-C", dest="chdir", metavar="DIR",
                        help="run as if started in DIR (like git -C / make -C)")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show cfs-build's version and the Markdown parser in use")
    # `cfs completion` describes this very parser: handed over, not imported back.
    parser.set_defaults(cli_parser=parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else COMMANDS:
        module = COMMANDS[name]
        command = sub.add_parser(name, help=module.HELP, description=module.HELP,
                                 epilog=f"example:\n  {module.EXAMPLE}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        command.set_defaults(command_parser=command)  # (its usage for a stray argument)
        module.add_arguments(command)
    return parser


def main(argv: list[str] | None = None, ahead: lookahead.Lookahead | None = None,
         kept: list | None = None) -> int:
    """Run the command ``argv`` names; its exit code. ``ahead``: the lookahead entry()
    started for it (see LOOKING_AHEAD), handed to the project the command opens;
    ``kept``: where the project is put, for a caller that ends the process at once
    (freeing a big analysis object by object takes a while)."""
    from .analysis.project import Project, find_root
    from .building.collector import Relaxed, restore
    from .errors import CfsError, OutputLost, printable, to_devnull
    from .reading.files import UnreadableFile

    verb = _verb(sys.argv[1:] if argv is None else argv)
    # `cfs completion` describes every command: it needs the whole parser.
    parser = build_parser(None if verb == "completion" else verb)
    try:
        args, stray = parser.parse_known_args(argv)
        if stray:  # said with the command's own usage, not the top level's
            command_parser = getattr(args, "command_parser", parser)
            command_parser.error(f"unrecognized arguments: {' '.join(stray)}"
                                 f"{_did_you_mean(stray, _options_of(command_parser))}")
    except SystemExit as exc:  # argparse already printed the usage line
        if exc.code not in (0, None) and verb is None:
            hint = _did_you_mean(_first_word(sys.argv[1:] if argv is None else argv),
                                 list(COMMANDS))
            if hint:
                print(f"cfs:{hint.lstrip(';')}", file=sys.stderr)
        return 3 if exc.code not in (0, None) else 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 3
    started = None
    try:
        if args.chdir:
            if not Path(args.chdir).is_dir():
                raise CfsError(f"-C {args.chdir}: no such directory")
            # As if started there (git -C): a relative path on the command line is read
            # from DIR. Undone at the end, for a caller that runs main() in its process.
            started = _here()
            start = Path(os.path.abspath(args.chdir)) if started else Path(args.chdir)
            os.chdir(start)
        else:
            start = Path(_here() or _gone())
        module = COMMANDS[args.command]
        if not getattr(module, "NEEDS_PROJECT", True):
            return _flushed(module.run(args, None))
        collecting = gc.isenabled()
        relaxed = None
        if args.command in SHORT_LIVED:
            # Reading a big tree allocates many objects and no cycles worth collecting;
            # the command ends right after, so skip the collector's passes meanwhile.
            gc.disable()
        elif args.command in ("build", "verify"):
            # Until generating starts (collector.py); the command hands it to the run.
            relaxed = args.collector = Relaxed()
        try:
            # A command may read less than the whole project (chain: lean.py).
            opener = getattr(module, "open_project", None)
            root = find_root(start)
            project = opener(root) if opener is not None else Project(root, ahead=ahead)
            if kept is not None:
                kept.append(project)
            if args.command not in REPORTING and isinstance(project, Project):
                project.require_scan()  # (a lean reading is made only of a tree without links)
            return _flushed(module.run(args, project))
        finally:
            restore(relaxed)  # whatever happened, the caller's thresholds come back
            if collecting:
                gc.enable()
    except CfsError as exc:
        print(f"cfs: {exc}", file=sys.stderr)
        return exc.exit_code
    except OutputLost as exc:
        print(f"cfs: {exc}", file=sys.stderr)
        to_devnull(sys.stdout)  # (the exit's own flush of what is left would fail again)
        return 3
    except UnreadableFile as exc:  # e.g. an output path that is a directory or not UTF-8
        print(f"cfs: {printable(str(exc), lines=True)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("cfs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`cfs status | head -1`): stop quietly, with the code a
        # shell gives a program killed by SIGPIPE, not one that means "something stale".
        # Pointing stdout at devnull spares the interpreter a second failed flush at exit.
        to_devnull(sys.stdout)
        return BROKEN_PIPE
    except OSError as exc:
        where = f"{printable(str(exc.filename))}: " if exc.filename else ""
        print(f"cfs: {where}{exc.strerror or exc}", file=sys.stderr)
        return 3
    except Exception as exc:  # the one boundary: a bug is one line too, unless asked for
        if os.environ.get("CFS_DEBUG"):
            raise
        print(f"cfs: internal error ({type(exc).__name__}: {printable(str(exc))}); rerun with "
              "CFS_DEBUG=1 for the details and please report it", file=sys.stderr)
        return 3
    finally:
        if started is not None:
            try:
                os.chdir(started)
            except OSError:  # (removed meanwhile: the process is ending anyway)
                pass


def _here() -> str | None:
    """The current directory, None when it was removed (os.getcwd fails)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def _gone():
    from .errors import CfsError
    raise CfsError("the current directory no longer exists (removed or moved away): cd "
                   "into the project again, or pass -C DIR")


def _in_utf8() -> None:
    """Run again in Python's UTF-8 mode when the locale would read names otherwise.

    v5 reads every name and file as UTF-8. Under a locale that is not UTF-8 (LC_ALL=C
    with PYTHONUTF8=0, or a Latin-1 one) Python would decode directory names with it,
    so that `zürich/` no longer matches its heading, and printing one would fail.
    (-X utf8, not PYTHONUTF8: generators and test commands keep the user's setting.)"""
    from .reading.names import names_read_as_utf8
    if sys.flags.utf8_mode or names_read_as_utf8() or not sys.executable \
            or not sys.orig_argv:
        return
    os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])


def _std_descriptors() -> None:
    """Descriptors 0, 1 and 2 open, on /dev/null where the caller closed one.

    Started with stdout closed (`cfs chain X >&-`), Python has no sys.stdout, and the
    next file cfs opened would take descriptor 1: a generator or a test command it
    starts would then write into that file. The output goes nowhere instead, as print()
    does without a stdout, and the command's exit code stands."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # (the lowest free descriptor: this one)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))


def entry() -> None:
    """The `cfs` program: main(), then exit.

    A command in LOOKING_AHEAD first starts its lookahead, before the rest of the
    package is imported (lookahead.py). A short-lived command ends without the
    interpreter's teardown, and without freeing its project when main() returns:
    freeing a cold analysis object by object takes about 45 ms at 10,000 leaves, for
    a process that is ending anyway. Only with no other thread running, once the
    output is flushed; everything else exits as usual."""
    _in_utf8()
    _std_descriptors()
    argv = sys.argv[1:]
    verb, directory = _read_ahead(argv)
    # (CFS_NO_INDEX: the analysis is made without the snapshot, see Project.)
    looking = verb in LOOKING_AHEAD and os.environ.get("CFS_NO_INDEX", "") == ""
    try:
        # From here a Ctrl-C is cfs's to handle (launch.py ended the process on one until
        # now): "interrupted", whatever was begun settled, code 130.
        if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        # (Inside: a Ctrl-C during its fork is an interruption like any other. A child
        # forked just before it is left to end alone, on its answer or a closed pipe.)
        ahead = lookahead.start(directory) if looking else None
        kept: list = []  # (dropped only by the process's end)
        try:
            code = main(argv, ahead, kept if verb in SHORT_LIVED else None)
        finally:
            if ahead is not None:
                ahead.close()
        if verb in SHORT_LIVED and threading.active_count() == 1 and _all_flushed():
            os._exit(code)
    except KeyboardInterrupt:  # outside main()'s own handling: the lookahead's start,
        # main()'s imports, or the exit
        print("cfs: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


def _all_flushed() -> bool:
    """stdout and stderr flushed; False when a flush failed (the usual exit says so)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # (closed by the caller: `cfs status >&-`)
                stream.flush()
    except (OSError, ValueError):
        return False
    return True


if __name__ == "__main__":
    entry()
