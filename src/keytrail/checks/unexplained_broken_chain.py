"""The history was tampered with or damaged: duplicate event ids, a broken hash chain.

Why it matters: the history is the evidence every other finding rests on. Two
events with one id make every reference to that id ambiguous (a copied line,
a merge gone wrong, or an event slipped in under a known id). In a file whose
events carry ``prev`` (the ``sha256:`` hash of the previous line), a hash that
does not match means a line was edited, removed or inserted after the fact:
whatever the history says around it can no longer be trusted.

Fires: (a) once per event id used by two or more events at or before
``as_of``, located at the second occurrence in file order (the history files
in the order given, then line: the line written later), with every occurrence
listed in the evidence; (b) once per chain
break the loader found: in a file that uses ``prev``, an event whose ``prev``
is not ``sha256:`` + the hex SHA-256 of the exact bytes of the previous
non-blank line of the same file (without its line ending), or an event with no
``prev`` after an earlier event of the file carried one. The finding is
located at the event whose ``prev`` does not match, and names the line before
it: that line was changed or removed, or this one was inserted (when both
lines carry the same ``prev``, one of them was copied or inserted).

Chain breaks are reported whatever ``--as-of`` and ``--since`` say: they are a
property of the files as they are, and event times are exactly what a
tamperer can change. Duplicate ids are looked for among the events up to
``as_of`` (the whole history, not only the review window): an event after
``as_of`` is not part of the reviewed history yet.

Does not fire: for files that never use ``prev``; for the first event of a
file (its ``prev`` links to something outside the file and is not checked);
for an intact chain. A per-file chain cannot show a file whose first or last
lines were cut off, or whose ``prev`` fields were all removed.

Remediate: restore the history from a trusted copy (version control, the
write-once archive) and find out how it was changed; for duplicate ids, give
each event its own id at the source that generated them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain
from keytrail.model import Event, Finding
from keytrail.view import View

ID = "unexplained.broken-chain"
SEVERITY = "critical"
PARAMS = NO_PARAMS


def _file_order(event: Event) -> tuple[int, int]:
    return (event.file, event.line)


def _occurrence(view: View, event: Event) -> dict[str, Any]:
    """One event sharing a duplicated id: what it says, and its chain."""
    return {"subject": event.subject, "target": event.target, "resource": event.resource,
            **chain(view, event)}


def _duplicates(view: View) -> Iterator[Finding]:
    # Sorting the ids finds repeats with a list of references; a Counter would
    # hold a hash table as large as the history (millions of entries).
    ids = sorted(event.id for event in view.state.events)
    dup_ids = {a for a, b in zip(ids, islice(ids, 1, None), strict=False) if a == b}
    del ids
    if not dup_ids:
        return
    by_id: dict[str, list[Event]] = {}
    for event in view.state.events:
        if event.id in dup_ids:
            by_id.setdefault(event.id, []).append(event)
    for ident in sorted(by_id):
        events = sorted(by_id[ident], key=_file_order)
        second = events[1]
        where = [str(view.location(e)) for e in events]
        yield Finding(
            message=f"event id {ident} is used by {len(events)} events ({', '.join(where)})",
            event=second, evidence={"id": ident, "locations": where,
                                    "events": [_occurrence(view, e) for e in events]},
            location=view.location(second), ident=("duplicate", ident))


def _chain_breaks(view: View) -> Iterator[Finding]:
    breaks = view.project.chain_breaks
    if not breaks:
        return
    # The line before each break: the events of the file in line order (built once).
    files = {b.event.file for b in breaks}
    lines: dict[int, list[Event]] = {}
    for event in view.project.events:
        if event.file in files:
            lines.setdefault(event.file, []).append(event)
    for events in lines.values():
        events.sort(key=_file_order)
    # Two breaks at events sharing an id (itself reported above) need a further part.
    seen = Counter((b.event.file, b.event.id) for b in breaks)
    for brk in sorted(breaks, key=lambda b: _file_order(b.event)):
        event = brk.event
        here = view.location(event)
        in_file = lines[event.file]
        index = bisect_left(in_file, event.line, key=_line_of)
        before = in_file[index - 1] if index > 0 else None
        prev_text = "the line before it"
        if before is not None:
            prev_text += f" ({view.location(before)}, {before.id})"
        if brk.found is None:
            message = (f"{event.id} at {here} has no `prev` hash although the chain started "
                       "earlier in its file: it was inserted, or its `prev` removed")
        elif before is not None and before.get("prev") == brk.found:
            # Both lines claim the same predecessor: one was copied or slipped in before the other.
            message = (f"the `prev` hash of {event.id} at {here} repeats the one of {prev_text}: "
                       "one of the two lines was copied or inserted")
        else:
            message = (f"the `prev` hash of {event.id} at {here} does not match {prev_text}: "
                       f"that line was changed or removed, or {event.id} was inserted")
        evidence: dict[str, Any] = {"expected": brk.expected, "found": brk.found,
                                    "event": chain(view, event)}
        if before is not None:
            evidence["previous"] = {"event": before.id, "location": str(view.location(before))}
        ident: tuple[str, ...] = ("chain", here.path if here else "", event.id)
        if seen[(event.file, event.id)] > 1:
            ident += (str(event.line),)
        yield Finding(message=message, subject=event.subject, target=event.target,
                      resource=event.resource, event=event, key=event.key, evidence=evidence,
                      location=here, ident=ident)


def _line_of(event: Event) -> int:
    return event.line


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    yield from _duplicates(view)
    yield from _chain_breaks(view)
