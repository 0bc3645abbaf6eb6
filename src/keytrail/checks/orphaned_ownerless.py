"""A service, group or role has no accountable owner, or its owner is gone.

Why it matters: an owner is who answers for a service's actions and who
reviews a group's members or a role's holders. Without one, quarterly reviews
have nobody to send the worksheet to, changes have nobody to approve them, and
an automated service keeps running on credentials nobody is responsible for.
An owner who left is the same as none, only harder to notice.

Fires: once per directory service (``svc:``) whose ``owner`` is missing, is
not a principal of the directory, or is inactive (suspended, terminated, or
with a ``leave`` and no later ``join``); and once per directory group and
role whose ``owner`` is missing, unknown or inactive. The finding's subject is
the service, group or role; its location is the directory entry; its evidence
names the owner and why it does not count (and, for a group or role, the owner
its ``define`` event recorded, when it names one).

Does not fire: for services, groups and roles whose owner is an active
principal of the directory; for groups and roles the history retired (a
``retire`` with no later ``define``: they need no owner, and grants still
held on them are reported by ``orphaned.unknown-target``); for services that
are themselves inactive (what they still hold is reported by
``orphaned.inactive-principal``); for users, who have managers, not owners.

Remediate: set ``owner`` in the directory to an active person who accepts the
accountability, or decommission the service, group or role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS
from keytrail.model import Finding, Location, kind_of
from keytrail.view import View

ID = "orphaned.ownerless"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def _owner_problem(view: View, owner: str | None) -> tuple[str, str] | None:
    """(reason code, message part) when ``owner`` does not count as an owner, else None."""
    if not owner:
        return "missing", "has no owner"
    if owner not in view.directory.principals:
        where = view.directory.file or "directory.yaml"
        return "unknown", f"is owned by {owner}, whom {where} does not know"
    why = view.inactive(owner)
    if why is not None:
        return why, f"is owned by {owner} ({why})"
    return None


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    directory = view.directory
    retired = view.state.retired
    entries: list[tuple[str, str | None, Location | None]] = []
    for pid in sorted(directory.principals):
        if kind_of(pid) != "svc" or view.inactive(pid) is not None:
            continue
        p = directory.principals[pid]
        entries.append((pid, p.owner, p.location))
    for tid in sorted({*directory.groups, *directory.roles}):
        if tid in retired:
            continue
        t = directory.target(tid)
        assert t is not None
        entries.append((tid, t.owner, t.location))
    for ident, owner, location in entries:
        problem = _owner_problem(view, owner)
        if problem is None:
            continue
        reason, text = problem
        evidence: dict[str, Any] = {"owner": owner, "reason": reason}
        defined = view.state.defined.get(ident)
        if defined is not None and defined.get("owner"):
            evidence["history_owner"] = {"owner": defined.get("owner"), "event": defined.id,
                                         "location": str(view.location(defined))}
        yield Finding(message=f"{ident} {text}", subject=ident, target=None,
                      evidence=evidence, location=location)
