"""A waiver has expired: it no longer waives anything, and is reported.

Why it matters: a waiver is an approved, time-boxed exception. Once it
expires, the exception must be renewed (re-approved) or the underlying finding
fixed; an expired waiver left in a policy file is a decision nobody re-made.

Fires: for each waiver whose ``expires`` is at or before ``as_of``. The
findings it used to waive are reported again, unwaived.

Does not fire: for waivers still in force (``keytrail lint`` warns about
those expiring within 30 days).

Remediate: renew the waiver with a new approval and expiry, or remove it and
fix the findings it covered. This check always runs; a rule using it only
changes its severity.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS
from keytrail.model import Finding
from keytrail.timeutil import format_date, format_time
from keytrail.view import View

ID = "policy.expired-waiver"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    for waiver in view.waivers:
        if waiver.expires > view.as_of:
            continue
        scope = ", ".join(f"{k} {v}" for k, v in (("subject", waiver.subject), ("target", waiver.target),
                                                  ("resource", waiver.resource)) if v)
        yield Finding(
            message=f"waiver for rule {waiver.rule}" + (f" ({scope})" if scope else "")
                    + f" expired {format_date(waiver.expires)}; approved by {waiver.approved_by}",
            subject=waiver.subject, target=waiver.target, resource=waiver.resource or "",
            evidence={"waiver": {"rule": waiver.rule, "reason": waiver.reason,
                                 "approved_by": waiver.approved_by,
                                 "expires": format_time(waiver.expires), "ticket": waiver.ticket}},
            location=waiver.location, ident=("waiver", waiver.rule, format_time(waiver.expires) or ""))
