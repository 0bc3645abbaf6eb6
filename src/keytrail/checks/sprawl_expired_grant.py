"""A temporary grant is past its expiry and was never revoked.

Why it matters: an expiry is the promise under which temporary access was
approved (an on-call rotation, an incident, a migration). Provisioning systems
rarely enforce it: the history shows no revoke, so the real system most
likely still grants the access, now without the approval that justified it.

Fires: for each active grant (granted and not revoked since) whose grant event
in force carries an ``expires`` at or before ``as_of``: a grant is expired from
the instant its expiry is reached. Grants held by users, services and groups
alike; one finding per grant, pointing at the grant event that set the expiry.

Does not fire: for grants without an ``expires``; for grants expiring after
``as_of``; for grants revoked at or before ``as_of``; for a grant re-granted
with a later expiry (a re-grant refreshes the expiry; the new one counts). A
``certify`` does not extend an expiry: only a re-grant does.

Remediate: revoke the grant under a key (the expiry said it should end), or,
if the access is still needed, re-grant it with a new expiry, approver and
ticket so that the extension is itself on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, deferred, grant_chain
from keytrail.model import Finding, Grant
from keytrail.timeutil import DAY, format_date, format_time
from keytrail.view import View

ID = "sprawl.expired-grant"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    as_of = view.as_of
    grants = view.state.grants
    # Few grants carry an expiry: select them first and sort only those, in key order.
    expired = [key for key, grant in grants.items()
               if (expires := grant.event.expires) is not None and expires <= as_of]
    for key in sorted(expired):
        grant = grants[key]
        expires = grant.event.expires
        assert expires is not None
        on = f" on {grant.resource}" if grant.resource else ""
        yield Finding(
            message=f"{grant.subject} still holds {grant.target}{on}, which expired "
                    f"{format_date(expires)} and was never revoked",
            subject=grant.subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key,
            evidence=deferred(_evidence, view, grant),
            location=view.location(grant.event),
            # A re-grant that sets a new expiry, which then passes too, is a new
            # finding: the earlier one was accepted or fixed on its own terms.
            ident=(grant.event.id,))


def _evidence(view: View, grant: Grant) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: the expiry and the grant's chain."""
    expires = grant.event.expires
    assert expires is not None
    return {"expires": format_time(expires), "expired_days": (view.as_of - expires) // DAY,
            "chain": [grant_chain(view, grant)]}
