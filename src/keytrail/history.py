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
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import MAX_PROBLEMS_PER_FILE, InputError, Problem, cap_problems
from keytrail.ids import TOKEN, token_problem
from keytrail.model import ACTIONS, Event
from keytrail.timeutil import TimeFormatError, parse_time
from keytrail.yamlload import Locator

#: Longest accepted JSONL line; a longer one is an error, not a memory spike.
MAX_LINE_BYTES = 1 << 20

_PRINCIPAL = re.compile(rf"(?:user|svc):{TOKEN}\Z")
_SUBJECT = re.compile(rf"(?:user|svc|group):{TOKEN}\Z")
_TARGET = re.compile(rf"(?:group|role):{TOKEN}\Z")
#: What each kind of interned value must match (None: any string).
_PATTERNS: dict[str, re.Pattern[str] | None] = {
    "principal": _PRINCIPAL, "subject": _SUBJECT, "target": _TARGET, "token": re.compile(rf"(?:{TOKEN})?\Z"),
    "resource": re.compile(rf"(?:{TOKEN})?\Z"), "text": None}
_MAX_LENGTH = {"principal": 512, "subject": 512, "target": 512, "token": 1024, "resource": 1024,
               "text": 1 << 20}
_COMMON = ("id", "time", "action", "subject", "target", "resource", "actor", "key", "approver",
           "ticket", "reason", "expires")
_COMMON_SET = frozenset(_COMMON)
#: Extra fields the fast path validates itself; any other field goes through the schema.
_FAST_EXTRA = frozenset({"attributes", "prev", "owner"})
_FAST_FIELDS = _COMMON_SET | _FAST_EXTRA
_NEEDS = {"grant": ("subject", "target"), "revoke": ("subject", "target"),
          "certify": ("subject", "target"), "join": ("subject",), "move": ("subject",),
          "leave": ("subject",), "define": ("target",), "retire": ("target",)}
#: For each action: whether it needs a subject, and whether it needs a target.
_NEEDS2 = {action: ("subject" in needs, "target" in needs, action) for action, needs in _NEEDS.items()}
_SCALARS = (str, int, float, bool, type(None))
_new_event = tuple.__new__


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
    #: Every distinct subject, target, actor, approver and owner of the events (None when
    #: too many to keep): what keytrail.lookalike compares, without a pass over the events.
    identifiers: set[str] | None = None


class _Interner:
    """Validated, interned strings by kind: each distinct value is checked once.

    Identifiers, keys, tickets and reasons repeat across millions of events;
    keeping one copy of each saves memory, and a dict lookup replaces a
    regular-expression match.
    """

    LIMIT = 5_000_000
    TICKET_LIMIT = 1_000_000

    def __init__(self) -> None:
        self.principal: dict[str, str] = {}
        self.subject: dict[str, str] = {}
        self.target: dict[str, str] = {}
        self.resource: dict[str, str] = {"": ""}
        self.token: dict[str, str] = {}
        self.text: dict[str, str] = {}
        self.tickets: dict[str, str] = {}

    def identifiers(self) -> set[str] | None:
        """The distinct ids seen, or None when a table reached its limit (some were not kept)."""
        tables = (self.principal, self.subject, self.target)
        if any(len(t) >= self.LIMIT for t in tables):
            return None
        return set().union(*tables)

    def check(self, kind: str, value: Any) -> str | None:
        """``value`` interned when valid for ``kind``, else None."""
        if type(value) is not str:
            return None
        table: dict[str, str] = getattr(self, kind)
        hit = table.get(value)
        if hit is not None:
            return hit
        if not valid(kind, value):
            return None
        if len(table) < self.LIMIT:
            table[value] = value
        return value


def valid(kind: str, value: str) -> bool:
    """Whether ``value`` is a valid ``kind`` (principal, subject, target, token, resource, text).

    The pattern is matched in full (``\\Z``: ``$`` would accept a final line break);
    a value that is not plain ASCII is also checked for invisible characters the
    pattern cannot name (:func:`keytrail.ids.token_problem`).
    """
    pattern = _PATTERNS[kind]
    if pattern is None:
        return len(value) <= _MAX_LENGTH[kind]
    if len(value) > _MAX_LENGTH[kind] or pattern.match(value) is None:
        return False
    return value.isascii() or not value or token_problem(value) is None


def _good_ident(ident: Any) -> bool:
    """Whether an event id is a string of visible text (checked on every event: kept cheap)."""
    if type(ident) is not str or not ident or len(ident) > 256:
        return False
    if ident.isascii():  # printable ASCII with no space at either end is exactly a token
        return ident.isprintable() and ident[0] != " " and ident[-1] != " "
    return token_problem(ident) is None


def _fast_event(obj: Any, c: _Interner, file_index: int, line: int) -> Event | None:
    """Build an event when the fast path can vouch for every field; else None (use the schema).

    This runs once per history line, so it is written for speed: identifiers
    seen before are found by one dict subscript each (validated on first
    sight by :meth:`_Interner.check`), and the common time form is parsed
    from an hourly cache.
    """
    if type(obj) is not dict or not _FAST_FIELDS.issuperset(obj):
        return None
    get = obj.get
    try:
        ident = obj["id"]
        needs = _NEEDS2[obj["action"]]
        time = _fast_time(obj["time"])
        raw_expires = get("expires")
        expires = None if raw_expires is None else _fast_time(raw_expires)
    except (KeyError, TimeFormatError, TypeError):
        return None
    if type(ident) is not str or not ident or len(ident) > 256:
        return None
    # The common case inline (this runs for every event): printable ASCII, no space at an end.
    if not (ident.isascii() and ident.isprintable() and ident[0] != " " and ident[-1] != " ") \
            and not _good_ident(ident):
        return None
    subject, target, resource = get("subject"), get("target"), get("resource", "")
    if (needs[0] and subject is None) or (needs[1] and target is None):
        return None
    actor, approver = get("actor"), get("approver")
    key, ticket, reason = get("key"), get("ticket"), get("reason")
    try:
        if subject is not None:
            subject = c.subject[subject]
        if target is not None:
            target = c.target[target]
        resource = c.resource[resource]
        if actor is not None:
            actor = c.principal[actor]
        if approver is not None:
            approver = c.principal[approver]
        if key is not None:
            key = c.token[key]
        if reason is not None:
            reason = c.text[reason]
    except (KeyError, TypeError):
        # A value not seen before (or not a string): validate each one.
        check = c.check
        if subject is not None and (subject := check("subject", subject)) is None:
            return None
        if target is not None and (target := check("target", target)) is None:
            return None
        if (resource := check("resource", resource)) is None:
            return None
        if actor is not None and (actor := check("principal", actor)) is None:
            return None
        if approver is not None and (approver := check("principal", approver)) is None:
            return None
        if key is not None and (key := check("token", key)) is None:
            return None
        if reason is not None and (reason := check("text", reason)) is None:
            return None
    if ticket is not None:
        # Tickets repeat across the events of one change; interned up to a bound
        # (a history where every ticket is unique would gain nothing).
        tickets = c.tickets
        seen = tickets.get(ticket) if type(ticket) is str else None
        if seen is not None:
            ticket = seen
        elif type(ticket) is not str or not valid("token", ticket):
            return None
        elif len(tickets) < c.TICKET_LIMIT:
            tickets[ticket] = ticket
    extra = None
    if len(obj) > 3 and not _COMMON_SET.issuperset(obj):
        extra = _fast_extra(obj, c)
        if extra is None:
            return None
    return _new_event(Event, (ident, time, needs[2], subject, target, resource, actor, key,
                              approver, ticket, reason, expires, file_index, line, extra))


def _fast_extra(obj: dict[str, Any], c: _Interner) -> dict[str, Any] | None:
    """The extra fields the fast path knows (attributes, prev, owner), validated; else None."""
    extra = {k: v for k, v in obj.items() if k not in _COMMON_SET}
    attributes = extra.get("attributes")
    if attributes is not None:
        if type(attributes) is not dict:
            return None
        for value in attributes.values():
            if not isinstance(value, _SCALARS):
                return None
    if "prev" in extra and type(extra["prev"]) is not str:
        return None
    if "owner" in extra and c.check("principal", extra["owner"]) is None:
        return None
    return extra


_HOUR_CACHE: dict[str, int] = {}


def _fast_time(text: Any) -> int:
    """:func:`parse_time` with a shortcut for ``YYYY-MM-DDTHH:MM:SSZ`` (the start of each hour cached)."""
    if type(text) is str and len(text) == 20 and text[19] == "Z" and text[13] == ":" and text[16] == ":":
        base = _HOUR_CACHE.get(text[:13])
        if base is not None:
            mm, ss = text[14:16], text[17:19]
            if mm.isdigit() and ss.isdigit() and mm < "60" and ss < "60":
                return base + (int(mm) * 60 + int(ss)) * 1_000_000
        us = parse_time(text)
        if len(_HOUR_CACHE) < 200_000:
            _HOUR_CACHE[text[:13]] = us - us % 3_600_000_000
        return us
    return parse_time(text)


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
    extra = {k: v for k, v in obj.items() if k not in _COMMON_SET}
    kinds = {"subject": "subject", "target": "target", "resource": "resource", "actor": "principal",
             "approver": "principal", "key": "token", "ticket": "token", "reason": "text"}
    values = {name: interner.check(kind, obj[name]) if name in obj else None for name, kind in kinds.items()}
    # The schema cannot name every invisible character (those outside the Basic
    # Multilingual Plane, unassigned ones): what it let through is checked here.
    invalid = [Problem(display, line, 0, name, _why(kind, obj[name])) for name, kind in kinds.items()
               if name in obj and values[name] is None]
    if not _good_ident(obj["id"]):
        invalid.insert(0, Problem(display, line, 0, "id", _why("token", obj["id"])))
    if "owner" in extra and interner.check("principal", extra["owner"]) is None:
        invalid.append(Problem(display, line, 0, "owner", _why("principal", extra["owner"])))
    if invalid:
        return None, invalid
    return Event(obj["id"], times["time"] or 0, obj["action"], values["subject"], values["target"],
                 values["resource"] or "", values["actor"], values["key"], values["approver"],
                 values["ticket"], values["reason"], times["expires"], file_index, line,
                 extra or None), []


def _why(kind: str, value: Any) -> str:
    """Why a value the schema accepted is still not a valid ``kind``."""
    from keytrail.textsafe import inline

    text = str(value)
    why = token_problem(text)
    return f'"{inline(text)}" {why or "is not valid here"}'


def _json_problem(display: str, line: int, exc: orjson.JSONDecodeError, raw: bytes = b"") -> Problem:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        # orjson reports this as a JSON error at column 1; say what and where it is.
        return Problem(display, line, len(raw[:bad.start].decode("utf-8")) + 1, "",
                       f"not valid UTF-8: byte 0x{raw[bad.start]:02x} (save the file as UTF-8)")
    col = getattr(exc, "colno", 0) or 0
    msg = str(exc.msg) if hasattr(exc, "msg") else str(exc)
    return Problem(display, line, col, "", f"invalid JSON: {msg}")


def _key_count(value: Any) -> int:
    """How many keys ``value`` holds, nested objects included."""
    if type(value) is dict:
        return len(value) + sum(_key_count(v) for v in value.values() if type(v) in (dict, list))
    if type(value) is list:
        return sum(_key_count(v) for v in value if type(v) in (dict, list))
    return 0


def _may_repeat_keys(raw: bytes, obj: dict[str, Any]) -> bool:
    """A cheap screen for repeated keys: ``":`` occurs once per key unless a key repeats.

    It also occurs inside strings and is missed with unusual spacing; those
    rare lines are screened too, and the exact check sorts them out.
    """
    colons = raw.count(b'":')
    return colons != len(obj) and colons != _key_count(obj)


def _duplicate_keys(raw: bytes, obj: dict[str, Any], display: str, line: int) -> list[Problem]:
    """Keys written twice in one line: JSON parsers keep the last value and drop the first silently."""
    if not _may_repeat_keys(raw, obj):
        return []
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return [Problem(display, line, 0, key, f"duplicate key {key!r} (JSON would keep only the last value)")
            for key in repeated]


def iter_lines(path: Path, display: str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line without its newline) for each non-blank line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}",
                         [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark, as some Windows tools write
            if raw[-1:] == b"\n":
                raw = raw[:-1]
                if raw[-1:] == b"\r":
                    raw = raw[:-1]
            if raw and not raw.isspace():
                yield number, raw


def load_history(paths: list[Path], displays: list[str]) -> History:
    """Read every history file; raise :class:`InputError` listing every problem found."""
    interner = _Interner()
    events: list[Event] = []
    breaks: list[ChainBreak] = []
    problems: list[Problem] = []
    for index, (path, display) in enumerate(zip(paths, displays, strict=True)):
        file_problems, stopped = _read_file(path, display, index, interner, events, breaks)
        problems.extend(cap_problems(file_problems, display, stopped_at=stopped))
    if problems:
        raise InputError("invalid history", problems)
    # list.sort is stable and events were appended in file then line order, so
    # ties on time keep the order the files were given in.
    events.sort(key=_time_of)
    return History(list(displays), events, breaks, interner.identifiers())


def _read_file(path: Path, display: str, index: int, interner: _Interner, events: list[Event],
               breaks: list[ChainBreak]) -> tuple[list[Problem], int]:
    """Append the events of one file; return its problems and the line reading stopped at (or 0)."""
    problems: list[Problem] = []
    append = events.append
    try:
        handle = path.open("rb")
    except OSError as exc:
        return [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")], 0
    with handle:
        return _read_lines(handle, display, index, interner, append, breaks, problems)


def _read_lines(handle: Any, display: str, index: int, interner: _Interner, append: Any,
                breaks: list[ChainBreak], problems: list[Problem]) -> tuple[list[Problem], int]:
    """The loop of :func:`_read_file` (the hot path: line splitting is inlined, not a generator)."""
    loads = orjson.loads
    chained = False
    previous_raw: bytes | None = None
    for line, raw in enumerate(handle, 1):
        if raw[-1:] == b"\n":
            raw = raw[:-1]
            if raw[-1:] == b"\r":
                raw = raw[:-1]
        if line == 1 and raw[:3] == b"\xef\xbb\xbf":
            raw = raw[3:]
        if not raw or raw.isspace():
            continue
        event = None
        if len(raw) <= MAX_LINE_BYTES:
            try:
                obj = loads(raw)
                # Inline form of _may_repeat_keys (a repeated key is left to the slow path).
                colons = raw.count(b'":')
                if type(obj) is not dict or colons == len(obj) or colons == _key_count(obj):
                    event = _fast_event(obj, interner, index, line)
            except (orjson.JSONDecodeError, TypeError):
                event = None  # explained by the slow path below
        if event is None:
            event, line_problems = _parse_event(raw, interner, index, line, display)
            if line_problems:
                problems.extend(line_problems)
                if len(problems) > MAX_PROBLEMS_PER_FILE * 4:
                    return problems, line  # a file this broken is not worth reading to its end
                previous_raw = raw
                continue
        if event is not None:
            append(event)
            if chained or (event.extra is not None and "prev" in event.extra):
                prev = event.get("prev")
                expected = _line_hash(previous_raw) if previous_raw is not None else None
                # The first event with `prev` is checked too when a line precedes it: else
                # an edit to the line before the chain's start would go unseen.
                if prev != expected and (chained or expected is not None):
                    breaks.append(ChainBreak(event, expected, prev))
                chained = True
        previous_raw = raw
    return problems, 0


def _time_of(event: Event) -> int:
    return event.time


def _line_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def line_hash(raw: bytes) -> str:
    """The ``prev`` value an event must carry to follow the line ``raw``."""
    return _line_hash(raw)


def _parse_event(raw: bytes, interner: _Interner, index: int, line: int, display: str
                 ) -> tuple[Event | None, list[Problem]]:
    """The careful path: every problem of the line, located and explained."""
    if len(raw) > MAX_LINE_BYTES:
        return None, [Problem(display, line, 0, "", f"line is {len(raw):,} bytes long; "
                              f"at most {MAX_LINE_BYTES:,} allowed")]
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, [_json_problem(display, line, exc, raw)]
    if type(obj) is not dict:
        return None, [Problem(display, line, 0, "", "each line must be a JSON object")]
    repeated = _duplicate_keys(raw, obj, display, line)
    if repeated:
        return None, repeated
    return _slow_event(obj, interner, index, line, display)


def parse_line(raw: bytes, display: str, line: int) -> tuple[Event | None, list[Problem]]:
    """One history line read exactly as :func:`load_history` reads it (the fast path, else the
    schema): what a writer of history checks a line it is about to append with."""
    interner = _Interner()
    event = None
    if len(raw) <= MAX_LINE_BYTES:
        try:
            obj = orjson.loads(raw)
            if type(obj) is not dict or not _may_repeat_keys(raw, obj):
                event = _fast_event(obj, interner, 0, line)
        except (orjson.JSONDecodeError, TypeError):
            event = None
    if event is not None:
        return event, []
    return _parse_event(raw, interner, 0, line, display)


__all__ = ["ACTIONS", "ChainBreak", "History", "load_history", "line_hash", "iter_lines", "parse_line"]
