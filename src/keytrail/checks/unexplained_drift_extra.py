"""The real system grants access that the history does not explain.

Why it matters: the snapshot is what the target system actually enforces. A
grant found there with no active grant in the history was made outside the
keyed provisioning path (a console click, a break-glass account, an attacker),
or was revoked in the history but never removed for real. Either way the
review is looking at the wrong picture: this is the access that matters most
and is explained least.

Fires: for each distinct snapshot entry (subject, target, resource) with no
active direct grant of exactly that subject, target and resource in the
history as of ``as_of``. Identical snapshot lines give one finding, located at
the first; the evidence lists every line. When the history revoked the grant,
the evidence shows the revoke's chain; when the subject reaches the
entitlement through a group, the evidence shows that path (the real system may
have flattened a membership, which the history still does not explain as a
direct grant).

Does not fire: when the project has no snapshot; for snapshot entries the
history grants directly (a grant to another resource does not count).

Remediate: find who made the change in the real system and either revoke it
there or record it in the history as a keyed grant with its approval and
ticket; if the history's revoke never took effect, fix the provisioning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain, path_evidence
from keytrail.graph import Path
from keytrail.model import Finding, SnapshotEntry, kind_of
from keytrail.timeutil import format_date
from keytrail.view import View

ID = "unexplained.drift-extra"
SEVERITY = "critical"
PARAMS = NO_PARAMS


def _through_groups(view: View, subject: str, entitlement: tuple[str, str]) -> list[Path]:
    """The paths by which ``subject`` reaches ``entitlement`` through its groups (one per group)."""
    graph = view.graph
    found: list[Path] = []
    if entitlement[0] == subject:
        return found  # a group reaching itself through a cycle is not an entitlement
    for grant in graph.direct.get(subject, ()):
        if kind_of(grant.target) != "group":
            continue
        rest = graph.group_closure(grant.target).get(entitlement)
        if rest is not None:
            found.append((grant,) + rest)
    return found


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    snapshot = view.snapshot
    if not snapshot:
        return
    grants = view.state.grants
    extra: dict[tuple[str, str, str], list[SnapshotEntry]] = {}
    for entry in snapshot:
        key = (entry.subject, entry.target, entry.resource)
        if key not in grants:
            extra.setdefault(key, []).append(entry)
    revoked = view.state.ended_for(sorted(extra))
    for key in sorted(extra):
        subject, target, resource = key
        entries = extra[key]
        first = entries[0]
        on = f" on {resource}" if resource else ""
        evidence: dict[str, Any] = {"lines": [e.line for e in entries]}
        if first.extra:
            evidence["observed"] = first.extra
        why = "but the history has no active grant for it"
        revoke = revoked.get(key)
        if revoke is not None:
            why = f"but the history revoked it {format_date(revoke.time)} ({revoke.id})"
            evidence["revoked"] = chain(view, revoke)
        paths = _through_groups(view, subject, (target, resource))
        if paths:
            evidence["through_groups"] = [path_evidence(view, subject, p) for p in paths]
            via = ", ".join(sorted({p[0].target for p in paths}))
            why = f"but the history grants it only through {via}, not directly"
        yield Finding(
            message=f"{subject} holds {target}{on} in the real system, {why}",
            subject=subject, target=target, resource=resource,
            evidence=evidence, location=view.snapshot_location(first))
