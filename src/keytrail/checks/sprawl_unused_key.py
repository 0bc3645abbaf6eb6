"""A valid provisioning key has not been used for a long time, or ever.

Why it matters: every valid key is a standing authority to change access,
and an unused one is all risk and no work: nobody notices when it leaks, and
it is often the key of a retired pipeline or of a person who changed jobs. A
key nobody needs should be revoked; one that is needed rarely should be
issued when needed.

Fires: once per key that is valid as of ``--as-of`` (past its ``not_before``,
before its ``expires`` and ``revoked_at``) when

- no change in the history was ever made under it, and it has been valid for
  at least ``unused_for`` (a key issued last week is not yet unused), counted
  from its ``not_before`` or from the first event of the history, whichever
  is later (the history is all keytrail knows of its use);
- or its last change is ``unused_for`` or more before ``as_of``.

Uses are the access changes made under the key at or before ``as_of`` across
the whole history, not only the review window: a key used before ``--since``
was used. The subject is the key's holder.

Does not fire: for keys that expired or were revoked at or before ``as_of``,
however long they sat unused (they no longer authorise anything); for keys
not yet valid as of ``as_of``; for keys used within ``unused_for``.

Remediate: revoke the key (``revoked_at`` in ``keys.yaml``, and in the systems
that accept it), or record why it must stay (a break-glass key) in a waiver
with an expiry, so the question comes back.

Default: ``unused_for: 120d``, a quarter and a month's slack, so that a key
used once per quarterly access review is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import end, uses, valid_at
from keytrail.checks._util import key_facts
from keytrail.model import Finding, Key
from keytrail.replay import KeyUse
from keytrail.timeutil import DAY, format_date, format_time
from keytrail.view import View

ID = "sprawl.unused-key"
SEVERITY = "low"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "unused_for": {
            "type": "string", "format": "duration", "default": "120d",
            "description": "How long a valid key may go without a change made under it "
                           "before it is reported."},
    },
    "additionalProperties": False,
}


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    idle: int = params["unused_for"]
    as_of = view.as_of
    used = uses(view)
    start = view.state.history_start
    history_start = as_of if start is None else start
    # Decide every key from the aggregates first; then fetch, in one go, only the last-use
    # events of the keys that fire (a columnar run keeps the events in its table).
    firing: list[tuple[Key, KeyUse | None, int]] = []
    for key_id in sorted(view.keys):
        key = view.keys[key_id]
        if not valid_at(key, as_of):
            continue
        use = used.get(key_id)
        # Idle since its last use; a key never used, since it became valid. The history is all
        # keytrail knows: a key issued before it began is judged from its start.
        if use is not None:
            since = use.last_time
        else:
            since = history_start if key.not_before is None else max(key.not_before, history_start)
        if as_of - since < idle:
            continue
        firing.append((key, use, since))
    events = view.state.events_at(use.last for _, use, _ in firing if use is not None)
    for key, use, since in firing:
        last = end(key)
        until = f"it is valid until {format_date(last)}" if last is not None else "it never expires"
        if use is not None:
            latest = events[use.last]
            days = (as_of - latest.time) // DAY
            message = (f"key {key.id} (held by {key.holder}) has not been used since "
                       f"{format_date(latest.time)} ({days} days); {until}")
            facts: dict[str, Any] = {"last_use": latest.id, "last_use_time": format_time(latest.time),
                                     "last_use_location": str(view.location(latest)),
                                     "idle_days": days, "changes": use.changes}
        else:
            days = (as_of - since) // DAY
            message = (f"key {key.id} (held by {key.holder}) has never been used: no change in the "
                       f"{days} days since {format_date(since)} was made under it; {until}")
            facts = {"last_use": None, "idle_days": days, "changes": 0}
        yield Finding(message=message, subject=key.holder, key=key.id,
                      evidence={"key": key_facts(key), **facts},
                      location=key.location, ident=(key.id,))
