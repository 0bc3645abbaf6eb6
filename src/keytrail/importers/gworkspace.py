"""Google Workspace Admin SDK Reports activities → native history.

Input: ``activities.list`` results of the Reports API (``admin``, ``groups``,
``groups_enterprise`` ... applications) — a response ``{"items": [...]}``, a JSON
array, or JSON lines (one activity a line; BigQuery / log exports), gzipped or
not. An activity is ``{"id": {"time", "uniqueQualifier", "applicationName",
"customerId"}, "actor": {"email", "profileId", "callerType"}, "events": [{"type",
"name", "parameters": [{"name", "value" | "multiValue" | "intValue" |
"boolValue"}]}]}``. The flattened form some pipelines write (Panther: ``name``,
``type`` and ``parameters`` — a list or a ``{NAME: value}`` mapping — on the
activity itself, no ``events``) is read as an activity with one event. A line
``{"p_sources": [...], "event": {...}}`` (Panther's rule-test extraction) is
unwrapped.

FIELD MAPPING (per event of an activity)

- id: ``gws-<id.uniqueQualifier>``, suffixed ``-1``, ``-2`` ... when one activity
  holds several converted events; the same uniqueQualifier again with different
  content gets ``.2``, ``.3`` ... (the same content again is skipped as
  ``duplicate``).
- time: ``id.time`` as ISO 8601 UTC (``Z``; a time without a zone is UTC).
- action / subject / target by application and event name (parameters by name):

  ====================================================  ===============  ==============================  ===================================
  application : event                                   action           subject                         target (resource)
  ====================================================  ===============  ==============================  ===================================
  groups_enterprise, groups : add_member / remove_member grant / revoke  ``user:<member>``               ``group:gws/<group email>``
  admin : ADD_GROUP_MEMBER / REMOVE_GROUP_MEMBER         grant / revoke  ``user:<USER_EMAIL>``           ``group:gws/<GROUP_EMAIL>``
  admin : ASSIGN_ROLE / UNASSIGN_ROLE                    grant / revoke  ``user:<USER_EMAIL>``           ``role:gws/<ROLE_NAME>`` (``gws:<ORG_UNIT_NAME>`` when scoped)
  admin : CREATE_ROLE / DELETE_ROLE                      define / retire                                 ``role:gws/<ROLE_NAME>``
  admin : GRANT_ / REVOKE_ADMIN_PRIVILEGE                grant / revoke  ``user:<USER_EMAIL>``           ``role:gws/_SEED_ADMIN_ROLE`` (super admin)
  admin : CREATE_USER / UNSUSPEND_USER / UNDELETE_USER   join            ``user:<USER_EMAIL>``
  admin : DELETE_USER / SUSPEND_USER                     leave           ``user:<USER_EMAIL>``
  ====================================================  ===============  ==============================  ===================================

  The group is ``GROUP_EMAIL`` (also ``group_email``, ``group_id``); the member
  ``USER_EMAIL`` (also ``member_id``, ``member_email``, ``user_email``). E-mail
  addresses are kept as written; names go through ``safe_name``.
- actor: ``actor.email`` → ``user:<email>``; ``callerType`` KEY (an API key or
  service account) → ``svc:<actor.key | email | profileId>``.
- key / ticket / reason: none in the Reports API; only from the mapping options.
- source: ``{"format": "gworkspace", "file", "line"|"index", "id":
  uniqueQualifier, "application", "event", "type"}``.

Naming scheme: users by primary e-mail, groups ``group:gws/<group e-mail>``,
admin roles ``role:gws/<role name>`` — as a Workspace state import should name them.

SKIPPED: other events of ``admin``, ``groups``, ``groups_enterprise`` and
``user_accounts`` as "not an access change"; every other application (drive,
gmail, login, calendar, mobile, token, saml, rules ...) as "not IAM" (Drive and
Calendar sharing are document ACLs, not identity access). Skips are counted as
``<application>:<event name>``.
ERRORS (malformed): an activity that is not an object or has no
``id.applicationName``. INCOMPLETE (skipped, listed by place): an admin/groups
event without a name; a handled event without its parameters (user, group,
role), or without ``id.time`` or ``id.uniqueQualifier``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import (
    Context,
    Deliveries,
    Record,
    read_records,
    safe_name,
    text_value,
    unwrap,
)

FORMAT = "gworkspace"
KIND = "history"

_IAM_APPS = {"admin", "groups", "groups_enterprise", "user_accounts"}
_GROUP_APPS = {"groups", "groups_enterprise"}
_MEMBERSHIP = {"add_member": "grant", "remove_member": "revoke"}
_ADMIN = {"ADD_GROUP_MEMBER": ("membership", "grant"), "REMOVE_GROUP_MEMBER": ("membership", "revoke"),
          "ASSIGN_ROLE": ("role", "grant"), "UNASSIGN_ROLE": ("role", "revoke"),
          "CREATE_ROLE": ("define", "define"), "DELETE_ROLE": ("define", "retire"),
          "CREATE_USER": ("user", "join"), "DELETE_USER": ("user", "leave"), "SUSPEND_USER": ("user", "leave"),
          "UNSUSPEND_USER": ("user", "join"), "UNDELETE_USER": ("user", "join"),
          "GRANT_ADMIN_PRIVILEGE": ("super", "grant"), "REVOKE_ADMIN_PRIVILEGE": ("super", "revoke")}
#: The super administrator role, as ASSIGN_ROLE names it: making someone a super admin
#: (GRANT_ADMIN_PRIVILEGE) and assigning them the role are the same entitlement.
SUPER_ADMIN = "role:gws/_SEED_ADMIN_ROLE"
_GROUP_KEYS = ("GROUP_EMAIL", "group_email", "group_id")
_MEMBER_KEYS = ("USER_EMAIL", "member_id", "member_email", "user_email")


def _records(paths: list[Path]) -> Iterator[Record]:
    for record in read_records(paths, records_key="items"):
        yield unwrap(record)


def _params(event: dict[str, Any]) -> dict[str, str]:
    """Parameters as ``{name: value}``: a name/value list (value, multiValue, intValue ...) or a mapping."""
    raw = event.get("parameters")
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        items = [{"name": k, "value": v} for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [p for p in raw if isinstance(p, dict)]
    else:
        items = []
    for item in items:
        name = text_value(item.get("name"))
        if name is None:
            continue
        for field in ("value", "intValue", "boolValue", "multiValue"):
            value = item.get(field)
            if isinstance(value, list):
                value = value[0] if value else None
            if text_value(value) is not None:
                out.setdefault(name, str(value).strip())
                break
    return out


def _first(params: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((params[k] for k in keys if params.get(k)), None)


def _actor(activity: dict[str, Any]) -> str | None:
    actor = activity.get("actor")
    if not isinstance(actor, dict):
        return None
    if str(actor.get("callerType") or "").upper() == "KEY":
        name = text_value(actor.get("key")) or text_value(actor.get("email")) or text_value(actor.get("profileId"))
        return f"svc:{safe_name(name)}" if name else None
    name = text_value(actor.get("email")) or text_value(actor.get("profileId"))
    return f"user:{safe_name(name)}" if name else None


def _change(app: str, name: str, params: dict[str, str]) -> tuple[str, str | None, str | None, str] | str | None:
    """(action, subject, target, resource); a message when something is missing; None when not handled."""
    if app in _GROUP_APPS and name in _MEMBERSHIP:
        how, action = "membership", _MEMBERSHIP[name]
    elif app == "admin" and name in _ADMIN:
        how, action = _ADMIN[name]
    else:
        return None
    member = _first(params, _MEMBER_KEYS)
    if how == "membership":
        group = _first(params, _GROUP_KEYS)
        if group is None or member is None:
            return "no " + " and no ".join(n for n, v in (("GROUP_EMAIL", group), ("USER_EMAIL/member_id", member))
                                           if v is None)
        return action, f"user:{safe_name(member)}", f"group:gws/{safe_name(group)}", ""
    if how == "user":
        return (action, f"user:{safe_name(member)}", None, "") if member else "no USER_EMAIL"
    if how == "super":
        return (action, f"user:{safe_name(member)}", SUPER_ADMIN, "") if member else "no USER_EMAIL"
    role = params.get("ROLE_NAME")
    if role is None:
        return "no ROLE_NAME"
    if how == "define":
        return action, None, f"role:gws/{safe_name(role)}", ""
    if member is None:
        return "no USER_EMAIL"
    unit = params.get("ORG_UNIT_NAME")
    return action, f"user:{safe_name(member)}", f"role:gws/{safe_name(role)}", f"gws:{unit}" if unit else ""


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    deliveries = Deliveries()
    for record in _records(paths):
        activity = record.data
        if not isinstance(activity, dict):
            ctx.problem(record, f"expected a Reports API activity (object), got {type(activity).__name__}")
            continue
        ident = activity.get("id")
        if not isinstance(ident, dict):
            ident = {}
        app = text_value(ident.get("applicationName"))
        if app is None:
            ctx.problem(record, "no id.applicationName: not a Reports API activity")
            continue
        events = activity.get("events")
        if not isinstance(events, list):
            events = [activity]  # the flattened form: name, type, parameters on the activity
        changes: list[tuple[dict[str, Any], str, tuple[str, str | None, str | None, str]]] = []
        for item in events:
            item = item if isinstance(item, dict) else {}
            name = text_value(item.get("name"))
            kind = f"{app}:{name or '(unnamed)'}"
            if app not in _IAM_APPS:
                ctx.skip(record, "not IAM", kind)
                continue
            if name is None:
                ctx.incomplete(record, kind, f"{app}: an event without a name")
                continue
            change = _change(app, name, _params(item))
            if change is None:
                ctx.skip(record, "not an access change", kind)
            elif isinstance(change, str):
                ctx.incomplete(record, kind, f"{kind}: {change}")
            else:
                changes.append((item, kind, change))
        if not changes:
            continue
        time = ctx.time_of(record, ident.get("time"))
        qualifier = text_value(ident.get("uniqueQualifier"))
        if time is None or qualifier is None:
            missing = " and ".join(n for n, v in (("id.time", time), ("id.uniqueQualifier", qualifier)) if v is None)
            for _, kind, _ in changes:
                ctx.incomplete(record, kind, f"{kind}: no readable {missing}")
            continue
        suffix = deliveries.suffix(qualifier, activity)
        if suffix is None:
            for _, kind, _ in changes:
                ctx.skip(record, "duplicate", kind)
            continue
        base = f"gws-{safe_name(qualifier)}{suffix}"
        actor = _actor(activity)
        for n, (item, kind, (action, subject, target, resource)) in enumerate(changes, 1):
            out: dict[str, Any] = {"id": f"{base}-{n}" if len(changes) > 1 else base, "time": time,
                                   "action": action}
            if subject:
                out["subject"] = subject
            if target:
                out["target"] = target
            if action in ("grant", "revoke"):
                out["resource"] = resource
            if actor:
                out["actor"] = actor
            out["source"] = ctx.source(record, qualifier, application=app, event=item.get("name"),
                                       type=text_value(item.get("type")))
            ctx.count(kind)
            ctx.mapping.apply(activity, out)
            yield out
