"""The columnar core's history loader, in the shape of :func:`keytrail.history.load_history`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.core import EngineOptions
from keytrail.history import History
from keytrail.history import load_history as exact


class ColumnarHistory(History):
    """A :class:`History` whose events are in a DuckDB table (``loaded``)."""

    loaded: Any = None


def loader(options: EngineOptions) -> Any:
    """A ``load_history(paths, displays)`` that reads with DuckDB, or with the exact path
    when the typed read cannot vouch for every line (the exact path then reports every
    problem with its ``file:line:col``, as on a small project)."""

    def load(paths: list[Path], displays: list[str]) -> History:
        from keytrail.core.connect import Connection, engine_errors
        from keytrail.core.load import load_history
        from keytrail.core.rows import LazyEvents

        con = Connection(options, paths)
        with engine_errors(con):
            loaded = load_history(con, paths, displays)
        if loaded is None:
            con.close()
            return exact(paths, displays)
        events = LazyEvents(con, "true", {}, loaded.count)
        history = ColumnarHistory(list(displays), events, [], loaded.identifiers)  # type: ignore[arg-type]
        history.loaded = loaded
        return history

    return load
