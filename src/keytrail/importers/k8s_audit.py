"""Kubernetes audit logs for RBAC objects → native history.

Reads Kubernetes audit events (``apiVersion: audit.k8s.io/v1``, ``kind:
Event``; JSON lines or a JSON list, Panther test wrappers unwrapped) and turns
the changes to RBAC objects into keyed-history events, named exactly as
``keytrail import k8s-rbac`` names the state, so a history and a snapshot of
the same cluster line up.

| audit event | native event |
|---|---|
| create of a RoleBinding / ClusterRoleBinding | one ``grant`` per subject: subject → ``role:k8s/NAME`` (ClusterRole) or ``role:k8s/NS/NAME`` (Role), resource ``k8s:NS`` (RoleBinding) or ``k8s:cluster`` |
| update / patch of a binding with the full object | grants for subjects added, revokes for subjects removed, compared with the binding as this import last saw it (a first sighting grants every subject) |
| delete of a binding | a ``revoke`` per subject the import saw on it; a binding never seen is skipped ("delete of a binding not seen") |
| create / delete of a Role or ClusterRole | ``define`` / ``retire`` of the role |
| any other verb (get, list, watch), other resources | skipped: read-only, not RBAC |
| ``responseStatus.code`` ≥ 400 | skipped: failed call |

- **id**: ``k8s-audit-`` + ``auditID`` (``-1``, ``-2`` … when one event gives several).
- **time**: ``stageTimestamp``, else ``requestReceivedTimestamp``; an RBAC change without
  either is a problem (no time is guessed).
- **actor**: ``user.username``: ``system:serviceaccount:NS:NAME`` → ``svc:k8s/NS/NAME``,
  other names → ``user:NAME``; impersonation (``impersonatedUser``) is kept in ``source``.
- **why**: Kubernetes has no ticket; the ``authorization.k8s.io/reason`` annotation (the RBAC
  rule that allowed the call) is kept in ``source``; map a key with ``--key-from`` (e.g.
  ``userAgent`` or an annotation your admission controller sets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, Record, iso_utc, read_records, safe_name, unwrap
from keytrail.importers.k8s_rbac import role_id, subject_id

FORMAT = "k8s-audit"
KIND = "history"

_BINDINGS = {"rolebindings": "RoleBinding", "clusterrolebindings": "ClusterRoleBinding"}
_ROLES = {"roles": "Role", "clusterroles": "ClusterRole"}
_WRITES = {"create", "update", "patch", "delete"}


def actor_id(username: str) -> str:
    """The keytrail id of the user who made a call."""
    if username.startswith("system:serviceaccount:"):
        parts = username.split(":", 3)
        if len(parts) == 4:
            return f"svc:k8s/{safe_name(parts[2])}/{safe_name(parts[3])}"
    return f"user:{safe_name(username)}"


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    seen_subjects: dict[str, set[tuple[str, str, str]]] = {}
    for raw in read_records(paths):
        record = unwrap(raw)
        data = record.data
        if not isinstance(data, dict) or data.get("kind") != "Event" or "verb" not in data:
            ctx.problem(record, "not a Kubernetes audit event (kind: Event with a verb)")
            continue
        yield from _event(record, data, ctx, seen_subjects)


def _event(record: Record, data: dict[str, Any], ctx: Context,
           seen: dict[str, set[tuple[str, str, str]]]) -> Iterator[dict[str, Any]]:
    verb = str(data.get("verb"))
    ref = data.get("objectRef") if isinstance(data.get("objectRef"), dict) else {}
    resource = str(ref.get("resource") or "")
    kind = _BINDINGS.get(resource) or _ROLES.get(resource)
    label = f"{verb} {resource or '?'}"
    if kind is None:
        ctx.skip(record, "not RBAC", label)
        return
    if verb not in _WRITES:
        ctx.skip(record, "read-only", label)
        return
    code = (data.get("responseStatus") or {}).get("code") if isinstance(data.get("responseStatus"), dict) else None
    if isinstance(code, int) and code >= 400:
        ctx.skip(record, "failed call", label)
        return
    time = iso_utc(data.get("stageTimestamp")) or iso_utc(data.get("requestReceivedTimestamp"))
    if time is None:
        ctx.problem(record, f"{label}: no stageTimestamp or requestReceivedTimestamp")
        return
    name = str(ref.get("name") or (data.get("requestObject") or {}).get("metadata", {}).get("name") or "")
    namespace = str(ref.get("namespace") or "")
    if not name:
        ctx.problem(record, f"{label}: the object has no name")
        return
    username = str((data.get("user") or {}).get("username") or "")
    base = {"time": time, "actor": actor_id(username)} if username else {"time": time}
    audit_id = data.get("auditID")
    source = ctx.source(record, audit_id, verb=verb, object=f"{kind}/{namespace + '/' if namespace else ''}{name}",
                        userAgent=data.get("userAgent"),
                        impersonatedUser=(data.get("impersonatedUser") or {}).get("username"),
                        reason=(data.get("annotations") or {}).get("authorization.k8s.io/reason"))
    stem = f"k8s-audit-{audit_id}" if audit_id else f"k8s-audit-{safe_name(record.file)}-{record.index}"
    events: list[dict[str, Any]] = []
    if kind in ("Role", "ClusterRole"):
        if verb in ("create", "delete"):
            events.append({"action": "define" if verb == "create" else "retire",
                           "target": role_id(kind, name, namespace)})
        else:
            ctx.skip(record, "role content change", label)
            return
    else:
        key = f"{kind}/{namespace}/{name}"
        before = seen.get(key, set())
        if verb == "delete":
            if key not in seen:
                ctx.skip(record, "delete of a binding not seen", label)
                return
            after: set[tuple[str, str, str]] = set()
        else:
            obj = data.get("requestObject") or data.get("responseObject")
            if not isinstance(obj, dict) or not isinstance(obj.get("roleRef"), dict):
                ctx.skip(record, "no binding object in the event", label)
                return
            parsed = _subjects(obj, kind, namespace)
            if parsed is None:
                ctx.problem(record, f"{label} {name!r}: roleRef or subjects are malformed")
                return
            after = parsed
        for sid, target, res in sorted(after - before):
            events.append({"action": "grant", "subject": sid, "target": target, "resource": res})
        for sid, target, res in sorted(before - after):
            events.append({"action": "revoke", "subject": sid, "target": target, "resource": res})
        seen[key] = after
        if not events:
            ctx.skip(record, "no change", label)
            return
    ctx.count(f"{verb} {kind}")
    for n, change in enumerate(events, 1):
        event = {"id": stem if len(events) == 1 else f"{stem}-{n}", **base, **change, "source": source}
        yield ctx.mapping.apply(data, event)


def _subjects(obj: dict[str, Any], kind: str, namespace: str) -> set[tuple[str, str, str]] | None:
    ref = obj["roleRef"]
    if ref.get("kind") not in ("Role", "ClusterRole") or not ref.get("name"):
        return None
    target = role_id(str(ref["kind"]), str(ref["name"]), namespace)
    resource = f"k8s:{safe_name(namespace)}" if kind == "RoleBinding" else "k8s:cluster"
    out = set()
    for subject in obj.get("subjects") or []:
        if not isinstance(subject, dict) or not subject.get("name"):
            return None
        sid = subject_id(subject, namespace)
        if sid is None:
            return None
        out.add((sid, target, resource))
    return out
