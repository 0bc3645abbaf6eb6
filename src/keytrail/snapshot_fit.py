"""Whether the project's snapshot may be compared with the history as of the review time.

A snapshot is access as observed in the real system at one moment, its capture
time (``snapshot_time:`` in keytrail.yaml). Comparing it with the history
replayed to another moment reports every change in between as drift: a Q2
review against a snapshot taken in Q4, or ``check --as-of 2026-01-01`` against
today's export, would be full of false criticals. So the drift checks
(``unexplained.drift-extra``, ``unexplained.drift-missing``) run only when the
snapshot was captured at or before ``as_of`` and at most ``max_snapshot_age``
(default 7 days) before it; otherwise they are skipped, and every report says so.
A snapshot with no capture time is never compared: nobody can tell what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from keytrail.timeutil import DAY, SECOND, format_duration, format_time

#: How long before ``as_of`` a snapshot may have been captured and still be compared (``max_snapshot_age``).
DEFAULT_MAX_AGE = 7 * DAY


@dataclass(frozen=True)
class SnapshotUse:
    """Whether the drift checks compare the snapshot, and the sentence every report prints."""

    used: bool
    message: str
    file: str | None = None
    captured: int | None = None


def fit(file: str | None, captured: int | None, max_age: int, as_of: int) -> SnapshotUse:
    """Whether a snapshot ``file`` captured at ``captured`` fits a review as of ``as_of``."""
    if file is None:
        return SnapshotUse(False, "no snapshot configured: drift against the real system was not checked")
    limit = format_duration(max_age)
    if captured is None:
        return SnapshotUse(False, f"snapshot {file} not used: it has no capture time (set snapshot_time: "
                                  "in keytrail.yaml); drift was not checked", file)
    when = format_time(captured)
    if captured > as_of:
        return SnapshotUse(False, f"snapshot {file} not used: captured {when}, after {format_time(as_of)}; "
                                  "drift was not checked", file, captured)
    age = as_of - captured
    if age > max_age:
        return SnapshotUse(False, f"snapshot {file} not used: captured {when}, {_age(age)} before "
                                  f"{format_time(as_of)} (max_snapshot_age {limit}); drift was not checked",
                           file, captured)
    return SnapshotUse(True, f"drift checked against snapshot {file} captured {when} "
                             f"({_age(age)} before {format_time(as_of)}; max_snapshot_age {limit})",
                       file, captured)


def _age(us: int) -> str:
    """``3d 4h``, ``5h 10m``, ``40s``: how long before as_of, to the minute."""
    days, rest = divmod(us, DAY)
    hours, rest = divmod(rest, 3600 * SECOND)
    minutes, seconds = divmod(rest, 60 * SECOND)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts[:2]) if parts else f"{seconds // SECOND}s"
