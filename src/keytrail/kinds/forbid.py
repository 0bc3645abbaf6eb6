"""Forbid: principals matching ``subject`` must not hold targets matching ``target``.

``forbid: {subject: SELECTOR, target: SELECTOR, resource: GLOB}``. A user or
service matching ``subject`` (everyone when omitted) that effectively holds a
target matching ``target`` (on a resource matching ``resource``, when given)
is a finding, one per (subject, target, resource), with the path by which the
access is held.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import path_evidence
from keytrail.model import Finding
from keytrail.selectors import compile_selector, glob_match
from keytrail.view import View

KIND = "forbid"
CHECK = "forbid"
SEVERITY = "high"


def check(view: View, spec: dict[str, Any]) -> Iterator[Finding]:
    subject_ok = compile_selector(spec.get("subject"))
    target_ok = compile_selector(spec["target"])
    resource_glob = spec.get("resource")
    for subject in view.graph.principals():
        if not subject_ok(view, subject):
            continue
        for (target, resource), paths in sorted(view.graph.effective(subject).items()):
            if not target_ok(view, target):
                continue
            if resource_glob is not None and not glob_match(resource_glob, resource):
                continue
            path = paths[0]
            yield Finding(
                message=f"{subject} must not hold {target}" + (f" on {resource}" if resource else "")
                        + (f" (held through {path[0].target})" if len(path) > 1 else ""),
                subject=subject, target=target, resource=resource,
                event=path[0].event, key=path[0].event.key,
                evidence=path_evidence(view, subject, path), location=view.location(path[0].event))
