"""The command line: ``keytrail check | explain | checks | lint | test | review | decisions | import | schema``.

``main(argv)`` returns the exit code, so tests call it directly. Exit codes:
0 — nothing at or above ``--fail-on``; 1 — findings at or above it;
2 — bad input or usage (never a traceback).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from keytrail import __version__
from keytrail.errors import KeytrailError, UsageError
from keytrail.model import SEVERITIES

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Renderer(argparse.Action):
    """``--format X`` and ``--template F`` both add an output, in the order given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        kind = "template" if option_string == "--template" else "format"
        renderers = list(getattr(namespace, self.dest, None) or [])
        renderers.append((kind, values))
        setattr(namespace, self.dest, renderers)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors map to exit 2 cleanly."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        # main() prefixes "keytrail: "; name the subcommand, not the program twice.
        command = self.prog.partition(" ")[2]
        raise UsageError(f"{command}: {message}" if command else message)


def _time_arg(text: str, option: str = "--as-of", now: bool = True) -> int:
    """A time given on the command line (ISO 8601 with a zone, or ``now`` where ``now``
    is allowed), as epoch microseconds; a usage error naming ``option`` otherwise."""
    from keytrail.timeutil import TimeFormatError, parse_time

    if now and text == "now":
        return _now()
    try:
        return _in_range(parse_time(text), text)
    except TimeFormatError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _in_range(us: int, text: str) -> int:
    """``us`` when it can be shown as a date (years 1 to 9999 in UTC); reports print every time."""
    from keytrail.timeutil import TimeFormatError, format_time

    try:
        format_time(us)
    except OverflowError:
        raise TimeFormatError(f"{text!r} is out of range (years 1 to 9999 in UTC)") from None
    return us


def _now() -> int:
    from keytrail.timeutil import EPOCH

    fixed = os.environ.get("KEYTRAIL_NOW")
    if fixed:
        from keytrail.timeutil import TimeFormatError, parse_time

        try:
            return _in_range(parse_time(fixed), fixed)
        except TimeFormatError as exc:
            raise UsageError(f"KEYTRAIL_NOW: {exc}") from None
    return (datetime.now(timezone.utc) - EPOCH) // timedelta(microseconds=1)


def _limit_arg(text: str) -> int:
    """``--limit``: a whole number, 0 for no limit."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number (0 for no limit), not {text!r}")
    return int(text)


def _since_arg(text: str | None, as_of: int) -> int | None:
    """``--since`` takes a time, or a duration counted back from ``--as-of``."""
    from keytrail.timeutil import TimeFormatError, format_time, parse_duration, parse_time

    if text is None:
        return None
    try:
        back = parse_duration(text)
    except TimeFormatError:
        back = None
    if back is not None:
        try:
            return _in_range(as_of - back, text)
        except TimeFormatError as exc:
            raise UsageError(f"--since: {exc}") from None
    try:
        since = _in_range(parse_time(text), text)
    except TimeFormatError as exc:
        raise UsageError(f"--since: {exc} (or give a duration such as 90d)") from None
    if since > as_of:
        # An empty review window would pass every change check without looking at anything.
        raise UsageError(f"--since {text} is after --as-of {format_time(as_of)}")
    return since


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="keytrail", description="Policy-as-code access reviewer: every grant "
                     "traced to its provisioning key.")
    parser.add_argument("--version", action="version", version=f"keytrail {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="evaluate the policies and print findings",
                           description="Replay the history, check every policy rule, print findings.")
    check.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    check.add_argument("--format", "-f", action=_Renderer, dest="renderers", metavar="FORMAT",
                       help="text (default), json, markdown, html, sarif, junit, csv or github "
                            "(workflow annotations, and the Markdown report in $GITHUB_STEP_SUMMARY); "
                            "repeatable: the n-th --format goes to the n-th --output")
    check.add_argument("--template", action=_Renderer, dest="renderers", metavar="FILE",
                       help="render your own Jinja2 template (sandboxed; the context is documented in "
                            "docs/formats.md); counts as a --format")
    check.add_argument("--output", "-o", action="append", default=[], metavar="FILE",
                       help="write the matching --format to this file instead of standard output (repeatable)")
    _time_options(check)
    check.add_argument("--fail-on", default="high", choices=SEVERITIES,
                       help="exit 1 when an unwaived finding has this severity or higher (default: high)")
    check.add_argument("--policy", action="append", default=[], metavar="PATH",
                       help="an extra policy file to load (repeatable)")
    check.add_argument("--baseline", metavar="FILE",
                       help="a findings JSON file (a report, or --write-baseline's): findings whose "
                            "fingerprint it has are reported as known and do not fail the run")
    check.add_argument("--compare-policies", metavar="REF",
                       help="report what the policy change since REF (a git commit, branch or tag, "
                            "or a folder of the old policy files) adds and clears, instead of the "
                            "findings; exit 1 when it newly flags findings at or above --fail-on")
    check.add_argument("--write-baseline", metavar="FILE",
                       help="also write this run's findings as a baseline file")
    check.add_argument("--limit", type=_limit_arg, default=50, metavar="N",
                       help="text format: list at most N findings of each category and severity "
                            "(counts stay complete; 0 lists all; default 50)")

    explain = sub.add_parser("explain", help="why SUBJECT holds TARGET: paths and the chain behind each edge; "
                             "or who holds a role or group")
    explain.add_argument("subject", help="a principal or group id, e.g. user:alice")
    explain.add_argument("target", nargs="?", help="a role or group id; omit to list everything SUBJECT holds")
    explain.add_argument("--dir", default=".", help="the project folder (default: .)")
    explain.add_argument("--holders", action="store_true",
                         help="list who reaches SUBJECT (a role or group) instead; "
                              "the default when SUBJECT is a role")
    _time_options(explain, since=False)

    checks_cmd = sub.add_parser("checks", help="list the built-in checks with their documentation")
    checks_cmd.add_argument("id", nargs="?", help="show one check in full")
    checks_cmd.add_argument("--format", "-f", choices=("text", "markdown"), default="text",
                            help="markdown prints the whole catalogue (docs/checks.md)")

    lint = sub.add_parser(
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
    lint.add_argument("paths", nargs="*", metavar="PATH",
                      help="files or folders to lint (default: the current folder)")
    lint.add_argument("--format", "-f", choices=("text", "json", "github"), default="text",
                      help="text (default), json, or github (workflow annotations)")
    lint.add_argument("--as-of", default="now", metavar="TIME",
                      help="judge waiver expiry as of this time (ISO 8601 with a zone; default: now)")

    test = sub.add_parser("test", help="run policy unit tests (kind: PolicyTest files)",
                          description="Run the PolicyTest files among PATHs (files, or folders searched "
                                      "recursively): each test's findings must be exactly those expected.")
    test.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or folders (default: .)")
    test.add_argument("--require-coverage", action="store_true",
                      help="fail when a rule under test has no test expecting one of its findings")

    review = sub.add_parser(
        "review", help="write the access review pack of a period: index.html, worksheets, findings",
        description="Write the access review pack into OUT: index.html (every active grant by "
                    "reviewer, with its chain, last certification and findings), one CSV worksheet "
                    "per reviewer, findings.json and summary.md. Exit 0, or 2 on bad input.")
    review.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    review.add_argument("--period", required=True,
                        help="the period reviewed: 2026, 2026-H2, 2026-Q3 or 2026-09")
    review.add_argument("--out", required=True, metavar="OUT",
                        help="the folder to write (created; a previous review pack there is replaced)")
    review.add_argument("--as-of", metavar="TIME",
                        help="review the access as of this time within the period (default: its end)")
    review.add_argument("--previous", metavar="FINDINGS",
                        help="the previous review's findings.json: show what changed since")
    review.add_argument("--reviewer", choices=("owner", "manager"), default="owner",
                        help="who certifies a grant: the owner of its role or group (default), "
                             "or the subject's manager")

    decisions = sub.add_parser(
        "decisions", help="turn filled review worksheets into revoke and certify events",
        description="Read filled worksheets of `keytrail review`: keep rows become certify events, "
                    "revoke rows keyed revoke events, blank rows are skipped. Every row must match "
                    "an active grant as of --time; any problem is reported as file:line, nothing "
                    "is written and the exit code is 2.")
    decisions.add_argument("worksheets", nargs="+", metavar="WORKSHEET", help="filled worksheet CSV files")
    decisions.add_argument("--key", required=True, help="the provisioning key the decisions are recorded under")
    decisions.add_argument("--actor", required=True, help="who records them (the key's holder)")
    decisions.add_argument("--out", required=True, metavar="FILE",
                           help="the JSONL file to create (e.g. history/review-2026-Q3.jsonl)")
    decisions.add_argument("--dir", default=".", help="the project folder (default: .)")
    decisions.add_argument("--time", default="now", metavar="TIME",
                           help="when the decisions take effect (ISO 8601 with a zone; default: now)")
    decisions.add_argument("--ticket", help="the ticket of the review, recorded on every event")

    imp = sub.add_parser("import", help="convert a system's export into native history or a snapshot",
                         description="Convert CloudTrail, Okta, Entra, GitHub, Google Workspace, Kubernetes, "
                                     "SCIM or OTLP exports into keytrail's native history (--out FILE.jsonl), "
                                     "or a state export into a project folder (--out DIR). Every record is "
                                     "converted or counted as skipped; malformed records are errors.")
    imp.add_argument("format", metavar="FORMAT", help="the input's format (keytrail import --help lists them)")
    imp.add_argument("inputs", nargs="+", metavar="INPUT", type=Path, help="files or folders (.json, .jsonl, .gz, .yaml)")
    imp.add_argument("--out", required=True, type=Path, help="the JSONL file (history) or folder (state) to write")
    imp.add_argument("--strict", action="store_true", help="any record that is not converted is an error")
    imp.add_argument("--force", action="store_true", help="replace --out if it exists")
    imp.add_argument("--assume-time", metavar="TIME",
                     help="the time of records that carry none (e.g. SCIM request bodies captured without "
                          "their log line; ISO 8601 with a zone); their events say source.time_assumed")
    for name in ("key", "ticket", "reason"):
        imp.add_argument(f"--{name}-from", metavar="FIELD",
                         help=f"the raw record's field (dotted path) that carries the {name}")
        imp.add_argument(f"--{name}-pattern", metavar="REGEX",
                         help=f"a regular expression applied to --{name}-from; its first group is the {name}")
    imp.add_argument("--mapping", type=Path, metavar="FILE",
                     help="a YAML file: {key: {from: FIELD, pattern: REGEX}, ticket: ..., reason: ...}")

    schema = sub.add_parser("schema", help="print a JSON Schema")
    from keytrail.schemas import SCHEMA_NAMES

    schema.add_argument("name", choices=SCHEMA_NAMES)
    return parser


def _time_options(parser: argparse.ArgumentParser, since: bool = True) -> None:
    parser.add_argument("--as-of", default="now", metavar="TIME",
                        help="evaluate the state as of this time (ISO 8601 with a zone; default: now)")
    if since:
        parser.add_argument("--since", metavar="TIME|DURATION",
                            help="review window start for change checks: a time, or a duration back "
                                 "from --as-of such as 90d (default: all history)")


def main(argv: list[str] | None = None) -> int:
    """Run keytrail; return the exit code."""
    # keytrail builds millions of long-lived, acyclic objects (events, grants,
    # evidence) and then exits: the cyclic garbage collector would rescan them
    # over and over for nothing (it cost 30-50% of a large run). Reference
    # counting still frees everything that is dropped.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if gc_was_enabled:
            gc.enable()


def _main(argv: list[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help(sys.stderr)
            return EXIT_ERROR
        return COMMANDS[args.command](args)
    except KeytrailError as exc:
        print(f"keytrail: {exc.message}" if not exc.problems else str(exc), file=sys.stderr)
        if exc.problems:
            errors = sum(1 for p in exc.problems if p.level == "error")
            print(f"keytrail: {errors} error{'s' if errors != 1 else ''}; {exc.consequence}",
                  file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _write(text: str | Iterable[str], output: str | None) -> None:
    """Write text (or pieces of it) to stdout or a file; a file appears only when complete."""
    chunks = [text] if isinstance(text, str) else text
    if output is None or output == "-":
        # The rendered bytes exactly, as UTF-8, whatever the platform's newline translation
        # or console encoding (a CSV's \r\n must not become \r\r\n on Windows).
        raw = getattr(sys.stdout, "buffer", None)
        sys.stdout.flush()
        for chunk in chunks:
            if raw is not None:
                raw.write(chunk.encode("utf-8"))
            else:
                sys.stdout.write(chunk)
        (raw or sys.stdout).flush()
        return
    path = Path(output)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8", newline="") as handle:  # the rendered bytes, exactly
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(path)
    except OSError as exc:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None


def cmd_check(args: argparse.Namespace) -> int:
    from keytrail import pipeline

    outputs = _outputs(args)
    args.format = outputs[0][1] if outputs[0][0] == "format" else "text"
    args.output = outputs[0][2]
    as_of = _time_arg(args.as_of)
    since = _since_arg(args.since, as_of)
    baseline = None
    if args.baseline:  # read first: a bad baseline should fail before the long part
        from keytrail.baseline import read_baseline

        baseline = read_baseline(Path(args.baseline))
    project = pipeline.load(args.dir, [Path(p) for p in args.policy])
    state = pipeline.replay(project, as_of, since)
    graph = pipeline.build_graph(project, state)
    if args.compare_policies:
        return _compare_policies(args, project, state, graph)
    report = pipeline.evaluate(project, state, graph)
    report.baseline = baseline
    if args.write_baseline:
        from keytrail.baseline import baseline_text

        _write(baseline_text(report), args.write_baseline)
    from keytrail.render import render_chunks, render_template

    for kind, value, output in outputs:
        if kind == "template":
            _write(render_template(report, Path(value), args.fail_on), output)
        else:
            _write(render_chunks(report, value, args.fail_on, args.limit or None), output)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if any(kind == "format" and value == "github" for kind, value, _ in outputs) and summary:
        # GitHub renders this file on the run's page: the full Markdown report.
        try:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(pipeline.render(report, "markdown", args.fail_on))
        except OSError as exc:
            raise UsageError(f"cannot write the step summary {summary}: {exc.strerror}") from None
    return EXIT_FINDINGS if report.failing(args.fail_on) else EXIT_OK


def _outputs(args: argparse.Namespace) -> list[tuple[str, str, str | None]]:
    """The (kind, format or template, output file or None) triples a check writes, validated first."""
    from keytrail.render import FORMATS

    renderers = args.renderers or [("format", "text")]
    outputs: list[str] = args.output
    if len(outputs) > len(renderers):
        raise UsageError(f"{len(outputs)} --output files for {len(renderers)} formats: give a --format "
                         "(or --template) for each --output")
    for kind, value in renderers:
        if kind == "format" and value not in FORMATS:
            from keytrail.schemas import did_you_mean

            raise UsageError(f"unknown format {value!r}{did_you_mean(value, sorted(FORMATS))} "
                             f"(choose from {', '.join(FORMATS)})")
        if kind == "template" and not Path(value).is_file():
            raise UsageError(f"--template {value}: no such file")
    paired = [(kind, value, outputs[i] if i < len(outputs) else None) for i, (kind, value) in enumerate(renderers)]
    if sum(1 for _, _, out in paired if out in (None, "-")) > 1:
        raise UsageError("only one --format can write to standard output: give the others an --output file")
    return paired


def _compare_policies(args: argparse.Namespace, project: Any, state: Any, graph: Any) -> int:
    from keytrail.impact import compare, render_impact
    from keytrail.project import load_config

    impact = compare(project, load_config(Path(args.dir)), state, graph, args.compare_policies)
    _write(render_impact(impact, args.format, args.fail_on), args.output)
    return EXIT_FINDINGS if impact.failing(args.fail_on) else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from keytrail import pipeline
    from keytrail.explain import explain, explain_holders

    as_of = _time_arg(args.as_of)
    holders = args.holders or args.subject.startswith("role:")
    if holders and args.target:
        raise UsageError("explain: give TARGET, or list the holders of SUBJECT, not both")
    project = pipeline.load(args.dir)
    state = pipeline.replay(project, as_of)
    graph = pipeline.build_graph(project, state)
    if holders:
        _write(explain_holders(project, state, graph, args.subject), None)
    else:
        _write(explain(project, state, graph, args.subject, args.target), None)
    return EXIT_OK


def cmd_checks(args: argparse.Namespace) -> int:
    from keytrail.catalogue import catalogue_markdown, describe_check, list_checks

    if args.format == "markdown":
        _write(catalogue_markdown(), None)
    elif args.id:
        _write(describe_check(args.id), None)
    else:
        _write(list_checks(), None)
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from keytrail.lint import lint, render, summary

    as_of = _time_arg(args.as_of)
    report = lint(args.paths, as_of)
    _write(render(report, args.format), None)
    print(summary(report), file=sys.stderr)
    return report.exit_code


def cmd_test(args: argparse.Namespace) -> int:
    from keytrail.policytest import format_run, run

    result = run([Path(p) for p in args.paths], Path.cwd())
    text, ok = format_run(result, args.require_coverage)
    _write(text, None)
    return EXIT_OK if ok else EXIT_FINDINGS


#: How many unconvertible records ``keytrail import`` lists by place (all are counted).
INCOMPLETE_SHOWN = 20


def cmd_import(args: argparse.Namespace) -> int:
    from keytrail.importers.runner import mapping_from, run_import

    options = {f"{n}_{part}": getattr(args, f"{n}_{part}") for n in ("key", "ticket", "reason")
               for part in ("from", "pattern")}
    mapping = mapping_from(options, args.mapping)
    assume = None
    if args.assume_time is not None:
        from keytrail.timeutil import format_time

        assume = format_time(_time_arg(args.assume_time, "--assume-time", now=False))
    ctx = run_import(args.format, args.inputs, args.out, mapping, args.strict, args.force, assume)
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
    from keytrail.importers import get

    if get(args.format).KIND == "history" and not mapping.key.path:
        print("no key mapping given (--key-from): every converted change has no provisioning key, so "
              "keytrail reports each one as unexplained.missing-key until keys are mapped", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from keytrail.catalogue import schema_text

    _write(schema_text(args.name), None)
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from keytrail import pipeline, review, review_pack

    period = review.parse_period(args.period)
    as_of = review.review_time(period, _time_arg(args.as_of) if args.as_of else None)
    previous = review.read_previous(Path(args.previous)) if args.previous else None
    project = pipeline.load(args.dir)
    state = pipeline.replay(project, as_of, period.since)
    graph = pipeline.build_graph(project, state)
    report = pipeline.evaluate(project, state, graph)
    pack = review.build(project, state, graph, report, period, args.reviewer, previous)
    files = review_pack.render_pack(pack)
    review_pack.write_pack(Path(args.out), files)
    unassigned = len(pack.reviewers.get(None, []))
    print(f"keytrail: wrote {args.out}: {len(pack.rows)} grants for "
          f"{len(pack.reviewers) - (1 if unassigned else 0)} reviewers ({unassigned} with no reviewer), "
          f"{len(report.findings)} findings", file=sys.stderr)
    return EXIT_OK


def cmd_decisions(args: argparse.Namespace) -> int:
    from keytrail import decisions, pipeline

    time = _time_arg(args.time, "--time")
    out = Path(args.out)
    if out.exists():
        raise UsageError(f"--out {out}: already exists (decisions are never overwritten; choose a new file)")
    project = pipeline.load(args.dir)
    try:
        outcome = decisions.read_worksheets([Path(p) for p in args.worksheets])
        decisions.check_active(outcome, pipeline.replay(project, time))
    except KeytrailError as exc:  # worksheet problems: every one, then what it means
        print(exc, file=sys.stderr)
        n = len(exc.problems)
        print(f"keytrail: {n} error{'s' if n != 1 else ''}; nothing was written", file=sys.stderr)
        return EXIT_ERROR
    decisions.write_new(out, decisions.events_text(outcome, project, time, args.actor, args.key,
                                                   args.ticket))
    revoke = sum(1 for d in outcome.decisions if d.action == "revoke")
    print(f"keytrail: wrote {out}: {revoke} revoke, {len(outcome.decisions) - revoke} certify, "
          f"{outcome.undecided} undecided (skipped)", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"check": cmd_check, "explain": cmd_explain, "checks": cmd_checks, "schema": cmd_schema,
            "lint": cmd_lint, "test": cmd_test, "import": cmd_import, "review": cmd_review, "decisions": cmd_decisions}
