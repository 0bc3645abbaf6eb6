"""An access change was made under a key outside its validity period.

Why it matters: a key is valid from its ``not_before`` until its ``expires``
or ``revoked_at``. A change made under a revoked key is the strongest sign of
a leaked or retained credential (the key was revoked precisely so that it
would stop working); a change under an expired key means the system that
enforces keys did not, or that a key was used again without re-approval; a
change before ``not_before`` was made before anyone approved the key.

Fires: for each change in the review window (``grant``, ``revoke``,
``define``, ``retire``, ``certify``) under a registered key when the change
was made

- at or after the key's ``revoked_at`` (revoked at 10:00 means a change at
  10:00 is already unexplained);
- at or after the key's ``expires`` (the key is valid strictly before it);
- before the key's ``not_before`` (a change exactly at ``not_before`` is
  valid).

One finding per event. When several apply, the message names the most serious
(revoked, then expired, then not yet valid) and the evidence lists them all.

Does not fire: for unknown keys (see ``unexplained.unknown-key``) or missing
ones (``unexplained.missing-key``); for ``join``, ``move`` and ``leave``; for
events before ``--since`` or after ``--as-of``. A key revoked or expired
*after* ``as_of`` does not make earlier changes invalid.

Remediate: find out who used the key after it stopped being valid and why;
rotate the credential; review (and re-make under a valid key, or undo) the
changes it made. If the registry is wrong, correct the key's dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain, describe_change, key_facts
from keytrail.model import Finding, Key
from keytrail.timeutil import format_date, format_time
from keytrail.view import View

ID = "unexplained.key-not-valid"
SEVERITY = "high"
PARAMS = NO_PARAMS


def _when(limit: int, used: int) -> tuple[str, str]:
    """The two times as dates, or in full when the dates alone would look equal."""
    a, b = format_date(limit), format_date(used)
    if a == b:
        return format_time(limit) or "", format_time(used) or ""
    return a, b


def problems(key: Key, time: int) -> list[tuple[str, str, int]]:
    """Why ``key`` was not valid at ``time``: (reason, wording, limit), most serious first."""
    out = []
    if key.revoked_at is not None and time >= key.revoked_at:
        out.append(("revoked", "was revoked", key.revoked_at))
    if key.expires is not None and time >= key.expires:
        out.append(("expired", "expired", key.expires))
    if key.not_before is not None and time < key.not_before:
        out.append(("not-yet-valid", "is not valid before", key.not_before))
    return out


# Beyond any time an event can carry (microseconds since 1970; year 9999 is about 2.5e17).
_NEVER = 1 << 62


def valid_window(key: Key) -> tuple[int, int]:
    """``[start, end)``: the times at which :func:`problems` finds nothing wrong with ``key``."""
    end = _NEVER
    if key.revoked_at is not None:
        end = min(end, key.revoked_at)
    if key.expires is not None:
        end = min(end, key.expires)
    return (-_NEVER if key.not_before is None else key.not_before), end


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    keys = view.keys
    # Nearly every change is inside its key's window: one pair of comparisons decides it.
    windows: dict[str, tuple[int, int]] = {}
    for event in view.changes(ID):
        key = keys.get(event.key) if event.key else None
        if key is None:
            continue
        window = windows.get(key.id)
        if window is None:
            window = windows[key.id] = valid_window(key)
        if window[0] <= event.time < window[1]:
            continue
        found = problems(key, event.time)
        if not found:
            continue
        _, wording, limit = found[0]
        limit_text, used_text = _when(limit, event.time)
        yield Finding(
            message=f"{describe_change(event)}: key {key.id} {wording} {limit_text}; used {used_text}",
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            key=key.id,
            evidence={"chain": [chain(view, event)], "key": key_facts(key),
                      "invalid": [reason for reason, _, _ in found]},
            location=view.location(event), ident=(event.id,))
