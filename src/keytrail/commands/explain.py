"""``keytrail explain``: every path by which a subject holds a target, with the chain behind each edge."""

from __future__ import annotations

import argparse
from typing import Any

from keytrail.commands._args import (
    EXIT_OK,
    confine_options,
    time_arg,
    time_options,
)
from keytrail.commands._output import write
from keytrail.errors import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("explain", help="why SUBJECT holds TARGET: paths and the chain behind each edge; "
                            "or who holds a role or group")
    parser.add_argument("subject", help="a principal or group id, e.g. user:alice")
    parser.add_argument("target", nargs="?", help="a role or group id; omit to list everything SUBJECT holds")
    parser.add_argument("--dir", default=".", help="the project folder (default: .)")
    parser.add_argument("--holders", action="store_true",
                        help="list who reaches SUBJECT (a role or group) instead; "
                             "the default when SUBJECT is a role")
    time_options(parser, since=False)
    confine_options(parser)


def run(args: argparse.Namespace) -> int:
    from keytrail import pipeline
    from keytrail.explain import explain, explain_holders

    as_of = time_arg(args.as_of)
    holders = args.holders or args.subject.startswith("role:")
    if holders and args.target:
        raise UsageError("explain: give TARGET, or list the holders of SUBJECT, not both")
    project = pipeline.load(args.dir, allow_outside=args.allow_outside)
    state = pipeline.replay(project, as_of)
    graph = pipeline.build_graph(project, state)
    if holders:
        write(explain_holders(project, state, graph, args.subject), None)
    else:
        write(explain(project, state, graph, args.subject, args.target), None)
    return EXIT_OK
