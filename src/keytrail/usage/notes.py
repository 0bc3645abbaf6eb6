"""What every report says about usage: which data the unused-access rules relied on, which they
left out and why, and how much held access no usage covers. Never a silent skip: stale or missing
usage is said, not read as "unused" and not left unmentioned."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: The checks that read usage data.
USAGE_CHECKS = ("sprawl.unused-access", "sprawl.dormant-account")


def reads(check: str) -> str:
    """The kind of usage record a usage check reads: ``sign-in`` or ``access``."""
    return "sign-in" if check == "sprawl.dormant-account" else "access"


def usage_notes(report: Any) -> list[str]:
    """One or more sentences per enabled rule that reads usage (none when no rule does)."""
    from keytrail.checks._usage import usage

    view = report.view
    out: list[str] = []
    for rule in report.rules:
        if rule.check not in USAGE_CHECKS:
            continue
        params = dict(rule.params)
        found = usage(view, params)
        uncovered: Counter[str] = Counter()
        if found.configured:
            for grant in view.state.grants.values():
                if rule.check == "sprawl.unused-access":
                    covered = found.grant_use(view, grant) is not None
                elif grant.subject.startswith("group:"):
                    continue  # groups do not sign in
                else:
                    covered = found.signin_covers(grant)
                if not covered:
                    uncovered[grant.resource] += 1
        out.extend(found.notes(uncovered, f"rule {rule.id}", reads(rule.check)))
    return out
