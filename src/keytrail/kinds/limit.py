"""Limit: a principal may hold at most ``max_entitlements`` (matching) entitlements.

``limit: {subject: SELECTOR, target: SELECTOR, max_entitlements: N}``. A user
or service matching ``subject`` whose effective entitlements (target and
resource pairs, nested groups expanded; only those whose target matches
``target`` when given) number more than N is a finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.model import Finding
from keytrail.selectors import compile_selector
from keytrail.view import View

KIND = "limit"
CHECK = "limit"
SEVERITY = "medium"


def check(view: View, spec: dict[str, Any]) -> Iterator[Finding]:
    subject_ok = compile_selector(spec.get("subject"))
    target_ok = compile_selector(spec.get("target"))
    limit = int(spec["max_entitlements"])
    counted: dict[str, bool] = {}

    def counts(target: str) -> bool:
        ok = counted.get(target)
        if ok is None:
            ok = counted[target] = target_ok(view, target)
        return ok

    for subject in view.graph.principals():
        if not subject_ok(view, subject):
            continue
        # entitlements() unions per-group sets; no paths are built for counting.
        held = sorted(e for e in view.graph.entitlements(subject) if counts(e[0]))
        if len(held) <= limit:
            continue
        what = "entitlements" if spec.get("target") is None else "matching entitlements"
        yield Finding(
            message=f"{subject} holds {len(held)} {what} (limit {limit})",
            subject=subject,
            evidence={"count": len(held), "limit": limit,
                      "entitlements": [f"{t} on {r}" if r else t for t, r in held]})
