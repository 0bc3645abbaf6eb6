"""A provisioning key was approved by its own holder or owner, or by nobody on record.

Why it matters: the approval of a key is the approval of every change made
under it: the approver vouched for its holder, purpose and scope. A key
approved by the person who holds it, or by the owner who answers for it, was
in effect approved by nobody, and so was each change it authorised (the
four-eyes principle of SOC 2 CC6.1 / ISO 27001 A.5.3). A key with no
``approved_by`` at all leaves the same gap in the chain.

Fires: once per key that was valid at some time in the review window (its
validity had not ended by ``--since``; every key when there is no window),
including keys issued for later, when its ``approved_by`` is its ``holder``
or its ``owner``, or (with ``require_approver``, the default) when it has no
``approved_by``. The subject is the approver (the holder when nobody is on
record).

Does not fire: for keys approved by someone other than their holder and
owner (whether that approver was entitled to approve is a matter for the
change board, not for keytrail); for keys whose validity ended before the
window starts; with ``require_approver: false``, for keys without an
``approved_by`` (for registries that record approvals elsewhere).

Remediate: have the key re-approved by someone independent of its holder and
owner (record them in ``approved_by`` and the ticket), and review the changes
made under it in the meantime; or revoke it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import in_window
from keytrail.checks._util import key_facts
from keytrail.model import Finding
from keytrail.view import View

ID = "unexplained.self-approved-key"
SEVERITY = "high"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "require_approver": {
            "type": "boolean", "default": True,
            "description": "Also fire for a key with no approved_by: a key nobody approved "
                           "on record is no better explained than a self-approved one."},
    },
    "additionalProperties": False,
}


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    require = params.get("require_approver", True)
    for key_id in sorted(view.keys):
        key = view.keys[key_id]
        if not in_window(key, view.since):
            continue
        approver = key.approved_by
        if not approver:
            if not require:
                continue
            subject, reason = key.holder, "missing"
            text = f"key {key.id} held by {key.holder} has no approver on record (approved_by)"
        else:
            roles = [r for r, who in (("holder", key.holder), ("owner", key.owner)) if who == approver]
            if not roles:
                continue
            subject, reason = approver, "self"
            text = f"key {key.id} was approved by {approver}, its own {' and '.join(roles)}"
        yield Finding(message=text, subject=subject, key=key.id,
                      evidence={"key": key_facts(key), "approved_by": approver, "reason": reason},
                      location=key.location, ident=(key.id,))
