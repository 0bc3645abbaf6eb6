"""Entra ID users' ``signInActivity`` -> usage: when each user last signed in.

Input: the bodies of Microsoft Graph ``GET /users?$select=userPrincipalName,
signInActivity`` (``{"value": [...], "@odata.nextLink": ...}`` per page), as
files, a folder of pages, or JSON lines, gzipped or not. Graph does not say
when a page was taken: give ``--assume-time``.

FIELD MAPPING (one sign-in record per user)

- subject: ``user:<userPrincipalName>``, as the ``entra`` history importer
  names users (by UPN);
- resource: empty; targets: ``group:entra/*``, ``role:entra/*``,
  ``role:entra-app/*`` (the sign-in stands for what the user holds in Entra ID;
  Azure RBAC roles, ``role:azure/*`` scoped to subscriptions, are not covered);
- last_used: the latest of ``signInActivity.lastSignInDateTime`` (interactive),
  ``lastNonInteractiveSignInDateTime`` (tokens refreshed by apps) and
  ``lastSuccessfulSignInDateTime`` (an empty string or ``0001-01-01T00:00:00Z``,
  Graph's "none", is no sign-in); null when ``signInActivity`` is there but
  holds none (never signed in);
- collected_at: ``--assume-time``;
- source: ``entra-sign-ins``; kept beside: ``entra_id`` (``id``),
  ``last_interactive`` (``lastSignInDateTime``).

Counted as converted by kind: ``user``. SKIPPED: a user without
``signInActivity`` (not selected, or the tenant has no Entra ID P1 licence): the
data does not cover it, which is never read as "never signed in".
ERRORS (malformed, located): a record without ``userPrincipalName``; a time
that cannot be read; no collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, iso_utc, read_records, safe_name
from keytrail.importers.usage_common import collected, usage_record

FORMAT = "entra-sign-ins"
KIND = "usage"
SOURCE = "entra-sign-ins"
TARGETS = ["group:entra/*", "role:entra/*", "role:entra-app/*"]
_FIELDS = ("lastSignInDateTime", "lastNonInteractiveSignInDateTime", "lastSuccessfulSignInDateTime")


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    for record in read_records(paths, records_key=("value",)):
        user = record.data
        upn = user.get("userPrincipalName") if isinstance(user, dict) else None
        if not isinstance(upn, str) or not upn.strip():
            ctx.problem(record, "not a Graph user (expected userPrincipalName)")
            continue
        activity = user.get("signInActivity")
        if activity is None:
            ctx.skip(record, "no signInActivity (not covered)", "user")
            continue
        if not isinstance(activity, dict):
            ctx.problem(record, "signInActivity is not an object")
            continue
        times = {}
        for name in _FIELDS:
            value = activity.get(name)
            if value == "" or (isinstance(value, str) and value.startswith("0001-01-01")):
                value = None  # Graph's "no sign-in": an empty string or the year 1
            times[name] = None if value is None else iso_utc(value)
            if value is not None and times[name] is None:
                ctx.problem(record, f"signInActivity.{name} {str(value)[:40]!r} is not a time")
                break
        else:
            when = collected(ctx, record, None, "the Graph user list")
            if when is None:
                return
            used = [t for t in times.values() if t]
            ctx.count("user")
            yield usage_record(record, SOURCE, f"user:{safe_name(upn)}", max(used) if used else None, when,
                               targets=TARGETS, entra_id=user.get("id"),
                               last_interactive=times["lastSignInDateTime"])
