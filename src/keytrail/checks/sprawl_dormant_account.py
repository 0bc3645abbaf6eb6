"""A dormant account: a principal that has not signed in to a system for ``unused_for`` yet holds access there.

Why it matters: where a system records only sign-ins (Okta ``lastLogin``, Entra
``signInActivity``, the AWS credential report), an account nobody signs in to
is the unused access: every entitlement it holds there is unused, and a
dormant account is what an attacker takes over unnoticed. IGA tools show
"last login" beside each account for this reason.

Fires: once per principal and system (the sign-in record's ``resource``) whose
latest sign-in is ``unused_for`` or more before ``as_of``, or who never signed
in, and who has held at least one entitlement there (a direct grant on that
resource whose target the record's ``targets`` globs match) for at least
``unused_for``. The finding lists those entitlements, the last sign-in and the
usage data's source and age.

Does not fire: for a principal without sign-in usage in a fitting collection
(usage collected after ``as_of`` or more than ``max_staleness`` before it is
left out, and the report says so); for a sign-in within ``unused_for``; for a
principal that holds nothing there, or has held it for less than
``unused_for`` (a new joiner who has not signed in yet).

Remediate: disable the account or revoke what it holds, under a key; if it is
kept on purpose (a break-glass account), waive the rule for it with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._usage import PARAMS as _PARAMS
from keytrail.checks._usage import evidence, usage
from keytrail.model import Finding
from keytrail.timeutil import DAY, format_date
from keytrail.usage.judge import age_text
from keytrail.view import View

ID = "sprawl.dormant-account"
SEVERITY = "medium"
PARAMS = _PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    found = usage(view, params)
    as_of, limit = view.as_of, params["unused_for"]
    for subject, resource, use, held in found.accounts(view):
        old = [g for g in held if as_of - g.since >= limit]
        if not old or (use.last_used is not None and as_of - use.last_used < limit):
            continue
        when = "never signed in" if use.last_used is None else \
            f"last signed in {format_date(use.last_used)} ({(as_of - use.last_used) // DAY} days before the review)"
        where = f" on {resource}" if resource else ""
        shown = ", ".join(g.target for g in held[:5]) + (f", and {len(held) - 5} more" if len(held) > 5 else "")
        yield Finding(
            message=f"{subject} {when} yet holds {len(held)} entitlement(s){where}: {shown}; usage from "
                    f"{', '.join(use.sources)} collected {age_text(use.age(as_of))} before the review",
            subject=subject, target=None, resource=resource,
            evidence={**evidence(use, as_of, params),
                      "entitlements": [{"target": g.target, "resource": g.resource,
                                        "event": g.event.id} for g in held]})
