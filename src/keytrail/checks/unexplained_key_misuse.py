"""An access change was made under a key by someone other than its holder.

Why it matters: a provisioning key is issued to one individual or one
automated service, its holder. A change made under it by anyone else breaks
the chain event → key → holder: the key was shared, copied out of a pipeline,
or the actor recorded is not who really made the change. A change that
records no actor at all cannot be tied to the holder either.

Fires: for each change in the review window (``grant``, ``revoke``,
``define``, ``retire``, ``certify``) under a registered key whose ``actor``
differs from the key's ``holder``, or that records no actor. Ids are compared
exactly. The key's ``owner`` (the accountable human behind an automation key)
is not its holder: an owner using the service's key by hand fires too, because
that is exactly the sharing the check is for.

Does not fire: for changes made by the key's holder; for unknown keys (see
``unexplained.unknown-key``) or missing ones (``unexplained.missing-key``);
for ``join``, ``move`` and ``leave``; for events before ``--since`` or after
``--as-of``.

Remediate: find out how the actor came to use the key; rotate it if it was
shared or leaked; issue the actor a key of their own. If the provisioning path
does not record actors, make it stamp one on every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain, describe_change, key_facts
from keytrail.model import Finding
from keytrail.view import View

ID = "unexplained.key-misuse"
SEVERITY = "high"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    keys = view.keys
    for event in view.changes(ID):
        key = keys.get(event.key) if event.key else None
        if key is None or event.actor == key.holder:
            continue
        if event.actor:
            why = f"was made by {event.actor}, but key {key.id} is held by {key.holder}"
        else:
            why = f"under key {key.id} records no actor (the key is held by {key.holder})"
        yield Finding(
            message=f"{describe_change(event, actor=False)} {why}",
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            key=key.id, evidence={"chain": [chain(view, event)], "key": key_facts(key)},
            location=view.location(event), ident=(event.id,))
