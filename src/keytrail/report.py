"""One data model for every output format.

:func:`to_data` turns a :class:`~keytrail.engine.Report` into the findings
JSON contract (DESIGN.md), field for field; :func:`context` adds what human
formats need — counts by category and severity, groupings, the chain behind
each finding — computed here so that templates only loop and print.
"""

from __future__ import annotations

from typing import Any

from keytrail import __version__
from keytrail.checks._util import Deferred
from keytrail.engine import Report, unused_waivers
from keytrail.formats._common import fields
from keytrail.model import CATEGORIES, SEVERITIES, SEVERITY_RANK, Reported, Waiver
from keytrail.timeutil import format_time


def waiver_data(waiver: Waiver | None) -> dict[str, Any] | None:
    if waiver is None:
        return None
    out: dict[str, Any] = {"reason": waiver.reason, "approved_by": waiver.approved_by,
                           "expires": format_time(waiver.expires)}
    if waiver.ticket:
        out["ticket"] = waiver.ticket
    return out


def finding_data(report: Report, item: Reported) -> dict[str, Any]:
    """One finding, as the JSON contract has it."""
    evidence = item.finding.evidence
    location = item.finding.location
    waived = item.waived
    data: dict[str, Any] = {"rule": item.rule, "check": item.check, "category": item.category,
                            "severity": item.severity}
    data.update(fields(item))
    # Deferred evidence is a new dict on every call: only a mapping the finding holds (and
    # may share with others) is copied.
    data["evidence"] = evidence() if type(evidence) is Deferred else dict(item.finding.evidence_data())
    data["location"] = location.as_dict() if location is not None else None
    data["fingerprint"] = item.fingerprint
    data["waived"] = waiver_data(waived) if waived is not None else None
    if report.baseline is not None:
        data["baseline"] = "known" if report.known(item) else "new"
    return data


def summary(report: Report, fail_on: str = "high") -> dict[str, Any]:
    """Counts of unwaived findings by severity and category, plus totals."""
    by_severity: dict[str, int] = {}
    by_category: dict[str, int] = {}
    waived = failing = 0
    rank = SEVERITY_RANK[fail_on]
    if report.spool is not None:  # the findings were counted as they were written
        counts = report.spool.counts
        known = sum(n for (_, _, _, k), n in counts.items() if k) if report.baseline is not None else None
        for (severity, category, is_waived, _), n in counts.items():
            if is_waived:
                waived += n
                continue
            by_severity[severity] = by_severity.get(severity, 0) + n
            by_category[category] = by_category.get(category, 0) + n
        failing = report.spool.failing(fail_on)
    else:
        known = sum(1 for item in report.findings if report.known(item)) if report.baseline is not None else None
        # One pass: the counts, and the failing findings (Report.fails) counted rather than listed.
        for item in report.findings:
            if item.waived is not None:
                waived += 1
                continue
            severity = item.severity
            by_severity[severity] = by_severity.get(severity, 0) + 1
            by_category[item.category] = by_category.get(item.category, 0) + 1
            if report.fails(item, rank):
                failing += 1
    return {
        "findings": len(report.findings),
        "failing": failing,
        "waived": waived,
        **({"known": known} if known is not None else {}),
        "fail_on": fail_on,
        "by_severity": {s: by_severity[s] for s in reversed(SEVERITIES) if s in by_severity},
        "by_category": {c: by_category[c] for c in CATEGORIES if c in by_category},
        "unused_waivers": [unused_waiver_data(w) for w in unused_waivers(report)],
    }


def unused_waiver_data(waiver: Waiver) -> dict[str, Any]:
    """A waiver that matched no finding: what it names and where it is written."""
    out: dict[str, Any] = {"rule": waiver.rule}
    for name in ("subject", "target", "resource"):
        value = getattr(waiver, name)
        if value is not None:
            out[name] = value
    out["expires"] = format_time(waiver.expires)
    out["location"] = waiver.location.as_dict() if waiver.location else None
    return out


def to_data(report: Report, fail_on: str = "high", findings: bool = True) -> dict[str, Any]:
    """The findings JSON contract (``findings=False``: with an empty findings list)."""
    return {
        "tool": {"name": "keytrail", "version": __version__},
        "as_of": format_time(report.as_of),
        "since": format_time(report.since),
        "summary": summary(report, fail_on),
        # Before the findings: the JSON writer streams the findings as the document's last member.
        "notes": notes_data(report),
        "findings": [finding_data(report, f) for f in report.findings] if findings else [],
    }


def notes_data(report: Report) -> list[dict[str, Any]]:
    """What a reviewer should know beside the findings: replay notes (``replay``: a revoke
    of something never granted; ``order``: same-time events from different files whose
    outcome rests on file order), identifier notes (``identifier``: lookalike ids),
    the ``usage`` notes: which usage data the unused-access rules relied on, left out, or
    lacked; last, the ``snapshot`` note: which snapshot the drift checks compared, or why none.
    Notes never change the exit code."""
    project = report.view.project
    state = report.view.state
    ties = {id(note) for note in state.ties}
    out: list[dict[str, Any]] = [
        {"kind": "order" if id(note) in ties else "replay", "message": note[1], "event": note[0].id,
         "location": project.event_location(note[0]).as_dict()}
        for note in state.anomalies]
    out.extend({"kind": "identifier", "message": n.message, "event": n.event,
                "location": n.location.as_dict() if n.location else None} for n in report.id_notes)
    # Which snapshot the drift checks compared, or why none: never a silent skip.
    # Which usage the unused-access rules relied on, or why none (keytrail.usage.notes).
    from keytrail.usage.notes import usage_notes

    out.extend({"kind": "usage", "message": m, "event": None, "location": None} for m in usage_notes(report))
    out.append({"kind": "snapshot", "message": report.view.snapshot_use.message, "event": None,
                "location": None})
    return out


def context(report: Report, fail_on: str = "high", limit: int | None = None) -> dict[str, Any]:
    """Everything a human-format template needs, precomputed.

    Findings are grouped by category, then severity. ``limit`` caps how many
    findings of each group are listed (the counts stay complete, and each
    group says how many it left out): a large organisation's thousands of
    findings belong in the JSON, not in a terminal.
    """
    data = to_data(report, fail_on, findings=False)
    rank = SEVERITY_RANK[fail_on]
    groups: list[dict[str, Any]] = []
    order = {id(f): n for n, f in enumerate(report.findings)}
    shown_all: list[tuple[int, dict[str, Any]]] = []
    for category in CATEGORIES:
        in_cat = [f for f in report.findings if f.category == category]
        if not in_cat:
            continue
        by_sev = []
        for severity in reversed(SEVERITIES):
            items = [f for f in in_cat if f.severity == severity]
            if not items:
                continue
            shown = items if limit is None else items[:limit]
            dicts = [_for_humans(report, f, rank) for f in shown]
            shown_all.extend(zip((order[id(f)] for f in shown), dicts, strict=True))
            by_sev.append({"severity": severity, "count": len(items), "findings": dicts,
                           "more": len(items) - len(shown)})
        groups.append({"category": category, "count": len(in_cat), "severities": by_sev})
    data["findings"] = [d for _, d in sorted(shown_all, key=lambda pair: pair[0])]  # report order
    project = report.view.project
    anomalies = report.view.state.anomalies
    listed = anomalies if limit is None else anomalies[:limit]
    return {
        "data": data,
        "project": {"name": project.name, "root": str(project.root)},
        "snapshot": report.view.snapshot_use.message,
        "usage": [n["message"] for n in data["notes"] if n["kind"] == "usage"],
        "groups": groups,
        "fail_on": fail_on,
        "limit": limit,
        "rules": [{"id": r.id, "check": r.check, "severity": r.severity, "policy": r.policy,
                   "description": r.description} for r in report.rules],
        "anomalies": [{"event": e.id, "location": str(project.event_location(e)), "message": m}
                      for e, m in listed],
        "anomalies_more": len(anomalies) - len(listed),
        "unused_waivers": [_unused_line(w) for w in data["summary"]["unused_waivers"]],
        "id_notes": [{"message": n.message, "location": str(n.location) if n.location else "",
                      "event": n.event} for n in report.id_notes],
    }


def _unused_line(w: dict[str, Any]) -> str:
    """``policies/p.yaml:52: rule r, subject 'user:x'``: one unused waiver, its input values inert."""
    from keytrail.textsafe import inline

    where = f"{inline(w['location']['path'])}:{w['location']['line']}: " if w["location"] else ""
    named = "".join(f", {k} {inline(repr(w[k]))}" for k in ("subject", "target", "resource") if k in w)
    return f"{where}waiver for rule {inline(w['rule'])}{named}"


def _for_humans(report: Report, item: Reported, rank: int) -> dict[str, Any]:
    """A finding's contract fields plus what templates print beside them."""
    f = finding_data(report, item)
    f["fails"] = f["waived"] is None and SEVERITY_RANK[f["severity"]] >= rank and not report.known(item)
    f["known"] = report.known(item)
    f["chain_line"] = chain_line(f)
    path = (f["evidence"] or {}).get("path")
    f["path_line"] = " -> ".join(path) if isinstance(path, list) else ""
    return f


def chain_line(finding: dict[str, Any]) -> str:
    """``key pk-1 (holder svc:tf) · actor user:a · approver user:b · ticket CHG-1``."""
    ev = finding.get("evidence") or {}
    chains = ev.get("chain") or []
    link = chains[-1] if chains else None
    if not link:
        return ""
    parts = []
    if link.get("key"):
        holder = f" (holder {link['key_holder']})" if link.get("key_holder") else " (not registered)"
        parts.append(f"key {link['key']}{holder}")
    else:
        parts.append("no key")
    for name in ("actor", "approver", "ticket"):
        if link.get(name):
            parts.append(f"{name} {link[name]}")
    if link.get("time"):
        parts.append(str(link["time"]))
    if link.get("reason"):
        parts.append(f"“{link['reason']}”")
    return " · ".join(parts)
