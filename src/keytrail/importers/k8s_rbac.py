"""Kubernetes RBAC manifests → a snapshot and a directory (a state format).

Input: Kubernetes RBAC objects as ``kubectl get roles,clusterroles,rolebindings,
clusterrolebindings -A -o yaml`` (or ``-o json``) prints them, or as kept in a
Git repository: multi-document YAML or JSON, gzipped or not. ``List`` kinds
(``kind: List``, ``RoleList``, ``ClusterRoleBindingList`` ...) are flattened
into their ``items``; each item is located by the line it starts on.

Naming scheme (the same for every Kubernetes source, so that a later history
import lines up):

==================================  ======================================
Kubernetes                          keytrail
==================================  ======================================
ClusterRole ``NAME``                ``role:k8s/NAME``
Role ``NAME`` in namespace ``NS``   ``role:k8s/NS/NAME``
subject ``User NAME``               ``user:NAME``
subject ``Group NAME``              ``group:k8s/NAME``
subject ``ServiceAccount NS/NAME``  ``svc:k8s/NS/NAME`` (``NS`` defaults to the binding's namespace)
ClusterRoleBinding                  resource ``k8s:cluster``
RoleBinding in namespace ``NS``     resource ``k8s:NS``
==================================  ======================================

FIELD MAPPING

- Each subject of a binding becomes one snapshot line ``{subject, target,
  resource}``: target is the ``roleRef`` (a RoleBinding may refer to a
  ClusterRole: target ``role:k8s/NAME`` on resource ``k8s:NS``, which is what
  Kubernetes does: the cluster role's rules, within that namespace). The line
  also keeps ``binding`` (``ClusterRoleBinding/NAME`` or
  ``RoleBinding/NS/NAME``) and ``source`` (format, file, line, the object's
  ``uid`` when present, else its kind/namespace/name).
- Each Role and ClusterRole becomes a directory role: ``name`` is the
  Kubernetes name, ``attributes`` hold ``k8s_kind``, ``namespace`` (Roles),
  ``bootstrapping`` (the ``kubernetes.io/bootstrapping`` label) and
  ``aggregated`` (ClusterRoles with an ``aggregationRule``); ``permissions``
  are the rules flattened, one string per API group and resource (and
  resource name), its verbs sorted and comma-joined:

  - ``get,list,watch:pods`` (core API group: the resource alone),
  - ``create,update:apps/deployments`` (other groups: ``GROUP/RESOURCE``),
  - ``get:pods/log`` (a subresource stays as Kubernetes writes it),
  - ``update:configmaps[cluster-info]`` (``resourceNames`` in brackets),
  - ``get:/healthz`` (``nonResourceURLs`` start with ``/``),
  - ``*`` stays ``*`` (``*:*``, ``*:*/*``).

  ``privileged`` is true when a rule grants every verb (``*``) or every
  resource (``*``), the verbs ``escalate``, ``bind`` or ``impersonate``, or
  read access (``get``, ``list``, ``watch``) to ``secrets``.
  Kubernetes roles have no owner: every role is reported by
  ``orphaned.ownerless`` until one is set in the directory.
- Each subject becomes a directory entry: users and service accounts as
  principals (``name`` is the Kubernetes name; no status, manager or owner,
  which Kubernetes does not know), groups as groups. Kubernetes keeps no user
  directory (users and groups come from the authenticator), so merge these
  with the organisation's real directory.

Skipped (counted by kind): objects that are not RBAC (``not RBAC``:
``ServiceAccount``, ``Namespace`` ...) and bindings without subjects
(``grants nothing``: e.g. the default ``system:node`` ClusterRoleBinding).

Problems (the import fails, nothing is written): a document that is not an
object, an RBAC object without a name, a binding without a ``roleRef``, a
subject of an unknown kind or without a name, a service account subject of a
ClusterRoleBinding without a namespace, a role defined twice with different
rules, and Kubernetes *audit events* (``audit.k8s.io``). Audit logs are
history (who created which binding when), while this format is a state
format; the importer refuses them with a message saying so rather than
reading them as state.

There is no provisioning key in a manifest; with no history every binding is
``unexplained.drift-extra`` (access the history does not explain).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, Record, State, json_type, read_records, safe_name

FORMAT = "k8s-rbac"
KIND = "state"

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
_BINDING_TARGET = {"Role": "Role", "ClusterRole": "ClusterRole"}
_ALWAYS_PRIVILEGED_VERBS = {"*", "escalate", "bind", "impersonate"}
_READ_VERBS = {"get", "list", "watch"}


def convert(paths: list[Path], ctx: Context) -> State:
    state = State()
    defined: dict[str, tuple[list[str], str]] = {}
    for record in _flatten(read_records(paths, yaml_ok=True), ctx):
        data = record.data
        if not isinstance(data, dict):
            ctx.problem(record, f"expected a Kubernetes object, found {type(data).__name__}")
            continue
        if _is_audit(data):
            ctx.problem(record, "a Kubernetes audit event (audit.k8s.io), not an RBAC manifest: k8s-rbac reads "
                                "Role, ClusterRole, RoleBinding and ClusterRoleBinding objects (access state); "
                                "audit logs are history: import them with `keytrail import k8s-audit`")
            continue
        kind = data.get("kind")
        if kind is not None and not isinstance(kind, str):
            ctx.problem(record, f"kind must be a string, not {json_type(kind)}")
            continue
        if kind not in RBAC_KINDS:
            ctx.skip(record, "not RBAC", str(kind or "no kind"))
            continue
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        name = meta.get("name")
        if not isinstance(name, str) or not name.strip():
            ctx.problem(record, f"{kind} without metadata.name")
            continue
        namespace = meta.get("namespace")
        if not isinstance(namespace, str):
            namespace = ""
        if kind in ("Role", "RoleBinding") and not namespace:
            namespace = "default"  # what kubectl applies a namespaced object to without -n
        if kind in ("Role", "ClusterRole"):
            _role(record, data, kind, name, namespace, meta, state, defined, ctx)
        else:
            _binding(record, data, kind, name, namespace, meta, state, ctx)
    return state


def role_id(kind: str, name: str, namespace: str = "") -> str:
    """``role:k8s/NAME`` for a ClusterRole, ``role:k8s/NS/NAME`` for a Role."""
    if kind == "Role":
        return f"role:k8s/{safe_name(namespace)}/{safe_name(name)}"
    return f"role:k8s/{safe_name(name)}"


def subject_id(subject: dict[str, Any], namespace: str) -> str | None:
    """The keytrail id of a binding's subject; None when its kind is unknown."""
    kind, name = subject.get("kind"), str(subject.get("name"))
    if kind == "User":
        return f"user:{safe_name(name)}"
    if kind == "Group":
        return f"group:k8s/{safe_name(name)}"
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or namespace
        return f"svc:k8s/{safe_name(ns)}/{safe_name(name)}"
    return None


def permissions(rules: Any) -> tuple[list[str], bool]:
    """The rules flattened to permission strings (sorted, unique), and whether they are privileged."""
    out: set[str] = set()
    privileged = False
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict):
            continue
        verbs = sorted({str(v) for v in _strings(rule.get("verbs"))})
        if not verbs:
            continue
        verb_text = ",".join(verbs)
        resources = _strings(rule.get("resources"))
        if _ALWAYS_PRIVILEGED_VERBS & set(verbs) or "*" in resources:
            privileged = True
        if "secrets" in resources and _READ_VERBS & set(verbs):
            privileged = True
        groups = _strings(rule.get("apiGroups")) or [""]
        names = _strings(rule.get("resourceNames"))
        for group in groups:
            for resource in resources:
                base = f"{group}/{resource}" if group else resource
                if names:
                    out.update(f"{verb_text}:{base}[{n}]" for n in names)
                else:
                    out.add(f"{verb_text}:{base}")
        for url in _strings(rule.get("nonResourceURLs")):
            out.add(f"{verb_text}:{url}")
    return sorted(out), privileged


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _role(record: Record, data: dict[str, Any], kind: str, name: str, namespace: str, meta: dict[str, Any],
          state: State, defined: dict[str, tuple[list[str], str]], ctx: Context) -> None:
    rid = role_id(kind, name, namespace)
    perms, privileged = permissions(data.get("rules"))
    if rid in defined:
        before, where = defined[rid]
        if before != perms:
            ctx.problem(record, f"{kind} {name!r} is defined twice with different rules (first at {where})")
            return
    defined[rid] = (perms, record.where())
    attributes: dict[str, Any] = {"k8s_kind": kind}
    if kind == "Role":
        attributes["namespace"] = namespace
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = {}
    if labels.get("kubernetes.io/bootstrapping"):
        attributes["bootstrapping"] = str(labels["kubernetes.io/bootstrapping"])
    if data.get("aggregationRule"):
        attributes["aggregated"] = True
    entry: dict[str, Any] = {"id": rid, "name": name}
    if privileged:
        entry["privileged"] = True
    if perms:
        entry["permissions"] = perms
    entry["attributes"] = attributes
    entry["notes"] = f"Kubernetes {kind}{' in ' + namespace if namespace else ''} ({record.where()})"
    state.roles[rid] = entry
    ctx.count(kind)


def _binding(record: Record, data: dict[str, Any], kind: str, name: str, namespace: str, meta: dict[str, Any],
             state: State, ctx: Context) -> None:
    ref = data.get("roleRef")
    if not isinstance(ref, dict) or not isinstance(ref.get("kind"), str) or ref["kind"] not in _BINDING_TARGET \
            or not ref.get("name"):
        ctx.problem(record, f"{kind} {name!r}: roleRef must name a Role or ClusterRole")
        return
    if kind == "ClusterRoleBinding" and ref["kind"] == "Role":
        ctx.problem(record, f"ClusterRoleBinding {name!r} refers to a Role (only ClusterRoles can be bound "
                            "cluster-wide)")
        return
    target = role_id(ref["kind"], str(ref["name"]), namespace)
    resource = f"k8s:{safe_name(namespace)}" if kind == "RoleBinding" else "k8s:cluster"
    binding = f"RoleBinding/{namespace}/{name}" if kind == "RoleBinding" else f"ClusterRoleBinding/{name}"
    subjects = data.get("subjects")
    if not subjects:
        ctx.skip(record, "grants nothing", f"{kind} without subjects")
        return
    if not isinstance(subjects, list):
        ctx.problem(record, f"{kind} {name!r}: subjects must be a list")
        return
    lines: list[dict[str, Any]] = []
    seen_principals: list[tuple[str, dict[str, Any]]] = []
    for n, subject in enumerate(subjects):
        if not isinstance(subject, dict) or not str(subject.get("name") or "").strip():
            ctx.problem(record, f"{kind} {name!r}: subjects[{n}] has no name")
            return
        if subject.get("kind") == "ServiceAccount" and not (subject.get("namespace") or namespace):
            ctx.problem(record, f"{kind} {name!r}: subjects[{n}] is a ServiceAccount without a namespace")
            return
        sid = subject_id(subject, namespace)
        if sid is None:
            ctx.problem(record, f"{kind} {name!r}: subjects[{n}] has unknown kind {subject.get('kind')!r} "
                                "(expected User, Group or ServiceAccount)")
            return
        ident = meta.get("uid") or binding
        lines.append({"subject": sid, "target": target, "resource": resource, "binding": binding,
                      "source": ctx.source(record, ident, subject=n)})
        seen_principals.append((sid, subject))
    state.snapshot.extend(lines)
    for sid, subject in seen_principals:
        note = f"Kubernetes {subject['kind']} (seen as a subject of {binding})"
        if sid.startswith("group:"):
            state.groups.setdefault(sid, {"id": sid, "name": str(subject["name"]), "notes": note})
        else:
            state.principals.setdefault(sid, {"id": sid, "name": str(subject["name"]), "notes": note})
    ctx.count(kind)


def _is_audit(data: dict[str, Any]) -> bool:
    for candidate in (data, data.get("event")):
        if not isinstance(candidate, dict):
            continue
        api = str(candidate.get("apiVersion") or "")
        if api.startswith("audit.k8s.io"):
            return True
        if candidate.get("kind") == "Event" and "verb" in candidate and "objectRef" in candidate:
            return True
    return False


def _flatten(records: Any, ctx: Context) -> Any:
    """Yield every object, with ``List`` kinds replaced by their items (located by their own line)."""
    for record in records:
        data = record.data
        if isinstance(data, dict) and str(data.get("kind") or "").endswith("List") \
                and isinstance(data.get("items"), list) and not _is_audit(data):
            lines = _item_lines(record)
            for i, item in enumerate(data["items"]):
                line = lines[i] if i < len(lines) else 0
                yield Record(item, record.file, line, i if not line else record.index)
            continue
        yield record


def _item_lines(record: Record) -> list[int]:
    """The line each item of a YAML ``List`` document starts on ([] for JSON or when unknown).

    read_records gives the document's line only; the items' lines are found by
    composing the file's YAML again (cheap next to the parse itself).
    """
    if not record.line:
        return []
    import yaml

    from keytrail.importers.reading import open_text

    try:
        text = open_text(Path(record.file))
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for node in yaml.compose_all(text, Loader=loader):
            if node is None or node.start_mark.line + 1 != record.line or not isinstance(node, yaml.MappingNode):
                continue
            for key, value in node.value:
                if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                    return [child.start_mark.line + 1 for child in value.value]
    except (OSError, UnicodeDecodeError, EOFError, yaml.YAMLError):
        return []
    return []
