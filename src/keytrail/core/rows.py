"""Rows back to Python: selected events of the table ``ev`` as :class:`~keytrail.model.Event`.

Only what a question needs is turned into objects: the active grants, the rows a
check's query flags, the lifecycle events. Rows come as one JSON array text each
(DuckDB's ``json_array``), a batch at a time, which orjson parses faster than DuckDB
hands over typed row tuples (measured: 0.3 µs a value for those).

Three things keep the cost down (measured at 500k events, every event fetched):
no ``ord`` column (a HUGEINT costs DuckDB 1.5 µs a value to hand over; it is
computed from time, file and line instead, :func:`ord_of`); the cyclic garbage
collector paused while objects are built (the tuples hold no cycles, and each
collection walked every tuple built so far: half the time); and repeated strings
(identifiers, keys, actions, tickets, reasons) shared, one object per distinct
value, as the Python path's loader does (820 bytes an event down to 320).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, overload

import orjson

from keytrail.core.connect import Connection
from keytrail.core.queries import sql
from keytrail.model import Event

#: How many times a whole history was turned into objects (LazyEvents); the tests
#: hold a columnar ``check`` to zero.
FULL_READS = [0]
_BATCH = 10_000
#: ``ord`` is the time, then the row's place in the read, packed as core/sql/events.sql packs it.
_TIME = 1 << 64


def ord_of(event: Event, first_rows: Sequence[int]) -> int:
    """The event's ``ord`` in the table (its replay order), computed as events.sql packs it
    from its time, file and line (``first_rows``: each file's first rowid)."""
    return event.time * _TIME + first_rows[event.file] + event.line - 1


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while many acyclic objects are built, then as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def decoded(cursor: Any, pool: dict[str, str]) -> Iterator[tuple[Event, list[Any]]]:
    """Each row of ``cursor`` (a json_array text whose first 17 items are rows.sql's event
    columns) as an Event, with the row's further items; strings shared through ``pool``."""
    new = tuple.__new__
    share = pool.setdefault
    loads = orjson.loads
    while True:
        # A batch at a time: a million active grants as one text would need DuckDB to hold
        # it whole, which --memory-limit forbids; 10,000 rows keep the text and its parse
        # small (the peak at 500k events fell from 171 to 69 MiB, at the same speed).
        batch = cursor.fetchmany(_BATCH)
        if not batch:
            return
        for row in loads("[" + ",".join([r[0] for r in batch]) + "]"):
            (id_, time, action, subject, target, resource, actor, key, approver, ticket, reason,
             expires, file, line, attributes, owner, source) = row[:17]
            # The typed read refused lines with more than one of these (their order in the
            # line, which extra keeps, is not in the table).
            if attributes is not None:
                extra: dict[str, Any] | None = {"attributes": attributes}
            elif owner is not None:
                extra = {"owner": share(owner, owner)}
            elif source is not None:
                extra = {"source": source}
            else:
                extra = None
            event = new(Event, (id_, time, share(action, action), share(subject, subject),
                                share(target, target), share(resource, resource), share(actor, actor),
                                share(key, key), share(approver, approver), share(ticket, ticket),
                                share(reason, reason), expires, file, line, extra))
            yield event, row[17:]


def events(con: Connection, where: str, params: dict[str, Any], pool: dict[str, str] | None = None
           ) -> list[Event]:
    """The events matching ``where`` (a fixed condition from core/sql), in replay order."""
    cursor = con.execute(sql("rows").format(where=where), params)
    with paused_gc():
        return [event for event, _ in decoded(cursor, {} if pool is None else pool)]


def by_ord(con: Connection, ords: list[int]) -> dict[int, Event]:
    """The events with these ``ord`` values."""
    if not ords:
        return {}
    # The times as well: `time` is stored, so DuckDB skips the row groups outside them
    # (`ord` is computed, events.sql); a lookup of a few events then reads a few blocks.
    found = events(con, "time IN (SELECT unnest($times::BIGINT[])) AND ord IN (SELECT unnest($ords::HUGEINT[]))",
                   {"times": sorted({o >> 64 for o in ords}), "ords": ords})
    return {ord_of(event, con.first_rows): event for event in found}


class LazyEvents(Sequence[Event]):
    """Every event matching a condition, turned into objects only if something asks for them all.

    A columnar run's checks never do (they get their rows from queries); code that
    walks every event still works, at the Python path's cost.
    """

    def __init__(self, con: Connection, where: str, params: dict[str, Any], count: int) -> None:
        self._con, self._where, self._params, self._count = con, where, params, count
        self._all: list[Event] | None = None

    def _events(self) -> list[Event]:
        if self._all is None:
            FULL_READS[0] += 1
            self._all = events(self._con, self._where, self._params)
        return self._all

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self._events()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events())
