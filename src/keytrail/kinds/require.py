"""Require: every active grant to matching targets must meet conditions.

``require: {subject: SELECTOR, target: SELECTOR, grant: {...}}`` with any of
``expires_within: DURATION`` (the grant has an expiry no later than that
after it was granted), ``approver: present | not-actor | not-subject``,
``key: present``, ``ticket: present``, ``reason: present``. Each active
*direct* grant to a matching target (held by a matching subject) that fails
one or more conditions is a finding naming every condition it fails.

``expires_within`` is met by an expiry exactly that long after the grant;
``approver: not-actor`` and ``not-subject`` also require an approver, and
compare ids exactly (a grant recording no actor meets ``not-actor`` when it
has an approver: ``unexplained.key-misuse`` reports the missing actor). A
re-grant replaces the provenance, so the conditions are judged on the grant
event in force. Grants held by groups are checked like any other direct grant
when they match ``subject``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import grant_chain
from keytrail.model import Finding, Grant
from keytrail.selectors import compile_selector
from keytrail.timeutil import format_duration, parse_duration
from keytrail.view import View

KIND = "require"
CHECK = "require"
SEVERITY = "medium"


def failures(grant: Grant, conditions: dict[str, Any], within: int | None = None) -> list[str]:
    """The conditions ``grant`` fails, in words (``within``: ``expires_within`` already parsed)."""
    event = grant.event
    out = []
    if within is None and conditions.get("expires_within") is not None:
        within = parse_duration(conditions["expires_within"])
    if within is not None:
        if event.expires is None:
            out.append(f"has no expiry (must expire within {format_duration(within)})")
        elif event.expires - event.time > within:
            lasts = format_duration(event.expires - event.time)
            out.append(f"expires {lasts} after it was granted (at most {format_duration(within)})")
    approver = conditions.get("approver")
    if approver is not None:
        if not event.approver:
            out.append("has no approver")
        elif approver == "not-actor" and event.approver == event.actor:
            out.append(f"was approved by its own actor {event.actor}")
        elif approver == "not-subject" and event.approver == grant.subject:
            out.append("was approved by the grantee")
    for field in ("key", "ticket", "reason"):
        if conditions.get(field) == "present" and not getattr(event, field):
            out.append(f"has no {field}")
    return out


def check(view: View, spec: dict[str, Any]) -> Iterator[Finding]:
    subject_ok = compile_selector(spec.get("subject"))
    target_ok = compile_selector(spec["target"])
    conditions = spec.get("grant") or {}
    # Parsed once: this runs over every active grant of the organisation.
    within = conditions.get("expires_within")
    within_us = parse_duration(within) if within is not None else None
    # Selector results per id: grants repeat the same targets and subjects.
    targets: dict[str, bool] = {}
    subjects: dict[str, bool] = {}
    for key in sorted(view.state.grants):
        grant = view.state.grants[key]
        ok = targets.get(grant.target)
        if ok is None:
            ok = targets[grant.target] = target_ok(view, grant.target)
        if not ok:
            continue
        ok = subjects.get(grant.subject)
        if ok is None:
            ok = subjects[grant.subject] = subject_ok(view, grant.subject)
        if not ok:
            continue
        failed = failures(grant, conditions, within_us)
        if not failed:
            continue
        on = f" on {grant.resource}" if grant.resource else ""
        yield Finding(
            message=f"grant of {grant.target}{on} to {grant.subject} " + "; ".join(failed),
            subject=grant.subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key,
            evidence={"failed": failed, "chain": [grant_chain(view, grant)]},
            location=view.location(grant.event))
