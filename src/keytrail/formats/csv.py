"""CSV: one row per finding, for spreadsheets and ticket imports.

Columns: severity, category, rule, check, subject, target, resource, event,
key, message, location (``path:line``), fingerprint, and the waiver in force
(waived_reason, waived_by, waived_until; empty when not waived). Rows follow
the findings' order. RFC 4180 quoting with ``\\r\\n`` line endings, UTF-8.

Inert: a control, format or separator character inside a value (a line
break, ESC, a bidi override) is shown as an escape (``\\n``, ``\\x1b``,
``\\u202e``; :func:`keytrail.textsafe.inline`), so a cell is one line and
reads as what it is; the JSON keeps the exact values.

Formula-safe: a cell whose first character other than whitespace is ``=``,
``+``, ``-``, ``@`` (or their full-width forms ``＝``, ``＋``, ``－``, ``＠``,
which some locales' spreadsheets also take for a formula), a tab or a carriage
return is prefixed with a single quote (OWASP's guidance against CSV
injection), so no spreadsheet evaluates a principal named
``=HYPERLINK(...)``, even when its import trims leading spaces. The quote is
visible in the cell; strip it before comparing a value with the JSON
(:func:`unguard`; a value that itself starts with a quote and a formula sign
is given a second quote, so stripping one always gives the value back).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence

from keytrail.engine import Report
from keytrail.formats._common import fields, location_text
from keytrail.textsafe import inline
from keytrail.timeutil import format_time

HEADER = ("severity", "category", "rule", "check", "subject", "target", "resource", "event",
          "key", "message", "location", "fingerprint", "waived_reason", "waived_by",
          "waived_until")

#: First characters a spreadsheet may treat as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe(value: object) -> str:
    """``value`` as a cell: inert, and neutralised when a spreadsheet could run it as a formula."""
    text = inline("" if value is None else str(value))
    return "'" + text if _formula(text) else text


def unguard(cell: str) -> str:
    """A cell without the quote :func:`safe` put in front of it (what a reader of a
    worksheet compares with the data)."""
    return cell[1:] if cell.startswith("'") and _formula(cell[1:]) else cell


def sheet(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A worksheet: RFC 4180, ``\r\n`` line endings, a header of ``columns``, each row's cells
    in that order, formula-safe (:func:`safe`)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe(row[name]) for name in columns])
    return out.getvalue()


def _formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula, or it looks guarded already
    (a value that starts with a quote and a formula sign gets a second quote, so that
    :func:`unguard` gives every value back)."""
    while text.startswith("'"):
        text = text[1:]
    return text.lstrip().startswith(FORMULA_START)


def render(report: Report, fail_on: str = "high") -> str:
    return "".join(iter_csv(report, fail_on))


#: Rows written per piece when the CSV is streamed.
BATCH = 4096


def iter_csv(report: Report, fail_on: str = "high") -> Iterator[str]:
    """The CSV in pieces of :data:`BATCH` rows: a run with millions of findings writes
    them as it goes instead of holding the whole file in memory."""
    from keytrail import progress

    out = io.StringIO(newline="")
    writer = csv.writer(out)  # the default dialect: RFC 4180 quoting, \r\n
    writer.writerow(HEADER)
    progress.stage("writing csv", total=len(report.findings), unit="findings")
    for n, item in enumerate(report.findings, 1):
        data = fields(item)
        w = item.waived
        writer.writerow([safe(v) for v in (
            item.severity, item.category, item.rule, item.check, data["subject"],
            data["target"], data["resource"], data["event"], data["key"], data["message"],
            location_text(item.finding.location), item.fingerprint,
            w.reason if w else None, w.approved_by if w else None,
            format_time(w.expires) if w else None)])
        if not n % BATCH:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            progress.advance(BATCH)
    yield out.getvalue()
