"""GitHub organisation audit log → native history.

Input: the organisation audit log as GitHub exports it (``Settings → Audit log →
Export → JSON``: a JSON array), as the REST API returns it
(``GET /orgs/{org}/audit-log``: a JSON array), or as JSON lines (log
forwarders, the streaming export), gzipped or not. A line of the form
``{"p_sources": [...], "event": {...}}`` (Panther's rule-test extraction) is
unwrapped to its ``event``.

FIELD MAPPING

- id: ``github-<_document_id>``; when the record has no ``_document_id`` (older
  exports, forwarded logs), ``github-h<first 20 hex of the SHA-256 of the
  record's canonical JSON>`` so the id is deterministic. The same id seen again
  with different content gets ``.2``, ``.3`` ...; the same content again is a
  re-delivered duplicate and is skipped (reason ``duplicate``).
- time: ``created_at``, else ``@timestamp`` (epoch milliseconds, or a string;
  a string without a zone is UTC), as ISO 8601 UTC (``Z``).
- action / subject / target / resource by ``action``:

  ====================================================  ==============  ==================================  =================================  ==========================
  action                                                native          subject                             target                             resource
  ====================================================  ==============  ==================================  =================================  ==========================
  org.add_member / org.remove_member                    grant / revoke  ``user:<user>``                     ``group:github/<org>``
  team.add_member / team.remove_member                  grant / revoke  ``user:<user>``                     ``group:github/<org>/<team>``
  repo.add_member / repo.remove_member                  grant / revoke  ``user:<user>``                     ``role:github/repo-access``        ``github:<owner>/<repo>``
  team.add_repository / team.remove_repository          grant / revoke  ``group:github/<org>/<team>``       ``role:github/repo-access``        ``github:<owner>/<repo>``
  team.update_repository_permission, repo.update_member grant           as above                            ``role:github/repo-access``        ``github:<owner>/<repo>``
  org.update_member (``permission`` admin / not admin)  grant / revoke  ``user:<user>``                     ``role:github/org-owner``          ``github:<org>``
  organization_moderators.add_user / remove_user        grant / revoke  ``user:<user>``                     ``role:github/moderator``          ``github:<org>``
  team.create / team.destroy                            define / retire                                     ``group:github/<org>/<team>``
  team.change_parent_team                               revoke, grant   ``group:github/<org>/<team>``       ``group:github/<org>/<parent>``    (former, new parent)
  ====================================================  ==============  ==================================  =================================  ==========================

  Repository access is one entitlement per repository, ``role:github/repo-access``
  on ``github:<owner>/<repo>``, whatever its level: GitHub's removal events do
  not say which permission they remove, so a level-specific target could never be
  revoked. The level, when the record names it (``permission``,
  ``data.permission``; GitHub's ``pull``/``push`` shown as ``read``/``write``), is
  kept on the event as ``permission`` (and ``old_permission``); a permission
  update is a grant of the same entitlement, which replaces its provenance.
  The team is ``team`` or ``data.team`` (``org/slug``; a bare slug is prefixed
  with the org).
- actor: ``user:<actor>``; a bot (``[bot]`` suffix) or a GitHub App
  (``programmatic_access_type: github_app``) is ``svc:<actor>``.
- key / ticket / reason: the audit log has none; only from the mapping options
  (``--key-from user_agent --key-pattern ...``, ``--key-from actor`` ...).
- source: ``{"format": "github", "file", "line"|"index", "id": _document_id,
  "action", "request_id"}``.

Naming scheme: users by GitHub login, org membership ``group:github/<org>``,
teams ``group:github/<org>/<team-slug>``, repositories as resources
``github:<owner>/<repo>``.

SKIPPED: ``org.invite_member``, ``org.invite_user`` and ``invite_member`` as
"invitation" (no access until accepted, which logs ``org.add_member``);
``org.update_member`` without a ``permission`` as "no permission in record";
every other action (pushes, pull requests, branch protection, hooks, settings,
repo create/destroy/transfer/visibility ...) as "not an access change".
ERRORS (malformed): a record that is not an object or has no ``action``.
INCOMPLETE (skipped, listed by place): a handled action without the user, team,
repo or org it needs, or without a readable time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import (
    Context,
    Deliveries,
    Record,
    dig,
    read_records,
    safe_name,
    text_value,
    unwrap,
)

FORMAT = "github"
KIND = "history"

_ORG = {"org.add_member": "grant", "org.remove_member": "revoke"}
_TEAM = {"team.add_member": "grant", "team.remove_member": "revoke"}
_REPO_USER = {"repo.add_member": "grant", "repo.remove_member": "revoke", "repo.update_member": "grant"}
_REPO_TEAM = {"team.add_repository": "grant", "team.remove_repository": "revoke",
              "team.update_repository_permission": "grant"}
_MODERATOR = {"organization_moderators.add_user": "grant", "organization_moderators.remove_user": "revoke"}
_TEAM_LIFE = {"team.create": "define", "team.destroy": "retire"}
_PARENT = "team.change_parent_team"
_INVITES = {"org.invite_member", "org.invite_user", "invite_member"}
HANDLED = {**_ORG, **_TEAM, **_REPO_USER, **_REPO_TEAM, **_MODERATOR, **_TEAM_LIFE, "org.update_member": "grant",
           _PARENT: "grant"}
_LEVELS = {"pull": "read", "push": "write"}


def _records(paths: list[Path]) -> Iterator[Record]:
    for record in read_records(paths):
        yield unwrap(record)


def _actor(event: dict[str, Any]) -> str | None:
    actor = text_value(event.get("actor"))
    if actor is None:
        return None
    bot = actor.endswith("[bot]") or str(event.get("programmatic_access_type") or "").lower() == "github_app"
    return f"{'svc' if bot else 'user'}:{safe_name(actor)}"


def _level(value: Any) -> str | None:
    text = text_value(value)
    return _LEVELS.get(text.lower(), text.lower()) if text else None


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    deliveries = Deliveries()
    for record in _records(paths):
        event = record.data
        if not isinstance(event, dict):
            ctx.problem(record, f"expected a GitHub audit log entry (object), got {type(event).__name__}")
            continue
        name = text_value(event.get("action"))
        if name is None:
            ctx.problem(record, "no action: not a GitHub audit log entry")
            continue
        if name in _INVITES:
            ctx.skip(record, "invitation", name)
            continue
        if name not in HANDLED:
            ctx.skip(record, "not an access change", name)
            continue
        permission = _level(event.get("permission") or dig(event, "data.permission"))
        old = _level(event.get("old_permission") or dig(event, "data.old_permission"))
        if name == "org.update_member" and permission is None:
            ctx.unconverted(record, "no permission in record", name)
            continue
        changes = _changes(name, event, permission)
        if isinstance(changes, str):
            ctx.incomplete(record, name, f"{name}: {changes}")
            continue
        stamp = event["created_at"] if event.get("created_at") is not None else event.get("@timestamp")
        time = ctx.time_of(record, stamp)
        if time is None:
            ctx.incomplete(record, name, f"{name}: no readable created_at or @timestamp")
            continue
        doc_id = text_value(event.get("_document_id"))
        ident = doc_id or "h" + hashlib.sha256(json.dumps(event, sort_keys=True, default=str)
                                               .encode("utf-8")).hexdigest()[:20]
        suffix = deliveries.suffix(ident, event)
        if suffix is None:
            ctx.skip(record, "duplicate", name)
            continue
        actor = _actor(event)
        source = ctx.source(record, doc_id, action=name, request_id=text_value(event.get("request_id")))
        ctx.count(name)
        for n, (action, subject, target, resource) in enumerate(changes, 1):
            out: dict[str, Any] = {"id": f"github-{ident}{suffix}" + (f"-{n}" if len(changes) > 1 else ""),
                                   "time": time, "action": action}
            if subject is not None:
                out["subject"] = subject
            out["target"] = target
            if action in ("grant", "revoke"):
                out["resource"] = resource
            if actor:
                out["actor"] = actor
            if permission:
                out["permission"] = permission
            if old:
                out["old_permission"] = old
            out["source"] = dict(source)
            ctx.mapping.apply(event, out)
            yield out


def _team(event: dict[str, Any], field: str = "team") -> str | None:
    """A team named by ``field`` (or ``data.<field>``) as ``org/slug``."""
    team = text_value(event.get(field)) or text_value(dig(event, f"data.{field}"))
    if team is None:
        return None
    org = text_value(event.get("org"))
    if "/" not in team and org:
        team = f"{org}/{team}"
    return safe_name(team)


Change = tuple[str, str | None, str, str]


def _changes(name: str, event: dict[str, Any], permission: str | None) -> list[Change] | str:
    """The (action, subject, target, resource) changes of a handled action, or what is missing."""
    if name == _PARENT:
        return _parent(event)
    change = _change(name, event, permission)
    return change if isinstance(change, str) else [change]


def _parent(event: dict[str, Any]) -> list[Change] | str:
    """A team moved under another: it leaves its former parent (its members lose what the
    parent grants) and joins the new one, as a nested group."""
    team = _team(event)
    if team is None:
        return "no team (team or data.team)"
    out: list[Change] = []
    for action, fields in (("revoke", ("parent_team_was", "parent_team_name_was", "parentTeamNameWas")),
                           ("grant", ("parent_team", "parent_team_name", "parentTeamName"))):
        parent = next((v for f in fields if (v := _team(event, f)) is not None), None)
        if parent is not None:
            out.append((action, f"group:github/{team}", f"group:github/{parent}", ""))
    return out or "no parent_team or parent_team_was"


def _change(name: str, event: dict[str, Any], permission: str | None) -> Change | str:
    """(action, subject, target, resource), or what is missing."""
    user = text_value(event.get("user"))
    org = text_value(event.get("org"))
    repo = text_value(event.get("repo")) or text_value(event.get("repository"))
    if name in _TEAM_LIFE or name in _TEAM or name in _REPO_TEAM:
        team = _team(event)
        if team is None:
            return "no team (team or data.team)"
        if name in _TEAM_LIFE:
            return _TEAM_LIFE[name], None, f"group:github/{team}", ""
        if name in _TEAM:
            return (_TEAM[name], f"user:{safe_name(user)}", f"group:github/{team}", "") if user else "no user"
        return (_REPO_TEAM[name], f"group:github/{team}", "role:github/repo-access",
                f"github:{safe_name(repo)}") if repo else "no repo"
    if not user:
        return "no user"
    subject = f"user:{safe_name(user)}"
    if name in _REPO_USER:
        return (_REPO_USER[name], subject, "role:github/repo-access", f"github:{safe_name(repo)}") if repo \
            else "no repo"
    if not org:
        return "no org"
    if name in _ORG:
        return _ORG[name], subject, f"group:github/{safe_name(org)}", ""
    if name in _MODERATOR:
        return _MODERATOR[name], subject, "role:github/moderator", f"github:{safe_name(org)}"
    # org.update_member: owner (admin) or not
    return ("grant" if permission == "admin" else "revoke"), subject, "role:github/org-owner", \
        f"github:{safe_name(org)}"
