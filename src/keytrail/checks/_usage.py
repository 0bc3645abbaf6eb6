"""What the unused-access checks share: their parameters and the usage that fits a review."""

from __future__ import annotations

from typing import Any

from keytrail.timeutil import DAY, format_date, format_duration

PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "unused_for": {"type": "string", "format": "duration", "default": "90d",
                       "description": "How long access may go unused (and, for access never used, how long "
                                      "it may have been held) before it is reported."},
        "max_staleness": {"type": "string", "format": "duration", "default": "7d",
                          "description": "How long before the review time the usage data may have been "
                                         "collected and still be relied on; older usage is left out (the "
                                         "report says so) and never read as unused."},
    },
    "additionalProperties": False,
}


def usage(view: Any, params: dict[str, Any]) -> Any:
    """The project's usage that fits ``as_of`` under ``max_staleness`` (a usage.judge.Usage), built
    once per view and parameters: both checks and the report's note read it."""
    from keytrail.usage.judge import Usage

    key = ("usage", params["max_staleness"])
    found = view.memo.get(key)
    if found is None:
        found = view.memo[key] = Usage.of(view.project.usage, view.as_of, params["max_staleness"])
    return found


def last_use_text(last_used: int | None, as_of: int) -> str:
    """``last used 2026-05-01 (152 days before the review)`` or ``never used``."""
    if last_used is None:
        return "never used"
    return f"last used {format_date(last_used)} ({(as_of - last_used) // DAY} days before the review)"


def evidence(use: Any, as_of: int, params: dict[str, Any]) -> dict[str, Any]:
    """The facts every unused-access finding shows: last use, the data's source and age, the limits."""
    from keytrail.timeutil import format_time

    return {"last_used": format_time(use.last_used), "never_used": use.last_used is None,
            "unused_days": None if use.last_used is None else (as_of - use.last_used) // DAY,
            "usage_sources": list(use.sources), "usage_collected_at": format_time(use.collected_at),
            "usage_age_days": use.age(as_of) // DAY, "unused_for": format_duration(params["unused_for"]),
            "max_staleness": format_duration(params["max_staleness"]),
            "usage_records": [{"at": f"{r.file}:{r.line}", "source": r.source, **dict(r.extra)}
                              for r in use.records[:10]]}
