"""``keytrail review verify PACK [DIR]``: whether a review pack still matches its inputs."""

from __future__ import annotations

import argparse
import sys

from keytrail.commands._args import EXIT_FINDINGS, EXIT_OK

DESCRIPTION = ("Re-derive the SHA-256 of every file the review read (the files the project at DIR "
               "reads now, compared by the path pack.json recorded) and of the pack's index.html, "
               "summary.md, findings.json and findings pages, and say what matches and what differs. "
               "Worksheets are expected to change once filled in: they are reported as issued, filled "
               "or edited, never as a failure. Exit 0 the pack matches; 1 a file differs, is missing, "
               "new or unrecorded; 2 bad input.")


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments of ``keytrail review verify``."""
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The parser of ``keytrail review verify``."""
    from keytrail.cli import _Parser
    from keytrail.commands._args import confine_options

    parser = _Parser(prog="keytrail review verify", description=DESCRIPTION)
    parser.add_argument("pack", metavar="PACK", help="the folder `keytrail review --out` wrote (holding pack.json)")
    parser.add_argument("dir", metavar="DIR", nargs="?", default=".",
                        help="the project folder the pack was written from (default: .; pack.json "
                             "does not record where it was, so that its bytes do not depend on it)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or json: {pack, project, matches, checked, failing, "
                             "files: [{group, path, state}]} for a CI job")
    confine_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from keytrail.review import verify as pack_verify

    items = pack_verify.verify(Path(args.pack), Path(args.dir), args.allow_outside)
    if args.format == "json":
        import orjson

        from keytrail.textsafe import json_inert

        data = pack_verify.as_json(items, args.pack, args.dir)
        sys.stdout.write(json_inert(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")) + "\n")
    else:
        sys.stdout.write(pack_verify.text(items, args.pack, args.dir))
    return EXIT_OK if pack_verify.matches(items) else EXIT_FINDINGS
