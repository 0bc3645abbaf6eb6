"""The command line: ``keytrail check | explain | checks | lint | test | review | decisions | import |
init | seal | verify | prove | schema | keys | key | record``.

``main(argv)`` returns the exit code, so tests call it directly. Exit codes:
0 — nothing at or above ``--fail-on``; 1 — findings at or above it;
2 — bad input or usage (never a traceback). Each command lives in its own module
under :mod:`keytrail.commands`.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from collections.abc import Callable
from typing import Any

from keytrail import __version__
from keytrail.commands._args import EXIT_ERROR, EXIT_OK
from keytrail.errors import KeytrailError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors map to exit 2 cleanly."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        # main() prefixes "keytrail: "; name the subcommand, not the program twice.
        command = self.prog.partition(" ")[2]
        raise UsageError(f"{command}: {message}" if command else message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) the top level and that one command: a run
    builds the parser of the command it runs, importing no other command's module."""
    from keytrail import commands

    parser = _Parser(prog="keytrail", description="Policy-as-code access reviewer: every grant "
                     "traced to its provisioning key.")
    parser.add_argument("--version", action="version", version=f"keytrail {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in [only] if only is not None else commands.REGISTRY:
        commands.get(name).add_parser(sub)
    return parser


#: Commands that take a word of their own before their arguments (``keytrail review status
#: PACK``): the module of each, imported only when it runs.
SUBCOMMANDS = {
    "review": {"status": "review_status", "verify": "review_verify"},
    "keys": {"show": "keys_show", "suggest": "keys_suggest"},
}


def subcommand(command: str, word: str) -> Any:
    """The module of ``keytrail COMMAND WORD``."""
    import importlib

    return importlib.import_module(f"keytrail.commands.{SUBCOMMANDS[command][word]}")


def _subcommand(argv: list[str]) -> Any:
    """The module of ``keytrail review status|verify …`` or ``keytrail keys show|suggest …``, or
    None for the command itself.

    ``review`` and ``keys`` take the project folder as their first positional: the word there
    is a subcommand unless it names a project folder (one holding keytrail.yaml), which
    ``./status`` always does."""
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS.get(argv[0], {}):
        return None
    from pathlib import Path

    if (Path(argv[1]) / "keytrail.yaml").is_file():
        return None
    return subcommand(argv[0], argv[1])


def main(argv: list[str] | None = None) -> int:
    """Run keytrail; return the exit code."""
    # keytrail builds millions of long-lived, acyclic objects (events, grants,
    # evidence) and then exits: the cyclic garbage collector would rescan them
    # over and over for nothing (it cost 30-50% of a large run). Reference
    # counting still frees everything that is dropped.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    restore = _exit_on_terminate()
    try:
        return _main(argv)
    finally:
        restore()
        if gc_was_enabled:
            gc.enable()


def _exit_on_terminate() -> Callable[[], None]:
    """Make SIGTERM (a CI job cancelled, ``timeout``, ``kill``) end the run as Ctrl-C does: by
    an exception, so cleanup runs (the columnar engine's spill folder, which may hold gigabytes,
    is removed) and the exit code is 143, as for a process killed by SIGTERM. Only when
    SIGTERM has its default action (a host program's own handler is kept) and only in the
    main thread (where Python allows handlers); the previous handler is restored after."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: Python allows handlers only there
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return restore


def _main(argv: list[str] | None) -> int:
    from keytrail import commands

    given = list(sys.argv[1:] if argv is None else argv)
    try:
        sub = _subcommand(given)
        if sub is not None:
            return int(sub.run(sub.parse(given[2:])))
        # A known command first: only its parser is built. Anything else (an option such
        # as --help or --version first, an unknown word) goes through the whole parser,
        # whose messages list every command.
        only = given[0] if given and given[0] in commands.REGISTRY else None
        args = build_parser(only).parse_args(given)
        if args.command is None:
            build_parser().print_help(sys.stderr)
            return EXIT_ERROR
        return int(commands.get(args.command).run(args))
    except KeytrailError as exc:
        print(f"keytrail: {exc}" if not exc.problems else str(exc), file=sys.stderr)  # str: inert
        if exc.problems:
            errors = sum(1 for p in exc.problems if p.level == "error")
            print(f"keytrail: {errors} error{'s' if errors != 1 else ''}; {exc.consequence}",
                  file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
