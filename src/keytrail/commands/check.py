"""``keytrail check``: replay, evaluate every rule, render the findings in one or more formats."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keytrail.commands._args import (
    EXIT_FINDINGS,
    EXIT_OK,
    Renderer,
    confine_options,
    limit_arg,
    quiet_option,
    since_arg,
    time_arg,
    time_options,
)
from keytrail.commands._otel import export_findings, otlp_options, prepare
from keytrail.commands._output import Outputs, refuse_inputs
from keytrail.errors import UsageError
from keytrail.model import SEVERITIES


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("check", help="evaluate the policies and print findings",
                            description="Replay the history, check every policy rule, print findings.")
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    parser.add_argument("--format", "-f", action=Renderer, dest="renderers", metavar="FORMAT",
                        help="text (default), json, markdown, html, sarif, junit, csv, github "
                             "(workflow annotations, and the Markdown report in $GITHUB_STEP_SUMMARY) "
                             "or otlp (OpenTelemetry logs, OTLP/JSON); "
                             "repeatable: the n-th --format goes to the n-th --output")
    parser.add_argument("--template", action=Renderer, dest="renderers", metavar="FILE",
                        help="render your own Jinja2 template (sandboxed; the context is documented in "
                             "docs/formats.md); counts as a --format")
    parser.add_argument("--output", "-o", action="append", default=[], metavar="FILE",
                        help="write the matching --format to this file instead of standard output (repeatable)")
    time_options(parser)
    parser.add_argument("--fail-on", default="high", choices=SEVERITIES,
                        help="exit 1 when an unwaived finding has this severity or higher (default: high)")
    parser.add_argument("--policy", action="append", default=[], metavar="PATH",
                        help="an extra policy file to load (repeatable)")
    parser.add_argument("--baseline", metavar="FILE",
                        help="a findings JSON file (a report, or --write-baseline's): findings whose "
                             "fingerprint it has are reported as known and do not fail the run")
    parser.add_argument("--compare-policies", metavar="REF",
                        help="report what the policy change since REF (a git commit, branch or tag, "
                             "or a folder of the old policy files) adds and clears, instead of the "
                             "findings; exit 1 when it newly flags findings at or above --fail-on")
    parser.add_argument("--write-baseline", metavar="FILE",
                        help="also write this run's findings as a baseline file")
    parser.add_argument("--limit", type=limit_arg, default=50, metavar="N",
                        help="text format: list at most N findings of each category and severity "
                             "(counts stay complete; 0 lists all; default 50)")
    otlp_options(parser, "every finding")
    quiet_option(parser)
    parser.add_argument("--engine", choices=("auto", "python", "columnar"), default="auto",
                        help="how to read and replay the history: python (every project), columnar "
                             "(DuckDB; large histories), or auto (default: columnar above 64 MB of "
                             "history when DuckDB is installed); the findings are the same bytes either way")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="columnar engine: the most memory DuckDB may hold (e.g. 4GB); beyond it, "
                             "it spills to a private temporary folder")
    confine_options(parser)


def engine_options(args: argparse.Namespace) -> Any:
    """The ``--engine`` and ``--memory-limit`` options (a bad size is a usage error, exit 2)."""
    from keytrail.core import EngineOptions, parse_size

    limit = parse_size(args.memory_limit) if args.memory_limit is not None else None
    if limit is not None and args.engine == "python":
        raise UsageError("--memory-limit bounds the columnar engine; it means nothing with --engine python")
    return EngineOptions(args.engine, limit)


def run(args: argparse.Namespace) -> int:
    from keytrail import progress

    with progress.showing(args.quiet):
        finish, code = _run(args)
    # Outputs are moved into place (and standard output written) once the progress line is gone;
    # the OTLP export comes last, after them.
    finish()
    return code


def _run(args: argparse.Namespace) -> tuple[Callable[[], None], int]:
    """Everything but writing the outputs: what writes them, and the exit code."""
    from keytrail import pipeline, progress

    outputs = _outputs(args)
    if args.compare_policies:
        _impact_formats(outputs)
    args.format = outputs[0][1] if outputs[0][0] == "format" else "text"
    args.output = outputs[0][2]
    engine = engine_options(args)
    as_of = time_arg(args.as_of)
    since = since_arg(args.since, as_of)
    if args.compare_policies and args.otlp_endpoint:
        # The comparison reports a policy change, not findings: nothing would be exported.
        raise UsageError("--otlp-endpoint exports findings; --compare-policies prints no findings "
                         "(run the two separately)")
    otlp = prepare(args)  # a bad endpoint or a missing keytrail[otel] fails before the long part
    if otlp is not None or any(value == "otlp" for kind, value, _ in outputs if kind == "format"):
        from keytrail.otel.context import trace_from_env

        trace_from_env()  # an invalid TRACEPARENT fails now, not after the check
    baseline = None
    if args.baseline:  # read first: a bad baseline should fail before the long part
        from keytrail.baseline import read_baseline

        baseline = read_baseline(Path(args.baseline))
    # The columnar core may make the replay's results while the rest of the project is read.
    engine = dataclasses.replace(engine, ahead=(as_of, since))
    project = pipeline.load(args.dir, [Path(p) for p in args.policy], args.allow_outside, engine)
    from keytrail.engine import require_rules

    require_rules(project)  # before the replay: a run that would check nothing fails at once
    refuse_inputs(_written(args, outputs), _read(args, project))
    state = pipeline.replay(project, as_of, since)
    graph = pipeline.build_graph(project, state)
    if args.compare_policies:
        return _compare_policies(args, outputs, project, state, graph)
    # When the findings JSON is the only thing written, each rule's findings are written as
    # the rule finishes (keytrail.spool) rather than all held: a large organisation has millions.
    spool = (not args.write_baseline and otlp is None
             and all(kind == "format" and value == "json" for kind, value, _ in outputs))
    report = pipeline.evaluate(project, state, graph, spool=spool, baseline=baseline)
    from keytrail.render import render_chunks, render_template

    # Everything is rendered before anything is moved into place: a failure anywhere
    # (a template error, a full disk, an unwritable folder) leaves every output as it was.
    staged = Outputs()
    try:
        if args.write_baseline:
            from keytrail.baseline import baseline_text

            staged.add(args.write_baseline, baseline_text(report))
        for kind, value, output in outputs:
            if kind == "template":
                staged.add(output, render_template(report, Path(value), args.fail_on))
            else:
                progress.stage(f"writing {value}")
                staged.add(output, render_chunks(report, value, args.fail_on, args.limit or None))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if any(kind == "format" and value == "github" for kind, value, _ in outputs) and summary:
            # GitHub renders this file on the run's page: the full Markdown report.
            staged.append(summary, pipeline.render(report, "markdown", args.fail_on), "the step summary")
    except BaseException:
        staged.discard()
        raise
    finally:
        if report.spool is not None:  # every output is rendered: its temporary file can go
            report.spool.close()

    def finish() -> None:
        staged.commit()
        if otlp is not None:
            export_findings(report, args.fail_on, otlp)  # last: the other outputs are written already

    if args.write_baseline:
        # Writing a baseline accepts this run's findings: the run did what was asked.
        return finish, EXIT_OK
    return finish, EXIT_FINDINGS if report.fails_any(args.fail_on) else EXIT_OK


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
    if outputs and len(outputs) < len(renderers):
        # An unpaired format would go to standard output unasked, mixed into a log.
        raise UsageError(f"{len(renderers)} formats for {len(outputs)} --output files: give each "
                         "--format (or --template) its --output (`-o -` for standard output)")
    paired = [(kind, value, outputs[i] if i < len(outputs) else None) for i, (kind, value) in enumerate(renderers)]
    if sum(1 for _, _, out in paired if out in (None, "-")) > 1:
        raise UsageError("only one --format can write to standard output: give the others an --output file")
    return paired


def _written(args: argparse.Namespace, outputs: list[tuple[str, str, str | None]]) -> list[tuple[str, str]]:
    """Every (option, file) this run writes."""
    written = [("--output", out) for _, _, out in outputs if out not in (None, "-")]
    if args.write_baseline:
        written.append(("--write-baseline", args.write_baseline))
    return written


def _read(args: argparse.Namespace, project: Any) -> list[Path]:
    """Every file this run reads (a baseline may be rewritten in place by --write-baseline)."""
    read = list(project.inputs)
    read.extend(Path(value) for kind, value in (args.renderers or []) if kind == "template")
    if args.baseline and not (args.write_baseline and Path(args.write_baseline).resolve()
                              == Path(args.baseline).resolve()):
        read.append(Path(args.baseline))
    return read


def _compare_policies(args: argparse.Namespace, outputs: list[tuple[str, str, str | None]],
                      project: Any, state: Any, graph: Any) -> tuple[Callable[[], None], int]:
    from keytrail.impact import compare, impact_data, render_impact
    from keytrail.project import load_config

    impact = compare(project, load_config(Path(args.dir), args.allow_outside), state, graph,
                     args.compare_policies)
    data = impact_data(impact, args.fail_on)
    staged = Outputs()
    try:
        for _, value, output in outputs:
            staged.add(output, render_impact(impact, value, args.fail_on, data))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if any(value == "github" for _, value, _ in outputs) and summary:
            staged.append(summary, render_impact(impact, "markdown", args.fail_on, data), "the step summary")
    except BaseException:
        staged.discard()
        raise
    return staged.commit, EXIT_FINDINGS if impact.failing(args.fail_on) else EXIT_OK


def _impact_formats(outputs: list[tuple[str, str, str | None]]) -> None:
    """Every format asked for is one a policy-impact report has, or the run refuses at once."""
    from keytrail.impact import IMPACT_FORMATS

    for kind, value, _ in outputs:
        if kind != "format" or value not in IMPACT_FORMATS:
            raise UsageError(f"--compare-policies renders {', '.join(IMPACT_FORMATS)}, "
                             f"not {'a --template' if kind != 'format' else value}")
