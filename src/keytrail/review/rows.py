"""One grant row of the review pack: its worksheet cells and what the page prints for it.

The worksheet carries the ids ``keytrail decisions`` keys on, and beside them who
each person is (name, title, department, manager, status: :mod:`keytrail.review.people`),
the grant's last change, its last use (usage data: :mod:`keytrail.usage.review`) and,
for a grant nobody can review, why
(``unassigned_reason``). Cells are plain text here; the CSV writer guards formulas
and the page's templates make every value inert.
"""

from __future__ import annotations

from typing import Any

from keytrail.project import Project
from keytrail.review import UNASSIGNED_REASONS, WORKSHEET_COLUMNS, Row, grant_id
from keytrail.review.people import People
from keytrail.timeutil import format_time
from keytrail.usage.review import last_used


def row_cells(row: Row, people: People) -> dict[str, str]:
    """A row's worksheet cells (plain text; the CSV writer neutralises formulas)."""
    g = row.grant
    e = g.event
    c = g.certified
    who = people(g.subject)
    reviewer = people(row.reviewer)
    return {
        "grant_id": grant_id(g.subject, g.target, g.resource),
        "reviewer": row.reviewer or "",
        "reviewer_name": reviewer.name,
        "reviewer_title": reviewer.title,
        "reviewer_note": row.note,
        "unassigned_reason": row.unassigned,
        "subject": g.subject,
        "target": g.target,
        "resource": g.resource,
        "subject_name": who.name,
        "subject_title": who.title,
        "subject_department": who.department,
        "subject_manager": who.manager,
        "subject_manager_name": who.manager_name,
        "subject_status": who.status,
        "target_name": people.name(g.target),
        "held_since": format_time(g.since) or "",
        "last_change": format_time(e.time) or "",
        "granted_by": e.actor or "",
        "granted_by_name": people.name(e.actor),
        "key": e.key or "",
        "approver": e.approver or "",
        "approver_name": people.name(e.approver),
        "ticket": e.ticket or "",
        "reason": e.reason or "",
        "expires": format_time(e.expires) or "",
        "last_certified": (format_time(c.time) or "") if c is not None else "",
        "last_used": last_used(people.view, g),
        "findings": ";".join(sorted({f.check for f in row.findings})),
        "decision": "",
        "comment": "",
    }


def worksheet(rows: list[Row], people: People) -> str:
    """One reviewer's worksheet: RFC 4180, ``\\r\\n`` line endings, formula-safe cells."""
    from keytrail.formats.csv import sheet

    return sheet(WORKSHEET_COLUMNS, (row_cells(row, people) for row in rows))


def row_context(row: Row, project: Project, people: People) -> dict[str, Any]:
    """What the page prints for one grant row: its cells, chain, people and findings."""
    g = row.grant
    e = g.event
    c = g.certified
    cells = row_cells(row, people)
    return {
        **cells,
        "subject_text": people(g.subject).text(),
        "granted_by_text": people(e.actor).text(),
        "approver_text": people(e.approver).text(),
        "granted": format_time(e.time),
        "event": e.id,
        "where": str(project.event_location(e)),
        "reason": e.reason or "",
        "via": row.via,
        "via_more": row.via_more,
        "note": row.note,
        "certified": None if c is None else {
            "time": format_time(c.time), "actor": c.actor or "", "approver": c.approver or "",
            "actor_text": people(c.actor).text(), "approver_text": people(c.approver).text(),
            "event": c.id},
        "findings": [{"severity": f.severity, "rule": f.rule, "check": f.check,
                      "message": f.finding.message, "waived": f.waived is not None,
                      "fingerprint": f.fingerprint} for f in row.findings],
        "unassigned_text": UNASSIGNED_REASONS.get(row.unassigned, ""),
    }
