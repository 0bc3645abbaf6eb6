"""A suspended or terminated principal still holds access.

Why it matters: a leaver's access is the classic orphaned grant. Accounts of
people who left are taken over, reused by former colleagues or kept by the
person themselves; auditors sample leavers first (SOC 2 CC6.2, ISO 27001
A.5.18).

Fires: for each active direct grant held by a principal whose directory status
is ``suspended`` or ``terminated``, or who has a ``leave`` event in the history
with no later ``join``. Access through groups is reached through a direct
membership grant, which is what fires (one finding per grant to remove).

Does not fire: for active principals; for grants revoked before ``as_of``;
for principals the directory does not know, even when the history has a
``leave`` for them (``orphaned.unknown-principal`` reports those, once).

Remediate: revoke the grants (or the account) under a key, or reinstate the
principal in the directory if the status is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, lazy_chain
from keytrail.model import Finding, kind_of
from keytrail.view import View

ID = "orphaned.inactive-principal"
SEVERITY = "high"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    principals = view.directory.principals
    for subject in sorted(view.graph.direct):
        # An unknown principal is orphaned.unknown-principal's finding; reporting
        # its leave here too would count one orphaned grant twice.
        if kind_of(subject) not in ("user", "svc") or subject not in principals:
            continue
        why = view.inactive(subject)
        if why is None:
            continue
        fields = {"status": why}  # shared by the subject's findings (lazy_chain copies it)
        for grant in view.graph.direct[subject]:
            yield Finding(
                message=f"{subject} ({why}) still holds {grant.target}"
                        + (f" on {grant.resource}" if grant.resource else ""),
                subject=subject, target=grant.target, resource=grant.resource,
                event=grant.event, key=grant.event.key,
                evidence=lazy_chain(view, grant, fields),
                location=view.location(grant.event))
