"""SCIM 2.0 provisioning requests (RFC 7644) → native history.

Input: JSON or JSON lines (gzipped or not) of SCIM requests, as a
provisioning proxy or an identity provider's outbound log records them. A
record is one of:

- a **request envelope**, shaped like an RFC 7644 bulk operation plus a time:
  ``{"method": "PATCH", "path": "/Groups/ID", "data": {PatchOp}, "time":
  "2026-03-01T10:00:00Z", "id": "req-17", "actor": "svc:okta-scim"}``
  (``body`` may stand for ``data``, ``url`` for ``path``, ``timestamp`` for
  ``time``, ``requestId`` for ``id``; a full URL is cut after ``/v2``
  (``https://host/scim/v2/Groups/ID``));
- a **BulkRequest** (``urn:ietf:params:scim:api:messages:2.0:BulkRequest``):
  each of its ``Operations`` is such a request (their ``bulkId`` is the id,
  ``bulkId:X`` references are resolved within the bulk request; the bulk
  record's own ``time`` applies to every operation);
- a **bare body** without method: a ``PatchOp``; a User without ``id`` and
  ``meta`` (what a POST sends); anything else (a User or Group with an ``id``,
  a ListResponse, an Error, a Schema ...) is a resource representation or a
  message, not a change.

FIELD MAPPING

=======================================================  =====================================
SCIM request                                             native event
=======================================================  =====================================
POST /Users                                              ``join`` subject ``user:<id>`` (the
                                                         body's ``id`` when given, else
                                                         ``user:<userName>``); attributes
                                                         userName, displayName, title,
                                                         userType, externalId
PATCH /Users/ID ``active`` → false  (or PUT with          ``leave`` subject ``user:<ID>``
``active: false``), DELETE /Users/ID
PATCH /Users/ID ``active`` → true                         ``join`` subject ``user:<ID>``
POST /Groups                                             ``define`` target ``group:scim/<displayName>``
                                                         (``<id>`` when the body has one), and a
                                                         ``grant`` per member
PATCH /Groups/ID add/replace ``members`` (or no path,     ``grant`` subject (member) target
value ``{"members": [...]}``), PUT /Groups/ID members      ``group:scim/<ID>``
PATCH /Groups/ID remove ``members[value eq "X"]``        ``revoke`` subject ``user:X``
DELETE /Groups/ID                                        ``retire`` target ``group:scim/<ID>``
=======================================================  =====================================

Members: ``value`` → ``user:<value>`` (``group:scim/<value>`` when ``type`` is
``Group``), ``display`` when there is no value. Users and groups are named by
their SCIM ``id``, which is what ``members`` and request paths carry, so
history from one SCIM service provider lines up with itself; a POST request
has no id yet, so give the POST *response* as ``data`` (it carries the id) or
the join is recorded under the userName.

- ``time``: the envelope's ``time`` (or ``timestamp``), else the body's
  ``meta.lastModified``, else ``meta.created``, else ``--assume-time``. A
  record that would convert to an event but has no time is incomplete ("no
  time: add meta.lastModified or a time on the request"): SCIM bodies carry no
  time of their own, and a guessed time (the file's mtime, the import's clock)
  would misplace the change in every time-based check.
- ``actor``: the envelope's ``actor`` (a native id), else none.
- ``id``: ``scim-`` + the envelope's ``id``/``requestId`` (a bulk operation:
  the bulk's id, or the digest of the bulk request, ``-op<N>``: a ``bulkId`` is
  unique only within its request), else ``scim-`` + the first 16 hex digits of
  the SHA-256 of the request and its time; ``-1``, ``-2`` ... when one request
  makes several events. The same request read twice is a duplicate delivery.
- ``source``: format, file, line or index, the system's id, the operation's
  index in a bulk request.

Skipped (by reason, counted by kind): ``read-only`` (GET); ``not an access
change`` (PATCH/PUT of other attributes, POST/PATCH elsewhere, and messages:
ListResponse, Error, Schema, ResourceType, ServiceProviderConfig,
SearchRequest, BulkResponse); ``resource representation`` (a bare User or
Group with an ``id``: a GET or a response, no change); ``members not named``
(the removals a ``replace``, PUT or unfiltered ``remove`` of members implies
in a group this import has not seen created: SCIM does not say whom they
remove, and keytrail does not guess; in a group it has seen created, they are
revokes, see :class:`_Members`); ``no change``; ``duplicate delivery``.

Errors: a record that is not an object; a BulkRequest without operations.
Incomplete (skipped, listed by place): a change with no time; a membership or
``active`` change with no Group or User it applies to (a bare PatchOp names
neither: give it as an envelope with the path); an unresolved ``bulkId:``
reference.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from keytrail.importers.base import Context, Deliveries, Record, read_records, safe_name, text_value

FORMAT = "scim"
KIND = "history"

_MSG = "urn:ietf:params:scim:api:messages:2.0:"
_CORE = "urn:ietf:params:scim:schemas:core:2.0:"
_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s*"([^"]+)"\s*\]$', re.IGNORECASE)
_USER_ATTRIBUTES = ("userName", "displayName", "title", "userType", "externalId")


#: A change placeholder: the group's members are exactly those this request grants
#: (a PUT, a ``replace`` of members, a ``remove`` of all members); resolved against
#: the membership this import has seen (:class:`_Members`).
_REPLACE = "replace-members"


class _Members:
    """Group memberships as the records read so far leave them, to turn a replace of
    members into revokes for those it drops. A group this import has not seen created
    has unknown members: its implied removals are skipped (``members not named``)."""

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}

    def resolve(self, changes: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """``changes`` in order with replace placeholders resolved, and adds of present
        members dropped; True when some implied removals were unknown."""
        out: list[dict[str, Any]] = []
        unknown = False
        for change in changes:
            action, target = change["action"], change.get("target")
            members = self.known.get(target) if isinstance(target, str) else None
            if action == _REPLACE:
                if members is None:
                    unknown = True
                    continue
                keep = set(change["keep"])
                out += [{"action": "revoke", "subject": subject, "target": target}
                        for subject in sorted(members - keep)]
                members &= keep
                continue
            # A define or retire always names its group (see _changes).
            if action == "define":
                self.known[cast(str, target)] = set()
            elif action == "retire":
                self.known.pop(cast(str, target), None)
            elif action == "grant" and members is not None:
                if change["subject"] in members:
                    continue  # already a member: SCIM makes no change
                members.add(change["subject"])
            elif action == "revoke" and members is not None:
                members.discard(change["subject"])
            out.append(change)
        return out, unknown


class _State:
    """What one import remembers across records: deliveries seen, group memberships."""

    def __init__(self) -> None:
        self.deliveries = Deliveries()
        self.members = _Members()


class _Skip(Exception):
    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


class _Problem(Exception):
    pass


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    state = _State()
    for record in read_records(paths):
        data = record.data
        if not isinstance(data, dict):
            ctx.problem(record, f"expected a SCIM request object, found {type(data).__name__}")
            continue
        schemas = _schemas(data)
        if _MSG + "BulkRequest" in schemas:
            yield from _bulk(record, data, ctx, state)
            continue
        if "method" in data:
            request = data
        else:
            bare = _bare(data, schemas)
            if isinstance(bare, _Skip):
                ctx.skip(record, bare.reason, bare.kind)
                continue
            request = bare
        yield from _one(record, request, data, ctx, state, base_id=_envelope_id(data), where="")


def _schemas(data: dict[str, Any]) -> list[str]:
    value = data.get("schemas")
    return [str(s) for s in value] if isinstance(value, list) else []


def _bare(data: dict[str, Any], schemas: list[str]) -> dict[str, Any] | _Skip:
    """A body without method: the request it stands for, or why it is no change."""
    if _MSG + "PatchOp" in schemas:
        return {"method": "PATCH", "path": None, "data": data}
    resource = _resource_type(schemas)
    if resource in ("User", "Group"):
        if "id" not in data and "meta" not in data:
            return {"method": "POST", "path": f"/{resource}s", "data": data}
        return _Skip("resource representation", resource)
    names = [s.rsplit(":", 1)[-1] for s in schemas]
    return _Skip("not an access change", names[0] if names else "no schemas")


def _resource_type(schemas: list[str]) -> str | None:
    for s in schemas:
        if s == _CORE + "User" or s.endswith(":2.0:User") and "extension" not in s:
            return "User"
        if s == _CORE + "Group":
            return "Group"
    return None


def _envelope_id(data: dict[str, Any]) -> str | None:
    for name in ("requestId", "id") if "method" in data else ("requestId",):
        if data.get(name) not in (None, ""):
            return str(data[name])
    return None


def _bulk(record: Record, data: dict[str, Any], ctx: Context, state: _State) -> Iterator[dict[str, Any]]:
    ops = data.get("Operations")
    if not isinstance(ops, list):
        ctx.problem(record, "BulkRequest without Operations[]")
        return
    bulk_ids: dict[str, str] = {}
    for op in ops:
        if isinstance(op, dict) and op.get("bulkId") and isinstance(op.get("data"), dict):
            body = op["data"]
            kind = _path_parts(op.get("path"))[0]
            if kind == "Users":
                bulk_ids[str(op["bulkId"])] = f"user:{safe_name(body.get('id') or body.get('userName'))}"
            elif kind == "Groups":
                bulk_ids[str(op["bulkId"])] = f"group:scim/{safe_name(body.get('id') or body.get('displayName'))}"
    # bulkIds are the client's, unique only within one request: a bulk without an id of
    # its own is named by its content
    own = _envelope_id(data) or data.get("id") or _digest(data)
    for n, op in enumerate(ops):
        where = f"Operations[{n}]: "
        if not isinstance(op, dict) or "method" not in op:
            ctx.problem(record, f"{where}expected {{method, path, data}}")
            continue
        request = {**op}
        for name in ("time", "timestamp", "actor"):
            if name in data and name not in request:
                request[name] = data[name]
        yield from _one(record, request, op, ctx, state, base_id=f"{own}-op{n}", where=where,
                        bulk_ids=bulk_ids, op_index=n)


def _digest(data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _path_parts(path: Any) -> tuple[str | None, str | None]:
    """``/Groups/ID`` (or a full URL) → ("Groups", "ID")."""
    if not isinstance(path, str):
        return None, None
    text = path.split("?", 1)[0]
    if "/v2/" in text:
        text = text.split("/v2/", 1)[1]
    parts = [p for p in text.strip("/").split("/") if p]
    if not parts:
        return None, None
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _one(record: Record, request: dict[str, Any], raw: dict[str, Any], ctx: Context, state: _State,
         base_id: str | None, where: str, bulk_ids: dict[str, str] | None = None, op_index: int | None = None) -> Iterator[dict[str, Any]]:
    method = str(request.get("method") or "").upper()
    body = request.get("data", request.get("body"))
    resource, ident = _path_parts(request.get("path", request.get("url")))
    kind = f"{method} {resource or ('PatchOp' if method == 'PATCH' else '?')}"
    try:
        if method == "GET":
            raise _Skip("read-only", kind)
        changes = _changes(method, resource, ident, body, bulk_ids or {})
    except _Skip as skip:
        ctx.skip(record, skip.reason, skip.kind)
        return
    except _Problem as exc:
        ctx.incomplete(record, kind, f"{where}{exc}")
        return
    if not changes:
        ctx.skip(record, "not an access change", kind)
        return
    time = _time(request, body) or ctx.missing_time(record)
    if time is None:
        ctx.incomplete(record, kind, f"{where}{kind}: no time: add meta.lastModified or a time on the request")
        return
    content = json.dumps([request, time], sort_keys=True, default=str)
    ident = base_id or _digest(content)
    suffix = state.deliveries.suffix(ident, content)
    if suffix is None:
        ctx.skip(record, "duplicate delivery", kind)
        return
    base = f"scim-{ident}{suffix}"
    changes, unknown = state.members.resolve(changes)
    if not changes:
        if unknown:
            ctx.unconverted(record, "members not named", kind)
        else:
            ctx.skip(record, "no change", kind)
        return
    actor = request.get("actor")
    for n, change in enumerate(changes, 1):
        event: dict[str, Any] = {"id": base if len(changes) == 1 else f"{base}-{n}", "time": time, **change}
        if isinstance(actor, str) and actor:
            event["actor"] = actor
        ctx.mapping.apply(raw, event)
        event["source"] = ctx.source(record, base_id, operation=op_index,
                                     bulkId=raw.get("bulkId") if op_index is not None else None)
        yield event
    ctx.count(kind)
    if unknown:
        ctx.unconverted(record, "members not named", kind)


def _time(request: dict[str, Any], body: Any) -> str | None:
    for name in ("time", "timestamp"):
        if isinstance(request.get(name), str) and request[name]:
            return request[name]
    meta = body.get("meta") if isinstance(body, dict) else None
    if isinstance(meta, dict):
        for name in ("lastModified", "created"):
            if isinstance(meta.get(name), str) and meta[name]:
                return meta[name]
    return None


def _member(member: Any, bulk_ids: dict[str, str]) -> str:
    if not isinstance(member, dict):
        raise _Problem(f"a member must be an object, found {member!r}")
    value = member.get("value")
    if isinstance(value, str) and value.startswith("bulkId:"):
        ref = bulk_ids.get(value[len("bulkId:"):])
        if ref is None:
            raise _Problem(f"unresolved reference {value!r} (no operation with that bulkId)")
        return ref
    name = value if value not in (None, "") else member.get("display")
    if name in (None, ""):
        raise _Problem("a member has neither value nor display")
    if member.get("type") == "Group":
        return f"group:scim/{safe_name(name)}"
    return f"user:{safe_name(name)}"


def _changes(method: str, resource: str | None, ident: str | None, body: Any,
             bulk_ids: dict[str, str]) -> list[dict[str, Any]]:
    """The native changes a request makes (with :data:`_REPLACE` placeholders)."""
    body = body if body is not None else {}
    if method == "DELETE":
        if resource == "Users" and ident:
            return [{"action": "leave", "subject": f"user:{safe_name(ident)}"}]
        if resource == "Groups" and ident:
            return [{"action": "retire", "target": f"group:scim/{safe_name(ident)}"}]
        return []
    if method == "POST":
        if not isinstance(body, dict):
            raise _Problem("POST without a body")
        if resource == "Users":
            name = body.get("id") or body.get("userName")
            if not name:
                raise _Problem("POST /Users with neither id nor userName")
            attrs = {k: body[k] for k in _USER_ATTRIBUTES if isinstance(body.get(k), (str, int, float, bool))}
            event: dict[str, Any] = {"action": "join", "subject": f"user:{safe_name(name)}"}
            if attrs:
                event["attributes"] = attrs
            return [event]
        if resource == "Groups":
            name = body.get("id") or body.get("displayName")
            if not name:
                raise _Problem("POST /Groups with neither id nor displayName")
            target = f"group:scim/{safe_name(name)}"
            out = [{"action": "define", "target": target}]
            out += [{"action": "grant", "subject": _member(m, bulk_ids), "target": target}
                    for m in body.get("members") or []]
            return out
        return []
    if method == "PUT":
        if not isinstance(body, dict):
            raise _Problem("PUT without a body")
        name = ident or text_value(body.get("id"))
        if resource == "Users":
            if body.get("active") is False:
                if name is None:
                    raise _Problem("a PUT of active names no User: give the path /Users/ID or the body's id")
                return [{"action": "leave", "subject": f"user:{safe_name(name)}"}]
            return []
        if resource == "Groups" and "members" in body:
            if name is None:
                raise _Problem("a PUT of members names no Group: give the path /Groups/ID or the body's id")
            return _replace(f"group:scim/{safe_name(name)}", body.get("members") or [], bulk_ids)
        return []
    if method == "PATCH":
        ops = body.get("Operations") if isinstance(body, dict) else body
        if not isinstance(ops, list):
            raise _Problem("PATCH without Operations[]")
        return _patch(resource, ident, ops, bulk_ids)
    return []


def _replace(target: str, members: list[Any], bulk_ids: dict[str, str]) -> list[dict[str, Any]]:
    """The group's members become exactly ``members``: a placeholder, then the grants."""
    grants = [{"action": "grant", "subject": _member(m, bulk_ids), "target": target} for m in members]
    return [{"action": _REPLACE, "target": target, "keep": [g["subject"] for g in grants]}, *grants]


def _patch(resource: str | None, ident: str | None, ops: list[Any],
           bulk_ids: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, op in enumerate(ops):
        if not isinstance(op, dict):
            raise _Problem(f"Operations[{n}] is not an object")
        kind = str(op.get("op") or "").lower()
        path = str(op.get("path") or "")
        value = op.get("value")
        members: list[Any] | None = None
        active: Any = None
        if path.lower() == "members":
            members = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        elif not path and isinstance(value, dict):
            members = value.get("members") if isinstance(value.get("members"), list) else None
            active = value.get("active")
        elif path.lower() == "active":
            active = value
        removed = _MEMBER_FILTER.match(path)
        if members is None and active is None and not removed:
            continue  # another attribute: no access change
        if (members is not None or removed) and (resource not in (None, "Groups")):
            continue
        if members is not None or removed:
            if not ident:
                raise _Problem("a change of members names no Group: give the request as "
                               "{method, path: /Groups/ID, time, data}")
            target = f"group:scim/{safe_name(ident)}"
            if removed and kind == "remove":
                out.append({"action": "revoke", "subject": f"user:{safe_name(removed.group(1))}", "target": target})
            elif kind == "remove":
                out += _replace(target, [], bulk_ids)  # every member removed
            elif kind == "replace":
                out += _replace(target, members or [], bulk_ids)
            else:
                out += [{"action": "grant", "subject": _member(m, bulk_ids), "target": target} for m in members or []]
        if active is not None and resource in (None, "Users"):
            if not ident:
                raise _Problem("a change of active names no User: give the request as "
                               "{method, path: /Users/ID, time, data}")
            if active is False or str(active).lower() == "false":
                out.append({"action": "leave", "subject": f"user:{safe_name(ident)}"})
            elif active is True or str(active).lower() == "true":
                out.append({"action": "join", "subject": f"user:{safe_name(ident)}"})
    return out
