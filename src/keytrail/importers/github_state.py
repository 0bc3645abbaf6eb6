"""GitHub organisation members, teams, nested teams and repository access → a snapshot and a directory.

Input: pages of the GitHub REST API (``{"url", "body"}``, see
:mod:`keytrail.importers.pages`; GitHub Enterprise Server's ``/api/v3`` prefix
is removed). Teams may be addressed by slug (``/orgs/{org}/teams/{slug}/…``)
or by id (``/teams/{id}/…``, ``/organizations/{org_id}/team/{id}/…``); an id
is named by a team object read from any page.

=============================================  =================================================
page                                           read as
=============================================  =================================================
``/orgs/{org}/members`` (``?role=admin``)      each user holds ``group:github/<org>`` (and, with
``/orgs/{org}/public_members``                 ``role=admin``, ``role:github/org-owner`` on
                                               ``github:<org>``)
``/orgs/{org}/memberships/{user}``,            the membership (``state: active``) and, for
``/user/memberships/orgs``                     ``role: admin``, the owner role
``/orgs/{org}/teams``, ``…/teams/{slug}``,     groups ``group:github/<org>/<slug>``; a team with
``/teams/{id}``, ``/user/teams``               a ``parent`` holds the parent team (nested teams)
``…/teams/{team}/teams``                       each child team holds the team
``…/teams/{team}/members``                     each user holds the team
``…/teams/{team}/repos``                       the team holds ``role:github/repo-access`` on
                                               ``github:<owner>/<repo>`` (``permission``)
``/repos/{o}/{r}/teams``                       each team holds the repository's access
``/repos/{o}/{r}/collaborators``               each user holds the repository's access, when
``?affiliation=direct`` or ``outside``         the listing is of direct collaborators
``/orgs/{org}/outside_collaborators``          principals (``outside_collaborator: true``)
``/users/{u}``, ``/user``                      principals (``name``, ``email``)
=============================================  =================================================

NAMES (as the ``github`` audit-log importer writes them): users by login,
``group:github/<org>``, ``group:github/<org>/<team-slug>`` (a team object
without ``slug`` — old API versions — by the slug of its ``html_url``, else its
name lower-cased with spaces as ``-``, GitHub's rule), one entitlement
``role:github/repo-access`` per repository on ``github:<owner>/<repo>``
whatever the level, the level kept as the snapshot line's ``permission``
(``role_name``, else the highest of ``permissions``, else ``permission``;
``pull``/``push`` as ``read``/``write``), and ``role:github/org-owner`` on
``github:<org>``.

Collaborators listed without ``affiliation=direct`` (the API's default is
``all``) include everyone with access through a team, the organisation's base
permission or ownership, and GitHub's objects do not say which: read as direct
grants they would be drift nobody made. They are skipped as ``affiliation not
direct``; list ``?affiliation=direct`` for direct grants.

Counted as converted by kind: ``org member``, ``org owner``, ``team``,
``team member``, ``nested team``, ``team repository``, ``collaborator``,
``user``. SKIPPED: ``invitation`` (``state: pending`` memberships; invitation
listings); ``affiliation not direct``; ``effective permission``
(``…/collaborators/{u}/permission``: the sum of every path, not a grant); ``not
access state`` (any other endpoint); ``not a successful response``;
``superseded``. INCOMPLETE: a team id no team object names; an object without
its login, slug or full name. ERRORS: a record that is not a page; a body or
item of the wrong JSON type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, State, safe_name
from keytrail.importers.holdings import Holdings, an_object, as_dict, scalar
from keytrail.importers.pages import Page, Pages, items
from keytrail.textsafe import excerpt

FORMAT = "github-state"
KIND = "state"
HELP = "github-state reads GitHub REST API pages (docs/import/github-state.md)"

REPO_ACCESS = "role:github/repo-access"
OWNER = "role:github/org-owner"
_LEVELS = {"pull": "read", "push": "write"}
_ORDER = ("admin", "maintain", "push", "triage", "pull")
_TEAM_URL = re.compile(r"/orgs/([^/]+)/teams/([^/?#]+)")


def level(item: dict[str, Any]) -> str | None:
    """A repository access level: ``role_name``, else the highest true ``permissions``, else ``permission``."""
    name = scalar(item.get("role_name"))
    if name is None:
        perms = as_dict(item.get("permissions"))
        name = next((p for p in _ORDER if perms.get(p) is True), None) or scalar(item.get("permission"))
    return _LEVELS.get(str(name).lower(), str(name).lower()) if name is not None else None


class _Reader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out = Holdings()
        self.teams: dict[str, str] = {}  # team id -> group id
        #: edges naming a team by id, resolved once every page is read
        self.pending: list[tuple[Page, str, str, str, str, dict[str, Any]]] = []

    # -- objects ----------------------------------------------------------------------
    def login(self, page: Page, data: Any, at: str, kind: str) -> str | None:
        if not an_object(self.ctx, page.record, data, f"{at}a user"):
            return None
        login = scalar(data.get("login"))
        if login is None:
            self.ctx.incomplete(page.record, kind, f"{at}a user without login")
            return None
        uid = f"user:{safe_name(str(login))}"
        self.out.principal(uid, name=scalar(data.get("name")), email=scalar(data.get("email")),
                           attributes={"github_id": scalar(data.get("id")), "github_type": scalar(data.get("type")),
                                       "site_admin": data.get("site_admin") if data.get("site_admin") else None})
        return uid

    def team(self, page: Page, data: Any, at: str, org: str | None) -> str | None:
        """A team object → its group id (defined in the directory, its parent held)."""
        if not an_object(self.ctx, page.record, data, f"{at}a team"):
            return None
        known = self.teams.get(str(data.get("id"))) if scalar(data.get("id")) is not None else None
        html = _TEAM_URL.search(str(data.get("html_url") or ""))
        org = scalar(as_dict(data.get("organization")).get("login")) or org or (html.group(1) if html else None)
        name = scalar(data.get("name"))
        slug = scalar(data.get("slug")) or (html.group(2) if html else None)
        if known is not None and (slug is None or org is None):
            gid = known  # an old team object, or a parent stub (id and name): the team a page before named
        else:
            slug = slug or (re.sub(r"\s+", "-", str(name).strip().lower()) if name else None)
            if org is None or slug is None:
                self.ctx.incomplete(page.record, "team", f"{at}a team without slug or organisation")
                return None
            gid = f"group:github/{safe_name(str(org))}/{safe_name(str(slug))}"
        if scalar(data.get("id")) is not None:
            self.teams[str(data["id"])] = gid
        self.out.group(gid, name=name, description=scalar(data.get("description")),
                       attributes={"github_id": scalar(data.get("id")), "privacy": scalar(data.get("privacy"))})
        parent = data.get("parent")
        if isinstance(parent, dict):
            above = self.team(page, parent, f"{at}parent: ", gid.split("/")[1])
            if above is not None:  # part of the team object, counted with it
                self.out.hold(gid, above, via="team parent")
        return gid

    def repo(self, page: Page, data: dict[str, Any], at: str) -> str | None:
        full = scalar(data.get("full_name"))
        if full is None:
            self.ctx.incomplete(page.record, "team repository", f"{at}a repository without full_name")
            return None
        return f"github:{safe_name(str(full))}"

    # -- pages --------------------------------------------------------------------------
    def page(self, page: Page) -> None:
        p = page.parts
        handler = _route(p, page.query)
        if handler is None:
            self.ctx.skip(page.record, "not access state", page.endpoint(
                "orgs", "teams", "members", "repos", "users", "user", "memberships", "collaborators",
                "invitations", "organizations", "team", "public_members", "outside_collaborators"))
            return
        handler(self, page)

    def org_members(self, page: Page) -> None:
        org = page.parts[1]
        owner = page.query.get("role") == "admin"
        for i, item in items(page, self.ctx):
            uid = self.login(page, item, f"[{i}]: ", "org member")
            if uid is not None:
                self.member(uid, org, owner, "org members")

    def member(self, uid: str, org: str, owner: bool, via: str) -> None:
        gid = f"group:github/{safe_name(org)}"
        self.out.group(gid, name=org)
        self.out.hold(uid, gid, via=via)
        self.ctx.count("org member")
        if owner:
            self.out.role(OWNER, name="Organization owner", privileged=True)
            self.out.hold(uid, OWNER, f"github:{safe_name(org)}", via=via)
            self.ctx.count("org owner")

    def memberships(self, page: Page) -> None:
        entries = [(0, page.body)] if isinstance(page.body, dict) else items(page, self.ctx)
        for i, item in entries:
            at = f"[{i}]: " if isinstance(page.body, list) else ""
            if not an_object(self.ctx, page.record, item, f"{at}a membership"):
                continue
            org = scalar(as_dict(item.get("organization")).get("login")) or (
                page.parts[1] if page.parts[0] == "orgs" else None)
            if str(item.get("state") or "active") != "active":
                self.ctx.skip(page.record, "invitation", "org membership")
                continue
            uid = self.login(page, item.get("user"), at, "org member")
            if uid is None or org is None:
                if uid is not None:
                    self.ctx.incomplete(page.record, "org member", f"{at}a membership without its organisation")
                continue
            self.member(uid, str(org), item.get("role") == "admin", "org membership")

    def teams_list(self, page: Page) -> None:
        org = page.parts[1] if page.parts[0] == "orgs" else None
        entries = [(0, page.body)] if isinstance(page.body, dict) else items(page, self.ctx)
        for i, item in entries:
            if self.team(page, item, f"[{i}]: " if isinstance(page.body, list) else "", org) is not None:
                self.ctx.count("team")

    def team_ref(self, page: Page) -> tuple[str, str] | None:
        """The team a ``…/teams/{team}/…`` page is about: ("slug", group id) or ("id", team id)."""
        p = page.parts
        if p[0] == "orgs":
            return "slug", f"group:github/{safe_name(p[1])}/{safe_name(p[3])}"
        return "id", p[3] if p[0] == "organizations" else p[1]

    def under_team(self, page: Page, kind: str, each: Callable[[int, Any], tuple[str, str, str, dict] | None]) -> None:
        ref = self.team_ref(page)
        assert ref is not None
        for i, item in items(page, self.ctx):
            edge = each(i, item)
            if edge is None:
                continue
            subject, target, resource, extra = edge
            self.pending.append((page, kind, ref[1] if ref[0] == "slug" else "#" + ref[1], subject, target,
                                 {"resource": resource, **extra}))

    def team_members(self, page: Page) -> None:
        def each(i: int, item: Any) -> tuple[str, str, str, dict] | None:
            uid = self.login(page, item, f"[{i}]: ", "team member")
            return (uid, "", "", {}) if uid else None
        self.under_team(page, "team member", each)

    def team_children(self, page: Page) -> None:
        org = page.parts[1] if page.parts[0] == "orgs" else None
        ref = self.team_ref(page)
        if org is None and ref is not None and ref[1] in self.teams:  # the parent's organisation
            org = self.teams[ref[1]].split("/")[1]

        def each(i: int, item: Any) -> tuple[str, str, str, dict] | None:
            child = self.team(page, item, f"[{i}]: ", org)
            return (child, "", "", {}) if child else None
        self.under_team(page, "nested team", each)

    def team_repos(self, page: Page) -> None:
        def each(i: int, item: Any) -> tuple[str, str, str, dict] | None:
            if not an_object(self.ctx, page.record, item, f"[{i}]: a repository"):
                return None
            resource = self.repo(page, item, f"[{i}]: ")
            return ("", REPO_ACCESS, resource, {"permission": level(item)}) if resource else None
        self.under_team(page, "team repository", each)

    def repo_teams(self, page: Page) -> None:
        owner, name = page.parts[1], page.parts[2]
        for i, item in items(page, self.ctx):
            gid = self.team(page, item, f"[{i}]: ", owner)
            if gid is not None:
                self.out.role(REPO_ACCESS, name="Repository access")
                self.out.hold(gid, REPO_ACCESS, f"github:{safe_name(owner)}/{safe_name(name)}", via="repo teams",
                              permission=level(item))
                self.ctx.count("team repository")

    def collaborators(self, page: Page) -> None:
        direct = page.query.get("affiliation") in ("direct", "outside")
        resource = f"github:{safe_name(page.parts[1])}/{safe_name(page.parts[2])}"
        for i, item in items(page, self.ctx):
            if not direct:
                self.ctx.skip(page.record, "affiliation not direct", "collaborator")
                continue
            uid = self.login(page, item, f"[{i}]: ", "collaborator")
            if uid is not None and isinstance(item, dict):
                self.out.role(REPO_ACCESS, name="Repository access")
                self.out.hold(uid, REPO_ACCESS, resource, via="repo collaborators", permission=level(item))
                self.ctx.count("collaborator")

    def outside(self, page: Page) -> None:
        for i, item in items(page, self.ctx):
            uid = self.login(page, item, f"[{i}]: ", "user")
            if uid is not None:
                self.out.principal(uid, attributes={"outside_collaborator": True})
                self.ctx.count("user")

    def users(self, page: Page) -> None:
        if self.login(page, page.body, "", "user") is not None:
            self.ctx.count("user")

    def done(self, captured: str | None) -> State:
        for page, kind, team, subject, target, extra in self.pending:
            gid = self.teams.get(team[1:]) if team.startswith("#") else team
            if gid is None:
                self.ctx.incomplete(page.record, kind, f"team {excerpt(team[1:])!r} is on no team page: no name to give it "
                                                       "(give /orgs/{org}/teams too)")
                continue
            if not team.startswith("#"):
                self.out.group(gid)
            resource = extra.pop("resource")
            if kind == "team repository":
                self.out.role(REPO_ACCESS, name="Repository access")
                self.out.hold(gid, target, resource, via="team repos", **extra)
            else:
                self.out.hold(subject, gid, via="team members" if kind == "team member" else "child teams")
            self.ctx.count(kind)
        return self.out.done(captured)


def _route(p: tuple[str, ...], query: dict[str, str]) -> Callable[[_Reader, Page], None] | None:
    n = len(p)
    team_tail = (p[2:] if n >= 3 and p[0] == "teams" else p[4:] if n >= 5 and p[0] in ("orgs", "organizations")
                 and p[2] in ("teams", "team") else None)
    if team_tail is not None and len(team_tail) == 1:
        return {"members": _Reader.team_members, "teams": _Reader.team_children,
                "repos": _Reader.team_repos}.get(team_tail[0], _invitations if team_tail[0] == "invitations" else None)
    if p[:1] == ("orgs",) and n == 3 and p[2] in ("members", "public_members"):
        return _Reader.org_members
    if (p[:1] == ("orgs",) and n == 4 and p[2] == "memberships") or p == ("user", "memberships", "orgs"):
        return _Reader.memberships
    if (p[:1] == ("orgs",) and n in (3, 4) and p[2] == "teams") or (p[:1] == ("teams",) and n == 2) \
            or p == ("user", "teams") or (p[:1] == ("organizations",) and n == 4 and p[2] == "team"):
        return _Reader.teams_list
    if p[:1] == ("repos",) and n == 4 and p[3] == "teams":
        return _Reader.repo_teams
    if p[:1] == ("repos",) and n == 4 and p[3] == "collaborators":
        return _Reader.collaborators
    if p[:1] == ("repos",) and n == 6 and p[3] == "collaborators" and p[5] == "permission":
        return _effective
    if p[:1] == ("orgs",) and n == 3 and p[2] == "outside_collaborators":
        return _Reader.outside
    if (p[:1] == ("users",) and n == 2) or p == ("user",):
        return _Reader.users
    if n >= 2 and p[-1] == "invitations":
        return _invitations
    return None


def _invitations(reader: _Reader, page: Page) -> None:
    reader.ctx.skip(page.record, "invitation", page.parts[-1])


def _effective(reader: _Reader, page: Page) -> None:
    reader.ctx.skip(page.record, "effective permission", "collaborator permission")


def convert(paths: list[Path], ctx: Context) -> State:
    """Read GitHub API pages into a :class:`State` (see the module docstring)."""
    reader = _Reader(ctx)
    pages = Pages(ctx, HELP, prefix=r"^/api/v3(?=/|$)")
    for page in pages.read(paths):
        reader.page(page)
    return reader.done(pages.captured)
