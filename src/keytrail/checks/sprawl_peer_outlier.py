"""A user holds a role that few of their peers hold.

Why it matters: people who do the same job need much the same access. A role
that almost nobody else in the department has is either a special duty that
should be on record, or a leftover from a project, an incident or a previous
job: the access a reviewer should look at first.

Fires: for each role a user effectively holds (directly or through nested
groups), on each resource, when fewer than ``threshold`` of their peers hold
the same role on the same resource, and they have at least ``min_peers`` peers.
Peers are the other active users (directory status active, no ``leave``) whose
``peer_attribute`` (directory attributes first, else the latest join/move
attributes) has the same value. The share is compared strictly: with 10 peers
and a threshold of 0.1, a role one peer holds does not fire, one nobody holds
does. The finding points at the grant that gives the role (the direct grant
when there is one, else the first group membership).

Does not fire: for group memberships (groups are how teams, projects and
mailing lists are organised, and a group's roles are what it grants: an
unusual group that carries an unusual role is reported through the role, once
per role rather than once per membership); for users with no value for the
attribute; for fewer than ``min_peers`` peers; for services (they have no
peers). The user's own status does not matter: peers must be active, the
user need not be.

Remediate: ask the user's manager whether the role is needed for the job; if
so, certify it and consider waiving the finding with the reason; if not,
revoke it (or the membership that carries it) under a key.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from keytrail.checks._util import deferred, path_evidence
from keytrail.graph import Entitlement
from keytrail.model import Finding, kind_of
from keytrail.view import View

ID = "sprawl.peer-outlier"
SEVERITY = "low"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "peer_attribute": {"type": "string", "minLength": 1, "default": "department",
                           "description": "The attribute whose value makes users peers "
                                          "(department, team, title)."},
        "threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.1,
                      "description": "Fires when fewer than this share of the peers hold the "
                                     "role."},
        "min_peers": {"type": "integer", "minimum": 1, "default": 5,
                      "description": "The fewest peers that make a comparison meaningful."},
    },
    "additionalProperties": False,
}

#: How many peer holders the evidence names.
NAMED_HOLDERS = 10


def peer_value(view: View, principal: str, attribute: str) -> Any:
    """The principal's value of ``attribute`` as a grouping key, or None when it has none usable."""
    value = view.attribute(principal, attribute)
    if value is None or value == "" or isinstance(value, (list, dict, set)):
        return None
    return value


def peer_groups(view: View, attribute: str) -> dict[Any, list[str]]:
    """Active users grouped by their value of ``attribute`` (sorted lists)."""
    groups: dict[Any, list[str]] = defaultdict(list)
    for principal in view.active_principals:
        if kind_of(principal) != "user":
            continue
        value = peer_value(view, principal, attribute)
        if value is not None:
            groups[value].append(principal)
    return groups


def percent(share: float) -> str:
    """``0.0976`` as ``9.76%``: three significant digits, so that a share just under the
    threshold does not read as equal to it."""
    return f"{share * 100:.3g}%"


def _roles(view: View, user: str) -> set[Entitlement]:
    # Unioned from each group's role-only closure: a role set is a fraction of the closure.
    return view.graph.entitlements(user, "role")


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    attribute, threshold = params["peer_attribute"], params["threshold"]
    min_peers = params["min_peers"]
    graph = view.graph
    groups = peer_groups(view, attribute)
    active = {u for members in groups.values() for u in members}
    # One pass over every active user's roles: how many users of each value hold each role.
    # A value with fewer than min_peers users gives nobody enough peers: skip it.
    held: dict[Any, Counter[Entitlement]] = {}
    roles_of: dict[str, set[Entitlement]] = {}
    for value, members in groups.items():
        if len(members) < min_peers:
            continue
        counts: Counter[Entitlement] = Counter()
        for user in members:
            roles_of[user] = _roles(view, user)
            counts.update(roles_of[user])
        held[value] = counts

    # Name a few peers who do hold each role that is rare among a value's users, before the
    # findings, so that they are yielded one at a time (a large organisation has millions,
    # none of them held here): one pass over the users of values with rare roles.
    rare = {value: {ent for ent, n in counts.items() if _rare(n, len(groups[value]), threshold)}
            for value, counts in held.items()}
    named: dict[tuple[Any, Entitlement], list[str]] = defaultdict(list)
    for value, ents in rare.items():
        if ents:
            for user in groups[value]:
                for ent in roles_of[user] & ents:
                    named[(value, ent)].append(user)

    under = percent(threshold)
    grants = view.state.grants
    for subject in graph.principals():
        if kind_of(subject) != "user":
            continue
        value = peer_value(view, subject, attribute)
        if value is None:
            continue
        self_counted = subject in active
        peers = len(groups.get(value, ())) - self_counted
        if peers < min_peers:
            continue
        count = held[value].get  # dict.get: a Counter's own lookup calls __missing__ in Python
        roles = roles_of.get(subject)
        # Only the outlying roles are sorted (a user has tens of roles, a few outlying).
        for ent in sorted([ent for ent in (_roles(view, subject) if roles is None else roles)
                           if (count(ent, 0) - self_counted) / peers < threshold]):
            holders = count(ent, 0) - self_counted
            target, resource = ent
            # The grant that gives the role, as paths_to's first path would start: the direct
            # grant, else the first membership whose group reaches it. The paths themselves
            # are built only for the evidence, when it is rendered.
            grant = grants.get((subject, target, resource)) or next(
                g for g in graph.direct[subject]
                if g.target.startswith("group:") and ent in graph.closure_set(g.target))
            share = holders / peers
            on = f" on {resource}" if resource else ""
            yield Finding(
                message=f"{subject} holds {target}{on}, which {holders} of {peers} peers "
                        f"({attribute} {value}) hold ({percent(share)}, under {under})",
                subject=subject, target=target, resource=resource,
                event=grant.event, key=grant.event.key,
                evidence=deferred(_evidence, view, subject, ent, params, value,
                                  named.get((value, ent), ()), holders, peers),
                location=view.location(grant.event))


def _rare(holding: int, users: int, threshold: float) -> bool:
    """Whether a role ``holding`` of a value's ``users`` hold can be outlying for someone
    who holds it. A user counted among them has ``holding - 1`` holders among ``users - 1``
    peers; a user with the value who is not counted (not active) has ``holding`` among
    ``users``, a share never below the first (``holding <= users``), so the first decides."""
    return users > 1 and (holding - 1) / (users - 1) < threshold


def _evidence(view: View, subject: str, ent: Entitlement, params: dict[str, Any],
              value: Any, named: Sequence[str], holders: int, peers: int) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: the comparison, then the paths."""
    others = list(islice((u for u in named if u != subject), NAMED_HOLDERS))
    return {
        "peer_attribute": params["peer_attribute"],
        "value": value if isinstance(value, (str, int, float)) else str(value),
        "peers": peers, "holders": holders, "share": round(holders / peers, 4),
        "threshold": params["threshold"], "peer_holders": others,
        "paths": [path_evidence(view, subject, p) for p in view.graph.paths_to(subject, ent)]}
