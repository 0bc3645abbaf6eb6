"""The core's queries, read from ``core/sql/`` (one place, plain SQL files)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql(name: str) -> str:
    """The text of ``core/sql/<name>.sql`` without its comment lines (some are spliced into others)."""
    text = resources.files("keytrail.core").joinpath("sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def condition(name: str) -> str:
    """A WHERE condition from ``core/sql/``, as one line."""
    return " ".join(sql(name).split("\n"))
