"""An automation key has no accountable human owner.

Why it matters: a key held by a service (``svc:``) is used by software, so
someone else must answer for every change it makes: approve its scope, notice
when it misbehaves, rotate it when it leaks. The registry records that person
as the key's ``owner``. An automation key with no owner, owned by the service
itself, or owned by another service has nobody to ask; the chain
event → key → holder ends at a machine.

Fires: once per *live* key (valid as of ``--as-of``, or issued for later)
held by a ``svc:`` whose ``owner`` is missing, is the holder itself, or is not
a person (not a ``user:``). The subject is the service; the evidence names the
owner the directory records for the service, when it has one, as the likely
person to record.

Does not fire: for keys held by a person (``user:``), who answers for their
own key, with or without an ``owner``; for automation keys owned by a
``user:`` (whether that person is still active is
``orphaned.key-holder-inactive``'s question); for keys expired or revoked at
or before ``as_of``. The review window does not matter.

Remediate: set the key's ``owner`` to the person accountable for the service
(usually the service's owner in the directory), or revoke the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import live_keys
from keytrail.checks._util import NO_PARAMS, key_facts
from keytrail.model import Finding, kind_of
from keytrail.view import View

ID = "orphaned.key-without-owner"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    for key in live_keys(view):
        if kind_of(key.holder) != "svc":
            continue
        owner = key.owner
        if not owner:
            reason, wording = "missing", "has no owner"
        elif owner == key.holder:
            reason, wording = "self", "names the service itself as its owner"
        elif kind_of(owner) != "user":
            reason, wording = "not-a-person", f"is owned by {owner}, which is not a person"
        else:
            continue
        evidence: dict[str, Any] = {"key": key_facts(key), "reason": reason}
        service = view.directory.principals.get(key.holder)
        if service is not None and service.owner:
            evidence["service_owner"] = service.owner
        yield Finding(
            message=f"automation key {key.id} held by {key.holder} {wording}",
            subject=key.holder, key=key.id, evidence=evidence, location=key.location,
            ident=(key.id,))
