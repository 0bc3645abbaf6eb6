"""Google Workspace users' ``lastLoginTime`` -> usage: when each user last signed in.

Input: the bodies of the Admin SDK Directory API ``users.list``
(``{"kind": "admin#directory#users", "users": [...], "nextPageToken": ...}``
per page), as files, a folder of pages, or JSON lines, gzipped or not. The
body does not say when it was taken: give ``--assume-time``.

FIELD MAPPING (one sign-in record per user)

- subject: ``user:<primaryEmail>``, as the ``gworkspace`` history importer
  names users;
- resource: empty; targets: ``group:gws/*``, ``role:gws/*`` (what the user
  holds in Workspace);
- last_used: ``lastLoginTime``; null when it is ``1970-01-01T00:00:00.000Z``
  (the API's "never signed in") or absent;
- collected_at: ``--assume-time``;
- source: ``gworkspace-last-login``; kept beside: ``suspended``, ``gws_id``.

Counted as converted by kind: ``user``, ``suspended user``. ERRORS (malformed,
located): a record without ``primaryEmail``; a ``lastLoginTime`` that is not a
time; no collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, iso_utc, read_records, safe_name
from keytrail.importers.usage_common import collected, usage_record

FORMAT = "gworkspace-last-login"
KIND = "usage"
SOURCE = "gworkspace-last-login"
TARGETS = ["group:gws/*", "role:gws/*"]
_NEVER = "1970-01-01T00:00:00Z"


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    for record in read_records(paths, records_key=("users",)):
        user = record.data
        email = user.get("primaryEmail") if isinstance(user, dict) else None
        if not isinstance(email, str) or not email.strip():
            ctx.problem(record, "not a Directory API user (expected primaryEmail)")
            continue
        used = None
        if user.get("lastLoginTime") is not None:
            used = iso_utc(user["lastLoginTime"])
            if used is None:
                ctx.problem(record, f"lastLoginTime {str(user['lastLoginTime'])[:40]!r} is not a time")
                continue
            if used == _NEVER:
                used = None
        when = collected(ctx, record, None, "the Workspace user list")
        if when is None:
            return
        ctx.count("suspended user" if user.get("suspended") else "user")
        yield usage_record(record, SOURCE, f"user:{safe_name(email)}", used, when, targets=TARGETS,
                           suspended=user.get("suspended"), gws_id=user.get("id"))
