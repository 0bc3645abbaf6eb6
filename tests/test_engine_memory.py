"""DuckDB's memory on the columnar path: 512 MiB by default (not 80 % of the machine), or --memory-limit."""

from __future__ import annotations

import os

import pytest

from keytrail.core import EngineOptions
from keytrail.core.connect import DEFAULT_MEMORY_LIMIT, Connection, memory_limit

pytest.importorskip("duckdb")


def _setting(options: EngineOptions) -> str:
    con = Connection(options)
    try:
        return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    finally:
        con.close()


def test_without_a_limit_duckdb_is_held_to_512_mib() -> None:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected = min(DEFAULT_MEMORY_LIMIT, physical // 4)
    assert memory_limit(EngineOptions()) == expected
    assert DEFAULT_MEMORY_LIMIT == 512 << 20
    if expected == 512 << 20:
        assert _setting(EngineOptions()) == "512.0 MiB"


def test_a_given_limit_is_kept_above_the_default() -> None:
    # The near miss: --memory-limit is the user's, larger or smaller than the default.
    assert memory_limit(EngineOptions(memory_limit=8 << 30)) == 8 << 30
    assert _setting(EngineOptions(memory_limit=3 << 30)) == "3.0 GiB"
    assert _setting(EngineOptions(memory_limit=256 << 20)) == "256.0 MiB"


def test_a_machine_with_little_memory_gets_a_quarter_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": (1 << 30) // 4096}  # a 1 GiB runner
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert memory_limit(EngineOptions()) == 256 << 20
