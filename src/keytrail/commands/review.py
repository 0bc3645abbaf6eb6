"""``keytrail review``: write the access review pack of a period."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_FINDINGS,
    EXIT_OK,
    confine_options,
    now_us,
    quiet_option,
    time_arg,
)
from keytrail.commands._otel import export_findings, otlp_options, prepare
from keytrail.errors import UsageError
from keytrail.textsafe import inline


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "review", help="write the access review pack of a period: index.html, worksheets, findings",
        description="Write the access review pack into OUT: index.html (every active grant by "
                    "reviewer, with its chain, last certification and findings), one CSV worksheet "
                    "per reviewer, findings.json, summary.md and pack.json (who reviews which "
                    "grant, and what the review read: the checkpoint it verified and the SHA-256 "
                    "of every input). Exit 0; 1 the pack is written but its history fails "
                    "verification or was rewritten since --previous; 2 bad input. "
                    "`keytrail review status PACK` shows the reviewers' progress and "
                    "`keytrail review verify PACK [DIR]` whether a pack still matches its inputs "
                    "(a folder named status or verify holding keytrail.yaml is still reviewed).")
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    parser.add_argument("--period", required=True,
                        help="the period reviewed: 2026, 2026-H2, 2026-Q3 or 2026-09")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="the folder to write (created; a previous review pack there is replaced, "
                             "unless reviewers have filled in its worksheets)")
    parser.add_argument("--force", action="store_true",
                        help="replace a previous pack at OUT even though its worksheets hold "
                             "reviewers' work; the old pack is kept as OUT.replaced-TIME, never deleted")
    parser.add_argument("--as-of", metavar="TIME",
                        help="review the access as of this time within the period (default: its end)")
    parser.add_argument("--previous", metavar="FINDINGS",
                        help="the previous review's findings.json: show what changed since, and "
                             "check that today's history extends the checkpoint its pack.json "
                             "(beside it) attests")
    parser.add_argument("--reviewer", choices=("owner", "manager"), default="owner",
                        help="who certifies a grant: the owner of its role or group (default), "
                             "or the subject's manager")
    otlp_options(parser, "every finding of the review")
    quiet_option(parser)
    confine_options(parser)


def run(args: argparse.Namespace) -> int:
    from keytrail import pipeline, progress, review
    from keytrail.project import load_config
    from keytrail.review import pack as review_pack
    from keytrail.review.attest import attest, check_unchanged, compare_previous, stat_inputs
    from keytrail.timeutil import format_time

    period = review.parse_period(args.period)
    as_of = review.review_time(period, time_arg(args.as_of) if args.as_of else None)
    previous = review.read_previous(Path(args.previous)) if args.previous else None
    otlp = prepare(args)
    if otlp is not None:
        from keytrail.otel.context import trace_from_env

        trace_from_env()
    cfg = load_config(Path(args.dir), args.allow_outside)
    before = stat_inputs(cfg.files())  # what the attestation's hashes must be the hashes of
    with progress.showing(args.quiet):
        project = pipeline.load(args.dir, allow_outside=args.allow_outside)
        from keytrail.engine import no_rules

        why = no_rules(project.policies)
        if why is not None:
            # A pack of grants to certify is useful without rules, but its "0 findings" must not
            # read as "checked and clean" (`check` refuses such a project outright).
            progress.current().clear()  # the warning on a line of its own, not after the progress
            print(f"keytrail: warning: the pack lists the grants to certify but checks no rule: {inline(why)}",
                  file=sys.stderr)
        out = Path(args.out)
        _refuse_inputs(out, project, args.previous)
        review_pack.check_out(out, args.force)  # before the long part; checked again when replacing
        state = pipeline.replay(project, as_of, period.since)
        graph = pipeline.build_graph(project, state)
        report = pipeline.evaluate(project, state, graph)
        pack = review.build(project, state, graph, report, period, args.reviewer, previous)
        pack.attestation = att = attest(project, cfg)
        pack.command = _command(args)
        if args.previous:
            compare_previous(att, Path(args.previous), cfg, project.anchor)
        check_unchanged(before, list(project.inputs), project.root)
        progress.stage("rendering the pack")
        files = review_pack.render_pack(pack)
    stamp = format_time(now_us()) or ""
    aside = review_pack.write_pack(out, files, args.force, stamp[:19].replace("-", "").replace(":", "") + "Z")
    if aside is not None:
        print(f"keytrail: kept the previous pack as {aside}", file=sys.stderr)
    unassigned = len(pack.reviewers.get(None, []))
    print(f"keytrail: wrote {args.out}: {len(pack.rows)} grants for "
          f"{len(pack.reviewers) - (1 if unassigned else 0)} reviewers ({unassigned} with no reviewer), "
          f"{len(report.findings)} findings", file=sys.stderr)
    code = EXIT_OK
    if att.failed:
        # The pack is written (it is the evidence of what was found), but a review of a history
        # that fails verification, or was rewritten since the previous review, must fail the job.
        for line in att.problems():
            print(f"keytrail: {line}", file=sys.stderr)
        print(f"keytrail: the evidence is NOT verified: {len(att.problems())} violation"
              f"{'s' if len(att.problems()) != 1 else ''} (shown at the top of {args.out}/index.html)",
              file=sys.stderr)
        code = EXIT_FINDINGS
    if otlp is not None:
        export_findings(report, None, otlp)  # last, after the pack and its verdict; a failure exits 2
    return code


def _command(args: argparse.Namespace) -> list[str]:
    """The command line that writes this pack, as pack.json records it: every option that
    decides its content as given; the folders as DIR, OUT and OUTSIDE and --previous as FINDINGS
    (their contents are hashed in the attestation: a pack never depends on where it was
    written or read from, so the same inputs give the same bytes)."""
    line = ["keytrail", "review", "DIR", "--period", args.period, "--out", "OUT"]
    if args.as_of:
        line += ["--as-of", args.as_of]
    if args.previous:
        line += ["--previous", "FINDINGS"]
    if args.reviewer != "owner":
        line += ["--reviewer", args.reviewer]
    for _ in args.allow_outside:
        line += ["--allow-outside", "OUTSIDE"]
    return line


def _refuse_inputs(out: Path, project: Any, previous: str | None) -> None:
    """The pack folder must not be, or hold, a file this run reads (nor the project itself)."""
    from keytrail.commands._output import same_file
    from keytrail.confine import is_or_holds

    read = [*project.inputs, *([Path(previous)] if previous else [])]
    if same_file(out, project.root):
        raise UsageError(f"--out {out}: is the project folder; give a folder for the pack")
    for path in read:
        if is_or_holds(out, path):
            raise UsageError(f"--out {out}: holds {path}, which this run reads; keytrail never "
                             "replaces its own input (give another folder)")
