"""``keytrail import``: convert a system's export into native history or a project folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_OK,
    time_arg,
)
from keytrail.commands._seal import prepare, seal_after, seal_options


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("import", help="convert a system's export into native history or a snapshot",
                         description="Convert CloudTrail, Okta, Entra, GitHub, Google Workspace, Kubernetes, "
                                     "SCIM or OTLP exports into keytrail's native history (--out FILE.jsonl), "
                                     "or a state export (AWS, Kubernetes, and the Okta, Entra, GitHub, Google "
                                     "Workspace and SCIM APIs' pages: *-state) into a project folder (--out DIR). "
                                     "Every record is "
                                     "converted or counted as skipped; malformed records are errors.")
    parser.add_argument("format", metavar="FORMAT", help="the input's format (keytrail import --help lists them)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", type=Path, help="files or folders (.json, .jsonl, .gz, .yaml)")
    parser.add_argument("--out", required=True, type=Path, help="the JSONL file (history) or folder (state) to write")
    parser.add_argument("--strict", action="store_true", help="any record that is not converted is an error")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--assume-time", metavar="TIME",
                     help="the time of records that carry none (e.g. SCIM request bodies captured without "
                          "their log line; ISO 8601 with a zone); their events say source.time_assumed. "
                          "Usage formats: when the usage data was collected, for inputs that do not say")
    parser.add_argument("--entity", metavar="ARN",
                     help="aws-access-advisor: the IAM user, group or role ARN the report was generated for "
                          "(the response does not name it)")
    for name in ("key", "ticket", "reason"):
        parser.add_argument(f"--{name}-from", metavar="FIELD",
                         help=f"the raw record's field (dotted path) that carries the {name}")
        parser.add_argument(f"--{name}-pattern", metavar="REGEX",
                         help=f"a regular expression applied to --{name}-from; its first group is the {name}")
    parser.add_argument("--key-preset", metavar="NAME",
                     help="map the key (and the ticket, where the system has one) from the real field "
                          "that carries it: aws-source-identity, aws-role-session-name, stratus-red-team "
                          "(cloudtrail), entra-pim (entra), okta-api-token (okta), github-token (github); "
                          "--key-from/--key-pattern still win")
    parser.add_argument("--mapping", type=Path, metavar="FILE",
                     help="a YAML file: {key: {from: FIELD, pattern: REGEX}, ticket: ..., reason: ...}")
    seal_options(parser)


#: How many unconvertible records ``keytrail import`` lists by place (all are counted).
INCOMPLETE_SHOWN = 20


def run(args: argparse.Namespace) -> int:
    from keytrail.errors import KeytrailError

    try:
        return _run(args)
    except KeytrailError as exc:
        # An import checks nothing: say what its errors stopped in its own words.
        if exc.consequence == KeytrailError.consequence:
            exc.consequence = "nothing was imported"
        raise


def _run(args: argparse.Namespace) -> int:
    from keytrail.importers.runner import mapping_from

    options = {f"{n}_{part}": getattr(args, f"{n}_{part}") for n in ("key", "ticket", "reason")
               for part in ("from", "pattern")}
    chosen = None
    if args.key_preset is not None:
        from keytrail.importers.presets import preset

        chosen = preset(args.key_preset, args.format)
    mapping = mapping_from(options, args.mapping, chosen)
    assume = None
    if args.assume_time is not None:
        from keytrail.timeutil import format_time

        assume = format_time(time_arg(args.assume_time, "--assume-time", now=False))
    plan = None
    if args.seal or args.signing_key:
        from keytrail.errors import UsageError
        from keytrail.importers import REGISTRY, get

        if args.format not in REGISTRY:  # run_import names the formats
            return _import(args, mapping, assume, None)
        if get(args.format).KIND == "usage":
            raise UsageError(f"--seal: {args.format} writes usage data, not history; only history is sealed")
        if get(args.format).KIND != "history":
            raise UsageError(f"--seal: {args.format} writes a project folder, not history; seal the "
                             "project after adding `checkpoints:` to it (`keytrail seal`)")
        if args.out.exists() and not args.force:
            raise UsageError(f"{args.out} exists: keytrail import never overwrites (remove it, or give --force)")
        plan = prepare(args, args.out, None)  # everything a seal needs, checked before writing
    return _import(args, mapping, assume, plan)


def _import(args: argparse.Namespace, mapping: Any, assume: str | None, plan: Any) -> int:
    from keytrail.importers.runner import run_import

    ctx = run_import(args.format, args.inputs, args.out, mapping, args.strict, args.force, assume, args.entity)
    print(f"keytrail import {args.format}: wrote {args.out}", file=sys.stderr)
    print(ctx.summary(), file=sys.stderr)
    if ctx.incomplete_at:
        shown = ctx.incomplete_at[:INCOMPLETE_SHOWN]
        print(f"{len(ctx.incomplete_at):,} access change(s) could not be converted (give --strict to make "
              "them errors):", file=sys.stderr)
        for problem in shown:
            print(f"  {problem}", file=sys.stderr)
        if len(ctx.incomplete_at) > len(shown):
            print(f"  and {len(ctx.incomplete_at) - len(shown):,} more", file=sys.stderr)
    for warning in ctx.mapping_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from keytrail.importers import get

    if get(args.format).KIND == "history" and not mapping.key.path and sum(ctx.converted.values()):
        print("no key mapping given (--key-from): every converted change has no provisioning key, so "
              "keytrail reports each one as unexplained.missing-key until keys are mapped", file=sys.stderr)
    if get(args.format).KIND == "history":
        _hint_project(args.out)
    return seal_after(plan, str(args.out)) if plan is not None else EXIT_OK


def _hint_project(out: Path) -> None:
    """History written where no project will read it: say how to make one that does."""
    from keytrail.authoring.scaffold import project_root_of
    from keytrail.textsafe import inline

    if project_root_of(out) is not None:
        return
    folder = out.parent
    root = folder.parent if folder.name == "history" else folder
    shown = inline(str(root))
    reads = "history/*.jsonl" if folder.name == "history" else f"{inline(out.name)} (add it to `history:`)"
    print(f"note: no keytrail.yaml in {inline(str(folder))} or its parent, so no project reads this file "
          f"yet: `keytrail init {shown}` writes one that reads {reads}, "
          f"then `keytrail check {shown}`", file=sys.stderr)
