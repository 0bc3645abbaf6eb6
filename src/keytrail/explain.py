"""``keytrail explain``: why a subject holds a target, edge by edge.

For every path from the subject to the target (direct, or through nested
groups), each edge is shown with the who/what/when/why chain behind it: the
event and where it was written, the actor, the key and its registered holder
and validity, the approver, the ticket, the reason, the expiry and the last
certification.

Every line is inert (:func:`keytrail.textsafe.inline`): a value with a line
break, an escape sequence or a bidi control in it stays on its own line and
reads as what it is. Lines start with fixed words or with an id, whose kind
prefix (``user:``, ``group:``…) no value can replace.
"""

from __future__ import annotations

import json

from keytrail.errors import UsageError
from keytrail.graph import AccessGraph, describe_path
from keytrail.model import Grant, kind_of
from keytrail.project import Project
from keytrail.replay import State
from keytrail.textsafe import inline
from keytrail.timeutil import format_time


def _text(lines: list[str]) -> str:
    """The lines as output: each one inert, so no value breaks or starts a line."""
    return "".join(inline(line) + "\n" for line in lines)


def key_status(project: Project, grant: Grant) -> str:
    """How the key behind a grant checks out: registered, holder, validity."""
    event = grant.event
    if not event.key:
        return "no provisioning key"
    key = project.keys.get(event.key)
    if key is None:
        return f"key {event.key} (not in the registry)"
    notes = [f"holder {key.holder}"]
    if key.owner:
        notes.append(f"owner {key.owner}")
    if event.actor and event.actor != key.holder:
        notes.append(f"USED BY {event.actor}, NOT ITS HOLDER")
    if key.revoked_at is not None and event.time >= key.revoked_at:
        notes.append(f"REVOKED {format_time(key.revoked_at)}")
    if key.expires is not None and event.time >= key.expires:
        notes.append(f"EXPIRED {format_time(key.expires)}")
    if key.not_before is not None and event.time < key.not_before:
        notes.append(f"NOT YET VALID (from {format_time(key.not_before)})")
    return f"key {event.key} ({', '.join(notes)})"


def edge_lines(project: Project, grant: Grant) -> list[str]:
    """The chain behind one edge, as indented lines."""
    e = grant.event
    on = f" on {grant.resource}" if grant.resource else ""
    lines = [f"  {grant.subject} -> {grant.target}{on}",
             f"    granted {format_time(e.time)} by {e.actor or '(no actor recorded)'}"
             f" (event {e.id}, {project.event_location(e)})",
             f"    {key_status(project, grant)}"]
    why = []
    why.append(f"approved by {e.approver}" if e.approver else "no approver")
    why.append(f"ticket {e.ticket}" if e.ticket else "no ticket")
    if e.reason:
        why.append(f'reason "{e.reason}"')
    lines.append("    " + " · ".join(why))
    if grant.since != e.time:
        lines.append(f"    held since {format_time(grant.since)}")
    if e.expires is not None:
        lines.append(f"    expires {format_time(e.expires)}")
    if grant.certified is not None:
        c = grant.certified
        lines.append(f"    last certified {format_time(c.time)} by {c.actor or '(no actor)'} (event {c.id})")
    if e.extra:
        shown = json.dumps(e.extra, sort_keys=True, ensure_ascii=False, default=str)
        lines.append(f"    other fields: {shown}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _holder_rows(graph: AccessGraph, holders: list[str], target: str) -> list[str]:
    """One row per (holder, resource) reaching ``target``, with one shortest path."""
    rows = []
    for holder in holders:
        for (t, resource), paths in sorted(graph.effective(holder).items()):
            if t == target:
                on = f" on {resource}" if resource else ""
                rows.append(f"  {holder}{on}  via {describe_path(holder, min(paths, key=len))}")
    return rows


def explain_holders(project: Project, state: State, graph: AccessGraph, target: str) -> str:
    """Who reaches ``target`` (directly or through groups), each with one shortest path."""
    when = format_time(state.as_of)
    if kind_of(target) not in ("group", "role"):
        raise UsageError(f"--holders needs a group: or role: id, not {target!r}")
    holders = sorted(graph.holders(target))
    if not holders:
        known = project.directory.target(target) is not None
        return _text([f"Nobody holds {target} as of {when}"
                      + ("" if known else " (and the directory does not define it)") + "."])
    lines: list[str] = []
    principals = [h for h in holders if kind_of(h) in ("user", "svc")]
    groups = [h for h in holders if kind_of(h) == "group"]
    # Each heading counts exactly the rows under it: the groups that hold the target are listed
    # apart from the principals, whose rows already include those reaching it through a group.
    lines.append(f"{target} is held by {_count(len(principals), 'principal')} as of {when}"
                 + (":" if principals else "."))
    lines += _holder_rows(graph, principals, target)
    if groups:
        lines.append(f"and by {_count(len(groups), 'group')} "
                     f"({'its members reach it through it' if len(groups) == 1 else 'their members reach it through them'}):")
        lines += _holder_rows(graph, groups, target)
    lines.append("")
    lines.append(f"`keytrail explain SUBJECT {target}` shows the chain behind each edge.")
    return _text(lines)


def explain(project: Project, state: State, graph: AccessGraph, subject: str, target: str | None) -> str:
    """The explanation text for ``subject`` (and ``target``, when given)."""
    when = format_time(state.as_of)
    if subject not in graph.direct and not project.directory.knows(subject):
        from keytrail.schemas import did_you_mean

        known = sorted(set(graph.direct) | set(project.directory.principals) | set(project.directory.groups))
        raise UsageError(f"{subject!r} is neither in the directory nor in the history{did_you_mean(subject, known)}")
    out: list[str] = []
    effective = graph.effective(subject)
    if target is None:
        if not effective:
            return _text([f"{subject} holds nothing as of {when}."])
        out.append(f"{subject} holds {len(effective)} entitlement{'s' if len(effective) != 1 else ''} as of {when}:")
        for (t, r), paths in sorted(effective.items()):
            on = f" on {r}" if r else ""
            via = "; ".join(describe_path(subject, p) for p in paths)
            out.append(f"  {t}{on}  via {via}")
        out.append("")
        out.append(f"`keytrail explain {subject} TARGET` shows the chain behind each edge.")
        return _text(out)
    if kind_of(target) not in ("group", "role"):
        raise UsageError(f"TARGET must be a group: or role: id, not {target!r}")
    paths = graph.paths(subject, target)
    if not paths:
        return _text([f"{subject} does not hold {target} as of {when}."])
    out.append(f"{subject} holds {target} as of {when} by {len(paths)} path{'s' if len(paths) != 1 else ''}:")
    for n, path in enumerate(paths, 1):
        out.append("")
        out.append(f"path {n}: {describe_path(subject, path)}")
        for grant in path:
            out.extend(edge_lines(project, grant))
    return _text(out)
