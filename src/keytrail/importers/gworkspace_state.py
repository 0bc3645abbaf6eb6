"""Google Workspace users, groups, members and admin role assignments → a snapshot and a directory.

Input: pages of the Admin SDK Directory API (``{"url", "body"}``, see
:mod:`keytrail.importers.pages`; the ``/admin/directory/v1`` prefix is removed):

==========================================  =======================================================
page                                        read as
==========================================  =======================================================
``/users``, ``/users/{userKey}``            principals ``user:<primaryEmail>``
``/groups``, ``/groups/{groupKey}``         groups ``group:gws/<email>``
``/groups/{groupKey}/members``              each member holds the group (``via: group members``);
                                            the group's ``OWNER`` members are its owners
``/customer/{c}/roles``                     roles ``role:gws/<roleName>``
``/customer/{c}/roleassignments``           the user (or group) holds the role, on
                                            ``gws:<org unit path>`` when ``scopeType: ORG_UNIT``
``/customer/{c}/orgunits``                  org unit paths for scoped assignments
==========================================  =======================================================

A group key in a URL may be the group's e-mail or its id, and role assignments
name users, groups, roles and org units by id: ids are named by the object pages
(``/users``, ``/groups``, ``/roles``, ``/orgunits``); an id no page names is
incomplete (listed by place), never guessed.

NAMES (as the ``gworkspace`` Reports importer writes them): users by primary
e-mail (as written), groups ``group:gws/<group e-mail>``, admin roles
``role:gws/<roleName>`` (the super admin role is ``_SEED_ADMIN_ROLE``, as its
``GRANT_ADMIN_PRIVILEGE`` events say), scoped on ``gws:<orgUnitPath>`` (what the Reports API's ``ORG_UNIT_NAME`` holds).

DIRECTORY: users' ``name`` (``name.fullName``), ``email``, ``status``
(``suspended`` or ``archived`` → suspended, else active), ``manager`` (the
``relations[type=manager]`` e-mail); attributes ``title``, ``department``,
``costCenter``, ``description`` (the primary ``organizations[]`` entry),
``orgUnitPath``, ``isAdmin``, ``isDelegatedAdmin``, ``gws_id``, ``created``
(``creationTime``). ``lastLoginTime`` is usage, not read here. Groups: ``name``,
``description``, ``owner`` (the first ``OWNER`` member that is a user),
``gws_id``, ``adminCreated``. Roles: ``description``, ``privileged`` (every
admin role), ``permissions`` (``serviceId:privilegeName`` of
``rolePrivileges``), ``isSystemRole``, ``isSuperAdminRole``.

MEMBERS: type ``USER`` → ``user:<email>``, ``GROUP`` → ``group:gws/<email>``
(nested), ``EXTERNAL`` → ``user:<email>`` with ``external: true``, ``CUSTOMER``
(every user of the domain) → skipped as ``whole domain``. A member whose
``status`` is not ``ACTIVE`` is still a member (Workspace keeps suspended
users in groups); the user's own status says the rest.

Counted as converted by kind: ``user``, ``group``, ``role``, ``member``,
``role assignment``, ``org unit``. SKIPPED: ``whole domain``; ``not access
state`` (other endpoints); ``not a successful response``; ``superseded``.
INCOMPLETE: an id no page names; an object without its e-mail, id or name.
ERRORS: a record that is not a page; a body or item of the wrong JSON type.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, State, json_type, safe_name
from keytrail.importers.holdings import Holdings, an_object, as_dict, scalar
from keytrail.importers.pages import Page, Pages, items
from keytrail.textsafe import excerpt

FORMAT = "gworkspace-state"
KIND = "state"
HELP = "gworkspace-state reads Admin SDK Directory API pages (docs/import/gworkspace-state.md)"


def _relation(data: dict[str, Any], kind: str) -> str | None:
    for rel in data.get("relations") or [] if isinstance(data.get("relations"), list) else []:
        if isinstance(rel, dict) and rel.get("type") == kind and scalar(rel.get("value")):
            return str(rel["value"])
    return None


def _primary_org(data: dict[str, Any]) -> dict[str, Any]:
    orgs = [o for o in data.get("organizations") or [] if isinstance(o, dict)] \
        if isinstance(data.get("organizations"), list) else []
    return next((o for o in orgs if o.get("primary") is True), orgs[0] if orgs else {})


class _Reader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out = Holdings()
        self.users: dict[str, str] = {}   # id or e-mail (lower case) -> keytrail id
        self.groups: dict[str, str] = {}
        self.roles: dict[str, str] = {}   # roleId -> keytrail id
        self.units: dict[str, str] = {}   # orgUnitId (without "id:") -> name
        self.members: list[tuple[Page, str, str, str]] = []  # page, group key, member id, how
        self.owners: list[tuple[Page, str, str]] = []
        self.assignments: list[tuple[Page, int, dict[str, Any]]] = []

    def object_list(self, page: Page, key: str, read: Callable[[Page, Any, str], None]) -> None:
        if len(page.parts) == 2:
            read(page, page.body, "")
            return
        for i, item in items(page, self.ctx, key):
            read(page, item, f"{key}[{i}]: ")

    def user(self, page: Page, data: Any, at: str) -> None:
        if not an_object(self.ctx, page.record, data, f"{at}a user"):
            return
        email = scalar(data.get("primaryEmail"))
        if email is None:
            self.ctx.incomplete(page.record, "user", f"{at}a user without primaryEmail")
            return
        uid = f"user:{safe_name(str(email))}"
        for key in (data.get("id"), email):
            if scalar(key) is not None:
                self.users[str(key).lower()] = uid
        name = as_dict(data.get("name"))
        org = _primary_org(data)
        manager = _relation(data, "manager")
        inactive = data.get("suspended") is True or data.get("archived") is True
        self.out.principal(uid, name=scalar(name.get("fullName")), email=str(email),
                           status="suspended" if inactive else "active",
                           manager=f"user:{safe_name(manager)}" if manager else None,
                           attributes={"title": scalar(org.get("title")), "department": scalar(org.get("department")),
                                       "costCenter": scalar(org.get("costCenter")),
                                       "description": scalar(org.get("description")),
                                       "orgUnitPath": scalar(data.get("orgUnitPath")),
                                       "isAdmin": data.get("isAdmin") if data.get("isAdmin") is True else None,
                                       "isDelegatedAdmin": True if data.get("isDelegatedAdmin") is True else None,
                                       "gws_id": scalar(data.get("id")), "created": scalar(data.get("creationTime"))})
        self.ctx.count("user")

    def group(self, page: Page, data: Any, at: str) -> None:
        if not an_object(self.ctx, page.record, data, f"{at}a group"):
            return
        email = scalar(data.get("email"))
        if email is None:
            self.ctx.incomplete(page.record, "group", f"{at}a group without email")
            return
        gid = f"group:gws/{safe_name(str(email))}"
        for key in (data.get("id"), email):
            if scalar(key) is not None:
                self.groups[str(key).lower()] = gid
        self.out.group(gid, name=scalar(data.get("name")), description=scalar(data.get("description")),
                       attributes={"gws_id": scalar(data.get("id")), "adminCreated": data.get("adminCreated")
                                   if isinstance(data.get("adminCreated"), bool) else None})
        self.ctx.count("group")

    def role(self, page: Page, data: Any, at: str) -> None:
        if not an_object(self.ctx, page.record, data, f"{at}a role"):
            return
        name, rid = scalar(data.get("roleName")), scalar(data.get("roleId"))
        if name is None or rid is None:
            self.ctx.incomplete(page.record, "role", f"{at}a role without roleId or roleName")
            return
        target = f"role:gws/{safe_name(str(name))}"
        self.roles[str(rid)] = target
        privileges = data["rolePrivileges"] if isinstance(data.get("rolePrivileges"), list) else []
        perms = sorted({f"{p.get('serviceId')}:{p.get('privilegeName')}" for p in privileges
                        if isinstance(p, dict) and scalar(p.get("privilegeName"))})
        self.out.role(target, name=str(name), description=scalar(data.get("roleDescription")), privileged=True,
                      permissions=perms or None,
                      attributes={"gws_id": rid, "isSystemRole": data.get("isSystemRole")
                                  if isinstance(data.get("isSystemRole"), bool) else None,
                                  "isSuperAdminRole": True if data.get("isSuperAdminRole") is True else None})
        self.ctx.count("role")

    def unit(self, page: Page, data: Any, at: str) -> None:
        if not isinstance(data, dict) or scalar(data.get("orgUnitId")) is None \
                or scalar(data.get("orgUnitPath") or data.get("name")) is None:
            self.ctx.problem(page.record, f"{at}an org unit must be an object with orgUnitId and orgUnitPath")
            return
        # the Reports API's ORG_UNIT_NAME is the unit's path (/Sales/EMEA)
        self.units[str(data["orgUnitId"]).removeprefix("id:")] = str(data.get("orgUnitPath") or data["name"])
        self.ctx.count("org unit")

    def group_members(self, page: Page) -> None:
        for i, item in items(page, self.ctx, "members"):
            at = f"members[{i}]: "
            if not an_object(self.ctx, page.record, item, f"{at}a member"):
                continue
            kind = str(item.get("type") or "USER").upper()
            if kind == "CUSTOMER":
                self.ctx.skip(page.record, "whole domain", "member")
                continue
            email = scalar(item.get("email"))
            if email is None:
                self.ctx.incomplete(page.record, "member", f"{at}a member without email")
                continue
            self.members.append((page, page.parts[1], str(email), kind))
            if str(item.get("role") or "") == "OWNER" and kind == "USER":
                self.owners.append((page, page.parts[1], str(email)))

    def assignments_page(self, page: Page) -> None:
        for i, item in items(page, self.ctx, "items"):
            if not isinstance(item, dict):
                self.ctx.problem(page.record, f"items[{i}]: a role assignment must be an object, not "
                                              f"{json_type(item)}")
                continue
            self.assignments.append((page, i, item))

    def page(self, page: Page) -> None:
        p = page.parts
        if p[:1] == ("users",) and len(p) <= 2:
            self.object_list(page, "users", self.user)
        elif p[:1] == ("groups",) and len(p) <= 2:
            self.object_list(page, "groups", self.group)
        elif p[:1] == ("groups",) and len(p) == 3 and p[2] == "members":
            self.group_members(page)
        elif p[:1] == ("customer",) and len(p) == 3 and p[2] == "roles":
            for i, item in items(page, self.ctx, "items"):
                self.role(page, item, f"items[{i}]: ")
        elif p[:1] == ("customer",) and len(p) == 3 and p[2] == "roleassignments":
            self.assignments_page(page)
        elif p[:1] == ("customer",) and len(p) == 3 and p[2] == "orgunits":
            for i, item in items(page, self.ctx, "organizationUnits"):
                self.unit(page, item, f"organizationUnits[{i}]: ")
        else:
            self.ctx.skip(page.record, "not access state", page.endpoint("users", "groups", "members", "customer",
                                                                         "roles", "roleassignments", "orgunits"))

    def done(self, captured: str | None) -> State:
        for page, key, email, kind in self.members:
            group = self.groups.get(key.lower())
            if group is None:
                self.ctx.incomplete(page.record, "member", f"group {excerpt(key)!r} is on no /groups page: no name to give it")
                continue
            subject = f"group:gws/{safe_name(email)}" if kind == "GROUP" else f"user:{safe_name(email)}"
            self.out.hold(subject, group, via="group members")
            if kind == "EXTERNAL":
                self.out.principal(subject, attributes={"external": True})
            self.ctx.count("member")
        for _page, key, email in self.owners:  # a group not named is already incomplete, by its members
            if key.lower() in self.groups:
                self.out.group(self.groups[key.lower()],
                               owner=self.users.get(email.lower(), f"user:{safe_name(email)}"))
        for page, i, item in self.assignments:
            self.assignment(page, i, item)
        return self.out.done(captured)

    def assignment(self, page: Page, i: int, item: dict[str, Any]) -> None:
        at = f"items[{i}]: "
        role = self.roles.get(str(item.get("roleId")))
        table = self.groups if str(item.get("assigneeType") or "user").lower() == "group" else self.users
        holder = table.get(str(item.get("assignedTo")).lower())
        resource = ""
        missing = []
        if role is None:
            missing.append(f"role {excerpt(str(item.get('roleId')))!r} is on no /roles page")
        if holder is None:
            missing.append(f"{excerpt(str(item.get('assigneeType') or 'user'))} {excerpt(str(item.get('assignedTo')))!r} is on no "
                           f"/{'groups' if table is self.groups else 'users'} page")
        if str(item.get("scopeType") or "CUSTOMER").upper() == "ORG_UNIT":
            unit = self.units.get(str(item.get("orgUnitId") or "").removeprefix("id:"))
            if unit is None:
                missing.append(f"org unit {excerpt(str(item.get('orgUnitId')))!r} is on no /orgunits page")
            resource = f"gws:{unit}"
        if missing or role is None or holder is None:
            self.ctx.incomplete(page.record, "role assignment", at + " and ".join(missing) + ": no name to give it")
            return
        self.out.hold(holder, role, resource, via="role assignments")
        self.ctx.count("role assignment")


def convert(paths: list[Path], ctx: Context) -> State:
    """Read Directory API pages into a :class:`State` (see the module docstring)."""
    reader = _Reader(ctx)
    pages = Pages(ctx, HELP, prefix=r"^/admin/directory/v1(?=/|$)")
    for page in pages.read(paths):
        reader.page(page)
    return reader.done(pages.captured)
