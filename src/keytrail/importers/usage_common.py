"""What the usage importers share: AWS responses as recorded (boto3/placebo wrappers, datetime
objects), the collection time, and building a usage record that remembers where it came from."""

from __future__ import annotations

from typing import Any

from keytrail.importers.base import Context, Record, iso_utc


def response_body(data: Any) -> Any:
    """An AWS API response without a recording's wrapper: placebo's ``{"status_code", "data"}``."""
    if isinstance(data, dict) and "status_code" in data and isinstance(data.get("data"), dict):
        return data["data"]
    return data


def aws_time(value: Any) -> str | None:
    """An AWS time as ISO 8601 UTC: the CLI's text (``2019-03-13T12:56:11.074Z``,
    ``2016-05-16T18:13:11+00:00``) or a recorded ``{"__class__": "datetime", "year": ...}``."""
    if isinstance(value, dict) and value.get("__class__") == "datetime":
        try:
            parts = [int(value.get(k, 0)) for k in ("year", "month", "day", "hour", "minute", "second")]
        except (TypeError, ValueError):
            return None
        text = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*parts)
        return iso_utc(text)
    return iso_utc(value) if isinstance(value, str) else None


def collected(ctx: Context, record: Record, found: str | None, what: str) -> str | None:
    """The collection time: the input's own (``found``), else ``--assume-time``; else a located
    problem saying how to give it (usage without a collection time cannot be judged for staleness)."""
    if found is not None:
        return found
    if ctx.assume_time is not None:
        return ctx.assume_time
    ctx.problem(record, f"{what} does not say when it was collected: give --assume-time TIME "
                        "(when the data was taken from the system)")
    return None


def usage_record(record: Record, source: str, subject: str, last_used: str | None, collected_at: str,
                 resource: str = "", **extra: Any) -> dict[str, Any]:
    """A usage record (``_where`` is removed when it is written: it locates problems)."""
    out: dict[str, Any] = {"subject": subject, "resource": resource, "last_used": last_used,
                           "source": source, "collected_at": collected_at}
    out.update({k: v for k, v in extra.items() if v is not None})
    out["_where"] = record
    return out
