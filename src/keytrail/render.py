"""Output formats. Human formats are Jinja2 templates; machine formats are built from data.

Every format renders the same data (:mod:`keytrail.report`), so no two
formats can disagree. Renderers return ``str``; only the command line writes.
"""

from __future__ import annotations

from functools import lru_cache
from collections.abc import Iterator
from typing import Any, Callable

from keytrail.engine import Report
from keytrail.errors import UsageError


def iter_json(report: Report, fail_on: str = "high") -> Iterator[str]:
    """The findings JSON in pieces, one finding at a time.

    A large organisation can have hundreds of thousands of findings; building
    the whole document as one string would double the peak memory. The bytes
    are exactly those of ``orjson.dumps(to_data(report), OPT_INDENT_2)``.
    """
    import orjson

    from keytrail.report import finding_data, to_data

    indent = orjson.OPT_INDENT_2
    head = to_data(report, fail_on, findings=False)
    if not report.findings:
        yield orjson.dumps(head, option=indent).decode("utf-8") + "\n"
        return
    text = orjson.dumps(head, option=indent).decode("utf-8")
    yield text[: text.rindex("[]")] + "["
    sep = "\n    "
    for n, item in enumerate(report.findings):
        body = orjson.dumps(finding_data(report, item), option=indent).decode("utf-8")
        yield ("," if n else "") + sep + body.replace("\n", sep)
    yield "\n  ]\n}\n"


def render_json(report: Report, fail_on: str = "high") -> str:
    return "".join(iter_json(report, fail_on))


def render_text(report: Report, fail_on: str = "high") -> str:
    from keytrail.report import context

    return _template("text.txt.j2", autoescape=False).render(**context(report, fail_on))


@lru_cache(maxsize=None)
def _environment(autoescape: bool) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("keytrail", "templates"),
        autoescape=autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _template(name: str, autoescape: bool) -> Any:
    return _environment(autoescape).get_template(name)


FORMATS: dict[str, Callable[[Report, str], str]] = {
    "text": render_text,
    "json": render_json,
}


STREAMING: dict[str, Callable[[Report, str], Iterator[str]]] = {"json": iter_json}


def render_chunks(report: Report, fmt: str, fail_on: str = "high") -> Iterator[str]:
    """Render ``report`` in pieces (a streaming format writes one finding at a time)."""
    if fmt in STREAMING:
        return STREAMING[fmt](report, fail_on)
    return iter((render(report, fmt, fail_on),))


def render(report: Report, fmt: str, fail_on: str = "high") -> str:
    """Render ``report`` in format ``fmt``."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})") from None
    return renderer(report, fail_on)
