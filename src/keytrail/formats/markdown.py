"""Markdown: a report for a pull-request comment or a CI step summary.

A summary table (unwaived findings by category and severity, plus waived and
totals), then the findings that fail the run (unwaived, at or above
``--fail-on``), each with its severity, rule, subject → target, the one-line
message, where it was written and its chain (key, actor, approver, ticket);
then every other finding — below the threshold, or waived — folded in a
``<details>`` block.

Every user-controlled string (principal and target names, messages, reasons,
paths) goes through :func:`escape`, so a name containing ``|``, ``<``, ``*``
or a backtick cannot break the table, inject HTML or change the formatting; a
line break or any other control character is shown as an escape
(:func:`keytrail.textsafe.inline`), so no value starts a line; and a
mention (``@everyone``, ``@org/team``) or a bare address (``https://…``,
``www.…``) is printed as a code span, where GitHub neither notifies anyone
nor makes a link.

GitHub refuses comments over 65,536 characters: the report stays under
:data:`SIZE_LIMIT`, adding findings in order (failing first) until the next
one would not fit, and says how many it left out.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from keytrail import __version__
from keytrail.engine import Report
from keytrail.formats._common import location_text
from keytrail.model import CATEGORIES, SEVERITIES, SEVERITY_RANK, Reported
from keytrail.report import chain_line, finding_data
from keytrail.textsafe import inline
from keytrail.timeutil import format_time

SIZE_LIMIT = 65_000

_SPECIAL = re.compile(r"[\\`*_\[\]|~&<>]")
_REPLACE = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}

#: What GitHub would turn into a notification or a link: a mention (``@`` not after a
#: letter or digit, as in an e-mail address, and the user or ``org/team`` name), or a
#: bare address up to a character a code span or a table cell cannot hold as it is.
_LIVE = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9][A-Za-z0-9_./-]*"
                   r"|(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)[^\s`|<>\\]*", re.IGNORECASE)


def _literal(text: str) -> str:
    return _SPECIAL.sub(lambda m: _REPLACE.get(m.group(), "\\" + m.group()), text)


def escape(value: object) -> str:
    """``value`` as literal Markdown text on one line: no HTML, emphasis, links, code,
    table cells, mentions or autolinks, and every control character shown as an escape."""
    text = inline("" if value is None else str(value))
    out = []
    last = 0
    for m in _LIVE.finditer(text):
        out.append(_literal(text[last:m.start()]))
        out.append(f"`{m.group()}`")  # a code span: no mention, no link, nothing to escape
        last = m.end()
    out.append(_literal(text[last:]))
    return "".join(out)


def render(report: Report, fail_on: str = "high", size_limit: int = SIZE_LIMIT) -> str:
    template = _environment().get_template("markdown.md.j2")
    rank = SEVERITY_RANK[fail_on]
    failing = [i for i in report.findings
               if i.waived is None and SEVERITY_RANK[i.severity] >= rank]
    others = [i for i in report.findings
              if not (i.waived is None and SEVERITY_RANK[i.severity] >= rank)]
    context = _summary(report, fail_on, len(failing), len(others), size_limit)

    def page(n_failing: int, n_others: int, shown: list[dict[str, Any]]) -> str:
        return template.render(
            **context, failing=shown[:n_failing], others=shown[n_failing:],
            failing_left=len(failing) - n_failing, others_left=len(others) - n_others)

    # Add findings while the page, with every section and note in place, stays
    # under the limit; then drop from the end until the real page fits too.
    entry = template.make_module({**context, "failing": [], "others": [], "failing_left": 0,
                                     "others_left": 0}).entry
    used = len(page(0, 0, []))
    shown: list[dict[str, Any]] = []
    n_failing = n_others = 0
    for item in failing + others:
        f = _finding(report, item)
        size = len(str(entry(f))) + 1
        if used + size > size_limit:
            break
        used += size
        shown.append(f)
        if len(shown) <= len(failing):
            n_failing += 1
        else:
            n_others += 1
    text = page(n_failing, n_others, shown)
    while len(text) > size_limit and shown:
        shown.pop()
        if n_others:
            n_others -= 1
        else:
            n_failing -= 1
        text = page(n_failing, n_others, shown)
    return text


def _summary(report: Report, fail_on: str, failing: int, others: int,
             size_limit: int) -> dict[str, Any]:
    severities = list(reversed(SEVERITIES))
    counts = {c: dict.fromkeys(severities, 0) for c in CATEGORIES}
    waived = dict.fromkeys(CATEGORIES, 0)
    for item in report.findings:
        if item.waived is not None:
            waived[item.category] += 1
        else:
            counts[item.category][item.severity] += 1
    table = []
    for c in CATEGORIES:
        row = [counts[c][s] for s in severities]
        if sum(row) or waived[c]:
            table.append({"name": c, "counts": row, "waived": waived[c],
                          "total": sum(row) + waived[c], "total_row": False})
    if len(table) > 1:
        sums = [sum(counts[c][s] for c in CATEGORIES) for s in severities]
        table.append({"name": "total", "counts": sums, "waived": sum(waived.values()),
                      "total": len(report.findings), "total_row": True})
    return {
        "project": report.view.project.name, "version": __version__,
        "as_of": format_time(report.as_of), "since": format_time(report.since),
        "fail_on": fail_on, "severities": severities, "table": table,
        "total": len(report.findings), "waived": sum(waived.values()),
        "failing_count": failing, "others_count": others, "size_limit": size_limit,
        # Counts only: the notes themselves are in the text and JSON reports.
        "order_notes": len(report.view.state.ties),
        "replay_notes": len(report.view.state.anomalies) - len(report.view.state.ties),
        "id_notes": len(report.id_notes),
        "snapshot": report.view.snapshot_use.message,
    }


def _finding(report: Report, item: Reported) -> dict[str, Any]:
    """What one entry prints (evidence is built only for the findings shown)."""
    f = finding_data(report, item)
    who = " → ".join(x for x in (f["subject"], f["target"]) if x)
    if f["resource"]:
        who += f" on {f['resource']}"
    f["who"] = who
    f["where"] = location_text(item.finding.location)
    f["chain_line"] = chain_line(f)
    return f


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("keytrail", "templates"),
        autoescape=False, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["md"] = escape
    return env
