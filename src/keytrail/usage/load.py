"""Reading usage JSONL (``usage:`` in keytrail.yaml) with located errors.

Each line is one record (``schemas/usage.schema.json``): subject, optional
target or service, resource, ``last_used`` (a time, or null: never used),
``source`` and ``collected_at``. Every problem names the file and line (and
the field); all problems of all files are raised together, so one run shows
everything that is wrong. Semantic checks the schema cannot make: times must
carry a zone, and a use cannot be recorded after the data was collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem, cap_problems
from keytrail.timeutil import TimeFormatError, format_time, parse_time

_FIELDS = frozenset({"subject", "target", "resource", "service", "targets", "last_used", "source", "collected_at"})


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One usage record, validated; times in microseconds since the epoch."""

    subject: str
    resource: str
    last_used: int | None
    source: str
    collected_at: int
    target: str | None = None
    service: str | None = None
    #: For a sign-in: the globs over targets it stands for (empty: every target on ``resource``).
    targets: tuple[str, ...] = ()
    file: str = ""
    line: int = 0
    #: Fields beyond the schema's (``mfa_active``, ``last_entity`` ...): kept, shown as evidence.
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def level(self) -> str:
        """``entitlement``, ``service`` or ``sign-in``: what the record says was used."""
        return "entitlement" if self.target else "service" if self.service else "sign-in"


def load_usage(paths: Sequence[Path], displays: Sequence[str]) -> list[UsageRecord]:
    """Read every usage file; raise :class:`InputError` listing every problem of every file."""
    problems: list[Problem] = []
    records: list[UsageRecord] = []
    for path, display in zip(paths, displays, strict=True):
        found: list[Problem] = []
        records.extend(_read(path, display, found))
        problems.extend(cap_problems(found, display))
    if problems:
        raise InputError("invalid usage data", problems)
    return records


def _read(path: Path, display: str, problems: list[Problem]) -> list[UsageRecord]:
    from keytrail.jsonlines import json_lines
    from keytrail.schemas import fast_validator, validate
    from keytrail.yamlload import Locator

    fast = fast_validator("usage")

    out: list[UsageRecord] = []
    times: dict[str, int] = {}  # collection times repeat on every line of an export: parse each once
    for line, obj in json_lines(path, display, problems):
        # The compiled validator vouches for a good line; only a bad one pays for located messages.
        found = [] if fast is not None and fast.is_valid(obj) else \
            validate(obj, "usage", Locator(display, {(): (line, 0)}))
        if found:
            problems.extend(found)
            continue
        record = _record(obj, display, line, problems, times)
        if record is not None:
            out.append(record)
    return out


def _record(obj: dict[str, Any], display: str, line: int, problems: list[Problem],
            cache: dict[str, int]) -> UsageRecord | None:
    if "target" in obj and "service" in obj:
        problems.append(Problem(display, line, 0, "service", "a record is about one target or one service, "
                                "not both (write two records)"))
        return None
    times: dict[str, int | None] = {}
    for name in ("last_used", "collected_at"):
        value = obj.get(name)
        if value is None:
            times[name] = None
            continue
        try:
            found = cache.get(value)
            if found is None:
                found = cache[value] = parse_time(value)
            times[name] = found
        except TimeFormatError as exc:
            problems.append(Problem(display, line, 0, name, str(exc)))
            return None
    collected, used = times["collected_at"], times["last_used"]
    assert collected is not None  # required by the schema
    if used is not None and used > collected:
        # A use after the collection is a clock or a mapping error: trusting it would hide unused access.
        problems.append(Problem(display, line, 0, "last_used", f"{format_time(used)} is after collected_at "
                                f"{format_time(collected)}: a use cannot be recorded before it happens"))
        return None
    return UsageRecord(subject=obj["subject"], resource=obj.get("resource", ""), last_used=used,
                       source=obj["source"], collected_at=collected, target=obj.get("target"),
                       service=obj.get("service"), targets=tuple(obj.get("targets") or ()),
                       file=display, line=line,
                       extra=tuple(sorted((k, v) for k, v in obj.items() if k not in _FIELDS)))
