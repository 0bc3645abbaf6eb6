"""``keytrail record``: append one keyed change to a history file, refusing an unexplained one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_OK
from keytrail.commands._otel import otlp_options
from keytrail.errors import UsageError
from keytrail.textsafe import inline


def add_parser(sub: Any) -> None:
    from keytrail.recording.event import ACTIONS

    parser = sub.add_parser(
        "record", help="append one keyed change to a history file (refusing an unexplained one)",
        description="Check one access change the way `keytrail check` would (its fields, then the key "
                    "checks: unknown key, key not valid, out of scope, actor not the key's holder, "
                    "self-grant), and append it to a history file of the project, chained to the "
                    "file's last line with `prev`. An unexplained change is refused unless "
                    "--allow-unexplained. Prints the event written (one JSON line). Exit 0 recorded; "
                    "2 refused, bad input, or (after writing) a failed OTLP export.")
    parser.add_argument("action", choices=ACTIONS, help="what happened")
    parser.add_argument("--dir", default=".", help="the project folder (holding keytrail.yaml; default: .)")
    parser.add_argument("--out", required=True, metavar="HISTORY-FILE",
                        help="the history file to append to: inside the project and read by its "
                             "`history:` globs (created when a glob names it and it does not exist)")
    parser.add_argument("--subject", help="who gets or loses access (user:, svc: or group:)")
    parser.add_argument("--target", help="the role or group (role: or group:)")
    parser.add_argument("--resource", help="what the grant is scoped to (e.g. aws:123456789012)")
    parser.add_argument("--actor", help="who makes the change (required; the key's holder)")
    parser.add_argument("--key", help="the provisioning key the change is made under (required)")
    parser.add_argument("--approver", help="who approved the change")
    parser.add_argument("--ticket", help="the ticket behind the change")
    parser.add_argument("--reason", help="why the change is made")
    parser.add_argument("--expires", metavar="TIME", help="grant: when it ends (ISO 8601 with a zone)")
    parser.add_argument("--time", metavar="TIME",
                        help="when the change was made (ISO 8601 with a zone; default: now)")
    parser.add_argument("--owner", help="define: the owner of the new role or group")
    parser.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE",
                        help="join, move: an attribute of the principal (repeatable)")
    parser.add_argument("--id", help="the event id (default: rec- and a hash of the change and its place)")
    parser.add_argument("--traceparent", metavar="TRACEPARENT",
                        help="the W3C trace context of the pipeline run (default: $TRACEPARENT); "
                             "kept on the event as source.traceId and source.spanId")
    parser.add_argument("--allow-unexplained", action="store_true",
                        help="record a change the key checks refuse (each reason is printed as a "
                             "warning; `keytrail check` will report it)")
    parser.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                        help="how long to wait for another `keytrail record` of the project (default 30)")
    otlp_options(parser, "the recorded change")


def _attributes(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--attribute '{inline(pair)}': write NAME=VALUE")
        if name in out:
            raise UsageError(f"--attribute {inline(name)} is given twice")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    from keytrail.commands._args import now_us
    from keytrail.commands._otel import prepare
    from keytrail.otel.context import trace_context
    from keytrail.recording import send_change
    from keytrail.recording.core import record_change
    from keytrail.recording.event import Change
    from keytrail.textsafe import json_inert

    if args.wait < 0 or args.wait != args.wait:
        raise UsageError("--wait: give a number of seconds, 0 or more")
    change = Change(args.action, args.subject, args.target, args.resource, args.actor, args.key,
                    args.approver, args.ticket, args.reason, args.expires, args.time, args.owner,
                    _attributes(args.attribute), args.id)
    trace = trace_context(args.traceparent)
    where = prepare(args)  # a bad endpoint fails before anything is written
    now = now_us()
    done = record_change(change, Path(args.dir), Path(args.out), now_us=now, trace=trace,
                         allow_unexplained=args.allow_unexplained, wait=args.wait)
    import orjson

    sys.stdout.write(json_inert(orjson.dumps(done.event).decode("utf-8")) + "\n")
    sys.stdout.flush()
    for check_id, message in done.unexplained:
        print(f"keytrail: warning: recorded although unexplained ({check_id}): {inline(message)}",
              file=sys.stderr)
    print(f"keytrail: recorded {inline(done.event['id'])} in {inline(done.file)}:{done.line}", file=sys.stderr)
    if where is not None:
        send_change(done, now, trace, where)
        print(f"keytrail: sent {inline(done.event['id'])} as an OTLP log record to {where.shown}",
              file=sys.stderr)
    return EXIT_OK
