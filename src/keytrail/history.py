"""Reading history and snapshot JSONL, fast and with exact locations.

A history can hold millions of events, so each line is parsed with orjson and
checked by a fast path that enforces exactly what ``event.schema.json`` says
for the common fields; anything the fast path does not vouch for (an unusual
field, a wrong type, a bad identifier) is validated by the JSON Schema itself,
so messages are the schema's, located at ``file:line``. Strings that repeat
(identifiers, keys, tickets) are interned, and each event becomes a compact
:class:`~keytrail.model.Event` tuple.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import MAX_PROBLEMS_PER_FILE, InputError, Problem, cap_problems
from keytrail.model import ACTIONS, Event, SnapshotEntry
from keytrail.timeutil import TimeFormatError, parse_time
from keytrail.yamlload import Locator

#: Longest accepted JSONL line; a longer one is an error, not a memory spike.
MAX_LINE_BYTES = 1 << 20

_PRINCIPAL = re.compile(r"(?:user|svc):\S(?:.*\S)?\Z")
_SUBJECT = re.compile(r"(?:user|svc|group):\S(?:.*\S)?\Z")
_TARGET = re.compile(r"(?:group|role):\S(?:.*\S)?\Z")
_MAX_ID = 512
_FAST_FIELDS = frozenset({"id", "time", "action", "subject", "target", "resource", "actor", "key",
                          "approver", "ticket", "reason", "expires"})
_NEEDS = {"grant": ("subject", "target"), "revoke": ("subject", "target"),
          "certify": ("subject", "target"), "join": ("subject",), "move": ("subject",),
          "leave": ("subject",), "define": ("target",), "retire": ("target",)}


@dataclass
class ChainBreak:
    """An event whose ``prev`` hash does not match the line before it."""

    event: Event
    expected: str | None   # the hash the previous line really has (None: no previous line)
    found: str | None      # what the event claims (None: missing although the chain started)


@dataclass
class History:
    """Every event of a project, sorted for replay, plus what integrity checks need."""

    files: list[str]
    events: list[Event]
    chain_breaks: list[ChainBreak] = field(default_factory=list)


class _Interner:
    """Validates and interns repeated strings; each distinct value is checked once."""

    def __init__(self) -> None:
        self.ok: dict[tuple[str, str], str] = {}

    def get(self, kind: str, value: Any) -> str | None:
        if type(value) is not str:
            return None
        hit = self.ok.get((kind, value))
        if hit is not None:
            return hit
        if kind == "principal":
            good = len(value) <= _MAX_ID and _PRINCIPAL.match(value) is not None
        elif kind == "subject":
            good = len(value) <= _MAX_ID and _SUBJECT.match(value) is not None
        elif kind == "target":
            good = len(value) <= _MAX_ID and _TARGET.match(value) is not None
        elif kind == "resource":
            good = len(value) <= 1024
        else:
            good = True
        if not good:
            return None
        if len(self.ok) < 5_000_000:
            self.ok[(kind, value)] = value
        return value


_KINDS = {"subject": "subject", "target": "target", "resource": "resource", "actor": "principal",
          "approver": "principal", "key": "text", "ticket": "text", "reason": "text"}


def _fast_event(obj: Any, interner: _Interner, file_index: int, line: int) -> Event | None:
    """Build an event when every field is one the fast path fully validates; else None."""
    if type(obj) is not dict or not _FAST_FIELDS.issuperset(obj):
        return None
    ident, action = obj.get("id"), obj.get("action")
    if type(ident) is not str or not ident or len(ident) > 256 or action not in _NEEDS:
        return None
    for needed in _NEEDS[action]:
        if needed not in obj:
            return None
    values: dict[str, Any] = {}
    for name, kind in _KINDS.items():
        if name in obj:
            v = interner.get(kind, obj[name])
            if v is None:
                return None
            values[name] = v
    try:
        time = parse_time(obj.get("time"))
        expires = parse_time(obj["expires"]) if "expires" in obj else None
    except TimeFormatError:
        return None
    return Event(ident, time, action, values.get("subject"), values.get("target"),
                 values.get("resource", ""), values.get("actor"), values.get("key"),
                 values.get("approver"), values.get("ticket"), values.get("reason"),
                 expires, file_index, line, None)


def _slow_event(obj: Any, interner: _Interner, file_index: int, line: int, display: str
                ) -> tuple[Event | None, list[Problem]]:
    """Validate against the event schema and build the event, keeping extra fields."""
    from keytrail.schemas import validate

    locator = Locator(display, {(): (line, 0)})
    problems = validate(obj, "event", locator)
    if problems:
        return None, problems
    times: dict[str, int | None] = {}
    for name in ("time", "expires"):
        try:
            times[name] = parse_time(obj[name]) if name in obj else None
        except TimeFormatError as exc:
            return None, [Problem(display, line, 0, name, str(exc))]
    extra = {k: v for k, v in obj.items() if k not in _FAST_FIELDS}
    values = {name: interner.get(kind, obj[name]) if name in obj else None for name, kind in _KINDS.items()}
    return Event(obj["id"], times["time"] or 0, obj["action"], values["subject"], values["target"],
                 values["resource"] or "", values["actor"], values["key"], values["approver"],
                 values["ticket"], values["reason"], times["expires"], file_index, line,
                 extra or None), []


def _json_problem(display: str, line: int, exc: orjson.JSONDecodeError) -> Problem:
    col = getattr(exc, "colno", 0) or 0
    msg = str(exc.msg) if hasattr(exc, "msg") else str(exc)
    return Problem(display, line, col, "", f"invalid JSON: {msg}")


def iter_lines(path: Path, display: str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line without its newline) for each non-blank line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}",
                         [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if raw.endswith(b"\n"):
                raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
            if raw.strip():
                yield number, raw


def load_history(paths: list[Path], displays: list[str]) -> History:
    """Read every history file; raise :class:`InputError` listing every problem found."""
    interner = _Interner()
    events: list[Event] = []
    breaks: list[ChainBreak] = []
    problems: list[Problem] = []
    for index, (path, display) in enumerate(zip(paths, displays)):
        file_problems: list[Problem] = []
        chained = False
        previous_raw: bytes | None = None
        for line, raw in iter_lines(path, display):
            event, line_problems = _parse_event(raw, interner, index, line, display)
            if line_problems:
                file_problems.extend(line_problems)
                if len(file_problems) > MAX_PROBLEMS_PER_FILE * 4:
                    break
            elif event is not None:
                events.append(event)
                prev = event.get("prev")
                if prev is not None or chained:
                    chained = True
                    expected = _line_hash(previous_raw) if previous_raw is not None else None
                    if prev != expected and not (previous_raw is None and prev is not None):
                        breaks.append(ChainBreak(event, expected, prev))
            previous_raw = raw
        problems.extend(cap_problems(file_problems, display))
    if problems:
        raise InputError("invalid history", problems)
    # list.sort is stable and events were appended in file then line order, so
    # ties on time keep the order the files were given in.
    events.sort(key=_time_of)
    return History(list(displays), events, breaks)


def _time_of(event: Event) -> int:
    return event.time


def _line_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def line_hash(raw: bytes) -> str:
    """The ``prev`` value an event must carry to follow the line ``raw``."""
    return _line_hash(raw)


def _parse_event(raw: bytes, interner: _Interner, index: int, line: int, display: str
                 ) -> tuple[Event | None, list[Problem]]:
    if len(raw) > MAX_LINE_BYTES:
        return None, [Problem(display, line, 0, "", f"line is {len(raw):,} bytes long; "
                              f"at most {MAX_LINE_BYTES:,} allowed")]
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, [_json_problem(display, line, exc)]
    event = _fast_event(obj, interner, index, line)
    if event is not None:
        return event, []
    if type(obj) is not dict:
        return None, [Problem(display, line, 0, "", "each line must be a JSON object")]
    return _slow_event(obj, interner, index, line, display)


def load_snapshot(path: Path, display: str) -> list[SnapshotEntry]:
    """Read a snapshot JSONL file; raise :class:`InputError` listing every problem."""
    from keytrail.schemas import validate

    interner = _Interner()
    entries: list[SnapshotEntry] = []
    problems: list[Problem] = []
    for line, raw in iter_lines(path, display):
        if len(raw) > MAX_LINE_BYTES:
            problems.append(Problem(display, line, 0, "", "line too long"))
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(_json_problem(display, line, exc))
            continue
        if type(obj) is dict:
            subject = interner.get("subject", obj.get("subject"))
            target = interner.get("target", obj.get("target"))
            resource = interner.get("resource", obj.get("resource", ""))
            if subject and target and resource is not None:
                entries.append(SnapshotEntry(subject, target, resource, line))
                continue
        found = validate(obj, "snapshot", Locator(display, {(): (line, 0)}))
        problems.extend(found or [Problem(display, line, 0, "", "invalid snapshot line")])
    if problems:
        raise InputError("invalid snapshot", cap_problems(problems, display))
    return entries


__all__ = ["ACTIONS", "ChainBreak", "History", "load_history", "load_snapshot", "line_hash"]
