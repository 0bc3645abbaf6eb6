"""The change to record, checked field by field before anything else happens.

A :class:`Change` is what the automation asks for (the options of ``keytrail
record``, or the arguments of :func:`keytrail.record`). :func:`fields` checks
each value as the history format defines it (ids with their kind, visible
tokens, times with a zone) and which fields the action takes, and returns the
event's fields in the order the history writes them. Every message names the
option (``--subject``) or, for the Python API, the argument (``subject=``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from keytrail.errors import UsageError
from keytrail.textsafe import excerpt

ACTIONS = ("grant", "revoke", "certify", "join", "move", "leave", "define", "retire")
#: What each action needs (subject, target) and which optional fields it takes besides
#: the common ones (actor, key, approver, ticket, reason).
_SHAPE: dict[str, tuple[bool, bool, tuple[str, ...]]] = {
    "grant": (True, True, ("resource", "expires")), "revoke": (True, True, ("resource",)),
    "certify": (True, True, ("resource",)), "join": (True, False, ("attributes",)),
    "move": (True, False, ("attributes",)), "leave": (True, False, ()),
    "define": (False, True, ("owner",)), "retire": (False, True, ()),
}
#: How many seconds ahead of the clock a change's time may be (clock skew between machines).
MAX_AHEAD_US = 5 * 60 * 1_000_000
_KINDS = {"subject": ("subject", "user, svc or group", "user:alice"),
          "target": ("target", "group or role", "role:payments-approver"),
          "actor": ("principal", "user or svc", "svc:terraform-prod"),
          "approver": ("principal", "user or svc", "user:bob"),
          "owner": ("principal", "user or svc", "user:carol")}


@dataclass
class Change:
    """One change, as asked for; ``cli`` says how to name fields in messages."""

    action: str
    subject: str | None = None
    target: str | None = None
    resource: str | None = None
    actor: str | None = None
    key: str | None = None
    approver: str | None = None
    ticket: str | None = None
    reason: str | None = None
    expires: str | datetime | None = None
    time: str | datetime | None = None
    owner: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    cli: bool = True

    def name(self, field_name: str) -> str:
        return f"--{field_name}" if self.cli else f"{field_name}="


def _time(change: Change, name: str, value: str | datetime) -> int:
    from keytrail.commands._args import in_range
    from keytrail.timeutil import EPOCH, TimeFormatError, parse_time

    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise UsageError(f"{change.name(name)} {value.isoformat()}: a time without a zone "
                             "(give an aware datetime, e.g. with tzinfo=timezone.utc)")
        return (value - EPOCH) // timedelta(microseconds=1)
    try:
        return in_range(parse_time(value), str(value))
    except TimeFormatError as exc:
        raise UsageError(f"{change.name(name)}: {exc}") from None


def iso(us: int) -> str:
    """``2026-03-01T10:00:00.12Z``: the fraction without trailing zeros, as ``import otlp``
    writes a time, so a change sent over OTLP reads back as the same text."""
    from keytrail.timeutil import format_time

    text = format_time(us) or ""
    if "." in text:
        head, frac = text[:-1].split(".")
        text = head + ("." + frac.rstrip("0") if frac.rstrip("0") else "") + "Z"
    return text


def _checked(change: Change, name: str, value: Any, kind: str) -> str:
    """A string value valid as ``kind`` in the history, or a usage error naming the field."""
    from keytrail.history import valid

    if not isinstance(value, str):
        raise UsageError(f"{change.name(name)}: expected text, not {type(value).__name__}")
    if name in _KINDS:
        _, kinds, example = _KINDS[name]
        prefix, colon, rest = value.partition(":")
        allowed = [k.strip() for k in kinds.replace(" or ", ", ").split(",")]
        if not colon or prefix not in allowed:
            raise UsageError(f"{change.name(name)} '{excerpt(value)}': not an id of a kind this field "
                             f"takes: write KIND:NAME with KIND {kinds} (e.g. {example})")
        if not rest:
            raise UsageError(f"{change.name(name)} '{excerpt(value)}': the id has a kind but no name")
    if not valid(kind, value):
        from keytrail.ids import token_problem

        why = token_problem(value) or "is not valid here (visible text, no space at either end)"
        raise UsageError(f"{change.name(name)} '{excerpt(value)}': {why}")
    return value


def fields(change: Change, now_us: int) -> tuple[dict[str, Any], int]:
    """The event's fields (without ``id``, ``source`` and ``prev``) and its time in
    epoch microseconds; a usage error naming the field for anything the history would refuse."""
    if change.action not in ACTIONS:
        raise UsageError(f"unknown action '{excerpt(str(change.action))}' (choose from {', '.join(ACTIONS)})")
    needs_subject, needs_target, optional = _SHAPE[change.action]
    event: dict[str, Any] = {}
    when = now_us if change.time is None else _time(change, "time", change.time)
    if when > now_us + MAX_AHEAD_US:
        raise UsageError(f"{change.name('time')} {iso(when)} is in the future (now {iso(now_us)}): a change "
                         "is recorded when it is made")
    event["time"] = iso(when)
    event["action"] = change.action
    for name, needed in (("subject", needs_subject), ("target", needs_target)):
        value = getattr(change, name)
        if needed and not value:
            raise UsageError(f"{change.action} needs {change.name(name)}")
        if not needed and value:
            raise UsageError(f"{change.action} takes no {change.name(name)}")
        if value:
            event[name] = _checked(change, name, value, _KINDS[name][0])
    for name in ("resource", "expires", "owner"):
        if getattr(change, name) not in (None, "") and name not in optional:
            raise UsageError(f"{change.name(name)} does not apply to {change.action}")
    if "resource" in optional:
        event["resource"] = _checked(change, "resource", change.resource, "resource") \
            if change.resource else ""
    if not change.actor:
        raise UsageError(f"{change.name('actor')} is required: who makes the change (user:... or svc:...)")
    event["actor"] = _checked(change, "actor", change.actor, "principal")
    if not change.key:
        raise UsageError(f"{change.name('key')} is required: the provisioning key the change is made under")
    event["key"] = _checked(change, "key", change.key, "token")
    if change.approver:
        event["approver"] = _checked(change, "approver", change.approver, "principal")
    if change.ticket:
        event["ticket"] = _checked(change, "ticket", change.ticket, "token")
    if change.reason:
        event["reason"] = _checked(change, "reason", change.reason, "text")
    if change.expires not in (None, ""):
        assert change.expires is not None
        ends = _time(change, "expires", change.expires)
        if ends <= when:
            raise UsageError(f"{change.name('expires')} {iso(ends)} is not after the change's time {iso(when)}")
        event["expires"] = iso(ends)
    if change.owner:
        event["owner"] = _checked(change, "owner", change.owner, "principal")
    if change.attributes:
        if "attributes" not in optional:
            raise UsageError(f"{change.name('attribute')} applies to join and move only")
        for name, value in change.attributes.items():
            if not isinstance(name, str) or not name or not isinstance(value, (str, int, float, bool)):
                raise UsageError(f"{change.name('attribute')} {excerpt(str(name))}: a name and a text, "
                                 "number or true/false value")
            # JSON has no NaN or infinity (they would be written as null, silently another
            # value) and the history's numbers are 64-bit integers or doubles.
            if isinstance(value, float) and not math.isfinite(value) or \
                    isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**64:
                raise UsageError(f"{change.name('attribute')} {excerpt(name)}: {excerpt(repr(value))} "
                                 "cannot be written as a JSON number (finite, 64-bit)")
        event["attributes"] = dict(change.attributes)
    return event, when
