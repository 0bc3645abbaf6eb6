"""``keytrail test``: run policy unit tests (``kind: PolicyTest`` files)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_FINDINGS,
    EXIT_OK,
)
from keytrail.commands._output import write


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("test", help="run policy unit tests (kind: PolicyTest files)",
                            description="Run the PolicyTest files among PATHs (files, or folders searched "
                                        "recursively): each test's findings must be exactly those expected.")
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--require-coverage", action="store_true",
                        help="fail when a rule under test has no test expecting one of its findings")


def run(args: argparse.Namespace) -> int:
    from keytrail.policytest import format_run, run

    result = run([Path(p) for p in args.paths], Path.cwd())
    text, ok = format_run(result, args.require_coverage)
    write(text, None)
    return EXIT_OK if ok else EXIT_FINDINGS
