"""``keytrail decisions``: turn filled review worksheets into keyed revoke and certify events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_ERROR,
    EXIT_OK,
    confine_options,
    time_arg,
)
from keytrail.commands._output import refuse_inputs
from keytrail.commands._seal import prepare, seal_after, seal_options
from keytrail.errors import KeytrailError, UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "decisions", help="turn filled review worksheets into revoke and certify events",
        description="Read filled worksheets of `keytrail review`: keep rows become certify events, "
                    "revoke rows keyed revoke events, blank rows are skipped. Each decision is "
                    "approved by the reviewer the pack assigned (its pack.json), never by the "
                    "worksheet's reviewer cell. Every row must match an active grant as of --time "
                    "and a grant the pack issued; any problem is reported as file:line, nothing "
                    "is written and the exit code is 2. Comma, semicolon and tab separated "
                    "worksheets (UTF-8, or UTF-16 with a BOM) are read. With --seal, the project is "
                    "sealed after writing (exit 2, saying so, if the seal fails after the write).")
    parser.add_argument("worksheets", nargs="+", metavar="WORKSHEET", help="filled worksheet CSV files")
    parser.add_argument("--key", required=True, help="the provisioning key the decisions are recorded under")
    parser.add_argument("--actor", required=True, help="who records them (the key's holder)")
    parser.add_argument("--out", required=True, metavar="FILE",
                           help="the JSONL file to create (e.g. history/review-2026-Q3.jsonl)")
    parser.add_argument("--dir", default=".", help="the project folder (default: .)")
    parser.add_argument("--time", default="now", metavar="TIME",
                           help="when the decisions take effect (ISO 8601 with a zone; default: now)")
    parser.add_argument("--ticket", help="the ticket of the review, recorded on every event")
    parser.add_argument("--pack", metavar="DIR",
                        help="the review pack the worksheets were issued from (its pack.json says "
                             "who reviews each grant); default: the pack the worksheets are in")
    confine_options(parser)
    seal_options(parser)


def run(args: argparse.Namespace) -> int:
    from keytrail import pipeline
    from keytrail.review import decisions
    from keytrail.review.attest import refuse_unverified
    from keytrail.review.worksheets import read_manifest

    time = time_arg(args.time, "--time")
    out = Path(args.out)
    if out.exists():
        raise UsageError(f"--out {out}: already exists (decisions are never overwritten; choose a new file)")
    project = pipeline.load(args.dir, allow_outside=args.allow_outside)
    sheets = [Path(p) for p in args.worksheets]
    refuse_inputs([("--out", args.out)], [*project.inputs, *sheets])
    pack = _pack(args.pack, sheets)
    plan = prepare(args, out, Path(args.dir))  # everything a seal needs, checked before writing
    try:
        assigned = read_manifest(pack)
        outcome = decisions.read_worksheets(sheets, assigned)
        refuse_unverified(pack, certifies=any(d.action != "revoke" for d in outcome.decisions))
        decisions.check_active(outcome, pipeline.replay(project, time))
        decisions.check_key(outcome, project, time, args.actor, args.key)
        text = decisions.events_text(outcome, project, time, args.actor, args.key, args.ticket)
        proposal = _key_proposal(outcome, project, out, time)
    except KeytrailError as exc:  # worksheet problems: every one, then what it means
        if not exc.problems:
            print(f"keytrail: {exc.message}; nothing was written", file=sys.stderr)
            return EXIT_ERROR
        print(exc, file=sys.stderr)
        n = len(exc.problems)
        print(f"keytrail: {n} error{'s' if n != 1 else ''}; nothing was written", file=sys.stderr)
        return EXIT_ERROR
    decisions.write_new(out, text)
    revoke = sum(1 for d in outcome.decisions if d.action == "revoke")
    print(f"keytrail: wrote {out}: {revoke} revoke, {len(outcome.decisions) - revoke} certify, "
          f"{outcome.undecided} undecided (skipped)", file=sys.stderr)
    if proposal is not None:
        decisions.write_new(proposal[0], proposal[1])
        n = sum(1 for d in outcome.keys if d.action == "revoke")
        print(f"keytrail: wrote {proposal[0]}: {n} key{'s' if n != 1 else ''} to revoke "
              f"({len(outcome.keys) - n} kept); apply it with `keytrail key revoke --proposal FILE`",
              file=sys.stderr)
    elif outcome.keys:
        print(f"keytrail: {len(outcome.keys)} key{'s' if len(outcome.keys) != 1 else ''} kept, "
              "none revoked (nothing to apply to the key registry)", file=sys.stderr)
    return seal_after(plan, str(out)) if plan is not None else EXIT_OK


def _key_proposal(outcome: Any, project: Any, out: Path, time: int) -> tuple[Path, str] | None:
    """The key registry proposal (path, text) when a key owner decided ``revoke``, else None;
    checked (keys still registered, file new) before anything is written."""
    from keytrail.review import key_decisions
    from keytrail.timeutil import format_time

    key_decisions.check_registry(outcome.keys, project.keys)
    if not any(d.action == "revoke" for d in outcome.keys):
        return None
    path = out.with_name(out.name + key_decisions.PROPOSAL_SUFFIX)
    key_decisions.refuse_existing(path)
    return path, key_decisions.proposal_text(outcome.keys, format_time(time) or "")


def _pack(given: str | None, sheets: list[Path]) -> Path:
    """The review pack whose manifest says who reviews each grant."""
    from keytrail.review.worksheets import find_pack

    if given:
        return Path(given)
    found = {find_pack(s) for s in sheets}
    if len(found) == 1 and None not in found:
        return found.pop()  # type: ignore[return-value]
    raise UsageError("which review pack issued these worksheets? give --pack DIR (the folder "
                     "`keytrail review --out` wrote): its pack.json names the reviewer of each grant")
