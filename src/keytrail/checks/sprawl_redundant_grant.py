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

from collections.abc import Callable, Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, deferred, lazy_paths, path_evidence
from keytrail.graph import AccessGraph, Entitlement
from keytrail.model import Finding, Grant, kind_of
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
    grants = view.state.grants
    for subject in sorted(graph.direct):
        if kind_of(subject) not in SUBJECT_KINDS:
            continue
        # Only a subject with at least two direct grants, one of them a group,
        # can hold anything twice; skipping the rest keeps the check linear.
        direct = graph.direct[subject]
        if len(direct) < 2 or not any(g.target.startswith("group:") for g in direct):
            continue
        # Find, in sets, the entitlements two distinct first hops reach (a group
        # granted on two resources is one first hop); only those need their paths.
        candidates = _reached_twice(graph, subject, direct)
        if not candidates:
            continue
        if kind_of(subject) == "group":
            # A group's routes may loop back through itself: only its built paths tell.
            for ent in candidates:
                paths = graph.paths_to(subject, ent)
                hops = {p[0].target for p in paths}
                if len(hops) < 2:
                    continue
                direct_grant = next((p[0] for p in paths if len(p) == 1), None)
                yield _finding(view, subject, ent, direct_grant, paths[0][0], len(hops),
                               sorted({p[0].target for p in paths if len(p) > 1}),
                               lazy_paths(view, subject, paths,
                                          DIRECT if direct_grant is not None else INDIRECT))
            continue
        # A user or service: the first hops that reach a candidate are read off the
        # group closures (paths_to would find the same, in the same order); the paths
        # themselves are built only for the evidence, when it is rendered.
        memberships = [g for g in direct if g.target.startswith("group:")]
        for ent in candidates:
            if ent[0] == subject:
                continue  # never held (paths_to has no path to the subject itself)
            via = [g for g in memberships if ent in graph.closure_set(g.target)]
            direct_grant = grants.get((subject, ent[0], ent[1]))
            groups = sorted({g.target for g in via})
            # The direct grant's target is the entitlement's, which no closure of a group
            # holds for that group: the first hops are the direct grant and the groups.
            count = (direct_grant is not None) + len(groups)
            if count < 2:
                continue
            yield _finding(view, subject, ent, direct_grant, direct_grant or via[0], count, groups,
                           deferred(_evidence, view, subject, ent,
                                    DIRECT if direct_grant is not None else INDIRECT))


def _reached_twice(graph: AccessGraph, subject: str, direct: list[Grant]) -> list[Entitlement]:
    """The entitlements that two or more distinct first hops of ``subject`` reach, sorted.

    Direct grants are distinct entitlements (one per target and resource), and a group's
    closure never holds the group itself: so an entitlement is reached twice exactly when
    two group closures share it, or a closure holds one of the direct entitlements.
    """
    ents = {(g.target, g.resource) for g in direct if g.target != subject}
    seen: set[Entitlement] = set()
    twice: set[Entitlement] = set()
    # Each group once, however many resources it is granted on (one first hop).
    for target in dict.fromkeys(g.target for g in direct
                                if g.target != subject and g.target.startswith("group:")):
        reach = graph.closure_set(target)
        twice |= seen & reach
        seen |= reach
    twice |= ents & seen
    if twice and kind_of(subject) == "group":
        # A group reaching itself through a cycle does not hold itself.
        twice = {e for e in twice if e[0] != subject}
    return sorted(twice)


def _finding(view: View, subject: str, ent: Entitlement, direct: Grant | None, first: Grant,
             count: int, groups: list[str], evidence: Callable[[], dict[str, Any]]) -> Finding:
    """The finding: pointing at the direct grant when there is one, else the first membership."""
    target, resource = ent
    event = first.event
    via = " and ".join((["directly"] if direct else []) + [f"through {g}" for g in groups])
    on = f" on {resource}" if resource else ""
    return Finding(
        message=f"{subject} holds {target}{on} by {count} paths: {via}",
        subject=subject, target=target, resource=resource, event=event, key=event.key,
        evidence=evidence, location=view.location(event))


def _evidence(view: View, subject: str, ent: Entitlement, fields: dict[str, Any]) -> dict[str, Any]:
    """A user's or service's evidence, built when it is rendered: every path to ``ent``."""
    return {**fields, "paths": [path_evidence(view, subject, p) for p in view.graph.paths_to(subject, ent)]}
