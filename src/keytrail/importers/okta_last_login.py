"""Okta users' ``lastLogin`` -> usage: when each Okta user last signed in.

Input: the bodies of ``GET /api/v1/users`` (a JSON array of User objects per
page), as files, a folder of pages, or JSON lines (a page or a user a line),
gzipped or not. The API body does not say when it was taken: give
``--assume-time`` (when the users were listed).

FIELD MAPPING (one sign-in record per user)

- subject: ``user:<profile.login>`` (Okta's login, usually the e-mail), as the
  ``okta`` history importer names users (by ``alternateId``, the login);
- resource: empty (Okta is one tenant, as in the ``okta`` importer);
- targets: ``group:okta/*``, ``role:okta/*``, ``role:okta-app/*``: the sign-in
  stands for what the user holds in Okta, never for another system's access;
- last_used: ``lastLogin``; null when the user never signed in;
- collected_at: ``--assume-time``;
- source: ``okta-last-login``; kept beside: ``status``, ``okta_id`` (``id``).

Counted as converted by kind: the user's ``status`` (ACTIVE, PROVISIONED,
SUSPENDED ...). ERRORS (malformed, located): a record that is not a User object
(no ``id`` and ``profile.login``); a ``lastLogin`` that is not a time; no
collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, iso_utc, read_records, safe_name
from keytrail.importers.usage_common import collected, usage_record

FORMAT = "okta-last-login"
KIND = "usage"
SOURCE = "okta-last-login"
TARGETS = ["group:okta/*", "role:okta/*", "role:okta-app/*"]


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    for record in read_records(paths):
        user = record.data
        profile = user.get("profile") if isinstance(user, dict) else None
        login = profile.get("login") if isinstance(profile, dict) else None
        if not isinstance(user, dict) or not user.get("id") or not isinstance(login, str) or not login.strip():
            ctx.problem(record, "not an Okta User object (expected id and profile.login)")
            continue
        used = None
        if user.get("lastLogin") is not None:
            used = iso_utc(user["lastLogin"])
            if used is None:
                ctx.problem(record, f"lastLogin {str(user['lastLogin'])[:40]!r} is not a time")
                continue
        when = collected(ctx, record, None, "the Okta user list")
        if when is None:
            return
        ctx.count(str(user.get("status") or "?"))
        yield usage_record(record, SOURCE, f"user:{safe_name(login)}", used, when, targets=TARGETS,
                           status=user.get("status"), okta_id=str(user["id"]))
