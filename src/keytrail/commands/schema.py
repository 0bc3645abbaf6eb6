"""``keytrail schema``: print one of the JSON Schemas."""

from __future__ import annotations

import argparse
from typing import Any

from keytrail.commands._args import (
    EXIT_OK,
)
from keytrail.commands._output import write


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("schema", help="print a JSON Schema")
    from keytrail.schemas import SCHEMA_NAMES

    parser.add_argument("name", choices=SCHEMA_NAMES)


def run(args: argparse.Namespace) -> int:
    from keytrail.catalogue import schema_text

    write(schema_text(args.name), None)
    return EXIT_OK
