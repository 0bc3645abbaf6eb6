"""Require: every active grant to matching targets must meet conditions.

``require: {subject: SELECTOR, target: SELECTOR, grant: {...}}`` with any of
``expires_within: DURATION`` (the grant has an expiry no later than that
after it was granted), ``approver: present | not-actor | not-subject``,
``key: present``, ``ticket: present``, ``reason: present``. Each active
*direct* grant to a matching target (held by a matching subject) that fails
one or more conditions is a finding naming every condition it fails.
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


def failures(grant: Grant, conditions: dict[str, Any]) -> list[str]:
    """The conditions ``grant`` fails, in words."""
    event = grant.event
    out = []
    within = conditions.get("expires_within")
    if within is not None:
        limit = parse_duration(within)
        if event.expires is None:
            out.append(f"has no expiry (must expire within {format_duration(limit)})")
        elif event.expires - event.time > limit:
            out.append(f"expires {format_duration(event.expires - event.time)} after it was granted "
                       f"(at most {format_duration(limit)})")
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
    for key in sorted(view.state.grants):
        grant = view.state.grants[key]
        if not target_ok(view, grant.target) or not subject_ok(view, grant.subject):
            continue
        failed = failures(grant, conditions)
        if not failed:
            continue
        yield Finding(
            message=f"grant of {grant.target} to {grant.subject} " + "; ".join(failed),
            subject=grant.subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key,
            evidence={"failed": failed, "chain": [grant_chain(view, grant)]},
            location=view.location(grant.event))
