"""One row per key: what the registry says, its status as of a time, and its use.

Use is read from the review window's events (``--since`` to ``--as-of``): how many
events were made under the key, by which actors, on which targets, first and last.
Keys the history uses but the registry does not know get a row too (status
``unknown``): a key nobody registered is the first thing a registry audit must show.
Findings are the check run's, attached by their ``key`` field, so every check that
names a key (the key hygiene checks included) appears without this module knowing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keytrail.model import Event, Key, Reported

#: A key's status as of a time, in the order a reader meets them.
STATUSES = ("valid", "not yet valid", "expired", "revoked", "unknown")


def status(key: Key | None, as_of: int) -> str:
    """``valid``, ``not yet valid``, ``expired`` or ``revoked`` as of ``as_of``; ``unknown``
    for a key the registry lacks. A revocation outranks expiry: it was a decision."""
    if key is None:
        return "unknown"
    if key.revoked_at is not None and key.revoked_at <= as_of:
        return "revoked"
    if key.expires is not None and key.expires <= as_of:  # valid strictly before expires
        return "expired"
    if key.not_before is not None and key.not_before > as_of:
        return "not yet valid"
    return "valid"


@dataclass
class Usage:
    """What was done under one key in the window."""

    events: int = 0
    actors: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    first: int | None = None
    last: int | None = None

    def add(self, event: Event) -> None:
        self.events += 1
        if event.actor:
            self.actors.add(event.actor)
        if event.target:
            self.targets.add(event.target)
        # Events come sorted by time: the first seen is the first use.
        if self.first is None:
            self.first = event.time
        self.last = event.time


def usage(events: Iterable[Event]) -> dict[str, Usage]:
    """Use per key id over ``events`` (sorted by time)."""
    out: dict[str, Usage] = {}
    for event in events:
        if event.key:
            used = out.get(event.key)
            if used is None:
                used = out[event.key] = Usage()
            used.add(event)
    return out


@dataclass
class KeyRow:
    """One key as ``keytrail keys`` lists it."""

    id: str
    key: Key | None
    status: str
    used: Usage
    findings: list[Reported]
    replaced_by: list[str] = field(default_factory=list)


def rows(keys: dict[str, Key], events: Iterable[Event], as_of: int,
         findings: Iterable[Reported] = ()) -> list[KeyRow]:
    """Every registry key (in registry order), then every unknown key the events use (by id)."""
    used = usage(events)
    by_key: dict[str, list[Reported]] = {}
    for item in findings:
        if item.finding.key:
            by_key.setdefault(item.finding.key, []).append(item)
    successors: dict[str, list[str]] = {}
    for key in keys.values():
        if key.replaces:
            successors.setdefault(key.replaces, []).append(key.id)
    out = [KeyRow(k.id, k, status(k, as_of), used.get(k.id, Usage()), by_key.get(k.id, []),
                  successors.get(k.id, [])) for k in keys.values()]
    out.extend(KeyRow(ident, None, "unknown", used[ident], by_key.get(ident, []))
               for ident in sorted(used) if ident not in keys)
    return out


def row_data(row: KeyRow) -> dict[str, Any]:
    """A row as plain data (the JSON output; times as ISO 8601 text)."""
    from keytrail.timeutil import format_time

    k = row.key
    return {
        "id": row.id,
        "status": row.status,
        "holder": k.holder if k else None,
        "owner": k.owner if k else None,
        "purpose": k.purpose if k else None,
        "ticket": k.ticket if k else None,
        "approved_by": k.approved_by if k else None,
        "scope": list(k.scope) if k else [],
        "not_before": format_time(k.not_before) if k else None,
        "expires": format_time(k.expires) if k else None,
        "revoked_at": format_time(k.revoked_at) if k else None,
        "replaces": k.replaces if k else None,
        "replaced_by": row.replaced_by,
        "location": k.location.as_dict() if k and k.location else None,
        "changes": row.used.events,
        "actors": sorted(row.used.actors),
        "targets": sorted(row.used.targets),
        "first_use": format_time(row.used.first),
        "last_use": format_time(row.used.last),
        "findings": [finding_data(item) for item in row.findings],
    }


def finding_data(item: Reported) -> dict[str, Any]:
    """The fields of a finding a key's row carries (the full finding is in ``keytrail check``)."""
    f = item.finding
    return {"rule": item.rule, "check": item.check, "severity": item.severity,
            "subject": f.subject, "target": f.target, "event": f.event.id if f.event else None,
            "message": f.message, "waived": item.waived is not None, "fingerprint": item.fingerprint}
