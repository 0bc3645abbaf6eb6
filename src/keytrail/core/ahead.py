"""Results the replay and the checks read, made ahead while Python still reads the project.

Some queries need only the event table and the run's times (``--as-of``, ``--since``):
the fold, the active grants, the replay notes, the per-key aggregates, the events sharing
an id. When the command knows its times before the load (``keytrail check``:
:attr:`~keytrail.core.EngineOptions.ahead`), the typed read's thread runs them as soon as
the table is built, while the main thread reads the YAML and scans the bytes (at 5M
events DuckDB finished its read 8 s before Python finished those; at 500k, about 1 s).

Each result is a table named as its statement, in the in-memory database
(:data:`~keytrail.core.connect.RESULTS`), which both of the run's connections see: the
load's thread makes them on its own connection (``Connection.side``) while the caller's
queries run on the other. Whoever needs one calls :func:`result`, which waits for that
result only (the replay reads the active grants while the notes and the per-key
aggregates are still being made): made ahead for the same times, it is there; otherwise
it is made then, on the caller's thread, by the same statement, so the rows are the same
either way. A statement that fails ahead (out of memory, say) is simply made again when
asked, and fails then with its message in its place.
"""

from __future__ import annotations

from typing import Any

from keytrail.core.connect import RESULTS, Connection
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
    return f"CREATE OR REPLACE TABLE {RESULTS}.{name} AS {text}"


def _key(name: str, as_of: int, since: int | None) -> tuple[Any, ...]:
    """What ``name``'s rows depend on: the times its statement reads."""
    given = {"as_of": as_of, "since": since}
    return tuple(sorted((time, given[time]) for time in STATEMENTS[name]))


def _make(con: Connection, session: Any, name: str, as_of: int, since: int | None) -> None:
    """Make ``name``'s table for these times on ``session``, unless it is there for them."""
    key = _key(name, as_of, since)
    if con.made.get(name) != key:
        session.execute(_statement(name), dict(key))
        con.made[name] = key


def expect(con: Connection) -> None:
    """Before the load's thread starts: every result is to be made ahead, so that a caller
    asking for one waits for it rather than making it beside that thread."""
    with con.settled:
        con.settling = set(STATEMENTS)


def give_up(con: Connection) -> None:
    """Nothing more is made ahead (the typed read failed, or was stopped): each result is
    made when asked."""
    _settle(con, *STATEMENTS)


def _settle(con: Connection, *names: str) -> None:
    with con.settled:
        con.settling.difference_update(names)
        con.settled.notify_all()


def result(con: Connection, name: str, as_of: int, since: int | None = None) -> str:
    """The table holding ``name``'s rows for these times (made now unless made ahead)."""
    con.wait()  # the typed read
    key = _key(name, as_of, since)
    with con.settled:
        con.settled.wait_for(lambda: name not in con.settling)
        if con.made.get(name) != key:
            # To be made here (other times, or it failed ahead): not beside the load's thread,
            # whose statements may read the table this one replaces.
            con.settled.wait_for(lambda: not con.settling)
    _make(con, con, name, as_of, since)
    return name


def drop(con: Connection, name: str) -> None:
    """Free a result no one will ask for again."""
    con.execute(f"DROP TABLE IF EXISTS {RESULTS}.{name}")
    con.made.pop(name, None)


def run(con: Connection, as_of: int, since: int | None, stopped: Any) -> None:
    """Make every result for these times on ``con.side``, in order, settling each as it is
    made, until ``stopped()``; from a statement that fails on, they are left to be made when
    asked (where the error is reported)."""
    try:
        for name in STATEMENTS:
            if stopped():
                return
            try:
                _make(con, con.side, name, as_of, since)
            except con.error:
                return
            finally:
                _settle(con, name)
    finally:
        give_up(con)
