"""Access is held by a principal the directory does not know.

Why it matters: every holder of access must be someone (or something) the
organisation can name. A subject missing from ``directory.yaml`` is an account
nobody is accountable for: a person deleted from the directory without their
grants being revoked, a typo in a provisioning script, or an account created
outside the joiner process. Nobody reviews it, because no manager or owner is
on record.

Fires: for each active direct grant whose subject (``user:``, ``svc:`` or
``group:``) is neither a principal nor a group of the directory. A ``join``
or a ``define`` in the history does not make a subject known: the directory
is the current truth (a joiner's ``join`` and a leaver's ``leave`` are
listed in the evidence as hints; such a leaver gets this finding only, not
``orphaned.inactive-principal`` as well). A group that the
directory lists but that the history retired (a ``retire`` with no later
``define``) and that still holds grants also fires: nobody stands behind a
deleted group's access. One finding per grant.

Does not fire: for subjects the directory lists (whatever their status; see
``orphaned.inactive-principal``); for grants revoked before ``as_of``; for
grants *to* an unknown or retired group or role (see
``orphaned.unknown-target``).

Remediate: add the principal to the directory with its manager or owner if
the access is legitimate, or revoke its grants under a key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, grant_chain
from keytrail.model import Finding, kind_of
from keytrail.timeutil import format_date
from keytrail.view import View

ID = "orphaned.unknown-principal"
SEVERITY = "high"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    directory = view.directory
    retired = view.state.retired
    for subject in sorted(view.graph.direct):
        known = subject in directory.principals or subject in directory.groups
        if known and subject not in retired:
            continue
        evidence: dict[str, Any] = {}
        if not known:
            why = f"unknown to {directory.file or 'directory.yaml'}"
            joined = view.state.joined.get(subject)
            if joined is not None:
                evidence["joined"] = {"event": joined.id, "location": str(view.location(joined))}
            left = view.state.left.get(subject)
            if left is not None:
                evidence["left"] = {"event": left.id, "location": str(view.location(left))}
        else:
            # A group the directory lists but the history deleted (subjects are never roles).
            event = retired[subject]
            why = f"retired {format_date(event.time)} by {event.id}"
            evidence["retired"] = {"event": event.id, "location": str(view.location(event))}
        evidence["reason"] = why
        for grant in view.graph.direct[subject]:
            on = f" on {grant.resource}" if grant.resource else ""
            noun = "group" if kind_of(subject) == "group" else "principal"
            yield Finding(
                message=f"{subject} ({noun} {why}) holds {grant.target}{on}",
                subject=subject, target=grant.target, resource=grant.resource,
                event=grant.event, key=grant.event.key,
                evidence={**evidence, "chain": [grant_chain(view, grant)]},
                location=view.location(grant.event))
