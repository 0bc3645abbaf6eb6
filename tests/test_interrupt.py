"""A run that is stopped (SIGTERM from a cancelled CI job or ``timeout``, Ctrl-C) ends cleanly:
exit 143 for SIGTERM, no traceback, no abort from a thread still inside DuckDB, and the
columnar engine's spill folder removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keytrail import cli

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_sigterm_becomes_an_exit_with_143_while_keytrail_runs_and_the_default_after() -> None:
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("the test runner has its own SIGTERM handler")
    restore = cli._exit_on_terminate()
    try:
        with pytest.raises(SystemExit) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.value.code == 143
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_host_programs_own_sigterm_handler_is_kept() -> None:
    def own(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:
        restore = cli._exit_on_terminate()
        assert signal.getsignal(signal.SIGTERM) is own
        restore()
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_exit_while_a_read_thread_is_inside_duckdb_removes_the_spill_folder_without_abort(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    script = textwrap.dedent("""
        import sys, threading, time
        from keytrail.core import EngineOptions
        from keytrail.core.connect import Connection
        con = Connection(EngineOptions())
        print(con.spill, flush=True)
        def query():
            try:
                con.execute("SELECT count(*) FROM range(100000000000) a")
            except Exception:
                pass
        thread = threading.Thread(target=query, daemon=True)
        con.threads.append(thread)
        thread.start()
        time.sleep(0.5)
        sys.exit(143)  # what SIGTERM becomes: the thread is still in its query
    """)
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr
    spill = Path(done.stdout.strip())
    assert spill.parent == tmp_path and not spill.exists()


def test_a_connection_closed_normally_removes_its_spill_folder(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    script = ("from keytrail.core import EngineOptions\nfrom keytrail.core.connect import Connection\n"
              "con = Connection(EngineOptions()); print(con.spill); con.execute('SELECT 1'); con.close()\n")
    env = {**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not Path(done.stdout.strip()).exists()
