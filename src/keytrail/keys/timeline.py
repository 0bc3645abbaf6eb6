"""Every change made under one key, or within one trace, across every history file and system.

A provisioning key is what ties a Terraform apply, an Okta group sync and a
CloudTrail ``AttachRolePolicy`` to one accountable change: the timeline of a key
lists every event made under it, whatever file and source system it came from,
each with its chain (actor, approver, ticket, reason), where it was written
(file and line, and the source system's own record) and the findings about it.
A W3C trace id (``source.traceId``, which ``import otlp`` and ``keytrail record``
keep) selects the events of one trace the same way, each with its key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keytrail.model import Event, Key, Reported
from keytrail.project import Project

#: A W3C trace context trace id: 32 lowercase hexadecimal digits, not all zero.
TRACE_ID = re.compile(r"[0-9a-f]{32}")


def trace_problem(trace: str) -> str | None:
    """Why ``trace`` is not a W3C trace id, or None."""
    if not TRACE_ID.fullmatch(trace):
        return "a trace id is 32 lowercase hexadecimal digits (W3C trace context)"
    if set(trace) == {"0"}:
        return "the all-zero trace id is invalid (W3C trace context)"
    return None


@dataclass
class Entry:
    """One event of a timeline, with where it came from and what was found about it."""

    event: Event
    file: str
    source: dict[str, Any]
    findings: list[Reported] = field(default_factory=list)


def select(project: Project, events: Iterable[Event], key: str | None = None,
           trace: str | None = None) -> list[Entry]:
    """The events made under ``key`` or carrying trace id ``trace``, in replay order."""
    out = []
    for event in events:
        if key is not None and event.key != key:
            continue
        source = event.get("source")
        source = source if isinstance(source, dict) else {}
        if trace is not None and source.get("traceId") != trace:
            continue
        out.append(Entry(event, project.history_files[event.file], source))
    return out


def attach(entries: list[Entry], findings: Iterable[Reported]) -> None:
    """Give each entry the findings about its event."""
    by_event: dict[str, list[Entry]] = {}
    for entry in entries:
        by_event.setdefault(entry.event.id, []).append(entry)
    for item in findings:
        event = item.finding.event
        if event is None:
            continue
        for entry in by_event.get(event.id, ()):
            if entry.event is event or (entry.event.file, entry.event.line) == (event.file, event.line):
                entry.findings.append(item)


def entry_data(entry: Entry, keys: dict[str, Key]) -> dict[str, Any]:
    """An entry as plain data (the JSON output)."""
    from keytrail.keys.summary import finding_data
    from keytrail.timeutil import format_time

    e = entry.event
    key = keys.get(e.key) if e.key else None
    return {
        "event": e.id, "time": format_time(e.time), "action": e.action,
        "subject": e.subject, "target": e.target, "resource": e.resource,
        "actor": e.actor, "key": e.key, "approver": e.approver, "ticket": e.ticket,
        "reason": e.reason,
        "chain": None if key is None else {"holder": key.holder, "owner": key.owner,
                                           "approved_by": key.approved_by, "ticket": key.ticket},
        "system": system(entry.source), "record": entry.source.get("id"),
        "trace": entry.source.get("traceId"), "span": entry.source.get("spanId"),
        "location": {"path": entry.file, "line": e.line},
        "findings": [finding_data(item) for item in entry.findings],
    }


def system(source: dict[str, Any]) -> str:
    """The source system an event came from: the importer's format, else ``native``."""
    value = source.get("format") or source.get("system")
    return str(value) if value else "native"


def summary(entries: list[Entry]) -> dict[str, Any]:
    """How many events, from which files and systems, by which actors, over what period."""
    from keytrail.timeutil import format_time

    files: dict[str, int] = {}
    systems: dict[str, int] = {}
    for entry in entries:
        files[entry.file] = files.get(entry.file, 0) + 1
        name = system(entry.source)
        systems[name] = systems.get(name, 0) + 1
    return {"events": len(entries), "files": dict(sorted(files.items())),
            "systems": dict(sorted(systems.items())),
            "actors": sorted({e.event.actor for e in entries if e.event.actor}),
            "keys": sorted({e.event.key for e in entries if e.event.key}),
            "first": format_time(entries[0].event.time) if entries else None,
            "last": format_time(entries[-1].event.time) if entries else None}
