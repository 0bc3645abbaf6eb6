"""Entra ID users, groups, members, directory roles and app role assignments → a snapshot and a directory.

Input: pages of Microsoft Graph (``{"url", "body"}``, see
:mod:`keytrail.importers.pages`; ``/v1.0`` or ``/beta`` is removed). Graph's list
bodies are ``{"value": [...], "@odata.nextLink": ...}``: every page is a line.

===============================================  ===================================================
page                                             read as
===============================================  ===================================================
``/users``, ``/users/{id}``                      principals ``user:<userPrincipalName>`` (with
                                                 ``$expand=manager``: the manager)
``/users/{id}/manager``                          the user's manager
``/servicePrincipals``, ``/servicePrincipals/    principals ``svc:<displayName>``, and their
{id}``                                           ``appRoles`` (to name app role assignments)
``/groups``, ``/groups/{id}``                    groups ``group:entra/<displayName>`` (with
                                                 ``$expand=members``: the members)
``/groups/{id}/members``                         each member holds the group
``/groups/{id}/owners``                          the group's ``owner`` (its first user owner)
``/users/{id}/memberOf``                         the user holds each group and directory role
``/directoryRoles``, ``/directoryRoles/{id}``    roles ``role:entra/<displayName>``
``/directoryRoles/{id}/members``                 each member holds the role
``/roleManagement/directory/roleDefinitions``    roles ``role:entra/<displayName>`` (permissions:
                                                 ``rolePermissions[].allowedResourceActions``)
``/roleManagement/directory/roleAssignments``    the principal holds the role (``directoryScopeId``
                                                 other than ``/`` as the resource ``entra:<scope>``)
``…/appRoleAssignments``, ``…/appRoleAssignedTo`` the principal holds
                                                 ``role:entra-app/<app>/<app role value>``
===============================================  ===================================================

NAMES (as the ``entra`` audit-log importer writes them): users by UPN, service
principals ``svc:<displayName>``, groups ``group:entra/<displayName>``,
directory roles ``role:entra/<displayName>``, app roles
``role:entra-app/<app>/<value>`` (``default`` for the default access role,
``00000000-0000-0000-0000-000000000000``). A member object names itself
(``@odata.type``, UPN, displayName); a parent given by id in the URL, a
``principalId`` or a ``roleDefinitionId`` is named by an object page, else the
edge is incomplete (listed by place), never guessed.

DIRECTORY: users' ``name`` (``displayName``), ``email`` (``mail``), ``status``
(``accountEnabled: false`` → suspended), ``manager``; attributes ``title``
(``jobTitle``), ``department``, ``companyName``, ``officeLocation``,
``employeeId``, ``employeeType``, ``userType``, ``entra_id``, ``created``
(``createdDateTime``). ``signInActivity`` is usage, not read here. Groups:
``name``, ``description``, ``owner``, attributes ``mail``, ``securityEnabled``,
``groupTypes``, ``entra_id``. Directory roles are ``privileged``.

Counted as converted by kind: ``user``, ``service principal``, ``group``,
``role``, ``member``, ``role member``, ``role assignment``, ``app role
assignment``, ``group owner``, ``manager``. SKIPPED: ``not a principal`` (a
device or contact member); ``transitive`` (``transitiveMembers``,
``transitiveMemberOf``: derived, not granted); ``PIM eligibility`` (eligible
is not active access, as in the ``entra`` importer); ``not access state``;
``not a successful response``; ``superseded``. ERRORS: a record that is not a
page; a body or item of the wrong JSON type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, State, safe_name
from keytrail.importers.holdings import Holdings, an_object, scalar
from keytrail.importers.pages import Page, Pages, items
from keytrail.textsafe import excerpt

FORMAT = "entra-state"
KIND = "state"
HELP = "entra-state reads Microsoft Graph pages (docs/import/entra-state.md)"
DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000"


def _type(data: dict[str, Any]) -> str:
    return str(data.get("@odata.type") or "").removeprefix("#microsoft.graph.")


class _Reader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out = Holdings()
        self.ids: dict[str, str] = {}        # object id (and UPN) -> keytrail id
        self.role_defs: dict[str, str] = {}  # role definition / template / directoryRole id -> role id
        self.app_roles: dict[tuple[str, str], str] = {}  # (resource SP id, app role id) -> value
        self.apps: dict[str, str] = {}       # service principal id -> display name
        self.pending: list[tuple[Page, str, str, str, str, str]] = []  # page, kind, subject, target, resource, via

    # -- objects ----------------------------------------------------------------------
    def obj(self, page: Page, data: Any, at: str, hint: str = "") -> str | None:
        """A directory object (user, group, service principal, directory role) → its keytrail id."""
        if not an_object(self.ctx, page.record, data, f"{at}a directory object"):
            return None
        kind = _type(data) or hint
        oid = scalar(data.get("id"))
        if kind == "user" or (not kind and "userPrincipalName" in data):
            return self.user(page, data, at, oid)
        name = scalar(data.get("displayName"))
        if kind in ("group", "servicePrincipal", "directoryRole", "unifiedRoleDefinition") and name is None:
            self.ctx.incomplete(page.record, kind, f"{at}a {excerpt(kind)} without displayName")
            return None
        if kind == "group":
            gid = f"group:entra/{safe_name(str(name))}"
            self.out.group(gid, name=str(name), description=scalar(data.get("description")),
                           attributes={"mail": scalar(data.get("mail")),
                                       "securityEnabled": data.get("securityEnabled")
                                       if isinstance(data.get("securityEnabled"), bool) else None,
                                       "groupTypes": ",".join(str(t) for t in data.get("groupTypes") or [])
                                       if isinstance(data.get("groupTypes"), list) else None, "entra_id": oid})
            self.remember(oid, gid)
            self.ctx.count("group")
            return gid
        if kind == "servicePrincipal":
            sid = f"svc:{safe_name(str(name))}"
            self.out.principal(sid, name=str(name), status="active" if data.get("accountEnabled", True) is not False
                               else "suspended", attributes={"entra_id": oid, "appId": scalar(data.get("appId"))})
            self.remember(oid, sid)
            if oid is not None:
                self.apps[str(oid)] = str(name)
                for role in data.get("appRoles") or [] if isinstance(data.get("appRoles"), list) else []:
                    if isinstance(role, dict) and scalar(role.get("id")) and scalar(role.get("value")):
                        self.app_roles[(str(oid), str(role["id"]))] = str(role["value"])
            self.ctx.count("service principal")
            return sid
        if kind in ("directoryRole", "unifiedRoleDefinition"):
            rid = f"role:entra/{safe_name(str(name))}"
            perms = sorted({str(a) for p in data.get("rolePermissions") or [] if isinstance(p, dict)
                            for a in p.get("allowedResourceActions") or [] if isinstance(a, str)}) \
                if isinstance(data.get("rolePermissions"), list) else []
            self.out.role(rid, name=str(name), description=scalar(data.get("description")), privileged=True,
                          permissions=perms or None,
                          attributes={"roleTemplateId": scalar(data.get("roleTemplateId") or data.get("templateId")),
                                      "isBuiltIn": data.get("isBuiltIn") if isinstance(data.get("isBuiltIn"), bool)
                                      else None})
            for key in (oid, data.get("roleTemplateId"), data.get("templateId")):
                if scalar(key) is not None:
                    self.role_defs[str(key)] = rid
            self.ctx.count("role")
            return rid
        if kind in ("device", "orgContact"):
            self.ctx.skip(page.record, "not a principal", kind)
            return None
        self.ctx.incomplete(page.record, kind or "object", f"{at}a directory object of unknown type "
                                                            f"{excerpt(kind) if kind else '(no @odata.type)'}")
        return None

    def user(self, page: Page, data: dict[str, Any], at: str, oid: Any) -> str | None:
        upn = scalar(data.get("userPrincipalName"))
        if upn is None:
            self.ctx.incomplete(page.record, "user", f"{at}a user without userPrincipalName")
            return None
        uid = f"user:{safe_name(str(upn))}"
        manager = data.get("manager")
        boss = self.obj(page, manager, f"{at}manager: ", "user") if isinstance(manager, dict) else None
        self.out.principal(uid, name=scalar(data.get("displayName")), email=scalar(data.get("mail")),
                           status=None if "accountEnabled" not in data else
                           "suspended" if data.get("accountEnabled") is False else "active",
                           manager=boss if boss and boss.startswith("user:") else None,
                           attributes={"title": scalar(data.get("jobTitle")),
                                       **{k: scalar(data.get(k)) for k in ("department", "companyName",
                                                                           "officeLocation", "employeeId",
                                                                           "employeeType", "userType")},
                                       "entra_id": oid, "created": scalar(data.get("createdDateTime"))})
        self.remember(oid, uid)
        self.remember(upn, uid)
        self.ctx.count("user")
        return uid

    def remember(self, key: Any, ident: str) -> None:
        if scalar(key) is not None:
            self.ids[str(key).lower()] = ident

    # -- pages --------------------------------------------------------------------------
    def page(self, page: Page) -> None:
        p = page.parts
        cast = ""
        if p and p[-1].startswith("microsoft.graph."):  # a cast: /groups/{id}/members/microsoft.graph.user
            p, cast = p[:-1], p[-1].removeprefix("microsoft.graph.")
        if any(part.startswith(("transitiveMember", "transitiveMemberOf")) for part in p):
            self.ctx.skip(page.record, "transitive", p[-1])
        elif any(part.startswith("roleEligibility") for part in p):
            self.ctx.skip(page.record, "PIM eligibility", p[-1])
        elif p in (("users",), ("groups",), ("servicePrincipals",), ("directoryRoles",),
                   ("roleManagement", "directory", "roleDefinitions")):
            hint = {"users": "user", "groups": "group", "servicePrincipals": "servicePrincipal",
                    "directoryRoles": "directoryRole"}.get(p[0], "unifiedRoleDefinition")
            for i, item in items(page, self.ctx, "value"):
                self.top(page, item, f"value[{i}]: ", hint)
        elif len(p) == 2 and p[0] in ("users", "groups", "servicePrincipals", "directoryRoles"):
            hint = {"users": "user", "groups": "group", "servicePrincipals": "servicePrincipal"}.get(p[0],
                                                                                                 "directoryRole")
            self.top(page, page.body, "", hint)
        elif len(p) == 3 and p[0] in ("groups", "directoryRoles") and p[2] == "members":
            self.members(page, cast)
        elif len(p) == 3 and p[0] == "groups" and p[2] == "owners":
            self.owners(page, cast)
        elif len(p) == 3 and p[0] == "users" and p[2] == "memberOf":
            self.member_of(page, cast)
        elif len(p) == 3 and p[0] == "users" and p[2] == "manager":
            boss = self.obj(page, page.body, "", "user")
            if boss is not None:
                self.pending.append((page, "manager", p[1], boss, "", ""))
        elif p == ("roleManagement", "directory", "roleAssignments"):
            self.role_assignments(page)
        elif len(p) == 3 and p[2] in ("appRoleAssignments", "appRoleAssignedTo"):
            self.app_role_assignments(page)
        else:
            self.ctx.skip(page.record, "not access state", page.endpoint(
                "users", "groups", "servicePrincipals", "directoryRoles", "members", "owners", "memberOf",
                "roleManagement", "directory", "roleDefinitions", "roleAssignments", "manager"))

    def top(self, page: Page, data: Any, at: str, hint: str) -> None:
        ident = self.obj(page, data, at, hint)
        if ident is None or not isinstance(data, dict):
            return
        for n, member in enumerate(data.get("members") or [] if isinstance(data.get("members"), list) else []):
            sub = self.obj(page, member, f"{at}members[{n}]: ")
            if sub is not None:
                self.out.hold(sub, ident, via="$expand=members")
                self.ctx.count("member")

    def members(self, page: Page, cast: str) -> None:
        kind = "member" if page.parts[0] == "groups" else "role member"
        for i, item in items(page, self.ctx, "value"):
            sub = self.obj(page, item, f"value[{i}]: ", cast)
            if sub is not None:
                self.pending.append((page, kind, sub, page.parts[1], "", f"{page.parts[0]} members"))

    def owners(self, page: Page, cast: str) -> None:
        for i, item in items(page, self.ctx, "value"):
            owner = self.obj(page, item, f"value[{i}]: ", cast)
            if owner is not None and owner.startswith("user:"):
                self.pending.append((page, "group owner", owner, page.parts[1], "", ""))

    def member_of(self, page: Page, cast: str) -> None:
        for i, item in items(page, self.ctx, "value"):
            target = self.obj(page, item, f"value[{i}]: ", cast)
            if target is not None and target.startswith(("group:", "role:")):
                self.pending.append((page, "member", page.parts[1], target, "", "memberOf"))

    def role_assignments(self, page: Page) -> None:
        for i, item in items(page, self.ctx, "value"):
            at = f"value[{i}]: "
            if not an_object(self.ctx, page.record, item, f"{at}a role assignment"):
                continue
            if isinstance(item.get("principal"), dict):
                self.obj(page, item["principal"], f"{at}principal: ")
            if isinstance(item.get("roleDefinition"), dict):
                self.obj(page, item["roleDefinition"], f"{at}roleDefinition: ", "unifiedRoleDefinition")
            scope = str(item.get("directoryScopeId") or "/")
            self.pending.append((page, "role assignment", str(item.get("principalId")),
                                 "#" + str(item.get("roleDefinitionId")), "" if scope == "/" else f"entra:{scope}",
                                 "roleAssignments"))

    def app_role_assignments(self, page: Page) -> None:
        for i, item in items(page, self.ctx, "value"):
            at = f"value[{i}]: "
            if not an_object(self.ctx, page.record, item, f"{at}an app role assignment"):
                continue
            app = scalar(item.get("resourceDisplayName"))
            role_id = str(item.get("appRoleId") or DEFAULT_APP_ROLE)
            value = "default" if role_id == DEFAULT_APP_ROLE else self.app_roles.get(
                (str(item.get("resourceId")), role_id))
            if app is None or value is None:
                self.ctx.incomplete(page.record, "app role assignment", f"{at}app role {excerpt(role_id)!r} of "
                                    f"{excerpt(str(item.get('resourceId')))!r} is on no /servicePrincipals page (its appRoles)"
                                    if app else f"{at}no resourceDisplayName")
                continue
            kind = str(item.get("principalType") or "")
            name = scalar(item.get("principalDisplayName"))
            subject = (f"group:entra/{safe_name(str(name))}" if kind == "Group" and name else
                       f"svc:{safe_name(str(name))}" if kind == "ServicePrincipal" and name else
                       str(item.get("principalId")))
            self.pending.append((page, "app role assignment", subject,
                                 f"role:entra-app/{safe_name(app)}/{safe_name(value)}", "", "appRoleAssignments"))

    # -- resolution ---------------------------------------------------------------------
    def named(self, ref: str) -> str | None:
        if ":" in ref and ref.split(":", 1)[0] in ("user", "svc", "group", "role"):
            return ref
        if ref.startswith("#"):
            return self.role_defs.get(ref[1:])
        return self.ids.get(ref.lower()) or self.role_defs.get(ref)

    def done(self, captured: str | None) -> State:
        for page, kind, subject, target, resource, via in self.pending:
            s, t = self.named(subject), self.named(target)
            if s is None or t is None:
                said = " and ".join(f"{excerpt(r.lstrip('#'))!r} is on no object page" for r, v in ((subject, s), (target, t))
                                    if v is None)
                self.ctx.incomplete(page.record, kind, f"{said}: no name to give it")
                continue
            if kind == "manager":
                self.out.principal(s, manager=t)
            elif kind == "group owner":
                self.out.group(t, owner=s)
            else:
                self.out.hold(s, t, resource, via=via)
            self.ctx.count(kind)
        return self.out.done(captured)


def convert(paths: list[Path], ctx: Context) -> State:
    """Read Microsoft Graph pages into a :class:`State` (see the module docstring)."""
    reader = _Reader(ctx)
    pages = Pages(ctx, HELP, prefix=r"^/(v1\.0|beta)(?=/|$)")
    for page in pages.read(paths):
        reader.page(page)
    return reader.done(pages.captured)


