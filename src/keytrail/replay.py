"""Replay: fold the keyed history into the state of access as of a time.

Events are already sorted by time (ties keep file and line order). Replay
walks those up to ``as_of`` once and keeps, for every active grant, the event
that put it in force and when the holding began; the lifecycle of principals
(join / move / leave) and of targets (define / retire); and the anomalies a
reviewer should see (a revoke of something never granted, a certification of
access nobody holds, same-time events from different files whose outcome
rests on file order: see :mod:`keytrail.ties`), which are recorded, never
dropped.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple, cast

from keytrail.model import CHANGE_ACTIONS, Event, Grant
from keytrail.ties import find_ties

GrantKey = tuple[str, str, str]


@dataclass
class Move:
    """A mover event with the attributes before and after it."""

    event: Event
    before: dict[str, Any]
    after: dict[str, Any]


#: An event's place in replay order, as the state that gave it numbers it (an index into
#: ``events`` on the Python path, ``ord`` in the columnar core): compare them, and turn them
#: into events with :meth:`State.events_at`, nothing else.
EventRef = int


class KeyUse(NamedTuple):
    """How the history used one key: the access changes made under it at or before ``as_of``."""

    changes: int                   # how many access changes
    last: EventRef                 # the last change (replay order)
    last_time: int
    targets: frozenset[str]        # the distinct targets it changed (events with no target add none)


class ActorUse(NamedTuple):
    """One actor's access changes under one key in the review window."""

    actor: str
    changes: int                   # how many access changes
    first: EventRef
    last: EventRef


@dataclass
class State:
    """Access as of ``as_of``, with provenance; read-only once built."""

    as_of: int
    since: int | None
    events: Sequence[Event]                      # every event at or before as_of, in replay order
    window_start: int                            # index of the first event after `since`
    grants: dict[GrantKey, Grant] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    joined: dict[str, Event] = field(default_factory=dict)
    left: dict[str, Event] = field(default_factory=dict)      # leave with no later join
    moves: dict[str, list[Move]] = field(default_factory=dict)
    defined: dict[str, Event] = field(default_factory=dict)   # latest define, not retired since
    retired: dict[str, Event] = field(default_factory=dict)   # retire with no later define
    anomalies: list[tuple[Event, str]] = field(default_factory=list)
    ended: dict[GrantKey, Event] = field(default_factory=dict)  # latest revoke per grant
    #: The anomalies that are order-dependent ties (see keytrail.ties); also in ``anomalies``.
    ties: list[tuple[Event, str]] = field(default_factory=list)

    @property
    def window(self) -> list[Event]:
        """The events of the review window (after ``since``, up to ``as_of``)."""
        return list(self.events[self.window_start:])

    def changes(self, check: str | None = None) -> list[Event]:
        """The access changes of the review window that ``check`` looks at (here: all of them;
        the columnar state narrows them by the check's query, see keytrail.core.replay)."""
        return [e for e in self.window if e.action in CHANGE_ACTIONS]

    def ended_for(self, keys: Iterable[GrantKey]) -> dict[GrantKey, Event]:
        """The latest revoke of each of these entitlements that has one (one lookup for many:
        the columnar core answers with one query instead of one per entitlement)."""
        ended = self.ended
        return {key: ended[key] for key in keys if key in ended}

    def last_revokes(self, targets: set[str]) -> dict[str, Event]:
        """The latest revoke (in replay order) of each of ``targets`` from anyone, where there is one."""
        last: dict[str, Event] = {}
        for (_, target, _), event in self.ended.items():
            if target in targets:
                seen = last.get(target)
                if seen is None or _order(event) > _order(seen):
                    last[target] = event
        return last

    def sharing_ids(self) -> list[Event]:
        """The events whose id another event also carries, in replay order."""
        # Sorting the ids finds repeats with a list of references; a Counter would
        # hold a hash table as large as the history (millions of entries).
        ids = sorted(event.id for event in self.events)
        shared = {a for a, b in zip(ids, islice(ids, 1, None), strict=False) if a == b}
        del ids
        return [e for e in self.events if e.id in shared] if shared else []

    @property
    def history_start(self) -> int | None:
        """The time of the first event at or before ``as_of`` (None for an empty history)."""
        return self.events[0].time if self.events else None

    def events_at(self, refs: Iterable[EventRef]) -> dict[EventRef, Event]:
        """The events these references name (see :data:`EventRef`)."""
        events = self.events
        return {ref: events[ref] for ref in refs}

    def key_uses(self) -> dict[str, KeyUse]:
        """Per key id (any non-empty key, registered or not), the access changes
        (``CHANGE_ACTIONS``) made under it at or before ``as_of``, over the whole history."""
        events = self.events
        found: dict[str, list[Any]] = {}
        for ref, event in enumerate(events):
            key = event.key
            if key and event.action in CHANGE_ACTIONS:
                seen = found.get(key)
                if seen is None:
                    seen = found[key] = [0, 0, set()]
                seen[0] += 1
                seen[1] = ref
                seen[2].add(event.target)  # events with no target are dropped below, once per key
        return {k: KeyUse(n, ref, events[ref].time, frozenset(t for t in targets if t))
                for k, (n, ref, targets) in found.items()}

    def key_actors(self) -> dict[str, list[ActorUse]]:
        """Per key id, each actor of the access changes of the review window made under it
        (changes with no key or no actor count for none), actors in order of first use."""
        found: dict[tuple[str, str], list[int]] = {}
        events = self.events
        for ref in range(self.window_start, len(events)):
            event = events[ref]
            key, actor = event.key, event.actor
            if key and actor and event.action in CHANGE_ACTIONS:
                seen = found.get((key, actor))
                if seen is None:
                    found[(key, actor)] = [1, ref, ref]
                else:
                    seen[0] += 1
                    seen[2] = ref
        # Dicts keep insertion order and events come in replay order: actors by first use.
        out: dict[str, list[ActorUse]] = {}
        for (key, actor), (n, first, last) in found.items():
            out.setdefault(key, []).append(ActorUse(actor, n, first, last))
        return out


def _order(event: Event) -> tuple[int, int, int]:
    return (event.time, event.file, event.line)


def _time(event: Event) -> int:
    return event.time


def replay(events: Sequence[Event], as_of: int, since: int | None = None, files: list[str] | None = None
           ) -> State:
    """Fold ``events`` (sorted) up to and including ``as_of``; ``files`` names the history files."""
    end = bisect_right(events, as_of, key=_time)
    upto = events if end == len(events) else events[:end]
    start = 0 if since is None else bisect_right(upto, since, key=_time)
    state = State(as_of, since, upto, start)
    grants = state.grants
    anomalies = state.anomalies
    ended = state.ended
    for event in upto:
        # Unpacking the tuple once is much cheaper than named-field access on
        # hundreds of thousands of events.
        _, time, action, subject, target, resource, _, _, _, _, _, _, _, _, _ = event
        # The event schema requires a subject and a target for grant, revoke and certify.
        if action == "grant":
            key = cast(GrantKey, (subject, target, resource))
            held = grants.get(key)
            if held is None:
                grants[key] = Grant(*key, event, time)
            else:
                held.event = event
        elif action == "revoke":
            key = cast(GrantKey, (subject, target, resource))
            if grants.pop(key, None) is None:
                anomalies.append((event, revoke_note(event)))
            ended[key] = event
        elif action == "certify":
            held = grants.get(cast(GrantKey, (subject, target, resource)))
            if held is None:
                anomalies.append((event, certify_note(event)))
            else:
                held.certified = event
        else:
            _lifecycle(state, event)
    add_ties(state, upto, files)
    return state


def revoke_note(event: Event) -> str:
    """The replay note on a revoke of access not held at that moment."""
    return (f"revoke of {event.target} from {event.subject}, "
            "which the history never granted (or already revoked)")


def certify_note(event: Event) -> str:
    """The replay note on a certification of access not held at that moment."""
    return f"certification of {event.target} for {event.subject}, which is not held at that time"


def add_ties(state: State, events: Sequence[Event], files: list[str] | None) -> None:
    """Record the order-dependent ties among ``events`` (every event of each candidate group)."""
    state.ties = ties = find_ties(list(events), files)
    if ties:
        state.anomalies.extend(ties)
        state.anomalies.sort(key=_position)  # stable: a tie's note follows the fold's note on its event


def _position(anomaly: tuple[Event, str]) -> tuple[int, int, int]:
    event = anomaly[0]
    return event.time, event.file, event.line


def _lifecycle(state: State, event: Event) -> None:
    action, subject, target = event.action, event.subject, event.target
    if action == "join":
        state.joined[subject] = event  # type: ignore[index]
        state.left.pop(subject, None)  # type: ignore[arg-type]
        state.attributes[subject] = dict(event.get("attributes") or {})  # type: ignore[index]
    elif action == "move":
        before = dict(state.attributes.get(subject, {}))  # type: ignore[arg-type]
        after = dict(before)
        after.update(event.get("attributes") or {})
        state.attributes[subject] = after  # type: ignore[index]
        state.moves.setdefault(subject, []).append(Move(event, before, after))  # type: ignore[arg-type]
    elif action == "leave":
        state.left[subject] = event  # type: ignore[index]
    elif action == "define":
        state.defined[target] = event  # type: ignore[index]
        state.retired.pop(target, None)  # type: ignore[arg-type]
    elif action == "retire":
        state.retired[target] = event  # type: ignore[index]
        state.defined.pop(target, None)  # type: ignore[arg-type]
