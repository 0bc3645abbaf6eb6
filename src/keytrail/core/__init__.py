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
from dataclasses import dataclass
from pathlib import Path

from keytrail.errors import UsageError

ENGINES = ("auto", "python", "columnar")
#: Above this many bytes of history, ``--engine auto`` reads with the columnar core.
#: Measured side by side (docs/design/columnar-core.md): at 50k and 500k events (14 and
#: 133 MB) the Python path used as little CPU or less, and half the memory; at 5M events
#: (1.4 GB) the columnar core was 8 % faster in CPU and wall time.
THRESHOLD_BYTES = 1 << 30

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*\Z", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class EngineOptions:
    """How to run the load and replay stages: ``--engine`` and ``--memory-limit``."""

    engine: str = "auto"
    memory_limit: int | None = None   # bytes; None: connect.memory_limit's default (1 GiB)
    threads: int | None = None        # None: DuckDB's default (every core)


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
    return f"{n / (1 << 30):g} GB" if n >= 1 << 30 else f"{n / (1 << 20):g} MB"


def available() -> bool:
    """Whether DuckDB can be imported (without importing it)."""
    return importlib.util.find_spec("duckdb") is not None


def history_bytes(paths: list[Path]) -> int:
    """The history's size on disk (``os.stat`` only: the files are not read)."""
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass  # the loader reports an unreadable file with its location
    return total


def choose(options: EngineOptions, history: list[Path]) -> str:
    """``"python"`` or ``"columnar"`` for this history; a usage error when DuckDB is needed but missing."""
    if options.engine == "python":
        return "python"
    if options.engine == "columnar":
        if not available():
            raise UsageError("--engine columnar needs DuckDB, which is not installed: "
                             "pip install 'keytrail[large]' (or pip install duckdb)")
        return "columnar"
    if history_bytes(history) <= THRESHOLD_BYTES:
        return "python"
    if not available():
        raise UsageError(f"the history is larger than {_size(THRESHOLD_BYTES)}, which keytrail reads "
                         "with DuckDB, and DuckDB is not installed: pip install 'keytrail[large]' "
                         "(or pip install duckdb), or pass --engine python to read it without")
    return "columnar"
