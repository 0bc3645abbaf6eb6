"""Access granted before a job change is still held ``grace`` after it, and the new peers lack it.

Why it matters: movers keep what they had. Access is granted when someone
joins a team and rarely removed when they leave it, so after a few moves a
person holds the union of every job they ever did: the textbook privilege
creep auditors look for in joiner/mover/leaver controls (SOC 2 CC6.2/CC6.3,
ISO 27001 A.5.18).

Fires: for a principal whose latest ``move`` that changed ``peer_attribute``
happened more than ``grace`` before ``as_of``, for each grant the principal
still holds directly whose holding began before that move (a re-grant after
the move does not restart it: reconciling pipelines re-apply grants), when
fewer than ``threshold`` of the new peers hold the same entitlement (target
and resource, effectively: through groups counts). The new peers are the
other active users whose ``peer_attribute`` equals the value the move set. A
move into a value no other active user has fires for every pre-move grant:
nobody in the new job shows the access is needed. One finding per grant,
pointing at the grant event in force; the fingerprint includes the move, so a
later move is a new finding.

Does not fire: within ``grace`` of the move (at exactly ``grace`` too); for
moves that did not change ``peer_attribute`` (a new title or manager within
the same department: the peers are the same, see ``sprawl.peer-outlier``),
and those moves do not hide an earlier one that did; for grants made after the
move; for access only held through groups (the membership grant is what
fires, if it predates the move); when at least ``threshold`` of the new peers
hold it; for a grant certified after the move (a reviewer confirmed the new
job needs it: certification is how this finding is resolved without revoking).

Remediate: revoke what the old job needed and the new one does not, under a
key; certify what the new job genuinely needs. Make the mover process review
access at each move instead of waiting for the quarterly review.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import chain, deferred, grant_chain
from keytrail.checks.sprawl_peer_outlier import peer_groups, percent
from keytrail.graph import Entitlement
from keytrail.model import Finding, Grant
from keytrail.replay import Move
from keytrail.timeutil import format_date, format_duration, format_time
from keytrail.view import View

ID = "sprawl.privilege-creep"
SEVERITY = "medium"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "grace": {"type": "string", "format": "duration", "default": "30d",
                  "description": "How long after a move old access may remain before it is "
                                 "reported."},
        "threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.2,
                      "description": "Fires when fewer than this share of the new peers hold "
                                     "the entitlement."},
        "peer_attribute": {"type": "string", "minLength": 1, "default": "department",
                           "description": "The attribute a move changes and whose value makes "
                                          "users peers."},
    },
    "additionalProperties": False,
}


def _usable(value: Any) -> bool:
    return value is not None and value != "" and not isinstance(value, (list, dict, set))


def _plain(value: Any) -> Any:
    """An attribute value as JSON-able evidence (YAML may have read a date)."""
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


def _job_change(moves: list[Move], attribute: str) -> Move | None:
    """The latest move that changed ``attribute`` to a usable value."""
    for move in reversed(moves):
        after = move.after.get(attribute)
        if _usable(after) and move.before.get(attribute) != after:
            return move
    return None


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    grace, threshold, attribute = params["grace"], params["threshold"], params["peer_attribute"]
    graph = view.graph
    candidates: list[tuple[str, Move, Any, Grant]] = []
    for subject in sorted(view.state.moves):
        move = _job_change(view.state.moves[subject], attribute)
        if move is None or view.as_of - move.event.time <= grace:
            continue
        moved_at = move.event.time
        for grant in graph.direct.get(subject, ()):
            if grant.since >= moved_at:
                continue
            if grant.certified is not None and grant.certified.time > moved_at:
                continue
            candidates.append((subject, move, move.after[attribute], grant))
    if not candidates:
        return

    # Count, per new value, how many active users hold each candidate entitlement:
    # one pass over the users of the values movers moved into.
    groups = peer_groups(view, attribute)
    wanted: dict[Any, set[Entitlement]] = defaultdict(set)
    for _, _, value, grant in candidates:
        wanted[value].add(grant.entitlement)
    held: dict[Any, Counter[Entitlement]] = {}
    for value, ents in wanted.items():
        counts: Counter[Entitlement] = Counter()
        for user in groups.get(value, ()):
            effective = graph.entitlements(user)
            if len(ents) < len(effective):
                counts.update(ent for ent in ents if ent in effective)
            else:
                counts.update(ent for ent in effective if ent in ents)
        held[value] = counts
    members = {value: set(groups.get(value, ())) for value in wanted}

    under = percent(threshold)
    for subject, move, value, grant in candidates:
        is_member = subject in members[value]
        peers = len(members[value]) - is_member
        # The subject holds the grant directly, so it was counted if it is a member.
        holders = held[value][grant.entitlement] - is_member
        share = holders / peers if peers else 0.0
        if share >= threshold:
            continue
        on = f" on {grant.resource}" if grant.resource else ""
        if peers:
            why = (f"which {holders} of {peers} new peers hold "
                   f"({percent(share)}, under {under})")
        else:
            why = f"and no other active user has {attribute} {value} to compare with"
        yield Finding(
            message=f"{subject} moved to {attribute} {value} on {format_date(move.event.time)} "
                    f"and still holds {grant.target}{on} (held since {format_date(grant.since)}), "
                    + why,
            subject=subject, target=grant.target, resource=grant.resource,
            event=grant.event, key=grant.event.key,
            evidence=deferred(_evidence, view, params, move, value, grant, holders, peers),
            location=view.location(grant.event),
            ident=(move.event.id,))


def _evidence(view: View, params: dict[str, Any], move: Move, value: Any, grant: Grant,
              holders: int, peers: int) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: the move, the comparison, the grant."""
    attribute = params["peer_attribute"]
    share = holders / peers if peers else 0.0
    return {"move": {"time": format_time(move.event.time), "attribute": attribute,
                     "from": _plain(move.before.get(attribute)), "to": _plain(value),
                     "chain": chain(view, move.event)},
            "grace": format_duration(params["grace"]), "peers": peers, "holders": holders,
            "share": round(share, 4), "threshold": params["threshold"],
            "chain": [grant_chain(view, grant)]}
