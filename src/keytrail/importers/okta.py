"""Okta System Log events → native history.

Input: System Log ``LogEvent`` objects as the ``/api/v1/logs`` API returns them
(a JSON array), one per line (JSON lines, as SIEM exports and Panther write
them), gzipped or not, or YAML documents holding a ``Logs:`` list (Panther test
scenarios). A JSON-lines record of the form ``{"p_sources": [...], "event":
{...}}`` (Panther's test extraction) is unwrapped to its ``event``. Key names
are matched case-insensitively at every level (Panther normalises some records
to ``eventtype``, ``debugcontext`` ...), and so are event types and target types.

FIELD MAPPING

- id: ``okta-<uuid>``; a record that yields several events (a privilege grant
  naming several privileges) suffixes ``-1``, ``-2`` ...; a uuid seen again with
  different content gets ``.2``, ``.3`` ... before the suffix (the same uuid with
  identical content is a re-delivered duplicate and is skipped, reason
  ``duplicate``).
- time: ``published`` as ISO 8601 UTC (``Z``); Okta writes UTC, and a
  ``published`` without a zone (``2020-11-25 21:27:03.496``) is read as UTC.
- action / subject / target by ``eventType``:

  ==========================================  ==============  ============================  ===================================
  eventType                                   action          subject                       target
  ==========================================  ==============  ============================  ===================================
  group.user_membership.add / remove          grant / revoke  ``user:<User alternateId>``   ``group:okta/<UserGroup displayName>``
  user.account.privilege.grant / revoke       grant / revoke  ``user:<User alternateId>``   ``role:okta/<privilege>`` (each)
  group.privilege.grant / revoke              grant / revoke  ``group:okta/<UserGroup>``    ``role:okta/<privilege>`` (each)
  application.user_membership.add / remove    grant / revoke  ``user:<User alternateId>``   ``role:okta-app/<AppInstance displayName>``
  group.application_assignment.add / remove   grant / revoke  ``group:okta/<UserGroup>``    ``role:okta-app/<AppInstance displayName>``
  user.lifecycle.create / activate            join            ``user:<User alternateId>``
  user.lifecycle.reactivate / unsuspend       join            ``user:<User alternateId>``
  user.lifecycle.deactivate / suspend         leave           ``user:<User alternateId>``
  ==========================================  ==============  ============================  ===================================

  The privileges are ``debugContext.debugData.privilegeGranted`` (on revokes
  ``privilegeRevoked`` when present, else ``privilegeGranted``), a
  comma-separated list of admin role names (``Organization administrator,
  Application administrator (all)``): one event per privilege. Names go
  through :func:`~keytrail.importers.base.safe_name` (inner whitespace → ``-``).
- resource: empty (Okta is one tenant).
- actor: ``actor.type`` User → ``user:<actor.alternateId>``; any other type
  (SystemPrincipal, PublicClientApp, AppInstance ...) → ``svc:<alternateId>``
  (``svc:system@okta.com``), falling back to displayName, then id.
- key / ticket / reason: none of Okta's fields is a provisioning key; they come
  only from ``--key-from`` / ``--ticket-from`` / ``--reason-from`` (paths into
  the event, matched case-insensitively), e.g. ``transaction.id`` or
  ``debugContext.debugData.requestId`` as the ticket.
- source: ``{"format": "okta", "file", "line"|"index", "id": uuid,
  "eventType", "transaction": transaction.id, "requestId":
  debugContext.debugData.requestId}``.

Naming scheme (to line up with other Okta inputs): users by login
(``alternateId``, usually the e-mail), groups ``group:okta/<group name>``, admin
roles ``role:okta/<role name>``, app assignments ``role:okta-app/<app label>``.

SKIPPED: every other eventType (sign-ins, MFA, policy evaluation, rate limits,
token and app lifecycle ...) as "not an access change"; a handled eventType
whose ``outcome.result`` is not SUCCESS/ALLOW (FAILURE, DENY ...) as "failed call".
ERRORS (malformed): a record that is not an object or has no eventType.
INCOMPLETE (skipped, listed by place): a handled eventType with no uuid, no
readable ``published``, or without the target it needs (the User, UserGroup or
AppInstance target, or the privilege name).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import (
    Context,
    Deliveries,
    Field,
    Mapping,
    Record,
    ci,
    panther_records,
    safe_name,
)

FORMAT = "okta"
KIND = "history"

_MEMBERSHIP = {"group.user_membership.add": "grant", "group.user_membership.remove": "revoke"}
_USER_PRIV = {"user.account.privilege.grant": "grant", "user.account.privilege.revoke": "revoke"}
_GROUP_PRIV = {"group.privilege.grant": "grant", "group.privilege.revoke": "revoke"}
_APP = {"application.user_membership.add": "grant", "application.user_membership.remove": "revoke"}
_GROUP_APP = {"group.application_assignment.add": "grant", "group.application_assignment.remove": "revoke"}
_LIFECYCLE = {"user.lifecycle.create": "join", "user.lifecycle.activate": "join",
              "user.lifecycle.reactivate": "join", "user.lifecycle.unsuspend": "join",
              "user.lifecycle.deactivate": "leave", "user.lifecycle.suspend": "leave"}
HANDLED = {**_MEMBERSHIP, **_USER_PRIV, **_GROUP_PRIV, **_APP, **_GROUP_APP, **_LIFECYCLE}


def _lower_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_lower_keys(v) for v in data]
    return data


def _lowered(mapping: Mapping) -> Mapping:
    def low(f: Field) -> Field:
        return Field(f.path.lower() if f.path else None, f.pattern, f.origin, f.use,
                     tuple(p.lower() for p in f.also))
    return Mapping(low(mapping.key), low(mapping.ticket), low(mapping.reason))


def _event_hook_events(records: Iterator[Record]) -> Iterator[Record]:
    """Records, with an event hook delivery (``{"eventType": "com.okta.event_hook",
    "data": {"events": [...]}}``) opened into its events."""
    for record in records:
        data = record.data
        events = ci(data, "data.events") if isinstance(data, dict) else None
        if isinstance(events, list) and str(ci(data, "eventType") or "").lower() == "com.okta.event_hook":
            yield from (Record(item, record.file, record.line, record.index, i) for i, item in enumerate(events))
        else:
            yield record


def _targets(event: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    targets = ci(event, "target")
    if not isinstance(targets, list):
        return []
    return [t for t in targets if isinstance(t, dict) and str(ci(t, "type") or "").lower() == kind]


def _name(obj: dict[str, Any], *fields: str) -> str | None:
    for f in fields:
        value = ci(obj, f)
        if isinstance(value, (str, int)) and str(value).strip():
            return safe_name(str(value))
    return None


def _actor(event: dict[str, Any]) -> str | None:
    actor = ci(event, "actor")
    if not isinstance(actor, dict):
        return None
    if str(ci(actor, "type") or "").lower() == "user":
        name = _name(actor, "alternateId", "id", "displayName")
        return f"user:{name}" if name else None
    name = _name(actor, "alternateId", "displayName", "id")
    return f"svc:{name}" if name else None


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    lowered = _lowered(ctx.mapping)
    mapped = any(f.path for f in (lowered.key, lowered.ticket, lowered.reason))
    deliveries = Deliveries()
    for record in _event_hook_events(panther_records(paths, "eventType", "Okta.SystemLog")):
        event = record.data
        if not isinstance(event, dict):
            ctx.problem(record, f"expected an Okta LogEvent object, got {type(event).__name__}")
            continue
        etype = ci(event, "eventType")
        if not isinstance(etype, str) or not etype.strip():
            ctx.problem(record, "no eventType: not an Okta System Log event")
            continue
        kind = etype.strip().lower()
        action = HANDLED.get(kind)
        if action is None:
            ctx.skip(record, "not an access change", kind)
            continue
        result = str(ci(event, "outcome.result") or "SUCCESS").upper()
        if result not in ("SUCCESS", "ALLOW"):
            ctx.skip(record, "failed call", kind)
            continue
        uuid = ci(event, "uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            ctx.incomplete(record, kind, f"{etype}: no uuid")
            continue
        time = ctx.time_of(record, ci(event, "published"))
        if time is None:
            ctx.incomplete(record, kind, f"{etype}: no readable published time ({ci(event, 'published')!r})")
            continue
        pairs = _changes(kind, event)
        if isinstance(pairs, str):
            ctx.incomplete(record, kind, f"{etype}: {pairs}")
            continue
        suffix = deliveries.suffix(uuid, event)
        if suffix is None:
            ctx.skip(record, "duplicate", kind)
            continue
        base = f"okta-{uuid.strip()}{suffix}"
        lowered_event: Any = None
        source = ctx.source(record, uuid.strip(), eventType=etype, transaction=ci(event, "transaction.id"),
                            requestId=ci(event, "debugContext.debugData.requestId"))
        actor = _actor(event)
        ctx.count(kind)
        for n, (subject, target) in enumerate(pairs, 1):
            out: dict[str, Any] = {"id": f"{base}-{n}" if len(pairs) > 1 else base, "time": time,
                                   "action": action, "subject": subject}
            if target is not None:
                out["target"] = target
                out["resource"] = ""
            if actor:
                out["actor"] = actor
            out["source"] = dict(source)
            ctx.mapping.apply(event, out)
            if lowered_event is None and mapped:
                lowered_event = _lower_keys(event)
            if lowered_event is not None:
                lowered.apply(lowered_event, out)
            yield out


def _changes(kind: str, event: dict[str, Any]) -> list[tuple[str, str | None]] | str:
    """(subject, target) pairs for a handled event type, or a message saying what is missing."""
    if kind in _GROUP_PRIV or kind in _GROUP_APP:
        group = next((n for t in _targets(event, "usergroup") if (n := _name(t, "displayName", "alternateId",
                                                                                  "id"))), None)
        if group is None:
            return "no UserGroup target"
        subject = f"group:okta/{group}"
    else:
        user = next((n for t in _targets(event, "user") if (n := _name(t, "alternateId", "id"))), None)
        if user is None:
            return "no User target"
        subject = f"user:{user}"
    if kind in _LIFECYCLE:
        return [(subject, None)]
    if kind in _MEMBERSHIP:
        group = next((n for t in _targets(event, "usergroup") if (n := _name(t, "displayName", "alternateId",
                                                                                  "id"))), None)
        return [(subject, f"group:okta/{group}")] if group else "no UserGroup target"
    if kind in _APP or kind in _GROUP_APP:
        app = next((n for t in _targets(event, "appinstance") if (n := _name(t, "displayName", "alternateId",
                                                                                  "id"))), None)
        return [(subject, f"role:okta-app/{app}")] if app else "no AppInstance target"
    text = None
    if kind.endswith(".revoke"):
        text = ci(event, "debugContext.debugData.privilegeRevoked")
    if not text:
        text = ci(event, "debugContext.debugData.privilegeGranted")
    names = [safe_name(p) for p in str(text or "").split(",") if p.strip()]
    if not names:
        return "no debugContext.debugData.privilegeGranted naming the privilege"
    return [(subject, f"role:okta/{name}") for name in dict.fromkeys(names)]
