"""A provisioning key was used by more than one actor in the review window.

Why it matters: a key is issued to one individual or one service so that
every change made under it traces to one accountable party. A key whose
changes record two or more different actors is a shared credential: a
pipeline secret copied to a laptop, a personal key lent to a colleague, a
service account key reused by a second service. Once shared, no change made
under it can be attributed with confidence, including the holder's own.

Fires: once per registered key (not once per event) when the access changes
made under it in the review window (``grant``, ``revoke``, ``define``,
``retire``, ``certify``, after ``--since`` and up to ``--as-of``) record more
than ``max_actors`` distinct actors. Actor ids are compared exactly; the holder
counts as one of the actors. The subject is the key's holder; the event is
the first change by the actor beyond ``max_actors`` (when the key became
shared); the evidence lists every actor with its number of changes and its
first and last change.

Does not fire: for a key used only by one actor, even through several source
systems or history files (one actor id is one actor), and even when that actor
is not the holder (that is ``unexplained.key-misuse``, which also reports each
change a non-holder made); for changes that record no actor (``key-misuse``
reports those); for unknown keys (``unexplained.unknown-key``); for changes
before ``--since`` or after ``--as-of``; for ``join``, ``move`` and ``leave``.

Remediate: rotate the key (a shared secret must be assumed copied), issue each
actor a key of their own, and review the changes the other actors made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import deferred, key_facts
from keytrail.model import Event, Finding, Key
from keytrail.timeutil import format_time
from keytrail.view import View

ID = "unexplained.shared-key"
SEVERITY = "high"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_actors": {
            "type": "integer", "minimum": 1, "default": 1,
            "description": "How many distinct actors may use one key in the window; more is "
                           "sharing. Keep 1 unless a key is deliberately held by a team tool "
                           "that records its human operators as actors."},
    },
    "additionalProperties": False,
}

#: How many actors a message names before it says how many more there are.
_NAMED = 5


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    limit = params.get("max_actors", 1)
    keys = view.keys
    # Per key, each actor's count and first and last change in the window, actors in order
    # of first use: aggregated by the state, so no check walks the window event by event.
    shared = [(key_id, actors) for key_id, actors in sorted(view.state.key_actors().items())
              if key_id in keys and len(actors) > limit]
    # Only the events a finding names become objects, fetched in one go.
    events = view.state.events_at(ref for _, actors in shared for a in actors for ref in (a.first, a.last))
    for key_id, uses in shared:
        key = keys[key_id]
        actors = [(a.actor, (a.changes, events[a.first], events[a.last])) for a in uses]
        named = ", ".join(f"{a} ({n} change{'s' if n != 1 else ''})" for a, (n, _, _) in actors[:_NAMED])
        if len(actors) > _NAMED:
            named += f" and {len(actors) - _NAMED} more"
        yield Finding(
            message=f"key {key.id} (held by {key.holder}) was used by {len(actors)} actors in the "
                    f"review window: {named}",
            subject=key.holder, key=key.id, event=actors[limit][1][1],
            evidence=deferred(_evidence, view, key, actors), location=key.location, ident=(key.id,))


def _evidence(view: View, key: Key, actors: list[tuple[str, tuple[int, Event, Event]]]) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: every actor with its changes."""
    return {"key": key_facts(key), "actors": [
        {"actor": a, "changes": n, "first": first.id, "first_time": format_time(first.time),
         "last": last.id, "last_time": format_time(last.time),
         "first_location": str(view.location(first))} for a, (n, first, last) in actors]}
