"""Same-time events from different files: where the outcome rests on file order.

Replay sorts events by time and keeps the order the files were given in for
events at the same time (DESIGN.md). That order is documented, but it is not
a fact about the organisation: when a ``grant`` in ``history/a.jsonl`` and a
``revoke`` of the same entitlement in ``history/b.jsonl`` carry the same
timestamp, renaming a file flips whether the access is held. Replay keeps the
documented order; this module finds every such tie so that it is reported as
a replay note, never decided silently.

A tie is a set of events at one time, about one thing, from two or more files,
that do not all have the same effect:

- grants, revokes and certifications of one entitlement (subject, target,
  resource) with different actions, or with different provenance (key, actor,
  approver, ticket, expiry), since the last one applied is the provenance kept;
- joins, moves and leaves of one principal with different actions or attributes;
- defines and retires of one target.

Identical events (the same change exported twice) are not ties: their order
changes nothing. Events at one time within one file keep their line order,
which is part of that file and survives renaming.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from operator import itemgetter
from typing import Any

from keytrail.model import Event
from keytrail.timeutil import format_time

_TIME = itemgetter(1)
_FILE = itemgetter(12)
_ENTITLEMENT_ACTIONS = frozenset({"grant", "revoke", "certify"})
_PRINCIPAL_ACTIONS = frozenset({"join", "move", "leave"})


def _about(event: Event) -> tuple[Any, ...]:
    """What an event changes: an entitlement, a principal or a target."""
    if event.action in _ENTITLEMENT_ACTIONS:
        return ("entitlement", event.subject, event.target, event.resource)
    if event.action in _PRINCIPAL_ACTIONS:
        return ("principal", event.subject)
    return ("target", event.target)


def _effect(event: Event) -> tuple[Any, ...]:
    """What of an event survives replay: its action and the provenance or attributes it leaves."""
    attributes = event.get("attributes")
    return (event.action, event.actor, event.key, event.approver, event.ticket, event.expires,
            tuple(sorted((str(k), repr(v)) for k, v in attributes.items())) if isinstance(attributes, dict) else None)


def find_ties(events: list[Event], files: list[str] | None = None) -> list[tuple[Event, str]]:
    """A replay note for each order-dependent tie in ``events`` (sorted by time), in replay order.

    The note is attached to the event replay applies last, the one whose effect wins.
    ``files`` names the history files by index, for the message. Cheap when there is
    nothing to find: one file, or no two events at the same time, is decided by C-level
    passes over the times.
    """
    if len(events) < 2 or len(set(map(_FILE, events))) < 2:
        return []
    times = list(map(_TIME, events))
    if len(set(times)) == len(times):
        return []
    repeated = sorted(t for t, n in Counter(times).items() if n > 1)
    notes: list[tuple[Event, str]] = []
    for time in repeated:
        run = events[bisect_left(times, time):bisect_right(times, time)]
        groups: dict[tuple[Any, ...], list[Event]] = {}
        for event in run:
            groups.setdefault(_about(event), []).append(event)
        for group in groups.values():
            if len(group) > 1 and len(set(map(_FILE, group))) > 1 and len(set(map(_effect, group))) > 1:
                notes.append((group[-1], _message(group, files)))
    notes.sort(key=lambda note: (note[0].time, note[0].file, note[0].line))
    return notes


def _message(group: list[Event], files: list[str] | None) -> str:
    last = group[-1]
    where = ", ".join(f"{e.action} {e.id}" + (f" ({files[e.file]}:{e.line})" if files else "") for e in group)
    about = last.target if last.action in ("define", "retire") else last.subject
    if last.action in _ENTITLEMENT_ACTIONS:
        about = f"{last.target} for {last.subject}" + (f" on {last.resource}" if last.resource else "")
    return (f"order-dependent: {where} change {about} at the same time {format_time(last.time)} "
            f"from different files; replay applies them in file order, so {last.action} {last.id} "
            "decides the outcome, and renaming or reordering the files would change it "
            "(give the events distinct times)")


__all__ = ["find_ties"]
