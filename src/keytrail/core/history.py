"""The columnar core's history loader, in the shape of :func:`keytrail.history.load_history`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.core import EngineOptions
from keytrail.errors import KeytrailError
from keytrail.history import History
from keytrail.history import load_history as exact


class ColumnarHistory(History):
    """A :class:`History` whose events are in a DuckDB table (``loaded``)."""

    loaded: Any = None


class Loader:
    """A ``load_history(paths, displays)`` that reads with DuckDB, or with the exact path
    when the typed read cannot vouch for every line (the exact path then reports every
    problem with its ``file:line:col``, as on a small project).

    :meth:`start` begins DuckDB's read early (before the project's YAML is read), so that
    its threads work while Python reads the directory and the key registry.
    """

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.started: tuple[Any, Any, list[Path]] | None = None

    def start(self, paths: list[Path]) -> None:
        from keytrail.core.connect import Connection, engine_errors
        from keytrail.core.load import start

        try:
            con = Connection(self.options, paths)
        except KeytrailError:
            return  # said again, in its place among the project's problems, when the history is read
        with engine_errors(con):
            self.started = (con, start(con, paths, self.options.ahead), list(paths))

    def __call__(self, paths: list[Path], displays: list[str]) -> History:
        from keytrail.core.connect import Connection, engine_errors
        from keytrail.core.load import load_history
        from keytrail.core.rows import LazyEvents

        if self.started is not None and self.started[2] == list(paths):
            con, pending, _ = self.started
        else:
            con, pending = Connection(self.options, paths), None
        self.started = None
        with engine_errors(con):
            loaded = load_history(con, paths, displays, pending)
        if loaded is None:
            con.close()
            return exact(paths, displays)
        events = LazyEvents(con, "true", {}, loaded.count)
        history = ColumnarHistory(list(displays), events, [], loaded.identifiers)  # type: ignore[arg-type]
        history.loaded = loaded
        return history


def loader(options: EngineOptions) -> Loader:
    """The columnar history loader for ``options``."""
    return Loader(options)
