"""``keytrail keys show ID [--dir DIR]``: one key's timeline (the same as ``keytrail keys --key ID``)."""

from __future__ import annotations

import argparse

DESCRIPTION = ("Every change made under key ID, across every history file and source system, "
               "each with its chain (actor, approver, ticket, reason), where it was written and "
               "its findings; the key's registry entry and status first.")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``keytrail keys show``."""
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The parser of ``keytrail keys show``."""
    from keytrail.cli import _Parser
    from keytrail.commands.keys import options

    parser = _Parser(prog="keytrail keys show", description=DESCRIPTION)
    parser.add_argument("id", metavar="ID", help="the key's id, as events carry it")
    parser.add_argument("--dir", default=".", help="the project folder (default: .)")
    options(parser, key=False)
    return parser


def run(args: argparse.Namespace) -> int:
    from keytrail.commands.keys import show

    return show(args, args.dir, args.id)
