"""The history was tampered with or damaged: duplicate ids, a broken hash chain, a failed checkpoint.

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
``prev`` after an earlier event of the file carried one; the first event of a
file that carries ``prev`` is checked against the line before it too (so an
edited first line shows at the second). The finding is
located at the event whose ``prev`` does not match, and names the line before
it: that line was changed or removed, or this one was inserted (when both
lines carry the same ``prev``, one of them was copied or inserted).

(c) When ``keytrail.yaml`` names a checkpoint log (``checkpoints:``), once per
violation ``keytrail verify`` finds (docs/integrity.md), at its place: a line
that differs from what a checkpoint sealed (the first one), lines or a whole
file missing since a checkpoint, a checkpoint whose signature is bad or by an
untrusted key, a checkpoint removed from or inserted into the log, a file the
history no longer includes, or a missing checkpoint log; (d) with checkpoints,
once per history file holding events that no checkpoint covers and that are
dated more than ``max_unsealed`` before ``as_of`` (located at the first such
event, the evidence counting them): they were written after the history was
sealed with a date in the past, or the history has not been sealed for too long.

Chain breaks and checkpoint violations are reported whatever ``--as-of`` and ``--since`` say: they are a
property of the files as they are, and event times are exactly what a
tamperer can change. Duplicate ids are looked for among the events up to
``as_of`` (the whole history, not only the review window): an event after
``as_of`` is not part of the reviewed history yet.

Does not fire: for files that never use ``prev``; for the ``prev`` of a
file's first line (it links to something outside the file and is not
checked); for an intact chain; for unsealed events dated within
``max_unsealed`` of ``as_of``, or when ``max_unsealed`` is null. A per-file
chain cannot show a file whose first or last lines were cut off, whose
``prev`` fields were all removed or recomputed, or a file added or deleted:
signed checkpoints (``keytrail seal``) show all of these.

Remediate: restore the history from a trusted copy (version control, the
write-once archive) and find out how it was changed; for duplicate ids, give
each event its own id at the source that generated them; for unsealed events,
find out who wrote them, then run ``keytrail seal`` (sealing runs after every
change, so old unsealed events are never routine).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import chain
from keytrail.model import Event, Finding, Location
from keytrail.timeutil import format_duration
from keytrail.view import View

ID = "unexplained.broken-chain"
SEVERITY = "critical"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_unsealed": {
            "type": ["string", "null"], "format": "duration", "default": "7d",
            "description": "with a checkpoint log: events no checkpoint covers that are dated more "
                           "than this before as_of are a finding (null: never)"},
    },
    "additionalProperties": False,
}


def _file_order(event: Event) -> tuple[int, int]:
    return (event.file, event.line)


def _occurrence(view: View, event: Event) -> dict[str, Any]:
    """One event sharing a duplicated id: what it says, and its chain."""
    return {"subject": event.subject, "target": event.target, "resource": event.resource,
            **chain(view, event)}


def _duplicates(view: View) -> Iterator[Finding]:
    by_id: dict[str, list[Event]] = {}
    for event in view.state.sharing_ids():
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
            # The whole chain of the line before (it once carried only id and place, so the
            # reports showed "no key" for a line that has one).
            evidence["previous"] = chain(view, before)
        ident: tuple[str, ...] = ("chain", here.path if here else "", event.id)
        if seen[(event.file, event.id)] > 1:
            ident += (str(event.line),)
        yield Finding(message=message, subject=event.subject, target=event.target,
                      resource=event.resource, event=event, key=event.key, evidence=evidence,
                      location=here, ident=ident)


def _line_of(event: Event) -> int:
    return event.line


def _anchor(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    """The checkpoint log's verdict (computed while loading the project), as findings."""
    verification = view.project.anchor
    if verification is None:
        return
    files = view.project.history_files
    at: dict[tuple[str, int], Event] = {}
    wanted = {(v.path, v.line) for v in verification.violations if v.line}
    if wanted:
        for event in view.project.events:
            key = (files[event.file], event.line)
            if key in wanted:
                at[key] = event
    for v in verification.violations:
        found = at.get((v.path, v.line))
        yield Finding(message=f"{v.path}{f':{v.line}' if v.line else ''}: {v.message}",
                      subject=found.subject if found else None, target=found.target if found else None,
                      resource=found.resource if found else "", event=found,
                      evidence={"kind": v.kind, "log": verification.log,
                                **({"event": chain(view, found)} if found else {})},
                      location=Location(v.path, v.line), ident=("checkpoint", v.kind, v.path, str(v.line)))
    max_age = params.get("max_unsealed")
    if max_age is None or verification.latest is None and verification.violations:
        return
    sealed = verification.sealed_lines
    diverged = {v.path for v in verification.violations}
    stale: dict[int, list[Event]] = {}
    limit = view.as_of - max_age
    for event in view.project.events:
        path = files[event.file]
        if event.line > sealed.get(path, 0) and event.time < limit and path not in diverged:
            stale.setdefault(event.file, []).append(event)
    for index in sorted(stale):
        events = sorted(stale[index], key=_file_order)
        first = events[0]
        path = files[index]
        count = len(events)
        yield Finding(
            message=(f"{count} event{'s' if count != 1 else ''} in {path} (from line {first.line}, "
                     f"{first.id}) {'are' if count != 1 else 'is'} not covered by any checkpoint and "
                     f"dated more than {format_duration(max_age)} before the review time: written "
                     "after the history was sealed, or never sealed"),
            subject=first.subject, target=first.target, resource=first.resource, event=first,
            evidence={"count": count, "lines": [e.line for e in events[:100]],
                      "events": [e.id for e in events[:100]], "log": verification.log},
            location=view.location(first), ident=("unsealed", path))


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    yield from _duplicates(view)
    yield from _chain_breaks(view)
    yield from _anchor(view, params)
