"""Forbid: principals matching ``subject`` must not hold targets matching ``target``.

``forbid: {subject: SELECTOR, target: SELECTOR, resource: GLOB}``. A user or
service matching ``subject`` (everyone when omitted) that effectively holds a
target matching ``target`` (on a resource matching ``resource``, when given)
is a finding, one per (subject, target, resource), with the path by which the
access is held.

The resource glob is matched against the whole resource; an unscoped grant has
the empty resource, which only ``*`` matches. Groups are not subjects here:
their user and service members are, through the membership.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import lazy_path
from keytrail.graph import Entitlement, Path
from keytrail.model import Finding, kind_of
from keytrail.selectors import compile_selector, glob_match
from keytrail.view import View

KIND = "forbid"
CHECK = "forbid"
SEVERITY = "medium"


def check(view: View, spec: dict[str, Any]) -> Iterator[Finding]:
    subject_ok = compile_selector(spec.get("subject"))
    target_ok = compile_selector(spec["target"])
    resource_glob = spec.get("resource")
    graph = view.graph
    targets: dict[str, bool] = {}
    reach: dict[str, dict[Entitlement, Path]] = {}

    def forbidden(target: str, resource: str) -> bool:
        ok = targets.get(target)
        if ok is None:
            ok = targets[target] = target_ok(view, target)
        return ok and (resource_glob is None or glob_match(resource_glob, resource))

    def forbidden_through(group: str) -> dict[Entitlement, Path]:
        # Per group once: what it leads to that is forbidden, and how. Walking
        # each principal's whole effective access instead costs minutes on a
        # large organisation.
        hit = reach.get(group)
        if hit is None:
            hit = reach[group] = {ent: path for ent, path in graph.group_closure(group).items()
                                  if forbidden(*ent)}
        return hit

    for subject in graph.principals():
        if not subject_ok(view, subject):
            continue
        # The path shown is the one effective access lists first: the direct
        # grant when there is one, else through the first group (in order).
        found: dict[Entitlement, Path] = {}
        direct = graph.direct[subject]
        for grant in direct:
            if grant.target != subject and forbidden(grant.target, grant.resource):
                found[(grant.target, grant.resource)] = (grant,)
        for grant in direct:
            if kind_of(grant.target) != "group":
                continue
            for ent, path in forbidden_through(grant.target).items():
                if ent[0] != subject and ent not in found:
                    found[ent] = (grant,) + path
        for (target, resource), path in sorted(found.items(), key=lambda item: item[0]):
            on = f" on {resource}" if resource else ""
            through = f" (held through {path[0].target})" if len(path) > 1 else ""
            yield Finding(
                message=f"{subject} must not hold {target}{on}{through}",
                subject=subject, target=target, resource=resource,
                event=path[0].event, key=path[0].event.key,
                evidence=lazy_path(view, subject, path), location=view.location(path[0].event))
