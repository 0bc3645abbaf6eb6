"""What every importer shares: the Context (counts, skips, problems, the summary), key
mapping, fields of the wrong shape, times, and the wrappers real exports come in.

Reading raw records is :mod:`keytrail.importers.reading` (``Record`` and
``read_records`` are importable from here too).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem
from keytrail.importers.reading import Record, located, read_records
from keytrail.textsafe import inline


class Malformed(ValueError):
    """A record's field has the wrong JSON type (an object where a string belongs ...):
    the record is malformed, a located problem, never a crash and never read as absent."""


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is an object, ``{}`` when absent (null); else :class:`Malformed`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be an object, not {json_type(value)}")
    return value


def arr(value: Any, what: str) -> list[Any]:
    """``value`` when it is a list, ``[]`` when absent (null); else :class:`Malformed`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} must be a list, not {json_type(value)}")
    return value


@dataclass
class FieldUse:
    """How a mapped field fared over an import: how often its path led to a value, and how
    often the pattern matched that value (every time, without a pattern)."""

    found: int = 0
    matched: int = 0


@dataclass
class Field:
    """Where a value comes from: a dotted path into the raw record, and an optional regex."""

    path: str | None = None
    pattern: re.Pattern[str] | None = None
    #: how the user gave it, for messages: ``--key-from`` or ``mapping.yaml: key.from``
    origin: str = ""
    #: shared by the copies an importer makes (Okta also reads a lower-cased record)
    use: FieldUse = field(default_factory=FieldUse)
    #: further paths tried in order when ``path`` leads nowhere (a preset names the same
    #: field in each envelope a system exports it in; see keytrail.importers.presets)
    also: tuple[str, ...] = ()

    def extract(self, data: Any) -> str | None:
        if self.path is None:
            return None
        value = dig(data, self.path)
        for other in self.also:
            if value is not None:
                break
            value = dig(data, other)
        if value is None or isinstance(value, (dict, list)):
            return None
        self.use.found += 1
        text = str(value)
        if self.pattern is None:
            self.use.matched += 1
            return text or None
        m = self.pattern.search(text)
        if m is None:
            return None
        self.use.matched += 1
        return (m.group(1) if m.groups() else m.group(0)) or None


@dataclass
class Mapping:
    """How to fill ``key``, ``ticket`` and ``reason`` from real fields (``--key-from`` ...)."""

    key: Field = field(default_factory=Field)
    ticket: Field = field(default_factory=Field)
    reason: Field = field(default_factory=Field)

    def apply(self, raw: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Fill the mapped fields the importer did not set itself (every mapped field is
        still read, so that :meth:`warnings` knows whether it ever occurs)."""
        for name in ("key", "ticket", "reason"):
            value = getattr(self, name).extract(raw)
            if value and not event.get(name):
                event[name] = value
        return event

    def warnings(self, converted: int) -> list[str]:
        """What went wrong with the mapping over ``converted`` converted records: a field that
        never occurs (a misspelt path), a pattern that never matched."""
        out = []
        for name in ("key", "ticket", "reason"):
            f: Field = getattr(self, name)
            if f.path is None or not converted:
                continue
            origin = f.origin or f"--{name}-from"
            if f.use.found == 0:
                out.append(f"{origin} {inline(f.path)!r}: no converted record has this field, so no {name} was "
                           "mapped (a dotted path into the raw record, case-sensitive: check its spelling)")
            elif f.pattern is not None and f.use.matched == 0:
                where = origin.replace("-from", "-pattern").replace(".from", ".pattern")
                out.append(f"{where} {inline(f.pattern.pattern)!r} matched none of the {f.use.found:,} values of "
                           f"{inline(f.path)!r}, so no {name} was mapped")
        return out


_SELECT = re.compile(r"^(?P<field>[^\[\]]*)\[(?P<key>[^=\]]+)=(?P<value>[^\]]*)\]$")


def dig(data: Any, path: str) -> Any:
    """``dig(record, "userIdentity.sessionContext.sessionIssuer.arn")``.

    A part may be a list index (``targetResources.0.id``) or pick the list item
    whose field has a value: ``events.0.parameters[name=TICKET].value`` (Google
    Workspace parameters), ``additionalDetails[key=Justification].value``
    (Entra).
    """
    value = data
    for part in path.split("."):
        select = _SELECT.match(part)
        if select is not None:
            items = value.get(select["field"]) if select["field"] and isinstance(value, dict) else value
            if not isinstance(items, list):
                return None
            value = next((item for item in items if isinstance(item, dict)
                          and str(item.get(select["key"])) == select["value"]), None)
            if value is None:
                return None
            continue
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    return value


@dataclass
class Context:
    """Passed to an importer: the mapping, the counters and the problems."""

    fmt: str
    mapping: Mapping = field(default_factory=Mapping)
    strict: bool = False
    converted: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    incomplete_at: list[Problem] = field(default_factory=list)
    #: ``--assume-time``: the time of records that carry none (None: such records are incomplete)
    assume_time: str | None = None
    assumed: set[tuple[str, int, int, int | None]] = field(default_factory=set)
    #: converted records whose time was assumed (counted from the events written)
    assumed_converted: int = 0
    #: files in input folders that are not data (README.md ...), not read
    ignored_files: list[str] = field(default_factory=list)
    #: the skip reasons that are access changes left out (:meth:`unconverted`)
    unconvertible: set[str] = field(default_factory=set)
    #: history formats: events written, and how many of them carry a key, a ticket, a reason
    written: int | None = None
    keyed: int = 0
    ticketed: int = 0
    reasoned: int = 0
    #: temporaries of interrupted imports to the same ``--out``, removed before this one
    removed_stale: list[str] = field(default_factory=list)
    #: what :meth:`Mapping.warnings` found once the import ran
    mapping_warnings: list[str] = field(default_factory=list)
    #: usage formats: ``--entity``, the principal a report is about (AWS access advisor)
    entity: str | None = None
    #: usage formats: distinct records written (identical ones, from repeated inputs, once)
    usage_written: int | None = None

    def count(self, kind: str) -> None:
        """One record converted, of this kind (e.g. ``AttachRolePolicy``)."""
        self.converted[kind] += 1

    def skip(self, record: Record, reason: str, kind: str) -> None:
        """A record that is not an access change (``read-only``, ``failed call``, ``not IAM``,
        a duplicate delivery), counted by reason and type. Never an error, not even with
        ``--strict``: a complete export is mostly such records."""
        self.skipped.setdefault(reason, Counter())[kind] += 1

    def unconverted(self, record: Record, reason: str, kind: str) -> None:
        """An access change keytrail cannot represent (``policy content change``, a binding
        deleted that the log never showed): counted by reason and type like a skip, and an
        error with ``--strict``, which promises that no access change was left out."""
        self.unconvertible.add(reason)
        if self.strict:
            self.problem(record, f"an access change not converted ({reason}: {inline(kind)}), and --strict is on")
            return
        self.skipped.setdefault(reason, Counter())[kind] += 1

    def incomplete(self, record: Record, kind: str, message: str) -> None:
        """An access change of a known type that lacks what converting it needs (a time,
        a target): skipped, counted and located in the summary; an error with ``--strict``.

        Real exports are trimmed, redacted or partial; one such record must not stop
        an import of millions, nor vanish unreported.
        """
        if self.strict:
            self.problem(record, f"{message} (not converted, and --strict is on)")
        else:
            self.skipped.setdefault("incomplete", Counter())[kind] += 1
            self.incomplete_at.append(located(record, message, "warning"))

    def missing_time(self, record: Record) -> str | None:
        """The time for a record that carries none: ``--assume-time`` if given (and the
        record's events then say ``source.time_assumed``), else None."""
        if self.assume_time is not None:
            self.assumed.add(record.place())
        return self.assume_time

    def time_of(self, record: Record, *stamps: Any) -> str | None:
        """The first readable of ``stamps`` (a record's time fields, in order of preference)
        as ISO 8601 UTC; when every one is absent, :meth:`missing_time`; else None (a time
        that is there but unreadable is never replaced)."""
        for stamp in stamps:
            time = iso_utc(stamp)
            if time is not None:
                return time
        return self.missing_time(record) if all(stamp is None for stamp in stamps) else None

    def problem(self, record: Record, message: str) -> None:
        """A malformed or unconvertible record, located."""
        self.problems.append(located(record, message))

    def source(self, record: Record, ident: Any = None, **extra: Any) -> dict[str, Any]:
        """The ``source`` of a converted event: format, file, line or index, the system's id."""
        out: dict[str, Any] = {"format": self.fmt, "file": record.file}
        if record.line:
            out["line"] = record.line
        else:
            out["index"] = record.index
        if record.item is not None:
            out["item"] = record.item
        if ident is not None:
            out["id"] = str(ident)
        out.update({k: v for k, v in extra.items() if v is not None})
        if self.assumed and record.place() in self.assumed:
            out["time_assumed"] = True
        return out

    def summary(self) -> str:
        """``converted 88 events: AttachRolePolicy 6, ...; skipped 812 read-only events: GetUser 130, ...``."""
        lines = [f"converted {sum(self.converted.values()):,}" + _top(self.converted)]
        for reason in sorted(self.skipped):
            counts = self.skipped[reason]
            note = "; access changes, refused by --strict" if reason in self.unconvertible else ""
            lines.append(f"skipped {sum(counts.values()):,} ({reason}{note})" + _top(counts))
        if self.ignored_files:
            lines.append(f"ignored {len(self.ignored_files):,} file(s) in the input folders that are not JSON, "
                         f"JSON lines or YAML: {', '.join(inline(f) for f in self.ignored_files[:5])}"
                         + (", …" if len(self.ignored_files) > 5 else ""))
        if self.removed_stale:
            lines.append(f"removed {len(self.removed_stale):,} temporary file(s) left by an interrupted import "
                         f"to the same place: {', '.join(inline(n) for n in self.removed_stale[:5])}")
        if self.written is not None:
            lines.append(f"keyed {self.keyed:,} of {self.written:,} converted changes, with a ticket "
                         f"{self.ticketed:,}, with a reason {self.reasoned:,}")
        if self.usage_written is not None:
            lines.append(f"wrote {self.usage_written:,} usage records (identical records written once)")
        if self.assumed_converted:
            lines.append(f"{self.assumed_converted:,} converted record(s) carried no time: given {self.assume_time} "
                         "(--assume-time), marked source.time_assumed")
        return "\n".join(lines)


def _top(counts: Counter[str], limit: int = 12) -> str:
    if not counts:
        return ""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{inline(k)} {v:,}" for k, v in items[:limit])  # kinds are input: inert
    more = f", and {len(items) - limit} more kinds" if len(items) > limit else ""
    return f": {shown}{more}"


@dataclass
class State:
    """What a state importer returns: snapshot lines and a directory."""

    snapshot: list[dict[str, Any]] = field(default_factory=list)
    principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: when the state was read (the latest response ``Date`` of the pages), if the input says
    captured: str | None = None


def safe_name(text: str) -> str:
    """An identifier's name part: no whitespace at either end, inner whitespace as ``-``."""
    return re.sub(r"\s+", "-", str(text).strip()) or "unnamed"


def iso_utc(value: Any) -> str | None:
    """A system's time as ``2026-03-01T10:00:00Z``: ISO 8601 (no zone: UTC) or epoch
    milliseconds (a number, or a string of digits); None when unreadable."""
    from keytrail.timeutil import TimeFormatError, format_time, parse_time

    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            return _epoch_time(int(value * 1000))
        if isinstance(value, str) and value.strip() and value.strip().isdigit():
            return _epoch_time(int(value.strip()) * 1000)
    except (OverflowError, ValueError):  # infinity, NaN, or more digits than a time has
        return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        for candidate in (text, text + "Z"):
            try:
                return format_time(parse_time(candidate))
            except TimeFormatError:
                continue
    return None


def _epoch_time(micros: int) -> str | None:
    """Epoch microseconds as ISO 8601, or None outside the years 1 to 9999 (not a time)."""
    from keytrail.timeutil import format_time

    if not -62_135_596_800_000_000 <= micros < 253_402_300_800_000_000:
        return None
    return format_time(micros)


def text_value(value: Any) -> str | None:
    """A string or integer field as stripped text; None for anything else or blank."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def unwrap(record: Record) -> Record:
    """A record without its Panther test wrapper (``{"p_sources": …, "event": {…}}``), if it has one."""
    data = record.data
    if isinstance(data, dict) and isinstance(data.get("event"), dict) and "p_sources" in data:
        return Record(data["event"], record.file, record.line, record.index)
    return record


def eventbridge(record: Record) -> Record:
    """A record without its Amazon EventBridge envelope (``{"detail-type", "source",
    "detail": {...}}``: CloudTrail calls and Okta log streaming routed through EventBridge)."""
    data = record.data
    if isinstance(data, dict) and "detail-type" in data and isinstance(data.get("detail"), dict):
        return Record(data["detail"], record.file, record.line, record.index, record.item)
    return record


def panther_records(paths: Iterable[Path], marker: str, log_type: str,
                    records_key: str | tuple[str, ...] | None = None) -> Iterator[Record]:
    """Every record of ``paths`` (JSON, JSON lines or YAML), with Panther's wrappers removed:
    a rule-test line's ``event``, and a test scenario's ``Logs:`` list (a YAML document
    without the format's own ``marker`` field, e.g. ``eventType``) flattened. A scenario
    whose ``LogType`` is not ``log_type`` (``Okta.SystemLog``) is an error naming it."""
    for record in read_records(paths, records_key=records_key, yaml_ok=True):
        record = unwrap(record)
        data = record.data
        logs = ci(data, "Logs") if isinstance(data, dict) else None
        if isinstance(logs, list) and ci(data, marker) is None:
            kind = ci(data, "LogType")
            if isinstance(kind, str) and kind != log_type:
                raise InputError(f"{record.file}: not {log_type}", [Problem(
                    record.file, record.line, 0, "", f"a Panther test scenario of LogType {kind}, not {log_type}")])
            yield from (Record(item, record.file, 0, i) for i, item in enumerate(logs))
        else:
            yield eventbridge(record)


def ci(data: Any, path: str) -> Any:
    """:func:`dig` with keys matched case-insensitively (``ci(event, "debugContext.debugData")``)."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        if part in value:
            value = value[part]
        else:
            low = part.lower()
            value = next((v for k, v in value.items() if isinstance(k, str) and k.lower() == low), None)
        if value is None:
            return None
    return value


class Deliveries:
    """Recognises records delivered twice, and keeps ids unique when a system reuses one.

    Audit exports repeat records (at-least-once delivery) and some samples
    reuse an id for different content: the same content again is a duplicate
    to skip; different content under a known id gets a ``.2``, ``.3`` suffix.
    """

    def __init__(self) -> None:
        self.seen: dict[str, list[bytes]] = {}  # id -> digests of the contents seen under it

    def suffix(self, ident: str, content: Any) -> str | None:
        """``""`` for the first record with ``ident``, ``.N`` for later different ones,
        None when the same content (a record, compared by value) was seen under it before
        (a duplicate)."""
        text = orjson.dumps(content, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
        digest = hashlib.blake2b(text, digest_size=16).digest()
        earlier = self.seen.setdefault(ident, [])
        if digest in earlier:
            return None
        earlier.append(digest)
        return f".{len(earlier)}" if len(earlier) > 1 else ""
