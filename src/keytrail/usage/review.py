"""Last use beside each grant of the review pack (the page's "last used" and the worksheets'
``last_used`` column): what a reviewer needs to decide keep or revoke."""

from __future__ import annotations

from typing import Any

from keytrail.model import Grant


def _params(view: Any) -> dict[str, Any]:
    """The parameters of the project's first enabled unused-access rule (its ``max_staleness``
    decides which usage fits), else the checks' defaults: the pack shows what the checks used."""
    from keytrail.checks._usage import PARAMS
    from keytrail.timeutil import parse_duration
    from keytrail.usage.notes import USAGE_CHECKS

    for policy in view.policies:
        for rule in policy.rules:
            if rule.enabled and rule.check in USAGE_CHECKS:
                return dict(rule.params)
    return {name: parse_duration(spec["default"]) for name, spec in PARAMS["properties"].items()}


def last_used(view: Any, grant: Grant) -> str:
    """``2026-06-20T03:05:00Z``, ``never``, ``sign-in 2026-05-29T17:02:00Z`` or ``sign-in never``
    (only the account's sign-in is known), or empty when no usage that fits the review covers it."""
    if view is None or view.project.usage is None:
        return ""
    from keytrail.checks._usage import usage
    from keytrail.timeutil import format_time

    found = usage(view, _params(view))
    use = found.grant_use(view, grant)
    if use is not None:
        return format_time(use.last_used) or "never"
    signin = found.signin_use(grant)
    if signin is not None:
        return "sign-in " + (format_time(signin.last_used) or "never")
    return ""
