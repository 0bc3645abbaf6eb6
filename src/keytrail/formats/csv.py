"""CSV: one row per finding, for spreadsheets and ticket imports.

Columns: severity, category, rule, check, subject, target, resource, event,
key, message, location (``path:line``), fingerprint, and the waiver in force
(waived_reason, waived_by, waived_until; empty when not waived). Rows follow
the findings' order. RFC 4180 quoting with ``\\r\\n`` line endings, UTF-8.

Formula-safe: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with a single quote (OWASP's guidance against CSV
injection), so no spreadsheet evaluates a principal named
``=HYPERLINK(...)``. The quote is visible in the cell; strip it before
comparing a value with the JSON.
"""

from __future__ import annotations

import csv
import io

from keytrail.engine import Report
from keytrail.formats._common import fields, location_text
from keytrail.timeutil import format_time

HEADER = ("severity", "category", "rule", "check", "subject", "target", "resource", "event",
          "key", "message", "location", "fingerprint", "waived_reason", "waived_by",
          "waived_until")

#: First characters a spreadsheet may treat as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value: object) -> str:
    """``value`` as a cell, neutralised when a spreadsheet could run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def render(report: Report, fail_on: str = "high") -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # the default dialect: RFC 4180 quoting, \r\n
    writer.writerow(HEADER)
    for item in report.findings:
        data = fields(item)
        w = item.waived
        writer.writerow([safe(v) for v in (
            item.severity, item.category, item.rule, item.check, data["subject"],
            data["target"], data["resource"], data["event"], data["key"], data["message"],
            location_text(item.finding.location), item.fingerprint,
            w.reason if w else None, w.approved_by if w else None,
            format_time(w.expires) if w else None)])
    return out.getvalue()
