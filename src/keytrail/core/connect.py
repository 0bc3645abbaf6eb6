"""A DuckDB connection for one run: threads, memory limit, and a private folder to spill to.

DuckDB is imported here and nowhere else, and only when the columnar path runs.
The spill folder is a fresh ``tempfile.mkdtemp()`` owned by keytrail (never a path
from input, never inside the project), removed when the run's connection is closed
or the process exits. A history too large for DuckDB's memory keeps its tables in a
database file there (``history.duckdb``), where DuckDB stores them compressed
(:data:`ON_DISK_SHARE`).

The connection is locked down before any query runs: it may read only the history
files it is given and write only its spill folder (``enable_external_access`` off,
``allowed_paths``, ``allowed_directories``), it never installs or loads an extension
(no network), it draws no progress bar (stdout and stderr are keytrail's), and its
configuration is then locked so no later statement can loosen it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keytrail.core import EngineOptions, history_bytes
from keytrail.errors import KeytrailError, UsageError

#: DuckDB's share of memory when ``--memory-limit`` is not given (its own default is 80 %
#: of the machine, which it took: 6.2 GiB at 5M events). The Python side holds the active
#: grants, the graph and the findings beside it, so DuckDB spills past 512 MiB rather than
#: stacking its peak on theirs (docs/large-histories.md). Measured at 5M events: 1 GiB gave
#: a 2,366 MiB peak in 105 s, 512 MiB 1,782 MiB in 111 s; at 500k events the same time.
DEFAULT_MEMORY_LIMIT = 512 << 20


#: The event table is kept in memory when the history's size on disk is under this share of
#: DuckDB's memory, and otherwise in a database file in the spill folder, where DuckDB
#: stores it compressed (a fifth of the size: 250 MiB for 5M events, 1.4 GB of JSON, against
#: 1.2 GiB uncompressed in memory). A table larger than the memory limit spills uncompressed
#: and every later scan reads it back: at 5M events with 512 MiB, the replay took 21 s in
#: memory and 13 s from the file, the checks' queries about half as long again.
ON_DISK_SHARE = 2


def memory_limit(options: EngineOptions) -> int:
    """The bytes DuckDB may hold: ``--memory-limit``, else 512 MiB or a quarter of the machine's
    memory where that is less (a small CI runner)."""
    if options.memory_limit is not None:
        return options.memory_limit
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: no such names
        return DEFAULT_MEMORY_LIMIT
    return max(64 << 20, min(DEFAULT_MEMORY_LIMIT, physical // 4))


class Connection:
    """An open DuckDB connection and the folder it may spill to."""

    def __init__(self, options: EngineOptions, readable: Sequence[Path] = ()) -> None:
        try:
            import duckdb
        except ImportError:  # choose() checked, but the import can still fail (a broken install)
            raise UsageError("the columnar engine needs DuckDB, which cannot be imported: "
                             "pip install 'keytrail[large]' (or pip install duckdb)") from None
        self.spill = tempfile.mkdtemp(prefix="keytrail-spill-")
        config: dict[str, Any] = {"temp_directory": self.spill,
                                  # File order is the tie-break of the fold: keep rows in read order.
                                  "preserve_insertion_order": True,
                                  "autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False}
        limit = memory_limit(options)
        config["memory_limit"] = f"{limit // (1 << 20)}MiB"
        if options.threads is not None:
            config["threads"] = options.threads
        self.db = duckdb.connect(":memory:", config=config)
        self.error = duckdb.Error
        #: Whether the tables live in a database file in the spill folder (see ON_DISK_SHARE).
        self.on_disk = history_bytes(readable) > limit // ON_DISK_SHARE
        if self.on_disk:
            # Before the configuration is locked; the file is in the spill folder, removed with it.
            self.db.execute(f"ATTACH {_literal(os.path.join(self.spill, 'history.duckdb'))} AS history")
            self.db.execute("USE history")
        # Set once the database has started (DuckDB refuses them earlier), then locked.
        self.db.execute(f"SET allowed_paths = {_list(str(p) for p in readable)}")
        self.db.execute(f"SET allowed_directories = {_list([self.spill])}")
        self.db.execute("SET enable_progress_bar = false")
        self.db.execute("SET enable_external_access = false")
        self.db.execute("SET lock_configuration = true")
        # Threads reading with this connection (core/load.py): joined before it is closed.
        self.threads: list[Any] = []
        #: Each history file's first rowid in the event table (core/load.py sets them;
        #: rows.ord_of packs an event's ord with them, as core/sql/events.sql does).
        self.first_rows: list[int] = []
        #: The results made (core/ahead.py): temp table -> the times it was made for.
        self.made: dict[str, tuple[Any, ...]] = {}
        #: The typed read's thread while it may still be making results ahead: any other
        #: thread's query waits for it (a DuckDB connection runs one statement at a time).
        self.worker: threading.Thread | None = None
        self._finalizer = weakref.finalize(self, _cleanup, self.db, self.spill, self.threads)

    def wait(self) -> None:
        """From any thread but the load's: wait until the load's thread is done with the
        connection (it may still be making results ahead, core/ahead.py)."""
        worker = self.worker
        if worker is not None and worker is not threading.current_thread():
            worker.join()
            self.worker = None

    def execute(self, sql: str, params: Any = None) -> Any:
        self.wait()
        return self.db.execute(sql, params) if params is not None else self.db.execute(sql)

    def close(self) -> None:
        self._finalizer()


@contextmanager
def engine_errors(con: Connection) -> Iterator[None]:
    """DuckDB's errors (out of memory, a full disk) as keytrail errors: exit 2, a clear message."""
    try:
        yield
    except con.error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = ""
        if "Out of Memory" in first:
            hint = (" (raise --memory-limit, or give DuckDB more room to spill: it writes to "
                    f"{con.spill})")
        raise KeytrailError(f"the columnar engine stopped: {first}{hint}") from None


def _list(values: Iterable[str]) -> str:
    """A SQL list of string literals (SET takes no bound parameters); quotes doubled."""
    return "[" + ", ".join(_literal(v) for v in values) + "]"


def _literal(value: str) -> str:
    """A SQL string literal (ATTACH and SET take no bound parameters): quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _cleanup(db: Any, spill: str, threads: list[Any]) -> None:
    """Close the database and remove its spill folder. At exit after an interruption (Ctrl-C,
    SIGTERM) the typed read's thread may still be in a query: it is interrupted and joined
    first (a thread still inside DuckDB when Python finalizes aborts the process), and a
    connection that still refuses to close is left to end with the process; the folder
    (which may hold gigabytes) is removed either way."""
    try:
        db.interrupt()
        for thread in threads:
            thread.join(timeout=60)
        db.close()
    except Exception:  # noqa: BLE001 - only at exit or close; nothing is left to report it to
        pass
    finally:
        shutil.rmtree(spill, ignore_errors=True)
