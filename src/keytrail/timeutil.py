"""Times and durations as keytrail reads and writes them.

Times are ISO 8601 with a zone; a time without one is an error, because an
access review that silently guesses a zone can be off by a working day.
Internally a time is an integer count of microseconds since the Unix epoch
(UTC): compact, exact and cheap to sort, which matters for millions of events.
Durations are ``90d``, ``12h``, ``30m`` (also ``w`` and ``s``, combinable as
``1d12h``) or ISO 8601 (``P90D``, ``PT12H``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
SECOND = 1_000_000
DAY = 86_400 * SECOND
#: The range of times that can be shown (years 0001 to 9999, UTC).
MIN_TIME = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // _US
MAX_TIME = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - EPOCH) // _US

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)
_SHORT_DURATION_RE = re.compile(r"^(?:\d+[wdhms])+$")
_SHORT_PART_RE = re.compile(r"(\d+)([wdhms])")
_ISO_DURATION_RE = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_UNIT_US = {"w": 7 * DAY, "d": DAY, "h": 3600 * SECOND, "m": 60 * SECOND, "s": SECOND}


class TimeFormatError(ValueError):
    """A time or duration string that keytrail cannot read."""


def parse_time(text: object) -> int:
    """Parse an ISO 8601 time with a zone into microseconds since the epoch (UTC).

    Raises :class:`TimeFormatError` with a message suitable for a user.
    """
    if isinstance(text, datetime):
        if text.tzinfo is None:
            raise TimeFormatError(f"time {text.isoformat()!r} has no zone (add Z or an offset such as +02:00)")
        return (text - EPOCH) // _US
    if not isinstance(text, str):
        raise TimeFormatError(f"expected a time as a string, got {type(text).__name__}")
    # Fast path for the overwhelmingly common form 2026-03-01T10:00:00Z: a day
    # lookup plus three small ints, about a fifth of the general path's cost.
    if len(text) == 20 and text[19] == "Z" and text[10] == "T" and text[13] == ":" and text[16] == ":":
        midnight = _DAY_CACHE.get(text[:10])
        if midnight is None:
            midnight = _day_start(text)
        hh, mm, ss = text[11:13], text[14:16], text[17:19]
        if midnight is not None and hh.isdigit() and mm.isdigit() and ss.isdigit():
            h, mi, se = int(hh), int(mm), int(ss)
            if h < 24 and mi < 60 and se < 60:
                return midnight + (h * 3600 + mi * 60 + se) * SECOND
    m = _TIME_RE.match(text)
    if m is None:
        if re.match(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$", text):
            raise TimeFormatError(f"time {text!r} has no zone (add Z or an offset such as +02:00)")
        raise TimeFormatError(f"{text!r} is not an ISO 8601 time such as 2026-03-01T10:00:00Z")
    year, month, day, hour, minute, second, frac, z, sign, oh, om = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro,
                      tzinfo=timezone.utc)
    except ValueError as exc:
        raise TimeFormatError(f"{text!r} is not a valid time: {exc}") from None
    us = (dt - EPOCH) // _US
    if not z:
        offset = (int(oh) * 60 + int(om)) * 60 * SECOND
        if int(oh) > 23 or int(om) > 59:
            raise TimeFormatError(f"{text!r} has an invalid zone offset")
        us = us - offset if sign == "+" else us + offset
        if not MIN_TIME <= us <= MAX_TIME:
            raise TimeFormatError(f"{text!r} is outside the years 0001 to 9999 in UTC")
    return us


_DAY_CACHE: dict[str, int] = {}


def _day_start(text: str) -> int | None:
    """Epoch microseconds of the start of the day ``text[:10]`` names, cached."""
    d = text[:10]
    if not (d[:4].isdigit() and d[4] == "-" and d[5:7].isdigit() and d[7] == "-" and d[8:10].isdigit()):
        return None
    try:
        value = (datetime(int(d[:4]), int(d[5:7]), int(d[8:10]), tzinfo=timezone.utc) - EPOCH) // _US
    except ValueError:
        return None
    if len(_DAY_CACHE) < 100_000:
        _DAY_CACHE[d] = value
    return value


def to_datetime(us: int) -> datetime:
    """Convert epoch microseconds back to an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


_DATE_TEXT: dict[int, str] = {}
#: ``T10:00:`` for each minute of a day, and ``00Z`` for each second: a whole-second time
#: (nearly every time a report shows) is three strings joined, no number formatted.
_MINUTE_TEXT = tuple(f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SECOND_TEXT = tuple(f"{s:02d}Z" for s in range(60))


def _date_text(day: int) -> str:
    """``2026-03-01`` for a count of days since the epoch, cached per day."""
    date = _DATE_TEXT.get(day)
    if date is None:
        d = to_datetime(day * DAY)
        date = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
        if len(_DATE_TEXT) < 100_000:
            _DATE_TEXT[day] = date
    return date


def format_time(us: int | None) -> str | None:
    """Format epoch microseconds as ``2026-03-01T10:00:00Z`` (fractions only when present)."""
    if us is None:
        return None
    # Reports format hundreds of thousands of times: the date part is cached per day
    # and the time of day is built from tables instead of strftime.
    day, rest = divmod(us, DAY)
    date = _DATE_TEXT.get(day) or _date_text(day)
    seconds, micro = divmod(rest, SECOND)
    minute, second = divmod(seconds, 60)
    if micro:
        return f"{date}{_MINUTE_TEXT[minute]}{second:02d}.{micro:06d}Z"
    return date + _MINUTE_TEXT[minute] + _SECOND_TEXT[second]


def format_date(us: int | None) -> str:
    """Format epoch microseconds as a date (``2026-05-31``), for messages."""
    return "" if us is None else _DATE_TEXT.get(us // DAY) or _date_text(us // DAY)


def parse_duration(text: object) -> int:
    """Parse ``90d``/``12h``/``1d12h`` or ISO 8601 ``P90D`` into microseconds."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise TimeFormatError(f"expected a duration such as 90d or P90D, got {text!r}")
    s = text.strip()
    if _SHORT_DURATION_RE.match(s):
        return sum(int(n) * _UNIT_US[u] for n, u in _SHORT_PART_RE.findall(s))
    m = _ISO_DURATION_RE.match(s)
    if m:
        y, mo, w, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
        if y or mo:
            # Years and months have no fixed length; reviews need exact windows.
            raise TimeFormatError(f"duration {text!r}: use days or weeks instead of years or months")
        return ((w * 7 + d) * 86_400 + h * 3600 + mi * 60 + sec) * SECOND
    raise TimeFormatError(f"{text!r} is not a duration such as 90d, 12h, 30m or P90D")


def format_duration(us: int) -> str:
    """Format microseconds as the shortest readable duration (``90d``, ``36h``)."""
    for unit, size in (("d", DAY), ("h", 3600 * SECOND), ("m", 60 * SECOND)):
        if us % size == 0 and us >= size:
            return f"{us // size}{unit}"
    return f"{us // SECOND}s"
