"""``keytrail review status PACK``: how far the reviewers of a review pack have got."""

from __future__ import annotations

import argparse
import sys

from keytrail.commands._args import EXIT_OK

DESCRIPTION = ("Read a review pack and its (partly) filled worksheets, as `keytrail decisions` reads "
               "them, and print per reviewer the grants decided of those issued, revokes, keeps and "
               "every row with a problem (file:line), then the overall completion. With --dir, "
               "decisions already recorded in the project's history are shown as applied. Nothing "
               "is written. Exit 0 (a status report, whatever it says); 2 bad input.")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``keytrail review status``."""
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The parser of ``keytrail review status``."""
    from keytrail.cli import _Parser
    from keytrail.commands._args import confine_options

    parser = _Parser(prog="keytrail review status", description=DESCRIPTION)
    parser.add_argument("pack", metavar="PACK", help="the folder `keytrail review --out` wrote (holding pack.json)")
    parser.add_argument("--dir", metavar="DIR",
                        help="the project folder: show decisions its history already records as applied")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                        help="text (default), json (for a CI job) or markdown (for a reminder mail)")
    confine_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from keytrail.review import status as pack_status

    project = None
    if args.dir is not None:
        from keytrail import pipeline

        project = pipeline.load(args.dir, allow_outside=args.allow_outside)
    st = pack_status.status(Path(args.pack), project)
    if args.format == "json":
        import orjson

        from keytrail.textsafe import json_inert

        sys.stdout.write(json_inert(orjson.dumps(pack_status.as_json(st), option=orjson.OPT_INDENT_2)
                                    .decode("utf-8")) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(pack_status.markdown(st))
    else:
        sys.stdout.write(pack_status.text(st))
    return EXIT_OK
