"""Okta users, groups, group members, admin roles and app assignments → a snapshot and a directory.

Input: pages of the Okta Management API (``{"url", "body"}``, see
:mod:`keytrail.importers.pages`), the URLs under ``/api/v1``:

=================================  ==========================================================
page                               read as
=================================  ==========================================================
``/users``, ``/users/{id}``        principals ``user:<profile.login>``
``/groups``, ``/groups/{id}``      groups ``group:okta/<profile.name>``
``/groups/{gid}/users``            each user holds the group (``via: group members``)
``/users/{uid}/groups``            the user holds each group (``via: user groups``)
``/groups/{gid}/owners``           the group's ``owner`` (the first owner of type USER)
``/users/{uid}/roles``             the user holds ``role:okta/<role>`` (``assignmentType: USER``;
                                   a role held through a group is the group's, below)
``/groups/{gid}/roles``            the group holds ``role:okta/<role>``
``/apps``, ``/apps/{aid}``         roles ``role:okta-app/<label>``
``/apps/{aid}/users[/{uid}]``      the user holds the app (``scope: USER``; ``GROUP`` is
                                   through a group, below)
``/apps/{aid}/groups``             the group holds the app
=================================  ==========================================================

Pages name users, groups and apps by Okta id; names come from the object pages,
so give ``/users``, ``/groups`` and ``/apps`` with the member and assignment pages.
An id that no page names is incomplete (listed by place), never guessed.

NAMES (as the ``okta`` System Log importer writes them, so that the log and the
state of one org line up): users by login (the System Log's ``alternateId``);
groups ``group:okta/<name>`` and apps ``role:okta-app/<label>`` (the targets'
``displayName``), through ``safe_name``; admin roles ``role:okta/<name>`` where
the name is what the System Log's ``privilegeGranted`` says for the role's
``type`` (:data:`ROLE_NAMES`: the first four read from real System Log records,
the rest in their pattern; a custom role by its ``label``).

DIRECTORY: a user's ``name`` (``firstName lastName``, else ``displayName``),
``email``, ``status`` (``SUSPENDED`` → suspended, ``DEPROVISIONED`` → terminated,
every other Okta status active, kept as ``okta_status``), ``manager`` (the user
``profile.managerId`` names, by login); attributes ``title``, ``department``,
``division``, ``organization``, ``costCenter``, ``employeeNumber``, ``userType``,
``okta_id``, ``created``, ``activated``, ``statusChanged``. ``lastLogin`` is
usage, not state: the ``okta`` usage import reads it. Groups: ``name``,
``description``, ``okta_type`` (``OKTA_GROUP``, ``APP_GROUP``, ``BUILT_IN``),
``okta_id``, ``owner``. Admin roles are ``privileged``.

Counted as converted by kind: ``user``, ``group``, ``app``, ``membership``,
``admin role``, ``app assignment``, ``group owner``. SKIPPED: ``through a group``
(a user's role or app held through a group); ``not access state`` (any other
endpoint: factors, policies, logs ...); ``not a successful response``.
INCOMPLETE: an id no page names; a role or app assignment without its type or
id. ERRORS: a record that is not a page; a body of the wrong shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, State, safe_name
from keytrail.importers.holdings import Holdings, an_object, as_dict, scalar
from keytrail.importers.pages import Page, Pages, items
from keytrail.textsafe import excerpt

FORMAT = "okta-state"
KIND = "state"
HELP = "okta-state reads Okta API pages (docs/import/okta-state.md)"

#: The System Log's name (``privilegeGranted``) of each standard admin role type.
ROLE_NAMES = {
    "SUPER_ADMIN": "Super administrator",
    "ORG_ADMIN": "Organization administrator",
    "APP_ADMIN": "Application administrator (all)",
    "READ_ONLY_ADMIN": "Read only admin",
    "USER_ADMIN": "Group administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group membership administrator",
    "HELP_DESK_ADMIN": "Help desk administrator",
    "MOBILE_ADMIN": "Mobile administrator",
    "REPORT_ADMIN": "Report administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API access management administrator",
}
_STATUS = {"SUSPENDED": "suspended", "DEPROVISIONED": "terminated"}

Ref = tuple[str, str]  # ("user" | "group" | "app", okta id)


class _Reader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out = Holdings()
        self.users: dict[str, str] = {}    # okta id -> keytrail id
        self.groups: dict[str, str] = {}
        self.apps: dict[str, str] = {}
        self.managers: dict[str, str] = {}  # keytrail user id -> manager's okta id
        #: edges whose ends are Okta ids, resolved once every page is read
        self.edges: list[tuple[Page, str, Ref | str, Ref | str, str]] = []
        self.owners: list[tuple[Page, str, str]] = []

    def user(self, page: Page, data: Any, at: str) -> str | None:
        if not an_object(self.ctx, page.record, data, f"{at}a user"):
            return None
        profile = as_dict(data.get("profile"))
        login, oid = scalar(profile.get("login")), scalar(data.get("id"))
        if login is None or oid is None:
            self.ctx.incomplete(page.record, "user", f"{at}a user without id or profile.login")
            return None
        uid = f"user:{safe_name(str(login))}"
        self.users[str(oid)] = uid
        status = str(data.get("status") or "")
        full = " ".join(str(p) for p in (scalar(profile.get("firstName")), scalar(profile.get("lastName"))) if p)
        self.out.principal(uid, name=full or scalar(profile.get("displayName")), email=scalar(profile.get("email")),
                           status=_STATUS.get(status, "active") if status else None,
                           attributes={"okta_status": scalar(status), "okta_id": oid,
                                       **{k: scalar(profile.get(k)) for k in (
                                           "title", "department", "division", "organization", "costCenter",
                                           "employeeNumber", "userType")},
                                       **{k: scalar(data.get(k)) for k in ("created", "activated",
                                                                           "statusChanged")}})
        if scalar(profile.get("managerId")):
            self.managers.setdefault(uid, str(profile["managerId"]))
        self.ctx.count("user")
        return uid

    def group(self, page: Page, data: Any, at: str) -> str | None:
        if not an_object(self.ctx, page.record, data, f"{at}a group"):
            return None
        profile = as_dict(data.get("profile"))
        name, oid = scalar(profile.get("name")), scalar(data.get("id"))
        if name is None or oid is None:
            self.ctx.incomplete(page.record, "group", f"{at}a group without id or profile.name")
            return None
        gid = f"group:okta/{safe_name(str(name))}"
        self.groups[str(oid)] = gid
        self.out.group(gid, name=str(name), description=scalar(profile.get("description")),
                       attributes={"okta_type": scalar(data.get("type")), "okta_id": oid,
                                   "created": scalar(data.get("created"))})
        self.ctx.count("group")
        return gid

    def app(self, page: Page, data: Any, at: str) -> str | None:
        if not an_object(self.ctx, page.record, data, f"{at}an app"):
            return None
        label, oid = scalar(data.get("label")), scalar(data.get("id"))
        if label is None or oid is None:
            self.ctx.incomplete(page.record, "app", f"{at}an app without id or label")
            return None
        rid = f"role:okta-app/{safe_name(str(label))}"
        self.apps[str(oid)] = rid
        self.out.role(rid, name=str(label), attributes={"okta_id": oid, "okta_app": scalar(data.get("name")),
                                                        "okta_status": scalar(data.get("status"))})
        self.ctx.count("app")
        return rid

    def role(self, page: Page, data: Any, at: str) -> str | None:
        kind = scalar(data.get("type"))
        if kind is None:
            self.ctx.incomplete(page.record, "admin role", f"{at}a role assignment without type")
            return None
        label = scalar(data.get("label"))
        name = label if kind == "CUSTOM" and label else ROLE_NAMES.get(str(kind), label or str(kind))
        rid = f"role:okta/{safe_name(str(name))}"
        self.out.role(rid, name=str(name), privileged=True, attributes={"okta_role_type": kind,
                                                                         "okta_label": label})
        return rid

    def page(self, page: Page) -> None:
        parts = page.parts
        handler = _HANDLERS.get((len(parts),) + tuple(p for n, p in enumerate(parts) if n % 2 == 0))
        if handler is None:
            self.ctx.skip(page.record, "not access state", page.endpoint("users", "groups", "apps", "roles",
                                                                         "owners"))
            return
        handler(self, page)

    # -- handlers, by path shape ------------------------------------------------------
    def objects(self, page: Page, read: Callable[[Page, Any, str], str | None]) -> None:
        if len(page.parts) == 2:
            read(page, page.body, "")
            return
        for i, item in items(page, self.ctx):
            read(page, item, f"[{i}]: ")

    def group_users(self, page: Page) -> None:
        for i, item in items(page, self.ctx):
            uid = self.user(page, item, f"[{i}]: ")
            if uid is not None:
                self.edges.append((page, "membership", uid, ("group", page.parts[1]), "group members"))

    def user_groups(self, page: Page) -> None:
        for i, item in items(page, self.ctx):
            gid = self.group(page, item, f"[{i}]: ")
            if gid is not None:
                self.edges.append((page, "membership", ("user", page.parts[1]), gid, "user groups"))

    def roles(self, page: Page) -> None:
        holder = ("user" if page.parts[0] == "users" else "group", page.parts[1])
        for i, item in items(page, self.ctx):
            if not an_object(self.ctx, page.record, item, f"[{i}]: a role assignment"):
                continue
            if holder[0] == "user" and str(item.get("assignmentType") or "USER") != "USER":
                self.ctx.skip(page.record, "through a group", "admin role")
                continue
            rid = self.role(page, item, f"[{i}]: ")
            if rid is not None:
                self.edges.append((page, "admin role", holder, rid, f"{page.parts[0]} roles"))

    def app_users(self, page: Page) -> None:
        single = len(page.parts) == 4  # GET /apps/{aid}/users/{uid}: one assignment
        for i, item in [(0, page.body)] if single else items(page, self.ctx):
            if not isinstance(item, dict) or scalar(item.get("id")) is None:
                self.ctx.problem(page.record, f"[{i}]: an app user must be an object with id")
                continue
            if str(item.get("scope") or "USER") != "USER":
                self.ctx.skip(page.record, "through a group", "app assignment")
                continue
            self.edges.append((page, "app assignment", ("user", str(item["id"])), ("app", page.parts[1]),
                               "app users"))

    def app_groups(self, page: Page) -> None:
        for i, item in items(page, self.ctx):
            if not isinstance(item, dict) or scalar(item.get("id")) is None:
                self.ctx.problem(page.record, f"[{i}]: an app group must be an object with id")
                continue
            self.edges.append((page, "app assignment", ("group", str(item["id"])), ("app", page.parts[1]),
                               "app groups"))

    def group_owners(self, page: Page) -> None:
        for i, item in items(page, self.ctx):
            if not isinstance(item, dict) or scalar(item.get("id")) is None:
                self.ctx.problem(page.record, f"[{i}]: a group owner must be an object with id")
                continue
            if str(item.get("type") or "USER") == "USER":
                self.owners.append((page, page.parts[1], str(item["id"])))

    # -- resolution ---------------------------------------------------------------------
    def name(self, end: Ref | str) -> str | None:
        if isinstance(end, str):
            return end
        return {"user": self.users, "group": self.groups, "app": self.apps}[end[0]].get(end[1])

    def unnamed(self, page: Page, kind: str, ends: tuple[Ref | str, ...]) -> None:
        """One incomplete record for an edge whose ends no page names (each end said)."""
        missing = [e for e in ends if not isinstance(e, str) and self.name(e) is None]
        said = " and ".join(f"{e[0]} {excerpt(e[1])!r} is on no /{e[0]}s page" for e in missing if not isinstance(e, str))
        self.ctx.incomplete(page.record, kind, f"{said}: no name to give it (give that page too)")

    def done(self, captured: str | None) -> State:
        for page, kind, subject, target, via in self.edges:
            s, t = self.name(subject), self.name(target)
            if s is None or t is None:
                self.unnamed(page, kind, (subject, target))
                continue
            self.out.hold(s, t, via=via)
            self.ctx.count(kind)
        for page, group, owner in self.owners:
            g, o = self.name(("group", group)), self.name(("user", owner))
            if g is None or o is None:
                self.unnamed(page, "group owner", (("group", group), ("user", owner)))
                continue
            self.out.group(g, owner=o)
            self.ctx.count("group owner")
        for uid, manager in self.managers.items():
            if manager in self.users:
                self.out.principal(uid, manager=self.users[manager])
        return self.out.done(captured)


_HANDLERS: dict[tuple[str | int, ...], Callable[[_Reader, Page], None]] = {
    (1, "users"): lambda r, p: r.objects(p, r.user),
    (2, "users"): lambda r, p: r.objects(p, r.user),
    (1, "groups"): lambda r, p: r.objects(p, r.group),
    (2, "groups"): lambda r, p: r.objects(p, r.group),
    (1, "apps"): lambda r, p: r.objects(p, r.app),
    (2, "apps"): lambda r, p: r.objects(p, r.app),
    (3, "groups", "users"): _Reader.group_users,
    (3, "users", "groups"): _Reader.user_groups,
    (3, "users", "roles"): _Reader.roles,
    (3, "groups", "roles"): _Reader.roles,
    (3, "groups", "owners"): _Reader.group_owners,
    (3, "apps", "users"): _Reader.app_users,
    (4, "apps", "users"): _Reader.app_users,
    (3, "apps", "groups"): _Reader.app_groups,
}


def convert(paths: list[Path], ctx: Context) -> State:
    """Read Okta API pages into a :class:`State` (see the module docstring)."""
    reader = _Reader(ctx)
    pages = Pages(ctx, HELP, prefix=r"^/api/v1(?=/|$)")
    for page in pages.read(paths):
        reader.page(page)
    return reader.done(pages.captured)
