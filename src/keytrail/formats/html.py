"""HTML: one self-contained page for auditors, reviewers and managers.

The page holds everything it shows: inline CSS (with print rules), an inline
SVG chart, no scripts, fonts, stylesheets or images from anywhere, so it
works offline, from an e-mail attachment and on paper. It shows

- a header: project, as-of time, review window, ``--fail-on``, counts, and
  whether the run passes;
- a summary table of unwaived findings by category and severity (plus waived
  and totals) and the same counts as a stacked bar chart, each bar segment
  with a ``<title>`` and every bar with a text label;
- the findings table (severity, rule and check, subject, target, resource,
  message, location), the findings that fail the run first, each followed by
  its explanation in a ``<details>`` block: the paths from subject to target
  and the chain of every edge (event, action, time, actor, key, key holder,
  approver, ticket, reason, location), plus the evidence's other facts.
  Failing findings are open (they print expanded); waived ones carry their
  waiver;
- the policies with their rules (severity, check, controls, findings) and
  waivers, in force or expired as of the as-of time;
- the key registry: holder, owner, purpose, scope, validity and status as
  of the as-of time.

Every value is computed here; the template (``templates/report.html.j2``)
only loops and prints, and renders in Jinja2's autoescaping environment, so
a principal named ``<script>alert(1)</script>`` is shown as text.

A large organisation has hundreds of thousands of findings. The first
:data:`FULL_LIMIT` are listed with their evidence (built only for those),
the next ones up to :data:`COMPACT_LIMIT` as table rows without evidence,
and the page says how many more there are and where to find them
(``--format json``). The page has no rendering time or random ids: the same
input gives the same bytes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from keytrail import __version__
from keytrail.engine import Report, category_of, implementation
from keytrail.formats._common import fields, location_text
from keytrail.model import CATEGORIES, SEVERITIES, SEVERITY_RANK, Key, Reported, Rule, Waiver
from keytrail.report import chain_line, finding_data, waiver_data
from keytrail.timeutil import format_time

#: Findings listed with their full evidence.
FULL_LIMIT = 2_000
#: Findings listed at all (the ones past FULL_LIMIT as a table row without evidence).
COMPACT_LIMIT = 20_000

#: Fill colours of the severities (chart, badges).
COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#ea580c",
           "low": "#ca8a04", "info": "#64748b"}

#: Chart geometry (SVG user units).
LABEL_WIDTH = 110
BAR_WIDTH = 560
BAR_HEIGHT = 22
BAR_GAP = 10
TOTAL_WIDTH = 70

#: The fields of a chain link, in the order the page shows them.
LINK_FIELDS = ("event", "action", "time", "actor", "key", "key_holder", "approver", "ticket",
               "reason", "location", "expires", "since", "certified")


def render(report: Report, fail_on: str = "high", full_limit: int = FULL_LIMIT,
           compact_limit: int = COMPACT_LIMIT) -> str:
    from keytrail.render import _template

    return str(_template("report.html.j2", autoescape=True).render(
        **context(report, fail_on, full_limit, compact_limit)))


def context(report: Report, fail_on: str = "high", full_limit: int = FULL_LIMIT,
            compact_limit: int = COMPACT_LIMIT) -> dict[str, Any]:
    """Everything the template prints, computed."""
    rank = SEVERITY_RANK[fail_on]

    def fails(item: Reported) -> bool:
        return item.waived is None and SEVERITY_RANK[item.severity] >= rank and not report.known(item)

    failing = [i for i in report.findings if fails(i)]
    others = [i for i in report.findings if not fails(i)]
    ordered = failing + others
    full = [_full(report, item, n, item_fails=n < len(failing))
            for n, item in enumerate(ordered[:full_limit])]
    compact = [_compact(report, item, n < len(failing))
               for n, item in enumerate(ordered[full_limit:compact_limit], full_limit)]
    listed = len(full) + len(compact)
    table = _table(report)
    project = report.view.project
    return {
        "project": project.name,
        "version": __version__,
        "as_of": format_time(report.as_of),
        "since": format_time(report.since),
        "fail_on": fail_on,
        "passed": not failing,
        "total": len(report.findings),
        "failing_count": len(failing),
        "waived_count": sum(1 for i in report.findings if i.waived is not None),
        "known_count": (sum(1 for i in report.findings if report.known(i))
                        if report.baseline is not None else None),
        "severities": list(reversed(SEVERITIES)),
        "colours": COLOURS,
        "table": table,
        "chart": _chart(table),
        "findings": full,
        "compact": compact,
        "full_limit": full_limit,
        "compact_limit": compact_limit,
        "left_out": len(ordered) - listed,
        "policies": _policies(report),
        "keys": [_key(k, report.as_of) for _, k in sorted(report.view.keys.items())],
        "notes": list(report.notes) + [n.message for n in report.id_notes]
        + [report.view.snapshot_use.message],
    }


# -- summary -------------------------------------------------------------------------------

def _table(report: Report) -> list[dict[str, Any]]:
    """Rows of unwaived counts by category and severity, with waived and totals."""
    severities = list(reversed(SEVERITIES))
    counts: Counter[tuple[str, str]] = Counter()
    waived: Counter[str] = Counter()
    for item in report.findings:
        if item.waived is not None:
            waived[item.category] += 1
        else:
            counts[item.category, item.severity] += 1
    rows = []
    for c in CATEGORIES:
        row = [counts[c, s] for s in severities]
        if sum(row) or waived[c]:
            rows.append({"name": c, "counts": row, "waived": waived[c],
                         "total": sum(row) + waived[c], "total_row": False})
    if rows:
        sums = [sum(counts[c, s] for c in CATEGORIES) for s in severities]
        rows.append({"name": "total", "counts": sums, "waived": sum(waived.values()),
                     "total": len(report.findings), "total_row": True})
    return rows


def _num(value: float) -> str:
    """A coordinate with at most one decimal, written the same way everywhere."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _chart(table: list[dict[str, Any]]) -> dict[str, Any]:
    """A horizontal stacked bar per category (unwaived findings by severity), geometry included."""
    severities = list(reversed(SEVERITIES))
    rows = [r for r in table if not r["total_row"]]
    largest = max((sum(r["counts"]) for r in rows), default=0)
    bars = []
    for n, row in enumerate(rows):
        y = n * (BAR_HEIGHT + BAR_GAP)
        x = 0.0
        segments = []
        unwaived = sum(row["counts"])
        for severity, count in zip(severities, row["counts"], strict=True):
            if not count:
                continue
            width = BAR_WIDTH * count / largest
            segments.append({"x": _num(LABEL_WIDTH + x), "width": _num(width), "severity": severity,
                             "count": count, "colour": COLOURS[severity],
                             "title": f"{row['name']}: {count} {severity}"})
            x += width
        bars.append({"name": row["name"], "y": _num(y), "text_y": _num(y + BAR_HEIGHT * 0.7),
                     "segments": segments, "total": unwaived, "waived": row["waived"],
                     "total_x": _num(LABEL_WIDTH + x + 6)})
    height = max(len(rows) * (BAR_HEIGHT + BAR_GAP), 1)
    legend_y = height + 6
    legend = [{"severity": s, "colour": COLOURS[s], "x": _num(LABEL_WIDTH + n * 100),
               "text_x": _num(LABEL_WIDTH + n * 100 + 16)} for n, s in enumerate(severities)]
    return {"bars": bars, "width": LABEL_WIDTH + BAR_WIDTH + TOTAL_WIDTH,
            "height": legend_y + 20, "bar_height": BAR_HEIGHT, "label_x": LABEL_WIDTH - 8,
            "legend": legend, "legend_y": _num(legend_y), "legend_text_y": _num(legend_y + 11)}


# -- findings ------------------------------------------------------------------------------

def _compact(report: Report, item: Reported, item_fails: bool) -> dict[str, Any]:
    """A finding's table row, without its evidence."""
    return {**fields(item), "rule": item.rule, "check": item.check, "severity": item.severity,
            "category": item.category, "fails": item_fails, "known": report.known(item),
            "where": location_text(item.finding.location), "waived": _waived(item)}


def _full(report: Report, item: Reported, n: int, item_fails: bool) -> dict[str, Any]:
    """A finding's row plus its explanation (evidence built here, for listed findings only)."""
    f = finding_data(report, item)
    paths, facts = _explain(f["evidence"] or {})
    return {**f, "waived": _waived(item), "fails": item_fails, "known": report.known(item), "anchor": f"finding-{n + 1}",
            "where": location_text(item.finding.location), "chain_line": chain_line(f),
            "paths": paths, "facts": facts}


def _waived(item: Reported) -> dict[str, Any] | None:
    """The waiver of a finding as the contract has it, with every field present."""
    data = waiver_data(item.waived)
    return None if data is None else {"ticket": "", **data}


def _is_link(value: Any) -> bool:
    return isinstance(value, dict) and "event" in value and ("action" in value or "location" in value)


def _link(value: dict[str, Any]) -> dict[str, Any]:
    out = {name: _text(value.get(name)) for name in LINK_FIELDS}
    for name in ("subject", "target", "resource"):
        if value.get(name):
            out[name] = _text(value[name])
    return out


def _explain(evidence: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The evidence as explanation paths (nodes and chain links) and the remaining facts.

    ``path`` and ``chain`` at the top make the main path; ``paths`` (a list, or
    a mapping from a target to a path) add one each; any other value that is
    an event's chain (``revoked``, ``event``, ``events``, a move's ``chain``)
    becomes a labelled path of its own. Everything else is a fact, printed as
    text.
    """
    paths: list[dict[str, Any]] = []
    facts: list[dict[str, str]] = []

    def add(label: str, nodes: Any, links: Any) -> None:
        if isinstance(links, dict):
            links = [links]
        paths.append({"label": label,
                      "nodes": [str(x) for x in nodes] if isinstance(nodes, list) else [],
                      "links": [_link(x) for x in links or [] if isinstance(x, dict)]})

    if "path" in evidence or "chain" in evidence:
        add("", evidence.get("path"), evidence.get("chain"))
    more = evidence.get("paths")
    if isinstance(more, list):
        for p in more:
            if isinstance(p, dict):
                add("", p.get("path"), p.get("chain"))
    elif isinstance(more, dict):
        for name, p in more.items():
            if isinstance(p, dict):
                add(str(name), p.get("path"), p.get("chain"))
    for name, value in evidence.items():
        if name in ("path", "chain") or (name == "paths" and isinstance(value, (list, dict))):
            continue
        if _is_link(value):
            add(name, None, [value])
        elif isinstance(value, list) and value and all(_is_link(v) for v in value):
            add(name, None, value)
        elif isinstance(value, dict) and _is_link(value.get("chain")):
            add(name, None, [value["chain"]])
            rest = {k: v for k, v in value.items() if k != "chain"}
            if rest:
                facts.append({"name": name, "value": _text(rest)})
        else:
            facts.append({"name": name, "value": _text(value)})
    return paths, facts


def _text(value: Any) -> str:
    """An evidence value as one line of text (empty for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


# -- policies and keys -----------------------------------------------------------------------

def _rule(rule: Rule, found: Counter[str], waived: Counter[str]) -> dict[str, Any]:
    module = implementation(rule)
    return {"id": rule.id, "check": rule.check, "kind": rule.kind, "category": category_of(rule),
            "severity": rule.severity or module.SEVERITY, "enabled": rule.enabled,
            "description": " ".join(rule.description.split()), "controls": list(rule.controls),
            "location": str(rule.location) if rule.location else "",
            "findings": found[rule.id], "waived": waived[rule.id]}


def _waiver(waiver: Waiver, as_of: int, used: Counter[int]) -> dict[str, Any]:
    return {"rule": waiver.rule, "subject": waiver.subject or "*", "target": waiver.target or "*",
            "resource": waiver.resource or "*", "reason": waiver.reason,
            "approved_by": waiver.approved_by, "expires": format_time(waiver.expires),
            "ticket": waiver.ticket or "", "in_force": waiver.expires > as_of,
            "location": str(waiver.location) if waiver.location else "",
            "waives": used[id(waiver)]}


def _policies(report: Report) -> list[dict[str, Any]]:
    """Every loaded policy with its rules and waivers, plus the implicit rules the engine adds."""
    found: Counter[str] = Counter()
    waived: Counter[str] = Counter()
    used: Counter[int] = Counter()
    for item in report.findings:
        if item.waived is not None:
            waived[item.rule] += 1
            used[id(item.waived)] += 1
        else:
            found[item.rule] += 1
    out = []
    listed: set[str] = set()
    for policy in report.view.policies:
        listed.update(r.id for r in policy.rules)
        out.append({"name": policy.name, "file": policy.file,
                    "description": " ".join(policy.description.split()),
                    "controls": list(policy.controls),
                    "rules": [_rule(r, found, waived) for r in policy.rules],
                    "waivers": [_waiver(w, report.as_of, used) for w in policy.waivers]})
    implicit = [r for r in report.rules if r.id not in listed]
    if implicit:
        out.append({"name": "keytrail (implicit)", "file": "", "controls": [],
                    "description": "Rules the engine adds when no policy names them.",
                    "rules": [_rule(r, found, waived) for r in implicit], "waivers": []})
    return out


def _key(key: Key, as_of: int) -> dict[str, Any]:
    """A registry entry and its status as of ``as_of`` (valid from not_before until expiry or revocation)."""
    if key.revoked_at is not None and key.revoked_at <= as_of:
        status = "revoked"
    elif key.expires is not None and key.expires <= as_of:
        status = "expired"
    elif key.not_before is not None and key.not_before > as_of:
        status = "not yet valid"
    else:
        status = "valid"
    return {"id": key.id, "holder": key.holder, "owner": key.owner or "", "purpose": key.purpose,
            "ticket": key.ticket, "approved_by": key.approved_by or "", "scope": list(key.scope),
            "not_before": format_time(key.not_before) or "", "expires": format_time(key.expires) or "",
            "revoked_at": format_time(key.revoked_at) or "", "status": status,
            "location": str(key.location) if key.location else ""}
