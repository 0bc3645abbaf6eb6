"""Argument types and exit codes shared by the commands."""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from keytrail.errors import UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Renderer(argparse.Action):
    """``--format X`` and ``--template F`` both add an output, in the order given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        kind = "template" if option_string == "--template" else "format"
        renderers = list(getattr(namespace, self.dest, None) or [])
        renderers.append((kind, values))
        setattr(namespace, self.dest, renderers)


def time_arg(text: str, option: str = "--as-of", now: bool = True) -> int:
    """A time given on the command line (ISO 8601 with a zone, or ``now`` where ``now``
    is allowed), as epoch microseconds; a usage error naming ``option`` otherwise."""
    from keytrail.timeutil import TimeFormatError, parse_time

    if now and text == "now":
        return now_us()
    try:
        return in_range(parse_time(text), text)
    except TimeFormatError as exc:
        raise UsageError(f"{option}: {exc}") from None


def in_range(us: int, text: str) -> int:
    """``us`` when it can be shown as a date (years 1 to 9999 in UTC); reports print every time."""
    from keytrail.timeutil import TimeFormatError, format_time

    try:
        format_time(us)
    except OverflowError:
        raise TimeFormatError(f"{text!r} is out of range (years 1 to 9999 in UTC)") from None
    return us


def now_us() -> int:
    """The current time in epoch microseconds; KEYTRAIL_NOW fixes it (tests, reproducible runs)."""
    from keytrail.timeutil import EPOCH

    fixed = os.environ.get("KEYTRAIL_NOW")
    if fixed:
        from keytrail.timeutil import TimeFormatError, parse_time

        try:
            return in_range(parse_time(fixed), fixed)
        except TimeFormatError as exc:
            raise UsageError(f"KEYTRAIL_NOW: {exc}") from None
    return (datetime.now(timezone.utc) - EPOCH) // timedelta(microseconds=1)


def limit_arg(text: str) -> int:
    """``--limit``: a whole number, 0 for no limit."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number (0 for no limit), not {text!r}")
    return int(text)


def since_arg(text: str | None, as_of: int) -> int | None:
    """``--since`` takes a time, or a duration counted back from ``--as-of``."""
    from keytrail.timeutil import TimeFormatError, format_time, parse_duration, parse_time

    if text is None:
        return None
    try:
        back = parse_duration(text)
    except TimeFormatError:
        back = None
    if back is not None:
        try:
            return in_range(as_of - back, text)
        except TimeFormatError as exc:
            raise UsageError(f"--since: {exc}") from None
    try:
        since = in_range(parse_time(text), text)
    except TimeFormatError as exc:
        raise UsageError(f"--since: {exc} (or give a duration such as 90d)") from None
    if since > as_of:
        # An empty review window would pass every change check without looking at anything.
        raise UsageError(f"--since {text} is after --as-of {format_time(as_of)}")
    return since


def confine_options(parser: argparse.ArgumentParser) -> None:
    """``--allow-outside DIR``: the one way to let keytrail.yaml name files outside the project."""
    parser.add_argument("--allow-outside", action="append", default=[], metavar="DIR",
                        help="let keytrail.yaml name files inside DIR although it is outside the "
                             "project folder (repeatable; by default every path must resolve, "
                             "symbolic links included, inside the project)")


def quiet_option(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress line (``keytrail.progress``) for the long-running commands."""
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="show no progress on standard error (progress is shown only on a "
                             "terminal, and only for runs longer than a few seconds)")


def time_options(parser: argparse.ArgumentParser, since: bool = True) -> None:
    parser.add_argument("--as-of", default="now", metavar="TIME",
                        help="evaluate the state as of this time (ISO 8601 with a zone; default: now)")
    if since:
        parser.add_argument("--since", metavar="TIME|DURATION",
                            help="review window start for change checks: a time, or a duration back "
                                 "from --as-of such as 90d (default: all history)")
