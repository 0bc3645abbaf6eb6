"""Recording one change: check it, chain it, append it, and optionally send it over OTLP.

Everything is decided before the file is touched, and inside the project's
record lock (:func:`keytrail.recording.append.project_lock`): the fields
(:mod:`keytrail.recording.event`), the file (inside the project, read by its
``history:`` globs), the whole project as ``check`` loads it (a project that
does not load is not appended to), the ``prev`` hash of the file's last line,
the line itself read back exactly as ``check`` will read it, an id no event
of the history has, and the key checks (:mod:`keytrail.recording.gate`). Any
refusal writes nothing. In a sealed project (``checkpoints:``) a change dated
more than :data:`MAX_BACKDATE_US` before now is refused: ``keytrail verify``
reports such a line as appended after the seal with a date in the past.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, KeytrailError, Problem, UsageError
from keytrail.recording.event import Change, fields, iso
from keytrail.textsafe import inline

#: How far back a change may be dated in a sealed project: `keytrail verify --max-unsealed`'s default.
MAX_BACKDATE_US = 7 * 86_400 * 1_000_000
#: The order of a recorded event's fields in the history line.
ORDER = ("id", "time", "action", "subject", "target", "resource", "actor", "key", "approver", "ticket",
         "reason", "expires", "owner", "attributes", "source", "prev")


class RecordRefused(KeytrailError):
    """The change would be unexplained (or is otherwise refused): nothing was written."""

    consequence = "nothing was written (--allow-unexplained records it all the same)"


@dataclass
class Recorded:
    """What was written: the event, where, and what the key checks said (with --allow-unexplained)."""

    event: dict[str, Any]
    file: str
    line: int
    project: str = ""
    unexplained: list[tuple[str, str]] = field(default_factory=list)
    exported: int | None = None


def _lines(path: Path) -> int:
    """The line number the next line appended to ``path`` gets."""
    if not path.exists():
        return 1
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (2 if last != b"\n" else 1)


def _patterns(config: Path) -> list[str]:
    from keytrail.project import read_yaml

    data, _ = read_yaml(config, config.name)
    patterns = data.get("history") if isinstance(data, dict) else None
    return [patterns] if isinstance(patterns, str) else [p for p in patterns or [] if isinstance(p, str)]


def record_change(change: Change, directory: Path, out: Path, *, now_us: int, trace: Any = None,
                  allow_unexplained: bool = False, wait: float = 30.0) -> Recorded:
    """Append ``change`` to the history file ``out`` of the project at ``directory``; every
    error it raises (a KeytrailError) means nothing was written."""
    try:
        return _record(change, directory, out, now_us, trace, allow_unexplained, wait)
    except KeytrailError as exc:
        exc.consequence = "nothing was written" if not isinstance(exc, RecordRefused) else exc.consequence
        raise


def _record(change: Change, directory: Path, out: Path, now_us: int, trace: Any, allow_unexplained: bool,
            wait: float) -> Recorded:
    import orjson

    from keytrail.history import line_hash, parse_line
    from keytrail.model import Location
    from keytrail.project import find_config, load_config, load_project
    from keytrail.recording.append import append, history_file, last_line, project_lock
    from keytrail.recording.gate import refusals
    from keytrail.textsafe import json_inert

    values, when = fields(change, now_us)
    config = find_config(directory)
    root = config.parent
    with project_lock(root, wait):
        cfg = load_config(config)
        display = history_file(out, root, _patterns(config), cfg.history)
        if cfg.checkpoints is not None and when < now_us - MAX_BACKDATE_US:
            raise UsageError(f"{change.name('time')} {iso(when)} is more than 7 days before now and the "
                             "project is sealed (checkpoints:): `keytrail verify` would report the line as "
                             "appended after the seal with a date in the past")
        project = load_project(config)
        line = _lines(out)
        previous = last_line(out)
        event: dict[str, Any] = dict(values)
        if trace is not None:
            event["source"] = {"traceId": trace.trace_id, "spanId": trace.span_id,
                               "traceFlags": f"{trace.flags:02x}"}
        if previous is not None:
            event["prev"] = line_hash(previous)
        if change.id is not None:
            event["id"] = change.id
        else:
            basis = "\x1f".join((display, event.get("prev", ""), orjson.dumps(values).decode("utf-8")))
            event["id"] = "rec-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]
        event = {name: event[name] for name in ORDER if name in event}
        raw = json_inert(orjson.dumps(event).decode("utf-8")).encode("utf-8")
        parsed, problems = parse_line(raw, display, line)
        if problems or parsed is None:
            raise InputError("the change cannot be written as a history event", problems)
        if any(e.id == parsed.id for e in project.events):
            raise UsageError(f"{change.name('id')} {inline(parsed.id)}: the history already has an event "
                             "with this id (was this change recorded already?)")
        found = refusals(parsed, project.keys, Location(display, line))
        if found and not allow_unexplained:
            raise RecordRefused("the change would be unexplained", [
                Problem(display, line, 0, check_id, message) for check_id, message in found])
        append(out, raw)
    return Recorded(event, display, line, project.name, found)
