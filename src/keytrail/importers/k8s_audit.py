"""Kubernetes audit logs for RBAC objects → native history.

Reads Kubernetes audit events (``apiVersion: audit.k8s.io/v1``, ``kind:
Event``; JSON lines or a JSON list, Panther test wrappers unwrapped), as the API
server writes them or as managed clusters deliver them (a GKE Cloud Audit Logs
entry, an AKS diagnostic log's ``properties.log``), and turns
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
  either is skipped as incomplete, listed by place (no time is guessed).
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

from keytrail.importers.base import (
    Context,
    Malformed,
    Record,
    arr,
    obj,
    read_records,
    safe_name,
    unwrap,
)
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
    # AKS diagnostic logs through Event Hubs or storage arrive as {"records": [...]}
    for raw in read_records(paths, records_key=("records", "items")):
        record = unwrap(raw)
        try:
            data = audit_event(record.data)
            if data is None:
                ctx.problem(record, "not a Kubernetes audit event (kind: Event with a verb, or one wrapped in a "
                                    "GKE Cloud Audit Logs entry or an AKS diagnostic log)")
                continue
            events = list(_event(record, data, ctx, seen_subjects))
        except Malformed as exc:
            ctx.problem(record, str(exc))
            continue
        yield from events


def audit_event(data: Any) -> dict[str, Any] | None:
    """The Kubernetes audit event in ``data``: itself, the ``properties.log`` of an AKS
    diagnostic log (an object or a JSON string), or rebuilt from a GKE Cloud Audit Logs
    entry (``protoPayload`` with ``serviceName: k8s.io``); None when it is none of these."""
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "Event" and "verb" in data:
        return data
    properties = data.get("properties")
    if isinstance(properties, dict) and "log" in properties:
        log = properties["log"]
        if isinstance(log, str):
            import json

            try:
                log = json.loads(log)
            except ValueError:
                return None
        return log if isinstance(log, dict) and log.get("kind") == "Event" and "verb" in log else None
    payload = data.get("protoPayload")
    if isinstance(payload, dict) and payload.get("serviceName") == "k8s.io":
        return _from_gke(data, payload)
    return None


def _from_gke(entry: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any] | None:
    """A GKE entry as an audit event: ``methodName`` is ``io.k8s.<group>.<version>.<resource>.<verb>``,
    ``resourceName`` is ``<group>/<version>[/namespaces/<ns>]/<resource>/<name>``."""
    method = payload.get("methodName")
    if not isinstance(method, str) or not method.startswith("io.k8s."):
        return None
    parts = method.split(".")
    verb = parts[-1]
    resource = parts[-2] if len(parts) >= 4 else ""
    ref: dict[str, Any] = {"resource": resource}
    path = str(payload.get("resourceName") or "").split("/")
    if "namespaces" in path[:-1]:
        at = path.index("namespaces")
        ref["namespace"] = path[at + 1]
        rest = path[at + 2:]
    else:
        rest = path[2:]
    if len(rest) >= 2 and rest[0] == resource:
        ref["name"] = rest[1]
    status = payload.get("status")
    if not isinstance(status, dict):
        status = {}
    code = status.get("code") or 0
    event: dict[str, Any] = {
        "kind": "Event", "verb": verb, "objectRef": ref,
        "auditID": entry.get("insertId"),
        "stageTimestamp": entry.get("timestamp") or entry.get("receiveTimestamp"),
        "user": {"username": obj(payload.get("authenticationInfo"), "protoPayload.authenticationInfo")
                 .get("principalEmail")},
        # gRPC status: 0 is OK, anything else a failed call
        "responseStatus": {"code": 200 if code == 0 else 400 + (code if isinstance(code, int) else 0)},
        "userAgent": obj(payload.get("requestMetadata"), "protoPayload.requestMetadata")
        .get("callerSuppliedUserAgent"),
        "annotations": entry.get("labels") if isinstance(entry.get("labels"), dict) else {},
    }
    for ours, theirs in (("requestObject", "request"), ("responseObject", "response")):
        if isinstance(payload.get(theirs), dict):
            event[ours] = payload[theirs]
    return event


def _event(record: Record, data: dict[str, Any], ctx: Context,
           seen: dict[str, set[tuple[str, str, str]]]) -> Iterator[dict[str, Any]]:
    verb = str(data.get("verb"))
    ref = data.get("objectRef")
    if not isinstance(ref, dict):
        ref = {}
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
    time = ctx.time_of(record, data.get("stageTimestamp"), data.get("requestReceivedTimestamp"))
    if time is None:
        ctx.incomplete(record, label, f"{label}: no stageTimestamp or requestReceivedTimestamp")
        return
    request = obj(data.get("requestObject"), "requestObject")
    name = str(ref.get("name") or obj(request.get("metadata"), "requestObject.metadata").get("name") or "")
    namespace = str(ref.get("namespace") or "")
    if not name:
        ctx.incomplete(record, label, f"{label}: the object has no name")
        return
    username = str(obj(data.get("user"), "user").get("username") or "")
    base = {"time": time, "actor": actor_id(username)} if username else {"time": time}
    audit_id = data.get("auditID")
    source = ctx.source(record, audit_id, verb=verb, object=f"{kind}/{namespace + '/' if namespace else ''}{name}",
                        userAgent=data.get("userAgent"),
                        impersonatedUser=obj(data.get("impersonatedUser"), "impersonatedUser").get("username"),
                        reason=obj(data.get("annotations"), "annotations").get("authorization.k8s.io/reason"))
    stem = f"k8s-audit-{audit_id}" if audit_id else f"k8s-audit-{safe_name(record.file)}-{record.index}"
    events: list[dict[str, Any]] = []
    if kind in ("Role", "ClusterRole"):
        if verb in ("create", "delete"):
            events.append({"action": "define" if verb == "create" else "retire",
                           "target": role_id(kind, name, namespace)})
        else:
            ctx.unconverted(record, "role content change", label)
            return
    else:
        key = f"{kind}/{namespace}/{name}"
        before = seen.get(key, set())
        if verb == "delete":
            if key not in seen:
                ctx.unconverted(record, "delete of a binding not seen", label)
                return
            after: set[tuple[str, str, str]] = set()
        else:
            binding = data.get("requestObject") or data.get("responseObject")
            if not isinstance(binding, dict) or not isinstance(binding.get("roleRef"), dict):
                ctx.unconverted(record, "no binding object in the event", label)
                return
            parsed = _subjects(binding, kind, namespace)
            if parsed is None:
                ctx.incomplete(record, label, f"{label} {name!r}: roleRef or subjects are malformed")
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


def _subjects(binding: dict[str, Any], kind: str, namespace: str) -> set[tuple[str, str, str]] | None:
    ref = binding["roleRef"]
    if ref.get("kind") not in ("Role", "ClusterRole") or not ref.get("name"):
        return None
    target = role_id(str(ref["kind"]), str(ref["name"]), namespace)
    resource = f"k8s:{safe_name(namespace)}" if kind == "RoleBinding" else "k8s:cluster"
    out = set()
    for subject in arr(binding.get("subjects"), "subjects"):
        if not isinstance(subject, dict) or not subject.get("name"):
            return None
        sid = subject_id(subject, namespace)
        if sid is None:
            return None
        out.add((sid, target, resource))
    return out
