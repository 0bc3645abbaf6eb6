"""Output formats. Human formats are Jinja2 templates; machine formats are built from data.

Every format renders the same data (:mod:`keytrail.report`), so no two
formats can disagree. Renderers return ``str``; only the command line writes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from keytrail.engine import Report
from keytrail.errors import UsageError


def render_json(report: Report, fail_on: str = "high") -> str:
    import orjson

    from keytrail.report import to_data

    return orjson.dumps(to_data(report, fail_on), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


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


def render(report: Report, fmt: str, fail_on: str = "high") -> str:
    """Render ``report`` in format ``fmt``."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})") from None
    return renderer(report, fail_on)
