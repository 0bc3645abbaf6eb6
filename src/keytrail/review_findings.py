"""The review page's findings that no grant row shows, so that none disappears from the pack.

A grant row of ``index.html`` shows the findings on that active direct grant.
Every other finding of the period — one not tied to an active grant (tampered
history, drift, a duplicate role, an unused target, excessive access, an
ownerless service...) or one on a grant whose row the page does not list (a
reviewer with more rows than the page shows) — is listed here, near the top of
the page: unwaived before waived, critical and unexplained ones first, then by
severity, each with its chain (event, key and holder, actor, approver, ticket,
reason) and fingerprint, which is the same as in ``findings.json``.
"""

from __future__ import annotations

from typing import Any

from keytrail.model import SEVERITY_RANK, Reported

#: The most findings the page's "findings not on a grant row" section lists (findings.json has all).
FINDINGS_SHOWN = 20_000


def order(item: Reported) -> tuple[Any, ...]:
    """Unwaived first; critical or unexplained first; then by severity, unexplained first."""
    urgent = item.severity == "critical" or item.category == "unexplained"
    return (item.waived is not None, not urgent, -SEVERITY_RANK[item.severity],
            item.category != "unexplained", item.sort_key())


def unlisted(review: Any, shown: set[str], where: dict[str, str], people: Any) -> dict[str, Any]:
    """What the page's findings section prints: every finding of ``review`` whose fingerprint
    is not in ``shown`` (the findings the page's grant rows print). ``where`` maps the
    fingerprint of a finding on an active grant cut from the page to its worksheet."""
    from keytrail.report import chain_line, finding_data

    report = review.report
    project = review.project
    rest = sorted((i for i in report.findings if i.fingerprint not in shown), key=order)
    items = []
    for item in rest[:FINDINGS_SHOWN]:
        data = finding_data(report, item)
        f = item.finding
        event = f.event
        chain = chain_line(data) or (_event_chain(project, event) if event is not None else "")
        revoked = (data.get("evidence") or {}).get("revoked")
        if not chain and isinstance(revoked, dict):
            # Drift on a grant the history revoked: the revoke's chain is the one to follow.
            chain = "revoked: " + chain_line({"evidence": {"chain": [revoked]}})
        located = ""
        if event is not None:
            located = str(project.event_location(event))
        elif f.location is not None:
            located = f"{f.location.path}:{max(f.location.line, 1)}"
        items.append({
            "severity": item.severity, "category": item.category, "rule": item.rule,
            "check": item.check, "message": f.message, "subject": f.subject or "",
            "subject_text": people(f.subject).text() if f.subject else "",
            "target": f.target or "", "resource": f.resource, "event": event.id if event else "",
            "where": located, "chain": chain, "fingerprint": item.fingerprint,
            "waived": item.waived is not None,
            "worksheet": where.get(item.fingerprint, ""),
        })
    return {"findings": items, "count": len(rest), "more": max(0, len(rest) - FINDINGS_SHOWN),
            "cut": any(i["worksheet"] for i in items)}


def _event_chain(project: Any, event: Any) -> str:
    """The chain of an event the finding names but whose evidence carries none."""
    parts = []
    if event.key:
        key = project.keys.get(event.key)
        parts.append(f"key {event.key} (holder {key.holder})" if key is not None
                     else f"key {event.key} (not registered)")
    else:
        parts.append("no key")
    for name in ("actor", "approver", "ticket"):
        value = getattr(event, name)
        if value:
            parts.append(f"{name} {value}")
    if event.reason:
        parts.append(f"“{event.reason}”")
    return " · ".join(parts)
