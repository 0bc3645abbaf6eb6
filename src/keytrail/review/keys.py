"""Key owners review their keys: one section per key owner in the review pack.

Every key of the registry that was valid at any time in the review period
(``not_before`` at or before the period's end, not expired before it started,
not revoked before it started) is listed once, under its accountable person:

- its ``owner``; else its holder when the holder is a person (``user:``);
- otherwise, or when that owner is a service rather than a person, or is not
  an active principal of the directory, the key goes to the "unowned keys"
  list with the reason.

Each key shows its holder, purpose, ticket, scope, validity, its status as of
the review, what it changed in the review window (changes by action, targets
touched, first and last use) and the findings made on it. Its worksheet row
(``worksheets/keys-<owner>.csv``) is decided ``keep`` or ``revoke``;
``keytrail decisions`` turns a ``revoke`` into a ``revoked_at`` proposal for the
key registry, never into a history event (the history has no key action).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keytrail.model import Key, Reported, kind_of
from keytrail.timeutil import format_time

#: The columns of a key worksheet, in order (``keytrail decisions`` requires the starred ones:
#: key_id, owner, decision, comment).
KEY_COLUMNS = ("key_id", "owner", "owner_name", "unowned_reason", "holder", "holder_name",
               "purpose", "ticket", "approved_by", "scope", "not_before", "expires", "revoked_at",
               "status", "changes", "targets", "first_use", "last_use", "findings", "decision", "comment")
#: Why a key has no accountable person (the ``unowned_reason`` column).
UNOWNED_REASONS = {
    "no-owner": "the key has no owner and its holder is not a person",
    "owner-not-in-directory": "the key's owner is not a principal of the directory",
    "owner-inactive": "the key's owner is terminated, suspended or has left",
    "owner-not-a-person": "the key's owner is a service, not a person who can answer for it",
}
#: The row id of a key in pack.json (grant ids start with ``g-``, so the two never meet).
KEY_ROW_PREFIX = "key:"


@dataclass
class KeyRow:
    """One key to review, with what it did in the review window."""

    key: Key
    owner: str | None
    unowned: str = ""                 # a key of UNOWNED_REASONS when owner is None
    status: str = ""
    actions: dict[str, int] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    first_use: int | None = None
    last_use: int | None = None
    findings: list[Reported] = field(default_factory=list)


def valid_in(key: Key, start: int, end: int) -> bool:
    """Whether ``key`` was valid at any time from ``start`` to ``end`` (inclusive)."""
    if key.not_before is not None and key.not_before > end:
        return False
    if key.expires is not None and key.expires < start:
        return False
    return key.revoked_at is None or key.revoked_at > start


def status(key: Key, as_of: int) -> str:
    """The key's status as of the review: active, not yet valid, expired or revoked (with when)."""
    if key.revoked_at is not None and key.revoked_at <= as_of:
        return f"revoked {format_time(key.revoked_at)}"
    if key.expires is not None and key.expires < as_of:
        return f"expired {format_time(key.expires)}"
    if key.not_before is not None and key.not_before > as_of:
        return f"not valid before {format_time(key.not_before)}"
    return "active"


def owner_of(key: Key, directory: Any, view: Any) -> tuple[str | None, str]:
    """(owner, reason): the key's accountable person, or None and a key of UNOWNED_REASONS."""
    candidate = key.owner or (key.holder if kind_of(key.holder) == "user" else None)
    if candidate is None:
        return None, "no-owner"
    if kind_of(candidate) != "user":
        # A service cannot fill in a worksheet or answer for a key (orphaned.key-without-owner).
        return None, "owner-not-a-person"
    if candidate not in directory.principals:
        return None, "owner-not-in-directory"
    if view is not None and view.inactive(candidate):
        return None, "owner-inactive"
    return candidate, ""


def build(project: Any, report: Any, start: int, since: int) -> dict[str | None, list[KeyRow]]:
    """Every key valid in the period, grouped by owner (sorted; unowned keys, None, last).

    ``start`` is the period's first second; ``since`` the exclusive start of the review
    window (changes in ``(since, as_of]`` are counted, as for the rest of the review)."""
    as_of = report.as_of
    rows: dict[str, KeyRow] = {}
    for key_id in sorted(project.keys):
        key = project.keys[key_id]
        if not valid_in(key, start, as_of):
            continue
        owner, why = owner_of(key, project.directory, report.view)
        rows[key_id] = KeyRow(key, owner, why, status(key, as_of))
    touched: dict[str, set[str]] = {}
    for event in project.events:
        row = rows.get(event.key or "")
        if row is None or not since < event.time <= as_of:
            continue
        row.actions[event.action] = row.actions.get(event.action, 0) + 1
        if event.target:
            touched.setdefault(row.key.id, set()).add(event.target)
        row.first_use = event.time if row.first_use is None else min(row.first_use, event.time)
        row.last_use = event.time if row.last_use is None else max(row.last_use, event.time)
    for key_id, targets in touched.items():
        rows[key_id].targets = sorted(targets)
    for item in report.findings:
        row = rows.get(item.finding.key or "")
        if row is not None:
            row.findings.append(item)
    grouped: dict[str | None, list[KeyRow]] = {}
    for row in rows.values():
        grouped.setdefault(row.owner, []).append(row)
    out: dict[str | None, list[KeyRow]] = {o: grouped[o] for o in sorted(o for o in grouped if o)}
    if None in grouped:
        out[None] = grouped[None]
    return out


def worksheet_name(owner: str | None) -> str:
    """``keys-<owner>.csv`` (``keys-unowned.csv`` for keys with no accountable person)."""
    from keytrail.review import worksheet_name as base

    return "keys-" + ("unowned.csv" if owner is None else base(owner))


def changes_text(row: KeyRow) -> str:
    """``3 grant, 1 revoke`` (actions by name), or empty when the key changed nothing."""
    return ", ".join(f"{n} {action}" for action, n in sorted(row.actions.items()))


def cells(row: KeyRow, people: Any) -> dict[str, str]:
    """One key's worksheet cells (every value is input: the caller guards them)."""
    k = row.key
    return {
        "key_id": k.id, "owner": row.owner or "", "owner_name": people.name(row.owner),
        "unowned_reason": row.unowned, "holder": k.holder, "holder_name": people.name(k.holder),
        "purpose": k.purpose, "ticket": k.ticket, "approved_by": k.approved_by or "",
        "scope": ";".join(k.scope), "not_before": format_time(k.not_before) or "",
        "expires": format_time(k.expires) or "", "revoked_at": format_time(k.revoked_at) or "",
        "status": row.status, "changes": changes_text(row), "targets": ";".join(row.targets),
        "first_use": format_time(row.first_use) or "", "last_use": format_time(row.last_use) or "",
        "findings": ";".join(sorted({f.check for f in row.findings})), "decision": "", "comment": "",
    }


def worksheet(rows: list[KeyRow], people: Any) -> str:
    """One owner's key worksheet: RFC 4180, ``\\r\\n`` line endings, formula-safe cells."""
    from keytrail.formats.csv import sheet

    return sheet(KEY_COLUMNS, (cells(row, people) for row in rows))


def context(groups: dict[str | None, list[KeyRow]], people: Any) -> list[dict[str, Any]]:
    """What ``review-keys.html.j2`` prints: one section per owner, then the unowned keys."""
    sections = []
    for owner, rows in groups.items():
        sections.append({
            "owner": owner, "name": people(owner).text() if owner else "",
            "worksheet": "worksheets/" + worksheet_name(owner), "count": len(rows),
            "rows": [{**cells(r, people), "holder_text": people(r.key.holder).text(),
                      "reason_text": UNOWNED_REASONS.get(r.unowned, ""),
                      "row_findings": _finding_counts(r.findings)}
                     for r in rows]})
    return sections


def _finding_counts(findings: list[Reported]) -> list[dict[str, Any]]:
    """A key's findings as counts by severity and rule: each finding is detailed once in the page
    (on its grant row or in the findings list), and a busy key may have thousands."""
    from keytrail.model import SEVERITIES

    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        counts[(f.severity, f.rule)] = counts.get((f.severity, f.rule), 0) + 1
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return [{"severity": sev, "rule": rule, "count": n}
            for (sev, rule), n in sorted(counts.items(), key=lambda kv: (-rank.get(kv[0][0], -1), kv[0][1]))]
