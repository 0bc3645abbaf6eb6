"""Access held but not used for ``unused_for``, by the usage data of the system that grants it.

Why it matters: access nobody uses is the largest share of sprawl and the
safest to revoke (Netflix Repokid and AWS IAM Access Analyzer remove
permissions unused for N days). Every unused grant is attack surface with no
business reason behind it any more.

Fires: for each held grant that usage data covers (see ``docs/usage.md``: a
record of the same subject, target and resource; service records naming every
service of the role's permissions; for a group's grant, the group's record or a
record of every member; for a membership, records of everything the group
grants), whose last use is ``unused_for`` or more before ``as_of`` — or that was
never used — and that has been held for at least ``unused_for`` (since the
current uninterrupted holding began). The finding shows the last use, the
usage data's source and age, and points at the grant event.

Does not fire: for a grant no usage covers (absent usage is never read as
unused; the report counts such grants instead); for usage collected after
``as_of`` or more than ``max_staleness`` before it (left out, and the report
says so); for a grant held for less than ``unused_for`` (granted recently: not
yet unused, even if never used); for a grant used within ``unused_for``.

Remediate: revoke the grant under a key; if it is kept on purpose (break-glass
access, a yearly job), certify it in the review or waive the rule for it with
the reason, so the decision is on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._usage import PARAMS as _PARAMS
from keytrail.checks._usage import evidence, last_use_text, usage
from keytrail.checks._util import deferred, grant_chain
from keytrail.model import Finding, Grant
from keytrail.usage.judge import age_text
from keytrail.view import View

ID = "sprawl.unused-access"
SEVERITY = "medium"
PARAMS = _PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    found = usage(view, params)
    if not (found.entitlement or found.service):
        return  # no usage covers any grant (grant_use would say None for each): nothing to judge
    as_of, limit = view.as_of, params["unused_for"]
    for key in sorted(view.state.grants):
        grant = view.state.grants[key]
        if as_of - grant.since < limit:
            continue  # held for less than unused_for: not yet unused, whatever the data says
        use = found.grant_use(view, grant)
        if use is None or (use.last_used is not None and as_of - use.last_used < limit):
            continue
        on = f" on {grant.resource}" if grant.resource else ""
        yield Finding(
            message=f"{grant.subject} holds {grant.target}{on}, {last_use_text(use.last_used, as_of)}; "
                    f"usage from {', '.join(use.sources)} collected {age_text(use.age(as_of))} before the review",
            subject=grant.subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key, location=view.location(grant.event),
            evidence=deferred(_evidence, view, grant, use, params))


def _evidence(view: View, grant: Grant, use: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {**evidence(use, view.as_of, params), "chain": [grant_chain(view, grant)]}
