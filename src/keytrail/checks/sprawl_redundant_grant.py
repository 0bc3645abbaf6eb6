"""An entitlement is held by two or more paths: directly and through a group, or through two groups.

Why it matters: redundant grants hide access. Removing someone from a group,
or revoking a direct grant, looks like it ends their access, but the other path
keeps it; reviews certify the same access twice under different owners; and
each extra path is one more thing nobody remembers granting.

Fires: for each (subject, target, resource) that a user, service or group
effectively holds by two or more paths whose first hop differs (a direct grant
and a group membership, or memberships of two different groups; nested groups
expanded). One finding per entitlement, listing every path. When one of the
paths is a direct grant the finding points at it (that is the grant to
remove: the group paths are how access is meant to be managed); otherwise at
the first membership grant, groups in id order. A group is a subject too: a
group holding a role directly and through a nested group is reported once, on
the group, not once per member.

Does not fire: for a single path; for the same group reached twice along one
first hop (nesting inside one membership is one path); for two grants of the
same group to the subject on different resources (the first hop is the same
group); for paths that only exist because a membership cycle leads back
through the subject itself (``group:a -> group:b -> group:a`` does not make
``group:a`` hold its own roles a second time); for the same target on
different resources (different entitlements).

Remediate: revoke the redundant grant under a key (usually the direct one, so
the group stays the single source of the access), or, if the group path is the
mistake, remove the membership; then certify the remaining path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, lazy_paths
from keytrail.graph import Entitlement, Path
from keytrail.model import Finding, kind_of
from keytrail.view import View

ID = "sprawl.redundant-grant"
SEVERITY = "low"
PARAMS = NO_PARAMS

SUBJECT_KINDS = ("user", "svc", "group")

#: The evidence fields of a finding, shared between findings (lazy_paths copies them).
DIRECT: dict[str, Any] = {"direct": True}
INDIRECT: dict[str, Any] = {"direct": False}


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    graph = view.graph
    for subject in sorted(graph.direct):
        if kind_of(subject) not in SUBJECT_KINDS:
            continue
        # Only a subject with at least two direct grants, one of them a group,
        # can hold anything twice; skipping the rest keeps the check linear.
        direct = graph.direct[subject]
        if len(direct) < 2 or not any(g.target.startswith("group:") for g in direct):
            continue
        # Count, in sets, how many distinct first hops reach each entitlement;
        # only the few reached twice need their paths built.
        by_hop: dict[str, frozenset[Entitlement]] = {}
        for grant, reach in graph.hops(subject):
            seen = by_hop.get(grant.target)
            by_hop[grant.target] = reach if seen is None else seen | reach
        counts: Counter[Entitlement] = Counter()
        for reach in by_hop.values():
            counts.update(reach)
        candidates = sorted(ent for ent, n in counts.items() if n >= 2)
        if not candidates:
            continue
        for ent in candidates:
            paths = graph.paths_to(subject, ent)
            if len(paths) < 2:
                continue
            hops = {p[0].target for p in paths}
            if len(hops) < 2:
                continue
            yield _finding(view, subject, ent, paths)


def _finding(view: View, subject: str, ent: Entitlement, paths: list[Path]) -> Finding:
    target, resource = ent
    direct = next((p[0] for p in paths if len(p) == 1), None)
    event = (direct or paths[0][0]).event
    groups = sorted({p[0].target for p in paths if len(p) > 1})
    via = " and ".join((["directly"] if direct else []) + [f"through {g}" for g in groups])
    on = f" on {resource}" if resource else ""
    return Finding(
        message=f"{subject} holds {target}{on} by {len({p[0].target for p in paths})} paths: {via}",
        subject=subject, target=target, resource=resource, event=event, key=event.key,
        evidence=lazy_paths(view, subject, paths, DIRECT if direct is not None else INDIRECT),
        location=view.location(event))

