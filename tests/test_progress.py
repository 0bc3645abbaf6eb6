"""Progress on standard error: shown on a terminal for long runs, never on a pipe, never on stdout.

The terminal is a real pseudo-terminal (``pty``); ``KEYTRAIL_PROGRESS_DELAY=0`` stands in
for a run long enough to show progress, so that the small example shows every stage.
"""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from keytrail import progress
from keytrail.progress.reporter import Reporter
from tests.conftest import AS_OF, REPO

ACME = REPO / "examples" / "acme"
pty = pytest.importorskip("pty")


def _env(delay: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("KEYTRAIL_PROGRESS_DELAY", None)
    if delay is not None:
        env["KEYTRAIL_PROGRESS_DELAY"] = delay
    return env


def run_on_terminal(args: list[str], delay: str | None = "0") -> tuple[int, bytes, bytes]:
    """Run keytrail with standard error on a pseudo-terminal and standard output on a pipe:
    (exit code, what the terminal received, what standard output received)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "keytrail", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=_env(delay))
    os.close(slave)
    assert proc.stdout is not None
    terminal, out = bytearray(), bytearray()
    streams = {master: terminal, proc.stdout.fileno(): out}
    while streams:
        ready, _, _ = select.select(list(streams), [], [], 60)
        assert ready, "keytrail wrote nothing for a minute"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                chunk = b""
            if chunk:
                streams[fd].extend(chunk)
            else:
                del streams[fd]
    os.close(master)
    return proc.wait(timeout=60), bytes(terminal), bytes(out)


def run_on_pipes(args: list[str], delay: str | None = "0") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "keytrail", *args], capture_output=True,
                          stdin=subprocess.DEVNULL, env=_env(delay), timeout=120)


CHECK = ["check", str(ACME), "--as-of", AS_OF, "--format", "json"]


def test_check_shows_its_stages_and_counts_on_a_terminal() -> None:
    code, terminal, out = run_on_terminal(CHECK)
    shown = terminal.decode("utf-8")
    assert code == 1  # acme has high findings: progress changes nothing about the verdict
    # The findings JSON alone: each rule's findings are written as it finishes (keytrail.spool),
    # the rules in report order, the most severe first.
    for stage in ("keytrail: loading and validating the inputs", "keytrail: replaying 371 events",
                  "keytrail: building the access graph", "keytrail: checking rule 1 of 36 (",
                  "keytrail: checking rule 36 of 36 (", "findings so far", "keytrail: writing json"):
        assert stage in shown, stage
    # One line repainted in place, then blanked: no line of it is left on the terminal.
    assert "\n" not in shown.replace("\r\n", "")
    assert shown.startswith("\r") and shown.endswith("\r")
    assert shown.rsplit("\r", 2)[-2].strip() == ""
    assert out == run_on_pipes(CHECK).stdout  # standard output is the same bytes


def test_check_with_findings_held_shows_them_sorted_and_counted(tmp_path: Path) -> None:
    """With a second format the findings are held: rules in policy order, then sorting."""
    code, terminal, _ = run_on_terminal([*CHECK, "--output", str(tmp_path / "f.json"),
                                         "-f", "csv", "--output", str(tmp_path / "f.csv")])
    shown = terminal.decode("utf-8")
    assert code == 1
    for stage in ("keytrail: checking rule 1 of 36 (redundant-grant)", "findings so far",
                  "keytrail: sorting ", "keytrail: writing json: ", "keytrail: writing csv"):
        assert stage in shown, stage


def test_check_shows_nothing_when_stderr_is_a_pipe() -> None:
    done = run_on_pipes(CHECK)
    assert done.returncode == 1
    assert done.stderr == b""
    assert done.stdout.startswith(b"{")


def test_quiet_shows_nothing_on_a_terminal() -> None:
    code, terminal, out = run_on_terminal([*CHECK, "--quiet"])
    assert code == 1
    assert terminal == b""
    assert out.startswith(b"{")


def test_a_run_shorter_than_the_delay_shows_nothing_on_a_terminal() -> None:
    # A delay no run of the example reaches, however busy the machine.
    code, terminal, _ = run_on_terminal(CHECK, delay="3600")
    assert code == 1
    assert terminal == b""


def test_errors_are_printed_on_a_clean_line(tmp_path: Path) -> None:
    # A bad output folder fails after the long part: the message must not share the progress line.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, terminal, _ = run_on_terminal([*CHECK, "--output", str(blocker / "out.json")])
    shown = terminal.decode("utf-8")
    assert code == 2
    message = shown[shown.index("keytrail: cannot write"):]
    before = shown[: shown.index("keytrail: cannot write")]
    assert before.endswith("\r") and before.rsplit("\r", 2)[-2].strip() == ""  # blanked first
    assert message.count("\r") == message.count("\r\n")  # the message is plain lines


def test_review_shows_its_stages_on_a_terminal(tmp_path: Path) -> None:
    code, terminal, _ = run_on_terminal(["review", str(ACME), "--period", "2026-Q3",
                                         "--out", str(tmp_path / "pack")])
    shown = terminal.decode("utf-8")
    assert code == 0
    assert "keytrail: checking rule 36 of 36" in shown
    assert "keytrail: rendering the pack" in shown
    # The summary line is printed after the progress line was blanked, on a line of its own.
    assert "\rkeytrail: wrote " in shown


def test_the_line_names_stage_count_total_and_time() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, delay=0)
    reporter.stage("writing json", total=2_670_000, unit="findings")
    reporter.advance(1_234_567)
    assert reporter.line() == "keytrail: writing json: 1,234,567 of 2,670,000 findings (0 s)"
    reporter.stage("checking rule 3 of 9", unit="findings so far", count=lambda: 42)
    assert reporter.line() == "keytrail: checking rule 3 of 9: 42 findings so far (0 s)"


def test_a_shorter_line_blanks_what_the_longer_one_left() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, delay=0)
    reporter.stage("a long stage name")
    reporter.stage("short")
    painted = stream.getvalue().split("\r")[-1]
    assert painted.startswith("keytrail: short (0 s)")
    assert len(painted) == len("keytrail: a long stage name (0 s)")
    reporter.clear()  # the pad already blanked the tail: blanking the short text clears the line
    assert stream.getvalue().endswith("\r" + " " * len("keytrail: short (0 s)") + "\r")


def test_a_rule_id_from_a_policy_is_shown_inert() -> None:
    stream = io.StringIO()
    Reporter(stream, delay=0).stage("checking rule 1 of 1 (evil\x1b[2J\n::error::x)")
    shown = stream.getvalue()
    assert "\x1b" not in shown and "\n" not in shown
    assert "evil\\x1b[2J\\n::error::x" in shown


def test_nothing_is_painted_before_the_delay() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream, delay=3600)
    reporter.stage("loading")
    reporter.paint()
    reporter.clear()
    assert stream.getvalue() == ""


def test_a_broken_terminal_stops_the_progress_not_the_run() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("terminal gone")

    reporter = Reporter(Broken(), delay=0)
    reporter.stage("loading")  # does not raise
    assert not reporter.enabled
    reporter.stage("replaying")
    reporter.clear()


def test_outside_a_command_the_stages_report_to_nobody() -> None:
    assert not progress.current().enabled
    progress.stage("loading")
    progress.advance(10)
    assert progress.current().line().startswith("keytrail: ")


def test_showing_needs_a_terminal_and_not_quiet() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with progress.showing(stream=io.StringIO()) as on_pipe:
        assert not on_pipe.enabled
    with progress.showing(quiet=True, stream=Terminal()) as quiet:
        assert not quiet.enabled
    with progress.showing(stream=Terminal()) as shown:
        assert shown.enabled and progress.current() is shown
    assert progress.current() is not shown
