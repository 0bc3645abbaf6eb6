"""``keytrail lint``: validate policies, waivers, the directory, keys and ``keytrail.yaml``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from keytrail.commands._args import (
    confine_options,
    time_arg,
)
from keytrail.commands._output import write


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "lint", help="validate policies, the directory, keys and keytrail.yaml: schema and semantic problems",
        description="Validate policies (waivers included), the directory, the key registry and keytrail.yaml: "
                    "schema errors and semantic problems (unknown checks and parameters, duplicate rule ids, "
                    "waivers for unknown rules, expired waivers and waivers expiring within 30 days, "
                    "selectors and keys naming what the directory does not define), all of them, sorted, "
                    "as file:line:col: path: message. A folder holding keytrail.yaml is linted as a project "
                    "(the history and the snapshot are data, not configuration: `keytrail check` validates "
                    "them, lint does not read them); any other folder: every *.yaml/*.yml under it, each "
                    "identified by its content. Exit codes: 0 no problems; 1 problems found (errors or "
                    "warnings); 2 unreadable input (a missing PATH, a file that is not YAML).")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                      help="files or folders to lint (default: the current folder)")
    parser.add_argument("--format", "-f", choices=("text", "json", "github"), default="text",
                      help="text (default), json, or github (workflow annotations)")
    parser.add_argument("--as-of", default="now", metavar="TIME",
                      help="judge waiver expiry as of this time (ISO 8601 with a zone; default: now)")
    confine_options(parser)


def run(args: argparse.Namespace) -> int:
    from keytrail.lint import lint, render, summary

    as_of = time_arg(args.as_of)
    report = lint(args.paths, as_of, args.allow_outside)
    write(render(report, args.format), None)
    print(summary(report), file=sys.stderr)
    return report.exit_code
