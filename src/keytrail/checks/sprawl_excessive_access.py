"""A user or service holds more effective entitlements than ``max``.

Why it matters: access accumulates. Every project, incident and team change
adds entitlements and few are ever removed; an account that reaches far more
groups and roles than anyone needs is the one whose compromise hurts most, and
the one no reviewer can meaningfully certify line by line.

Fires: for each user or service whose effective entitlements, counted as
distinct (target, resource) pairs over groups and roles, directly and through
nested groups, number more than ``max``. A group membership counts as an
entitlement itself, as does everything reached through it. One finding per
principal; the count is in the message and the evidence, not in the
fingerprint, so a baseline keeps matching as the count moves.

Does not fire: at exactly ``max``; for groups (their members are counted);
for the same target held twice on one resource (one entitlement). The
principal's status does not matter: a leaver's access is reported by
``orphaned.inactive-principal`` too, but the count is still the count.

Remediate: review the list in the evidence with the principal's manager;
revoke what is not needed, and move what a whole team needs into a group or
role so that the next review sees one grant instead of many.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import deferred
from keytrail.model import Finding, kind_of
from keytrail.view import View

ID = "sprawl.excessive-access"
SEVERITY = "medium"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max": {"type": "integer", "minimum": 0, "default": 25,
                "description": "The most effective entitlements (target, resource) a user or "
                               "service may hold."},
    },
    "additionalProperties": False,
}


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    limit = params["max"]
    graph = view.graph
    for subject in graph.principals():
        count = len(graph.entitlements(subject))
        if count <= limit:
            continue
        direct = len({g.entitlement for g in graph.direct[subject] if g.target != subject})
        principal = view.directory.principals.get(subject)
        yield Finding(
            message=f"{subject} holds {count} entitlements (max {limit}): {direct} directly, "
                    f"{count - direct} only through groups",
            subject=subject,
            # The list is as long as the access is excessive: built when rendered, not held.
            evidence=deferred(_evidence, view, subject, limit, direct),
            location=principal.location if principal is not None else None)


def _evidence(view: View, subject: str, limit: int, direct: int) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: the counts and every entitlement."""
    effective = view.graph.entitlements(subject)
    count = len(effective)
    groups = sum(1 for target, _ in effective if kind_of(target) == "group")
    roles = sum(1 for target, _ in effective if kind_of(target) == "role")
    entitlements = [target + (f" on {resource}" if resource else "")
                    for target, resource in sorted(effective)]
    return {"count": count, "max": limit, "direct": direct, "inherited": count - direct,
            "groups": groups, "roles": roles, "entitlements": entitlements}
