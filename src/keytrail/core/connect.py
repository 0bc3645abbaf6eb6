"""A DuckDB connection for one run: threads, memory limit, and a private folder to spill to.

DuckDB is imported here and nowhere else, and only when the columnar path runs.
The spill folder is a fresh ``tempfile.mkdtemp()`` owned by keytrail (never a path
from input, never inside the project), removed when the run's connection is closed
or the process exits.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from typing import Any

from keytrail.core import EngineOptions
from keytrail.errors import UsageError


class Connection:
    """An open DuckDB connection and the folder it may spill to."""

    def __init__(self, options: EngineOptions) -> None:
        try:
            import duckdb
        except ImportError:  # choose() checked, but the import can still fail (a broken install)
            raise UsageError("the columnar engine needs DuckDB, which cannot be imported: "
                             "pip install 'keytrail[large]' (or pip install duckdb)") from None
        self.spill = tempfile.mkdtemp(prefix="keytrail-spill-")
        config: dict[str, Any] = {"temp_directory": self.spill,
                                  # File order is the tie-break of the fold: keep rows in read order.
                                  "preserve_insertion_order": True}
        if options.memory_limit is not None:
            config["memory_limit"] = f"{options.memory_limit // (1 << 20)}MiB"
        if options.threads is not None:
            config["threads"] = options.threads
        self.db = duckdb.connect(":memory:", config=config)
        self.error = duckdb.Error
        self._finalizer = weakref.finalize(self, _cleanup, self.db, self.spill)

    def execute(self, sql: str, params: Any = None) -> Any:
        return self.db.execute(sql, params) if params is not None else self.db.execute(sql)

    def close(self) -> None:
        self._finalizer()


def _cleanup(db: Any, spill: str) -> None:
    try:
        db.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)
