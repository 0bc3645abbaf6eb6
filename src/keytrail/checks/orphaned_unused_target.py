"""A defined role or group that nobody holds.

Why it matters: an unused role or group is catalogue clutter that still has to
be owned and reviewed, and a standing invitation: the next "just give them
role X" lands on a role whose permissions nobody has looked at in a year.
Retiring what is unused keeps the catalogue small enough to review.

Fires: for each role and group the directory defines (and the history has not
retired) that no subject holds directly: no active grant, on any resource, has
it as its target. A group nobody belongs to fires even when the group itself
holds roles. The evidence names the most recent revoke of it, when there is
one (when it was last held).

Does not fire: for a role or group with at least one active direct holder
(user, service or group); for targets the history retired (a ``retire`` with
no later ``define``); for targets only the history defines (see
``orphaned.unknown-target``).

Remediate: retire the role or group (a keyed ``retire`` event, and remove it
from the directory), or grant it to whoever should have it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS
from keytrail.model import Finding
from keytrail.timeutil import format_date, format_time
from keytrail.view import View

ID = "orphaned.unused-target"
SEVERITY = "info"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    state = view.state
    held = {target for (_, target, _) in state.grants}
    directory = view.directory
    candidates = sorted(t for t in {*directory.groups, *directory.roles}
                        if t not in held and t not in state.retired)
    if not candidates:
        return
    last_revoke = state.last_revokes(set(candidates))
    for tid in candidates:
        t = directory.target(tid)
        assert t is not None
        kind = "group" if tid in directory.groups else "role"
        evidence: dict[str, Any] = {"kind": kind, "owner": t.owner}
        revoke = last_revoke.get(tid)
        if revoke is not None:
            evidence["last_revoke"] = {"event": revoke.id, "subject": revoke.subject,
                                       "time": format_time(revoke.time),
                                       "location": str(view.location(revoke))}
        last = (f" (last revoked from {revoke.subject} on {format_date(revoke.time)})"
                if revoke is not None else "")
        yield Finding(message=f"{tid} is defined but nobody holds it{last}",
                      subject=None, target=tid, evidence=evidence, location=t.location)
