"""The progress reporter: one status line on a terminal, repainted in place.

A stage (``loading inputs``, ``replaying 5,000,000 events``, ``checking rule 7 of
23``, ``writing json``) may carry a count and a total; a small background thread
repaints the line a few times a second with the time spent so far, so a stage
that runs for a minute inside one call still shows that it is alive. The line
is cleared when the work ends (or fails), before anything else is printed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from keytrail.textsafe import inline

#: Seconds of work before anything is shown: short runs never show progress.
#: ``KEYTRAIL_PROGRESS_DELAY`` overrides it (seconds, ``0`` shows every stage).
DELAY = 2.0
#: Seconds between repaints of the line.
INTERVAL = 0.25


class Reporter:
    """Holds the current stage and count; paints them on ``stream`` when enabled."""

    def __init__(self, stream: TextIO | None = None, delay: float = DELAY) -> None:
        self.stream = stream  # None: a reporter that records nothing and paints nothing
        self.delay = delay
        self.started = time.monotonic()
        self.label = ""
        self.done = 0
        self.total: int | None = None
        self.unit = ""
        self.count: Callable[[], int] | None = None
        self._painted = 0  # width of the line on screen, to blank it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.stream is not None

    def stage(self, label: str, total: int | None = None, unit: str = "",
              count: Callable[[], int] | None = None) -> None:
        """Start a stage: ``label``, and a count of ``unit`` towards ``total`` (if known),
        kept by :meth:`advance` or read from ``count()`` when the line is painted."""
        if self.stream is None:
            return
        with self._lock:
            self.label, self.done, self.total, self.unit, self.count = label, 0, total, unit, count
        self.paint()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more of the current stage's units (painted by the next repaint)."""
        if self.stream is not None:
            self.done += n

    def line(self) -> str:
        """The status line as it is now."""
        elapsed = time.monotonic() - self.started
        count = ""
        if self.unit:
            done = self.count() if self.count is not None else self.done
            count = f": {done:,}" + (f" of {self.total:,}" if self.total is not None else "") + f" {self.unit}"
        return f"keytrail: {inline(self.label)}{count} ({elapsed:.0f} s)"  # a rule id is input: inert

    def paint(self) -> None:
        """Repaint the line, once the delay has passed."""
        if self.stream is None or not self.label or time.monotonic() - self.started < self.delay:
            return
        with self._lock:
            text = self.line()
            # \r and blanking: the line shrinks as well as grows; never a newline.
            pad = " " * max(0, self._painted - len(text))
            self._write("\r" + text + pad)
            self._painted = len(text)

    def clear(self) -> None:
        """Blank the line and put the cursor back at its start."""
        with self._lock:
            if self.stream is not None and self._painted:
                self._write("\r" + " " * self._painted + "\r")
                self._painted = 0

    def _write(self, text: str) -> None:
        assert self.stream is not None
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal: stop painting, go on working
            self.stream = None

    def start(self) -> None:
        """Start the repainting thread."""
        if self.stream is None:
            return
        self._thread = threading.Thread(target=self._run, name="keytrail-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop repainting and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.clear()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self.paint()


_NULL = Reporter(None)
_current = _NULL


def current() -> Reporter:
    """The reporter the running command set up (one that does nothing outside :func:`showing`)."""
    return _current


def stage(label: str, total: int | None = None, unit: str = "",
          count: Callable[[], int] | None = None) -> None:
    """Report a new stage to the current reporter."""
    _current.stage(label, total, unit, count)


def advance(n: int = 1) -> None:
    """Count ``n`` more units of the current stage."""
    _current.advance(n)


def _delay() -> float:
    text = os.environ.get("KEYTRAIL_PROGRESS_DELAY", "")
    try:
        return max(0.0, float(text)) if text else DELAY
    except ValueError:
        return DELAY


def wanted(stream: TextIO, quiet: bool = False) -> bool:
    """Whether progress may be shown on ``stream``: it is a terminal, and not ``quiet``."""
    if quiet:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


@contextmanager
def showing(quiet: bool = False, stream: TextIO | None = None) -> Iterator[Reporter]:
    """Report progress for the length of the block on standard error, if it is a terminal
    (never when ``quiet``); the line is cleared when the block ends, however it ends."""
    global _current
    out = sys.stderr if stream is None else stream
    reporter = Reporter(out if wanted(out, quiet) else None, _delay())
    previous, _current = _current, reporter
    reporter.start()
    try:
        yield reporter
    finally:
        reporter.stop()
        _current = previous
