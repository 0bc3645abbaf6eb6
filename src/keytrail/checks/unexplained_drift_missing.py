"""The history says access exists that the real system does not show.

Why it matters: a grant in the history that the snapshot lacks means the
provisioning never happened, failed, or was undone outside the keyed path
(someone removed it by hand). The history is then not a faithful record: the
next review certifies access that is not there, and the undocumented removal
may hide an undocumented change elsewhere.

Fires: for each active direct grant (subject, target, resource) as of
``as_of`` that no snapshot line matches exactly, when the project has a
snapshot. An empty snapshot file is a snapshot in which nothing is held. The
finding is located at the grant event in force.

Does not fire: when the project has no snapshot; for grants revoked before
``as_of``; for access held only through groups (the membership grant is what
is compared).

Remediate: re-provision the grant in the real system if it is still needed,
or record a keyed revoke in the history if it was removed on purpose; find out
who removed it and how.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, grant_chain
from keytrail.model import Finding
from keytrail.view import View

ID = "unexplained.drift-missing"
SEVERITY = "low"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    snapshot = view.snapshot
    if snapshot is None:
        return
    observed = {(e.subject, e.target, e.resource) for e in snapshot}
    grants = view.state.grants
    # The active grants are keyed (subject, target, resource): the set difference in C, then
    # the few missing in the order the graph lists them (by subject, target, resource).
    for key in sorted(grants.keys() - observed):
        grant = grants[key]
        subject = grant.subject
        on = f" on {grant.resource}" if grant.resource else ""
        yield Finding(
            message=f"{subject} holds {grant.target}{on} per the history ({grant.event.id}), "
                    "but the real system does not show it",
            subject=subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key,
            evidence={"chain": [grant_chain(view, grant)]},
            location=view.location(grant.event))
