"""Rows back to Python: selected events of the table ``ev`` as :class:`~keytrail.model.Event`.

Only what a question needs is turned into objects: the active grants, the rows a
check's query flags, the lifecycle events. Rows come as one JSON array text each
(DuckDB's ``json_array``), a batch at a time, which orjson parses faster than DuckDB
hands over row tuples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson

from keytrail.core.connect import Connection
from keytrail.core.queries import sql
from keytrail.model import Event

#: How many times a whole history was turned into objects (LazyEvents); the tests
#: hold a columnar ``check`` to zero.
FULL_READS = [0]
_BATCH = 50_000


def fetch(con: Connection, where: str, params: dict[str, Any]) -> tuple[list[Event], list[int]]:
    """The events matching ``where`` (a fixed condition from core/sql), in replay order, and their ``ord``."""
    cursor = con.execute(sql("rows").format(where=where), params)
    events: list[Event] = []
    ords: list[int] = []
    new = tuple.__new__
    while True:
        # A batch at a time: a million active grants as one text would need DuckDB to hold
        # it whole, which --memory-limit forbids.
        batch = cursor.fetchmany(_BATCH)
        if not batch:
            break
        for row in orjson.loads("[" + ",".join(r[0] for r in batch) + "]"):
            ords.append(int(row.pop()))  # a HUGEINT, passed as text (JSON numbers stop at 64 bits)
            source = row.pop()
            owner = row.pop()
            attributes = row[14]
            # The typed read refused lines with more than one of these (their order in the
            # line, which extra keeps, is not in the table).
            if attributes is not None:
                row[14] = {"attributes": attributes}
            elif owner is not None:
                row[14] = {"owner": owner}
            elif source is not None:
                row[14] = {"source": source}
            events.append(new(Event, row))
    return events, ords


def by_ord(con: Connection, ords: list[int]) -> dict[int, Event]:
    """The events with these ``ord`` values."""
    if not ords:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest(?::HUGEINT[]) AS o", [ords])
    events, found = fetch(con, "ord IN (SELECT o FROM wanted)", {})
    return dict(zip(found, events, strict=True))


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
            self._all = fetch(self._con, self._where, self._params)[0]
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
