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
        description="Validate policies (waivers included), policy tests, the directory, the key registry and "
                    "keytrail.yaml, all problems of every file at once, sorted, as file:line:col: path: "
                    "message. Errors: what `keytrail check` refuses (schema, duplicate keys, selectors that "
                    "name no kind, unknown checks and parameters, duplicate rule ids, waivers for unknown "
                    "rules, a project that enables no rule), policy tests naming what does not exist, "
                    "expired waivers. Warnings: names the directory and the history do not know, waivers "
                    "expiring within 30 days or waiving a whole rule. A folder holding keytrail.yaml is "
                    "linted as a project; any other folder: every *.yaml/*.yml under it, each identified by "
                    "its parsed `kind` or keys. Exit codes: 0 no errors (warnings are printed); 1 errors, or "
                    "warnings with --strict; 2 unreadable input (a missing PATH, a file that is not YAML).")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to lint (default: the current folder)")
    parser.add_argument("--format", "-f", choices=("text", "json", "github"), default="text",
                        help="text (default), json, or github (workflow annotations)")
    parser.add_argument("--strict", action="store_true",
                        help="warnings fail the run too (exit 1), as errors do")
    parser.add_argument("--as-of", default="now", metavar="TIME",
                        help="judge waiver expiry as of this time (ISO 8601 with a zone; default: now)")
    confine_options(parser)


def run(args: argparse.Namespace) -> int:
    from keytrail.lint import lint, render, summary

    as_of = time_arg(args.as_of)
    report = lint(args.paths, as_of, args.allow_outside, strict=args.strict)
    write(render(report, args.format), None)
    print(summary(report), file=sys.stderr)
    return report.exit_code
