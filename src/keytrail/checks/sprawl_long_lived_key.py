"""A provisioning key is valid for longer than ``max_validity``, or has no expiry.

Why it matters: a key's validity is how long one approval keeps authorising
changes. A key that never expires outlives its purpose, its ticket and often
its holder's job; a long one escapes the regular re-approval in which someone
asks whether the holder, the scope and the purpose still hold. Short-lived
credentials are the standing advice for anything that grants access.

Fires: once per *live* key (valid as of ``--as-of``, or issued for later: not
expired and not revoked by then) whose validity, from ``not_before`` to the
earlier of ``expires`` and ``revoked_at``, is longer than ``max_validity``;
or that has no end (no ``expires`` and no ``revoked_at``); or that has no
``not_before`` (valid for any time before its end, so its length is
unbounded too). The subject is the key's holder.

Does not fire: for keys valid exactly ``max_validity`` or less; for keys that
expired or were revoked at or before ``as_of`` (they no longer authorise
anything, however long they were valid). A scheduled ``revoked_at`` counts as
the key's end: revoking a long-lived key early is a fix.

Remediate: set ``expires`` so that the key is valid at most ``max_validity``
and re-issue it when it runs out (``keytrail key rotate``), with a fresh
approval; or, when a longer period is genuinely needed (a signed contract),
record a waiver with its reason.

Default: ``max_validity: 365d``: a yearly re-approval, in step with annual
SOC 2 and ISO 27001 audits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import end, live_keys
from keytrail.checks._util import key_facts
from keytrail.model import Finding
from keytrail.timeutil import DAY, format_date, format_duration
from keytrail.view import View

ID = "sprawl.long-lived-key"
SEVERITY = "low"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_validity": {
            "type": "string", "format": "duration", "default": "365d",
            "description": "The longest validity (not_before to expires or revoked_at) a key "
                           "may have."},
    },
    "additionalProperties": False,
}


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    limit: int = params["max_validity"]
    allowed = format_duration(limit)
    for key in live_keys(view):
        last = end(key)
        facts: dict[str, Any] = {"max_validity": allowed}
        if last is None:
            reason = "no-expiry"
            text = f"has no expiry (maximum {allowed})"
        elif key.not_before is None:
            reason = "no-start"
            text = (f"has no not_before, so it is valid for any time before {format_date(last)} "
                    f"(maximum {allowed})")
        else:
            length = last - key.not_before
            if length <= limit:
                continue
            reason = "too-long"
            days = length // DAY
            text = (f"is valid for {days} days, {format_date(key.not_before)} to {format_date(last)} "
                    f"(maximum {allowed})")
            facts["validity_days"] = days
        yield Finding(message=f"key {key.id} (held by {key.holder}) {text}", subject=key.holder,
                      key=key.id, evidence={"key": key_facts(key), "reason": reason, **facts},
                      location=key.location, ident=(key.id,))
