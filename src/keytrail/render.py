"""Output formats. Human formats are Jinja2 templates (text is plain Python, see
:mod:`keytrail.formats.text`); machine formats are built from data.

Every format renders the same data (:mod:`keytrail.report`), so no two
formats can disagree. Renderers return ``str``; only the command line writes.
A format's module is imported when that format is rendered, not before: a
pre-commit run that prints text imports neither Jinja2 nor the XML writer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from keytrail import progress
from keytrail.errors import UsageError
from keytrail.formats.text import TEXT_LIMIT  # the text format's default, named here as before
from keytrail.textsafe import inline, json_inert

if TYPE_CHECKING:
    from keytrail.engine import Report


#: Findings written per piece of the JSON stream.
_CHUNK = 1024


def iter_json(report: Report, fail_on: str = "high") -> Iterator[str]:
    """The findings JSON in pieces, a chunk of findings at a time.

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
    if report.spool is not None:  # the lines were written as the findings were found
        progress.stage("writing json")
        yield "\n    "
        yield from report.spool.chunks()
        yield "\n  ]\n}\n"
        return
    dumps = orjson.dumps
    findings = report.findings
    progress.stage("writing json", total=len(findings), unit="findings")
    for start in range(0, len(findings), _CHUNK):
        # A chunk of findings, one per line, decoded and made inert at once: the same bytes
        # as one finding at a time (json_inert's escapes never span a line), in a fifth of
        # the calls. The values stay exact; bidi and other invisible characters are
        # written as \u escapes.
        chunk = b",\n    ".join([dumps(finding_data(report, item)) for item in findings[start:start + _CHUNK]])
        yield ("," if start else "") + "\n    " + json_inert(chunk.decode("utf-8"))
        progress.advance(min(_CHUNK, len(findings) - start))
    yield "\n  ]\n}\n"


def render_json(report: Report, fail_on: str = "high") -> str:
    return "".join(iter_json(report, fail_on))



def render_text(report: Report, fail_on: str = "high", limit: int | None = TEXT_LIMIT) -> str:
    from keytrail.formats import text

    return text.render(report, fail_on, limit)


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


R = TypeVar("R")


class _Formats(Mapping[str, R]):
    """Format name -> renderer, each format's module imported when its renderer is asked for."""

    def __init__(self, where: dict[str, str]) -> None:
        self._where = where  # name -> "module:function" (a module under keytrail)

    def __getitem__(self, name: str) -> R:
        module, _, function = self._where[name].partition(":")
        renderer: R = getattr(importlib.import_module(f"keytrail.{module}"), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


FORMATS: Mapping[str, Callable[[Report, str], str]] = _Formats({
    "text": "render:render_text",
    "json": "render:render_json",
    "sarif": "formats.sarif:render",
    "junit": "formats.junit:render",
    "csv": "formats.csv:render",
    "markdown": "formats.markdown:render",
    "github": "formats.github:render",
    "html": "formats.html:render",
    "otlp": "otel.jsonfile:render",   # OTLP/JSON logs
})


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


#: The formats written a piece at a time (line-oriented: a finding per line or row), so that
#: millions of findings stream to the output instead of being held as one string.
STREAMING: Mapping[str, Callable[[Report, str], Iterator[str]]] = _Formats({
    "json": "render:iter_json",
    "csv": "formats.csv:iter_csv",
    "otlp": "otel.jsonfile:iter_render",
})


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
