"""``keytrail checks``: the catalogue of built-in checks and rule kinds."""

from __future__ import annotations

import argparse
from typing import Any

from keytrail.commands._args import (
    EXIT_OK,
)
from keytrail.commands._output import write


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("checks", help="list the built-in checks with their documentation")
    parser.add_argument("id", nargs="?", help="show one check in full")
    parser.add_argument("--format", "-f", choices=("text", "markdown"), default="text",
                        help="markdown prints the whole catalogue (docs/checks.md)")


def run(args: argparse.Namespace) -> int:
    from keytrail.catalogue import catalogue_markdown, describe_check, list_checks

    if args.format == "markdown":
        write(catalogue_markdown(), None)
    elif args.id:
        write(describe_check(args.id), None)
    else:
        write(list_checks(), None)
    return EXIT_OK
