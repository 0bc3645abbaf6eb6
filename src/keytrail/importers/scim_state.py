"""SCIM 2.0 ``/Users`` and ``/Groups`` (RFC 7643, RFC 7644) → a snapshot and a directory.

Input: what a SCIM service provider returns to ``GET /Users`` and ``GET /Groups``
(``ListResponse`` pages, paged with ``startIndex``/``count``), or ``GET /Users/{id}``
and ``GET /Groups/{id}`` (one resource), either bare — SCIM bodies name their own
kind in ``schemas`` and ``meta.resourceType`` — or wrapped as pages with their URL
(``{"url": ".../scim/v2/Groups?startIndex=101", "body": {...}}``, see
:mod:`keytrail.importers.pages`). Pages may repeat a resource (a provider's paging is
not a snapshot): it is merged, never doubled.

A resource's kind is its ``schemas`` (``urn:ietf:params:scim:schemas:core:2.0:User``
or ``…:Group``), else ``meta.resourceType``, else the URL's ``/Users`` or
``/Groups``, else: ``userName`` makes a User (required on every User), ``members``
a Group.

FIELD MAPPING (names as the ``scim`` history importer writes them, so that a
provider's request log and its state line up: resources by their SCIM ``id``)

- User → principal ``user:<id>``: ``name`` is ``displayName``, else
  ``name.formatted``, else ``userName``; ``email`` the primary (else first)
  ``emails[].value``; ``status`` ``active`` (``active`` true or absent) or
  ``suspended`` (``active: false``: SCIM deprovisioning deactivates); ``manager``
  ``user:<enterprise manager.value>``; attributes ``userName``, ``externalId``,
  ``userType``, ``title``, and from the enterprise extension ``department``,
  ``division``, ``organization``, ``costCenter``, ``employeeNumber``; ``created``
  and ``lastModified`` from ``meta``.
- Group → group ``group:scim/<id>`` named ``displayName`` (attributes
  ``externalId``, ``created``, ``lastModified``); each ``members[]`` entry → a
  snapshot line: ``user:<value>`` (``group:scim/<value>`` when ``type`` is
  ``Group``: nested groups) holds ``group:scim/<id>`` (``via: Group.members``).
- User ``groups[]`` (read-only, RFC 7643 4.1.2) → the same membership, when
  ``type`` is ``direct`` or absent (``via: User.groups``); merged with the
  group's own list.
- resource: empty (one provider is one system).

Counted as converted by kind: ``User``, ``Group``, ``member`` (a membership
read from a Group), ``User.groups`` (one read from a User).

SKIPPED: ``indirect membership`` (a ``groups[]`` entry of ``type: indirect``:
held through a nested group, which the snapshot already has as a group in a
group); ``not access state`` (ServiceProviderConfig, ResourceType, Schema,
Error, BulkResponse, PatchOp and other messages; resources of other types);
``not a successful response`` (a page whose ``status`` is not 2xx).
ERRORS: a record that is neither a page nor a SCIM body; a body or resource of
the wrong JSON type. INCOMPLETE (listed by place): a User or Group without
``id``; a member without ``value``; a resource whose kind cannot be told.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, Record, State, json_type, safe_name
from keytrail.importers.holdings import Holdings, an_object, as_dict, scalar
from keytrail.importers.pages import Page, Pages, items

FORMAT = "scim-state"
KIND = "state"

_MSG = "urn:ietf:params:scim:api:messages:2.0:"
_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HELP = "a SCIM body (ListResponse, User, Group) or a page with its URL (docs/import/scim-state.md)"


def _schemas(data: dict[str, Any]) -> list[str]:
    value = data.get("schemas")
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _bare(record: Record) -> tuple[str, ...] | None:
    """A bare SCIM body (it carries ``schemas``) is its own page."""
    data = record.data
    if isinstance(data, dict) and _schemas(data):
        return ("scim",)
    return None


def convert(paths: list[Path], ctx: Context) -> State:
    """Read SCIM pages into a :class:`State` (see the module docstring)."""
    reader = Pages(ctx, HELP, prefix=r"^.*?/v2(?=/|$)", bare=_bare)
    out = Holdings()
    for page in reader.read(paths):
        _page(page, out, ctx)
    return out.done(reader.captured)


def _kind_from_url(page: Page) -> str | None:
    for part in reversed(page.parts):
        if part in ("Users", "Groups"):
            return "User" if part == "Users" else "Group"
    return None


def _page(page: Page, out: Holdings, ctx: Context) -> None:
    body = page.body
    if not isinstance(body, dict):
        if isinstance(body, list):  # not SCIM, but a list of resources is read as one
            for i, item in items(page, ctx):
                _resource(page, item, f"body[{i}]", out, ctx)
            return
        ctx.problem(page.record, f"a SCIM body must be an object, not {json_type(body)}")
        return
    schemas = _schemas(body)
    if _MSG + "ListResponse" in schemas or ("Resources" in body and not {_USER, _GROUP} & set(schemas)):
        for i, item in items(page, ctx, "Resources"):
            _resource(page, item, f"Resources[{i}]", out, ctx)
        return
    message = next((s for s in schemas if s.startswith(_MSG)), None)
    if message is not None or any(s.startswith("urn:ietf:params:scim:schemas:core:2.0:") and s not in (_USER, _GROUP)
                                  for s in schemas):
        ctx.skip(page.record, "not access state", (message or schemas[0]).rsplit(":", 1)[-1])
        return
    _resource(page, body, "", out, ctx)


def _resource(page: Page, data: Any, where: str, out: Holdings, ctx: Context) -> None:
    at = f"{where}: " if where else ""
    if not an_object(ctx, page.record, data, f"{at}a SCIM resource"):
        return
    schemas = set(_schemas(data))
    meta = as_dict(data.get("meta"))
    kind = "User" if _USER in schemas else "Group" if _GROUP in schemas else None
    if kind is None and schemas:
        ctx.skip(page.record, "not access state", sorted(schemas)[0].rsplit(":", 1)[-1])
        return
    typed = meta.get("resourceType")
    kind = kind or (typed if typed in ("User", "Group") else None) \
        or _kind_from_url(page) or ("User" if "userName" in data else "Group" if "members" in data else None)
    if kind is None:
        ctx.incomplete(page.record, "unknown", f"{at}a resource of unknown kind: no schemas, meta.resourceType, "
                                               "URL, userName or members")
        return
    ident = scalar(data.get("id"))
    if ident is None:
        ctx.incomplete(page.record, kind, f"{at}a {kind} without id")
        return
    if kind == "User":
        _user(page, data, str(ident), meta, out, ctx, at)
    else:
        _group(page, data, str(ident), meta, out, ctx, at)


def _user(page: Page, data: dict[str, Any], ident: str, meta: dict[str, Any], out: Holdings, ctx: Context,
          at: str) -> None:
    uid = f"user:{safe_name(ident)}"
    name = as_dict(data.get("name"))
    ext = as_dict(data.get(_ENTERPRISE))
    manager = as_dict(ext.get("manager"))
    emails = [e for e in data.get("emails") or [] if isinstance(e, dict) and scalar(e.get("value"))] \
        if isinstance(data.get("emails"), list) else []
    email = next((e["value"] for e in emails if e.get("primary") is True), emails[0]["value"] if emails else None)
    active = data.get("active")
    out.principal(uid, name=scalar(data.get("displayName")) or scalar(name.get("formatted"))
                  or scalar(data.get("userName")), email=scalar(email),
                  status="suspended" if active is False else "active",
                  manager=f"user:{safe_name(manager['value'])}" if scalar(manager.get("value")) else None,
                  attributes={"userName": scalar(data.get("userName")), "externalId": scalar(data.get("externalId")),
                              "userType": scalar(data.get("userType")), "title": scalar(data.get("title")),
                              **{k: scalar(ext.get(k)) for k in ("department", "division", "organization",
                                                                  "costCenter", "employeeNumber")},
                              "created": scalar(meta.get("created")),
                              "lastModified": scalar(meta.get("lastModified"))})
    ctx.count("User")
    groups = data.get("groups")
    if groups is None:
        return
    if not isinstance(groups, list):
        ctx.problem(page.record, f"{at}groups must be a list, not {json_type(groups)}")
        return
    for n, group in enumerate(groups):
        if not an_object(ctx, page.record, group, f"{at}groups[{n}]"):
            continue
        if str(group.get("type") or "direct").lower() != "direct":
            ctx.skip(page.record, "indirect membership", "User.groups")
            continue
        value = scalar(group.get("value"))
        if value is None:
            ctx.incomplete(page.record, "User.groups", f"{at}groups[{n}] has no value (the group's id)")
            continue
        gid = f"group:scim/{safe_name(str(value))}"
        out.hold(uid, gid, via="User.groups")
        out.group(gid, name=scalar(group.get("display")))
        ctx.count("User.groups")


def _group(page: Page, data: dict[str, Any], ident: str, meta: dict[str, Any], out: Holdings, ctx: Context,
           at: str) -> None:
    gid = f"group:scim/{safe_name(ident)}"
    out.group(gid, name=scalar(data.get("displayName")),
              attributes={"externalId": scalar(data.get("externalId")), "created": scalar(meta.get("created")),
                          "lastModified": scalar(meta.get("lastModified"))})
    ctx.count("Group")
    members = data.get("members")
    if members is None:
        return
    if not isinstance(members, list):
        ctx.problem(page.record, f"{at}members must be a list, not {json_type(members)}")
        return
    for n, member in enumerate(members):
        if not an_object(ctx, page.record, member, f"{at}members[{n}]"):
            continue
        value = scalar(member.get("value"))
        if value is None:
            ctx.incomplete(page.record, "member", f"{at}members[{n}] has no value (the member's id)")
            continue
        nested = member.get("type") == "Group"
        subject = f"group:scim/{safe_name(str(value))}" if nested else f"user:{safe_name(str(value))}"
        out.hold(subject, gid, via="Group.members")
        if nested:
            out.group(subject, name=scalar(member.get("display")))
        else:
            out.principal(subject, name=scalar(member.get("display")))
        ctx.count("member")
