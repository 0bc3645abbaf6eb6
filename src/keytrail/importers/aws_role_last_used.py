"""AWS ``RoleLastUsed`` -> usage: when each IAM role was last used (assumed and acted with).

Input: ``aws iam get-account-authorization-details`` output (its
``RoleDetailList``; the same file the ``aws-authz`` state importer reads) or
``aws iam get-role`` responses (``{"Role": {...}}``), as the CLI prints them or
boto3 recordings hold them, gzipped or not. Neither says when it was taken:
``--assume-time`` gives the collection time (a recording's HTTP ``date`` header
is used when present).

FIELD MAPPING (one sign-in record per role: the role's sessions are its use)

- subject: ``svc:aws-role/<RoleName>``, the role as the holder of its policies
  (the naming scheme of the ``aws-authz`` and ``cloudtrail`` importers);
- resource: ``aws:<account>`` (the account in the role's ``Arn``): the record
  stands for every policy the role holds in that account, so a role unused for
  ``unused_for`` is reported by ``sprawl.dormant-account`` with its policies;
- last_used: ``RoleLastUsed.LastUsedDate``; null when AWS recorded no use (it
  tracks the last 400 days; a role created earlier and unused shows none);
- collected_at: ``--assume-time`` (or the recording's ``date`` header);
- source: ``aws-role-last-used``; kept beside: ``region`` (``RoleLastUsed.Region``).

Counted as converted by kind: ``used``, ``never used``. ERRORS (malformed,
located): a document with neither ``RoleDetailList`` nor ``Role``; a role
without ``RoleName`` or with an ``Arn`` outside IAM; a time that cannot be read;
no collection time.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from keytrail.importers.aws_authz import account_of
from keytrail.importers.aws_names import resource, role_principal
from keytrail.importers.base import Context, Record, read_records
from keytrail.importers.usage_common import aws_time, collected, response_body, usage_record

FORMAT = "aws-role-last-used"
KIND = "usage"
SOURCE = "aws-role-last-used"


def _header_time(data: Any) -> str | None:
    headers = data.get("ResponseMetadata", {}).get("HTTPHeaders", {}) if isinstance(data, dict) else {}
    date = headers.get("date") if isinstance(headers, dict) else None
    try:
        return aws_time(parsedate_to_datetime(date).isoformat()) if isinstance(date, str) else None
    except (TypeError, ValueError):
        return None


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    for record in read_records(paths):
        body = response_body(record.data)
        if isinstance(body, dict) and isinstance(body.get("Role"), dict):
            roles = [body["Role"]]
        elif isinstance(body, dict) and isinstance(body.get("RoleDetailList"), list):
            roles = body["RoleDetailList"]
        else:
            ctx.problem(record, "not get-account-authorization-details or get-role output: expected "
                                "RoleDetailList or Role")
            continue
        when = collected(ctx, record, _header_time(body), "the role listing")
        if when is None:
            continue
        for n, role in enumerate(roles):
            place = Record(role, record.file, record.line, record.index, n)
            if not isinstance(role, dict) or not isinstance(role.get("RoleName"), str) or not role["RoleName"].strip():
                ctx.problem(place, f"role {n}: expected an object with RoleName")
                continue
            account = account_of(role.get("Arn"))
            if not account:
                ctx.problem(place, f"role {n}: Arn {str(role.get('Arn'))[:100]!r} is not an IAM role ARN")
                continue
            found = role.get("RoleLastUsed")
            last: dict[str, Any] = found if isinstance(found, dict) else {}
            used = None
            if last.get("LastUsedDate") is not None:
                used = aws_time(last["LastUsedDate"])
                if used is None:
                    ctx.problem(place, f"role {n}: RoleLastUsed.LastUsedDate is not a time")
                    continue
            ctx.count("used" if used else "never used")
            yield usage_record(place, SOURCE, role_principal(role["RoleName"]), used, when, resource(account),
                               region=last.get("Region"))
