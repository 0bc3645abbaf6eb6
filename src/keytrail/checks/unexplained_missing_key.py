"""An access change carries no provisioning key.

Why it matters: the key is what ties a change to the person or pipeline that
made it, the approval and the ticket. A change without one cannot be traced:
it may be a console click, a script run with someone's personal credentials,
or an importer whose key mapping is missing.

Fires: for each change in the review window (``grant``, ``revoke``,
``define``, ``retire``, ``certify``) with no ``key`` field, or an empty one.

Does not fire: for ``join``, ``move`` and ``leave`` (facts from the HR feed,
not access changes); for events before ``--since`` or after ``--as-of``.

Remediate: find who made the change (actor, ticket) and register or attach the
right key; make the provisioning path stamp its key on every change. Imported
histories need a key mapping (``--key-from`` / ``--key-pattern``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain
from keytrail.model import Finding
from keytrail.view import View

ID = "unexplained.missing-key"
SEVERITY = "high"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    for event in view.changes(ID):
        if event.key:
            continue
        what = event.target if event.subject is None else f"{event.target} for {event.subject}"
        by = f" by {event.actor}" if event.actor else ""
        yield Finding(
            message=f"{event.action} of {what}{by} has no provisioning key",
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            evidence={"chain": [chain(view, event)]}, location=view.location(event),
            ident=(event.id,))
