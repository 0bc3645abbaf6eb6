"""Results the replay and the checks read, made ahead while Python still reads the project.

Some queries need only the event table and the run's times (``--as-of``, ``--since``):
the fold, the active grants, the replay notes, the per-key aggregates, the events sharing
an id. When the command knows its times before the load (``keytrail check``:
:attr:`~keytrail.core.EngineOptions.ahead`), the typed read's thread runs them as soon as
the table is built, while the main thread reads the YAML and scans the bytes (at 5M
events DuckDB finished its read 8 s before Python finished those; at 500k, about 1 s).

Each result is a temp table named as its statement. Whoever needs one calls
:func:`result`: made ahead for the same times, it is there; otherwise it is made then,
on the caller's thread, by the same statement, so the rows are the same either way.
A statement that fails ahead (out of memory, say) is simply made again when asked, and
fails then with its message in its place.
"""

from __future__ import annotations

from typing import Any

from keytrail.core.connect import Connection
from keytrail.core.queries import condition, sql

#: Each result: the core/sql file that makes it and the times it is made for, in the order
#: they run ahead (active and anomalies read the fold).
STATEMENTS: dict[str, tuple[str, ...]] = {
    "fold": ("as_of",),
    "active": ("as_of",),
    "anomalies": ("as_of",),
    "key_uses": ("as_of",),
    "duplicates": ("as_of",),
    "key_targets": ("as_of", "since"),
    "key_actors": ("as_of", "since"),
}


def _statement(name: str) -> str:
    text = sql(name).rstrip().rstrip(";")
    if "{changes}" in text:
        text = text.format(changes=condition("changes"))
    return f"CREATE OR REPLACE TEMP TABLE {name} AS {text}"


def _make(con: Connection, name: str, as_of: int, since: int | None) -> None:
    """Make ``name``'s table for these times, unless it is there already for them."""
    given = {"as_of": as_of, "since": since}
    times = {time: given[time] for time in STATEMENTS[name]}
    key = tuple(sorted(times.items()))
    if con.made.get(name) != key:
        con.execute(_statement(name), times)
        con.made[name] = key


def result(con: Connection, name: str, as_of: int, since: int | None = None) -> str:
    """The temp table holding ``name``'s rows for these times (made now unless made ahead)."""
    con.wait()  # the load's thread may be making it now
    _make(con, name, as_of, since)
    return name


def drop(con: Connection, name: str) -> None:
    """Free a result no one will ask for again."""
    con.execute(f"DROP TABLE IF EXISTS {name}")
    con.made.pop(name, None)


def run(con: Connection, as_of: int, since: int | None, stopped: Any) -> None:
    """Make every result for these times, on the calling thread (the typed read's), until
    ``stopped()``; a statement that fails is left to be made when asked."""
    for name in STATEMENTS:
        if stopped():
            return
        try:
            _make(con, name, as_of, since)
        except con.error:
            return  # made again when asked, where its error is reported
