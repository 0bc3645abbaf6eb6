"""The columnar core: the load and replay stages over columns, for large histories.

``keytrail check`` reads a small project with the pure-Python path
(:mod:`keytrail.history`, :mod:`keytrail.replay`), which starts instantly. A
large history (over :data:`THRESHOLD_BYTES` of history files) is read by DuckDB
into a table instead: the fold is a hash aggregate, and the event-scanning
checks get only the rows their query selects (see ``core/sql/``). Only the
active grants and the flagged rows become :class:`~keytrail.model.Event`
objects, so the graph, the checks and every renderer stay one code path.

This module decides which path runs; it imports nothing heavy (DuckDB is
imported in :mod:`keytrail.core.connect`, only when the columnar path runs).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from keytrail.errors import UsageError

ENGINES = ("auto", "python", "columnar")
#: Above this many bytes of history, ``--engine auto`` reads with the columnar core when
#: DuckDB is installed. Measured side by side (docs/design/columnar-core.md): at 50k events
#: (14 MB) the two engines use the same CPU and the python path a third of the memory; at
#: 500k events (133 MB) the columnar core is faster in CPU and much faster in wall time.
THRESHOLD_BYTES = 64 << 20
#: Above this many bytes, ``--engine auto`` without DuckDB is an error rather than the python
#: path with a note: a history this large needs the columnar core's bounded memory.
REQUIRED_BYTES = 1 << 30

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class EngineOptions:
    """How to run the load and replay stages: ``--engine`` and ``--memory-limit``."""

    engine: str = "auto"
    memory_limit: int | None = None   # bytes; None: connect.memory_limit's default (512 MiB)
    threads: int | None = None        # None: DuckDB's default (every core)
    #: The replay's as-of and since (epoch microseconds), when the command knows them before
    #: the load: the core then makes the replay's results while the project is read (core/ahead.py).
    ahead: tuple[int, int | None] | None = None


def parse_size(text: str, option: str = "--memory-limit") -> int:
    """``4GB``, ``512MB``, ``1.5GiB`` or a number of bytes; a usage error otherwise.

    Units are powers of 1024 (as DuckDB reads them); at least 64 MB, since less cannot
    hold DuckDB's own buffers and fails later with a less clear message.
    """
    m = _SIZE.match(text)
    if m is None:
        raise UsageError(f"{option}: {text!r} is not a size such as 4GB, 512MB or 1.5GiB")
    size = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if size < 64 << 20:
        raise UsageError(f"{option}: {text!r} is too small (at least 64MB)")
    return size


def _size(n: int) -> str:
    return f"{n / (1 << 30):.3g} GB" if n >= 1 << 30 else f"{n / (1 << 20):.3g} MB"


def available() -> bool:
    """Whether DuckDB can be imported (without importing it)."""
    return importlib.util.find_spec("duckdb") is not None


def history_bytes(paths: Iterable[Path]) -> int:
    """The history's size on disk (``os.stat`` only: the files are not read)."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass  # the loader reports an unreadable file with its location
    return total


def choose(options: EngineOptions, history: list[Path], note: Callable[[str], None] | None = None) -> str:
    """``"python"`` or ``"columnar"`` for this history; a usage error when DuckDB is needed but missing.

    ``auto`` between :data:`THRESHOLD_BYTES` and :data:`REQUIRED_BYTES` without DuckDB reads
    with the python path (the same findings, slower) and says so through ``note``.
    """
    if options.engine == "python":
        return "python"
    if options.engine == "columnar":
        if not available():
            raise UsageError("--engine columnar needs DuckDB, which is not installed: "
                             "pip install 'keytrail[large]' (or pip install duckdb)")
        return "columnar"
    size = history_bytes(history)
    if size <= THRESHOLD_BYTES:
        return "python"
    if available():
        return "columnar"
    if size > REQUIRED_BYTES:
        raise UsageError(f"the history is larger than {_size(REQUIRED_BYTES)}, which keytrail reads "
                         "with DuckDB, and DuckDB is not installed: pip install 'keytrail[large]' "
                         "(or pip install duckdb), or pass --engine python to read it without")
    if note is not None:
        note(f"the history is {_size(size)}, which keytrail reads faster with DuckDB (pip install "
             "'keytrail[large]'); reading it with the python engine (--engine python says so "
             "and silences this note)")
    return "python"
