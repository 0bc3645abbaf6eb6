"""``keytrail keys``: every provisioning key, its status as of a time, its use and its findings.

Grammar (a key could be called anything, so a key is never a bare positional):

- ``keytrail keys [DIR]``: one row per key (``--format text|json|markdown|csv``);
- ``keytrail keys [DIR] --key ID`` or ``keytrail keys show ID [--dir DIR]``: one key's timeline;
- ``keytrail keys [DIR] --trace TRACE-ID``: every change of one W3C trace, with its keys;
- ``keytrail keys suggest [DIR]``: registry entries for the keys the history uses but the
  registry lacks (:mod:`keytrail.commands.keys_suggest`).

``show`` and ``suggest`` are sub-commands unless a folder of that name holding
``keytrail.yaml`` is meant (``./suggest`` always is), as with ``keytrail review status``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_OK,
    confine_options,
    since_arg,
    time_arg,
    time_options,
)
from keytrail.errors import UsageError
from keytrail.textsafe import excerpt

#: The words after ``keytrail keys`` that are sub-commands, not a project folder.
SUBCOMMANDS = ("show", "suggest")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "keys", help="every provisioning key: status, use and findings; a key's or a trace's timeline",
        description="One row per key of the registry (and per unknown key the history uses): "
                    "holder, owner, purpose, ticket, scope, validity, status as of --as-of, the "
                    "changes made under it in the window, actors, targets, first and last use, and "
                    "its findings. `--key ID` (or `keytrail keys show ID`) prints one key's "
                    "timeline, `--trace ID` one trace's; `keytrail keys suggest [DIR]` proposes "
                    "registry entries for unknown keys (a folder named show or suggest holding "
                    "keytrail.yaml is still listed).")
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    options(parser)


def options(parser: argparse.ArgumentParser, key: bool = True) -> None:
    """The options ``keys`` and ``keys show`` share."""
    if key:
        parser.add_argument("--key", metavar="ID", help="print this key's timeline: every change made under it")
    parser.add_argument("--trace", metavar="TRACE-ID",
                        help="print every change whose source.traceId is TRACE-ID (32 lowercase hex "
                             "digits), across every history file and system, with the key of each")
    parser.add_argument("--format", "-f", default="text", metavar="FORMAT",
                        help="text (default), json, markdown, or csv (the list only)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    time_options(parser)
    confine_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.key is None and args.trace is None and not Path(args.dir).is_dir() \
            and not Path(args.dir).is_file():
        # `keytrail keys pk-1` reads like a key's timeline: say how to ask for one.
        raise UsageError(f"keys: '{excerpt(args.dir)}' is not a project folder; for a key's timeline give "
                         f"`keytrail keys show ID` or `keytrail keys --key ID`")
    return show(args, args.dir, args.key)


def show(args: argparse.Namespace, folder: str, key: str | None) -> int:
    """List the keys, or print the timeline of ``key`` or of ``args.trace``."""
    from keytrail import pipeline
    from keytrail.commands._output import refuse_inputs, write
    from keytrail.keys.render import LIST_FORMATS, TIMELINE_FORMATS, render_list, render_timeline
    from keytrail.keys.summary import rows
    from keytrail.keys.timeline import attach, select, trace_problem

    timeline = key is not None or args.trace is not None
    if key is not None and args.trace is not None:
        raise UsageError("keys: give --key or --trace, not both")
    allowed = TIMELINE_FORMATS if timeline else LIST_FORMATS
    if args.format not in allowed:
        what = "a timeline" if timeline else "the key list"
        raise UsageError(f"keys: --format '{excerpt(args.format)}': {what} is written as {', '.join(allowed)}")
    if args.trace is not None and (why := trace_problem(args.trace)) is not None:
        raise UsageError(f"keys: --trace '{excerpt(args.trace)}': {why}")
    as_of = time_arg(args.as_of)
    since = since_arg(args.since, as_of)
    project = pipeline.load(folder, allow_outside=args.allow_outside)
    if args.output:
        refuse_inputs([("--output", args.output)], project.inputs)
    state = pipeline.replay(project, as_of, since)
    from keytrail.engine import no_rules

    note = no_rules(project.policies)
    findings: Sequence[Any] = []
    if note is None:
        findings = pipeline.evaluate(project, state, pipeline.build_graph(project, state)).findings
    else:
        note = "no finding is shown: " + note
        print(f"keytrail: warning: {note}", file=sys.stderr)
    listed = rows(project.keys, state.window, as_of, findings)
    if not timeline:
        write(render_list(listed, args.format, as_of, since, note), args.output)
        return EXIT_OK
    entries = select(project, state.window, key=key, trace=args.trace)
    attach(entries, findings)
    row = next((r for r in listed if r.id == key), None)
    if key is not None and row is None and key not in project.keys:
        from keytrail.schemas import did_you_mean
        from keytrail.textsafe import inline

        # An id that names nothing: most likely a typo, never an empty timeline that passes.
        raise UsageError(f"keys: no key '{inline(key)}' in the registry and no event made under it"
                         f"{did_you_mean(key, sorted(project.keys))}")
    write(render_timeline(entries, args.format, as_of, since, project.keys, key, args.trace, row), args.output)
    return EXIT_OK
