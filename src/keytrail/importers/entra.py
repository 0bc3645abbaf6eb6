"""Entra ID (Azure AD) audit logs → native history.

Input, in either shape, as JSON lines, a JSON array, or a Graph response
``{"value": [...]}``, gzipped or not:

- the Azure Monitor diagnostic-settings envelope (Event Hub, storage account,
  Log Analytics export): ``{"time", "operationName", "category",
  "correlationId", "properties": {...the audit record...}}``;
- the Microsoft Graph ``directoryAudit`` shape (``GET /auditLogs/directoryAudits``):
  ``{"id", "activityDisplayName", "activityDateTime", "result",
  "initiatedBy", "targetResources", "additionalDetails", ...}``.

A line ``{"p_sources": [...], "event": {...}}`` (Panther's rule-test extraction)
is unwrapped. Keys are matched case-insensitively (Panther lower-cases some).

FIELD MAPPING

- id: ``entra-<properties.id | id>``; without one, ``entra-h<20 hex of the
  SHA-256 of the record>``; the same id again with different content gets
  ``.2``, ``.3`` ... (the same content again is skipped as ``duplicate``).
- time: ``activityDateTime`` (the audit record's own), else the envelope's
  ``time``, as ISO 8601 UTC (``Z``); a time without a zone is UTC.
- the operation is ``operationName``, else ``activityDisplayName`` (both are
  tried, case-insensitively):

  ===========================================================  ==============  ====================================  =====================================================
  operation                                                    action          subject                               target (resource)
  ===========================================================  ==============  ====================================  =====================================================
  Add member to group / Remove member from group               grant / revoke  the member                            ``group:entra/<group displayName>``
  Add member to role / Remove member from role                 grant / revoke  the member                            ``role:entra/<role displayName>``
  PIM ``Add member to role … completed …``                     grant           the member                            ``role:entra/<role>``
  PIM ``Remove member from role … completed / expired …``      revoke          the member                            ``role:entra/<role>``
  Add app role assignment (grant) to user / group / SP         grant           the assignee                          ``role:entra-app/<app>/<app role value>``
  Remove app role assignment from user / group / SP            revoke          the assignee                          ``role:entra-app/<app>/<app role value>``
  Create / Delete role assignment (Azure RBAC)                 grant / revoke  the member                            ``role:azure/<RoleName>`` (``azure:<Scope>``)
  User has elevated their access to User Access Administrator  grant           the initiator                         ``role:azure/User-Access-Administrator`` (``azure:<Scope or />``)
  Add user / Delete user, Hard delete user                     join / leave    the user
  Add group / Delete group                                     define / retire                                       ``group:entra/<name>``
  ===========================================================  ==============  ====================================  =====================================================

  The member / assignee is a ``targetResources`` entry: type User →
  ``user:<userPrincipalName>`` (else displayName, else id), ServicePrincipal →
  ``svc:<displayName>``, Group → ``group:entra/<displayName>``. The group or role
  is the Group / Role target's displayName, else the ``Group.DisplayName`` /
  ``Role.DisplayName`` modified property (new value on adds, old value on
  removes). The app is the ServicePrincipal target (or the
  ``ServicePrincipal.DisplayName`` property); the app role is ``AppRole.Value``,
  else ``AppRole.DisplayName``, else ``default`` (the default access role).
  Names go through ``safe_name`` (inner whitespace → ``-``).
- actor: ``initiatedBy.user.userPrincipalName`` → ``user:``;
  ``initiatedBy.app.displayName`` (else servicePrincipalId) → ``svc:``.
- reason: the ``Justification`` entry of ``additionalDetails`` (PIM records also
  ``resultReason``); ticket: the ``RequestId`` entry of ``additionalDetails``,
  else the ``Request`` target's id, else ``correlationId`` — on role/group events
  that carry a justification or request (PIM). The mapping options
  (``--reason-from``, ``--ticket-from``, ``--key-from``) take precedence.
  ``expires``: the ``ExpirationTime`` / ``EndTime`` entry of
  ``additionalDetails`` on a grant, when present (time-bound PIM activations).
- source: ``{"format": "entra", "file", "line"|"index", "id",
  "operation", "correlationId"}``.

Naming scheme: users by UPN, groups ``group:entra/<display name>``, directory
roles ``role:entra/<display name>``, app roles ``role:entra-app/<app>/<role>``,
Azure RBAC roles ``role:azure/<role name>`` scoped to ``azure:<scope>``.

SKIPPED: PIM requests (``… requested …``, approvals, cancellations) as "PIM
request" (the change is the ``completed`` record); PIM eligibility as "PIM
eligibility" (eligible is not active access); invitations as "invitation";
records whose ``result`` is not success as "failed call"; sign-in logs and
every other operation as "not an access change".
ERRORS (malformed): a record that is not an object or names no operation.
INCOMPLETE (skipped, listed by place): a handled operation without the member,
group, role or app it needs, or without a readable time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import (
    Context,
    Deliveries,
    Record,
    ci,
    iso_utc,
    read_records,
    safe_name,
    text_value,
    unwrap,
)

FORMAT = "entra"
KIND = "history"

_PLAIN = {"add member to group": ("grant", "group"), "remove member from group": ("revoke", "group"),
          "add member to role": ("grant", "role"), "remove member from role": ("revoke", "role")}
_APP_RE = re.compile(r"^(add|remove) app role assignment (?:grant )?(?:to|from) (user|group|service principal)$")
_RBAC = {"create role assignment": "grant", "delete role assignment": "revoke"}
_ELEVATE = "user has elevated their access to user access administrator for their azure resources"
_USERS = {"add user": "join", "delete user": "leave", "hard delete user": "leave"}
_GROUPS = {"add group": "define", "delete group": "retire"}


def _records(paths: list[Path]) -> Iterator[Record]:
    # Graph pages hold their entries in "value"; Azure Monitor (Event Hubs, storage) in "records"
    for record in read_records(paths, records_key=("value", "records")):
        yield unwrap(record)


def _body(event: dict[str, Any]) -> dict[str, Any]:
    props = ci(event, "properties")
    return props if isinstance(props, dict) else event


def _details(body: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    items = ci(body, "additionalDetails")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and text_value(ci(item, "key")) and text_value(ci(item, "value")):
            out.setdefault(str(ci(item, "key")).lower(), str(ci(item, "value")).strip())
    return out


def _targets(body: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    items = ci(body, "targetResources")
    items = [t for t in items if isinstance(t, dict)] if isinstance(items, list) else []
    if kind is None:
        return items
    return [t for t in items if str(ci(t, "type") or "").lower() == kind]


def _modified(body: dict[str, Any], name: str, old: bool = False) -> str | None:
    for target in _targets(body):
        props = ci(target, "modifiedProperties")
        for prop in props if isinstance(props, list) else []:
            if isinstance(prop, dict) and str(ci(prop, "displayName") or "").lower() == name.lower():
                for field in (("oldValue", "newValue") if old else ("newValue", "oldValue")):
                    raw = text_value(ci(prop, field))
                    if raw is None:
                        continue
                    try:
                        value = json.loads(raw)
                    except ValueError:
                        value = raw
                    if isinstance(value, list):
                        value = value[0] if value else None
                    if text_value(value):
                        return str(value).strip()
    return None


def _principal(target: dict[str, Any]) -> str | None:
    kind = str(ci(target, "type") or "").lower()
    if kind == "user":
        name = text_value(ci(target, "userPrincipalName")) or text_value(ci(target, "displayName")) or text_value(ci(target, "id"))
        return f"user:{safe_name(name)}" if name else None
    if kind == "serviceprincipal":
        name = text_value(ci(target, "displayName")) or text_value(ci(target, "id"))
        return f"svc:{safe_name(name)}" if name else None
    if kind == "group":
        name = text_value(ci(target, "displayName")) or text_value(ci(target, "id"))
        return f"group:entra/{safe_name(name)}" if name else None
    return None


def _actor(body: dict[str, Any]) -> str | None:
    user = ci(body, "initiatedBy.user")
    if isinstance(user, dict):
        name = text_value(ci(user, "userPrincipalName")) or text_value(ci(user, "displayName")) or text_value(ci(user, "id"))
        if name:
            return f"user:{safe_name(name)}"
    app = ci(body, "initiatedBy.app")
    if isinstance(app, dict):
        name = text_value(ci(app, "displayName")) or text_value(ci(app, "servicePrincipalId")) or text_value(ci(app, "appId"))
        if name:
            return f"svc:{safe_name(name)}"
    return None


def _classify(name: str) -> tuple[str, str] | None:
    """(how, action) for a handled operation, ("skip", reason) for a known non-change, None otherwise."""
    if name in _PLAIN:
        return "member", _PLAIN[name][0]
    if "pim" in name:
        if "eligible" in name:
            return "skip", "PIM eligibility"
        if any(w in name for w in ("request", "approve", "cancel", "deny")):
            return "skip", "PIM request"
        if name.startswith("add member to role") and "completed" in name:
            return "member", "grant"
        if name.startswith("remove member from role") and ("completed" in name or "expired" in name):
            return "member", "revoke"
        return None
    m = _APP_RE.match(name)
    if m:
        return "app", "grant" if m.group(1) == "add" else "revoke"
    if name in _RBAC:
        return "rbac", _RBAC[name]
    if name == _ELEVATE:
        return "elevate", "grant"
    if name in _USERS:
        return "user", _USERS[name]
    if name in _GROUPS:
        return "group", _GROUPS[name]
    if name.startswith("invite"):
        return "skip", "invitation"
    return None


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    deliveries = Deliveries()
    for record in _records(paths):
        event = record.data
        if not isinstance(event, dict):
            ctx.problem(record, f"expected an Entra audit record (object), got {type(event).__name__}")
            continue
        body = _body(event)
        names = [n for n in (text_value(ci(event, "operationName")), text_value(ci(body, "activityDisplayName")),
                             text_value(ci(event, "activityDisplayName"))) if n]
        if not names:
            ctx.problem(record, "no operationName or activityDisplayName: not an Entra audit record")
            continue
        op, how_action = names[0], None
        for candidate in names:
            how_action = _classify(candidate.lower())
            if how_action is not None:
                op = candidate
                break
        if how_action is None:
            ctx.skip(record, "not an access change", op)
            continue
        how, action = how_action
        if how == "skip":
            ctx.skip(record, action, op)
            continue
        result = str(ci(body, "result") or ci(event, "result") or "success").lower()
        if result not in ("success", "succeeded"):
            ctx.skip(record, "failed call", op)
            continue
        details = _details(body)
        change = _change(how, action, op.lower(), body, details)
        if isinstance(change, str):
            ctx.incomplete(record, op, f"{op}: {change}")
            continue
        time = ctx.time_of(record, ci(body, "activityDateTime"), ci(event, "time"))
        if time is None:
            ctx.incomplete(record, op, f"{op}: no readable activityDateTime or time")
            continue
        own = text_value(ci(body, "id")) or text_value(ci(event, "id"))
        ident = safe_name(own) if own else "h" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str)
                                                                 .encode("utf-8")).hexdigest()[:20]
        suffix = deliveries.suffix(ident, event)
        if suffix is None:
            ctx.skip(record, "duplicate", op)
            continue
        subject, target, resource = change
        out: dict[str, Any] = {"id": f"entra-{ident}{suffix}",
                               "time": time, "action": action}
        if subject:
            out["subject"] = subject
        if target:
            out["target"] = target
        if action in ("grant", "revoke"):
            out["resource"] = resource
        actor = _actor(body)
        if actor:
            out["actor"] = actor
        correlation = text_value(ci(body, "correlationId")) or text_value(ci(event, "correlationId"))
        out["source"] = ctx.source(record, own, operation=op, correlationId=correlation)
        ctx.mapping.apply(event, out)
        if how == "member" or "pim" in op.lower():
            pim = "pim" in op.lower() or str(ci(body, "loggedByService") or "").upper() == "PIM"
            reason = details.get("justification") or (text_value(ci(body, "resultReason")) if pim else None)
            request = details.get("requestid") or next(
                (text_value(ci(t, "id")) for t in _targets(body, "request") if text_value(ci(t, "id"))), None)
            if reason and not out.get("reason"):
                out["reason"] = reason
            if (reason or request) and not out.get("ticket"):
                out["ticket"] = request or correlation or ""
                if not out["ticket"]:
                    del out["ticket"]
        if action == "grant":
            end = iso_utc(details.get("expirationtime")) or iso_utc(details.get("endtime"))
            if end:
                out["expires"] = end
        ctx.count(op)
        yield out


def _change(how: str, action: str, op: str, body: dict[str, Any],
            details: dict[str, str]) -> tuple[str | None, str | None, str] | str:
    """(subject, target, resource), or what is missing."""
    removing = action in ("revoke", "leave", "retire")
    if how == "member":
        container = "group" if ("member to group" in op or "member from group" in op) else "role"
        containers = _targets(body, container)
        name = _modified(body, "Group.DisplayName" if container == "group" else "Role.DisplayName", removing)
        members = [t for t in _targets(body) if str(ci(t, "type") or "").lower() in ("user", "serviceprincipal")]
        if container == "group" and not members and len(containers) >= 2:
            members, containers = containers[:1], containers[1:]  # a nested group: member first
        if name is None:
            name = next((n for t in containers if (n := text_value(ci(t, "displayName")))), None)
        if name is None:
            return f"no {container} name (a {container.title()} target's displayName or " \
                   f"{container.title()}.DisplayName)"
        subject = next((p for t in members if (p := _principal(t))), None)
        if subject is None:
            return "no member (a User or ServicePrincipal target)"
        prefix = "group:entra/" if container == "group" else "role:entra/"
        return subject, prefix + safe_name(name), ""
    if how == "app":
        assignee = "service principal" if op.endswith("service principal") else op.rsplit(" ", 1)[-1]
        sps = _targets(body, "serviceprincipal")
        app = _modified(body, "ServicePrincipal.DisplayName", removing) or \
            next((n for t in sps if (n := text_value(ci(t, "displayName")))), None)
        if app is None:
            return "no app (a ServicePrincipal target or ServicePrincipal.DisplayName)"
        role = _modified(body, "AppRole.Value", removing) or _modified(body, "AppRole.DisplayName", removing) \
            or "default"
        if assignee == "user":
            subject = next((p for t in _targets(body, "user") if (p := _principal(t))), None)
            upn = _modified(body, "User.UPN", removing)
            subject = subject or (f"user:{safe_name(upn)}" if upn else None)
        elif assignee == "group":
            subject = next((p for t in _targets(body, "group") if (p := _principal(t))), None)
            group = _modified(body, "Group.DisplayName", removing)
            subject = subject or (f"group:entra/{safe_name(group)}" if group else None)
        else:
            subject = next((p for t in sps[1:] if (p := _principal(t))), None)
        if subject is None:
            return f"no assignee ({assignee})"
        return subject, f"role:entra-app/{safe_name(app)}/{safe_name(role)}", ""
    if how == "rbac":
        role_name = details.get("rolename") or _modified(body, "Role.DisplayName", removing)
        if role_name is None:
            return "no RoleName in additionalDetails"
        subject = next((p for t in _targets(body) if (p := _principal(t))), None)
        if subject is None:
            return "no member (a User, ServicePrincipal or Group target)"
        return subject, f"role:azure/{safe_name(role_name)}", f"azure:{details.get('scope', '/')}"
    if how == "elevate":
        subject = _actor(body)
        if subject is None:
            return "no initiatedBy user"
        return subject, "role:azure/User-Access-Administrator", f"azure:{details.get('scope', '/')}"
    if how == "user":
        subject = next((p for t in _targets(body, "user") if (p := _principal(t))), None)
        return (subject, None, "") if subject else "no User target"
    name = next((n for t in _targets(body, "group") if (n := text_value(ci(t, "displayName")))), None) \
        or _modified(body, "DisplayName", removing)
    return (None, f"group:entra/{safe_name(name)}", "") if name else "no Group target"
