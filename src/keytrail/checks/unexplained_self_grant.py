"""A principal granted itself access, or a change was approved by its own maker or beneficiary.

Why it matters: the four-eyes principle says nobody both makes and approves a
change, and nobody gives themselves access. A self-grant or a self-approved
grant has no independent check behind it; a self-certification makes the
quarterly review meaningless for that access (SOC 2 CC6.1/CC6.3, SOX
segregation of duties).

Fires: for each ``grant`` or ``certify`` in the review window where

- the actor is the subject (``granted itself`` / ``certified its own access``);
- the approver is the actor (``approved by its own actor``);
- the approver is the subject (``approved by the grantee`` / ``by the holder``).

One finding per event; the message names every way it is self-approved.

Does not fire: for ``revoke`` (removing one's own access is harmless), for
``define`` and ``retire`` (no subject), or for ``join``, ``move``, ``leave``;
for events that record neither actor nor approver (the missing chain is the
``unexplained.key-*`` checks' business); for events before ``--since`` or
after ``--as-of``. Only identical ids count: a grant to a group the actor
belongs to, or approved by a service the subject owns, is not detected here
(group membership at the time of the event is not known to this check).

Remediate: have someone other than the subject review the access and revoke it
or re-grant it with an independent approver; make the provisioning path
refuse self-approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain
from keytrail.model import Event, Finding
from keytrail.view import View

ID = "unexplained.self-grant"
SEVERITY = "high"
PARAMS = NO_PARAMS

_ACTIONS = frozenset({"grant", "certify"})


def reasons(event: Event) -> list[tuple[str, str]]:
    """How ``event`` is self-made or self-approved: (code, words) pairs, possibly none."""
    actor, approver, subject = event.actor, event.approver, event.subject
    granting = event.action == "grant"
    out = []
    if actor and actor == subject:
        out.append(("actor-is-subject", f"{actor} " + ("granted itself" if granting
                                                       else "certified its own access")))
    if approver and approver == actor:
        out.append(("approver-is-actor", f"approved by its own actor {approver}"))
    if approver and approver == subject:
        out.append(("approver-is-subject", f"approved by the {'grantee' if granting else 'holder'} "
                                           f"{approver}"))
    return out


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    for event in view.changes(ID):
        if event.action not in _ACTIONS or not (event.actor or event.approver):
            continue
        found = reasons(event)
        if not found:
            continue
        what = (event.target or "?") + (f" on {event.resource}" if event.resource else "")
        change = (f"grant of {what} to {event.subject}" if event.action == "grant"
                  else f"certification of {what} for {event.subject}")
        yield Finding(
            message=f"{change}: " + "; ".join(words for _, words in found),
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            key=event.key or None,
            evidence={"chain": [chain(view, event)], "self": [code for code, _ in found]},
            location=view.location(event), ident=(event.id,))
