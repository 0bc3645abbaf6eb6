"""Output formats. Human formats are Jinja2 templates; machine formats are built from data.

Every format renders the same data (:mod:`keytrail.report`), so no two
formats can disagree. Renderers return ``str``; only the command line writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from keytrail.engine import Report
from keytrail.errors import UsageError
from keytrail.formats import csv, github, html, junit, markdown, sarif
from keytrail.textsafe import inline, json_inert


def iter_json(report: Report, fail_on: str = "high") -> Iterator[str]:
    """The findings JSON in pieces, one finding at a time.

    The document is indented, except that each finding is written compactly
    on a line of its own: a large organisation can have hundreds of
    thousands of findings, and one per line keeps the file a third of the
    size, greppable and diffable line by line. Streaming it avoids holding
    the whole document (and every finding's evidence) in memory at once.
    """
    import orjson

    from keytrail.report import finding_data, to_data

    head = orjson.dumps(to_data(report, fail_on, findings=False), option=orjson.OPT_INDENT_2)
    text = json_inert(head.decode("utf-8"))
    if not report.findings:
        yield text + "\n"
        return
    yield text[: text.rindex("[]")] + "["
    dumps = orjson.dumps
    for n, item in enumerate(report.findings):
        # The values stay exact; bidi and other invisible characters are written as \u escapes.
        yield ("," if n else "") + "\n    " + json_inert(dumps(finding_data(report, item)).decode("utf-8"))
    yield "\n  ]\n}\n"


def render_json(report: Report, fail_on: str = "high") -> str:
    return "".join(iter_json(report, fail_on))


#: How many findings of each category and severity the text format lists by default.
TEXT_LIMIT = 50


def render_text(report: Report, fail_on: str = "high", limit: int | None = TEXT_LIMIT) -> str:
    from keytrail.report import context

    return _template("text.txt.j2", autoescape=False).render(**context(report, fail_on, limit))


@cache
def _environment(autoescape: bool) -> Any:
    import jinja2
    from markupsafe import Markup

    def inert(value: Any) -> Any:
        """Every printed value made inert (Jinja2's ``finalize``): a string is shown by
        :func:`~keytrail.textsafe.inline`, so no value can break or start a line, or
        carry an escape sequence or a bidi control, whichever field it comes from.
        Markup (a macro's output in an autoescaping template) is the template's own
        text and passes as it is."""
        if isinstance(value, str) and not isinstance(value, Markup):
            return inline(value)
        return value

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("keytrail", "templates"),
        autoescape=autoescape, undefined=jinja2.StrictUndefined, finalize=inert,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    join = env.filters["join"]

    @jinja2.pass_eval_context
    def inert_join(eval_ctx: Any, items: Any, d: str = "", attribute: Any = None) -> Any:
        # join returns Markup when autoescaping, which finalize passes: inline the items first.
        return join(eval_ctx, [inert(i) for i in items], d, attribute)

    env.filters["join"] = inert_join
    return env


def _template(name: str, autoescape: bool) -> Any:
    return _environment(autoescape).get_template(name)


def _otlp(report: Report, fail_on: str = "high") -> str:
    # OTLP/JSON logs (keytrail.otel.jsonfile): imported only when asked for.
    from keytrail.otel.jsonfile import render as otlp_render

    return otlp_render(report, fail_on)


FORMATS: dict[str, Callable[[Report, str], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": sarif.render,
    "junit": junit.render,
    "csv": csv.render,
    "markdown": markdown.render,
    "github": github.render,
    "html": html.render,
    "otlp": _otlp,
}


def render_template(report: Report, path: Path, fail_on: str = "high") -> str:
    """Render a user's own Jinja2 template, sandboxed, with the documented context
    (:mod:`keytrail.usertemplate`: includes stay in the template's folder, sizes are
    capped, every error names the template file and line)."""
    from keytrail import usertemplate
    from keytrail.report import context
    from keytrail.textsafe import inline_all

    # The template's own text is its author's; every value from input is inert before the
    # template sees it, as in every built-in format (docs/templates.md).
    return usertemplate.render(path, inline_all(context(report, fail_on, limit=None)))


def _iter_otlp(report: Report, fail_on: str = "high") -> Iterator[str]:
    from keytrail.otel.jsonfile import iter_render

    return iter_render(report, fail_on)


STREAMING: dict[str, Callable[[Report, str], Iterator[str]]] = {"json": iter_json, "otlp": _iter_otlp}


def render_chunks(report: Report, fmt: str, fail_on: str = "high",
                  limit: int | None = TEXT_LIMIT) -> Iterator[str]:
    """Render ``report`` in pieces (a streaming format writes one finding at a time)."""
    if fmt in STREAMING:
        return STREAMING[fmt](report, fail_on)
    return iter((render(report, fmt, fail_on, limit),))


def render(report: Report, fmt: str, fail_on: str = "high", limit: int | None = TEXT_LIMIT) -> str:
    """Render ``report`` in format ``fmt`` (``limit`` caps the findings listed per group in text)."""
    if fmt == "text":
        return render_text(report, fail_on, limit)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})") from None
    return renderer(report, fail_on)
