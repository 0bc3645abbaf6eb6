"""AWS IAM credential report -> usage: each IAM user's (and the root user's) last sign-in or key use.

Input: the report as ``aws iam get-credential-report`` returns it: the JSON
response (``Content`` base64-encoded, as the API and the CLI give it, or
already decoded, as boto3 recordings hold it; ``GeneratedTime``), gzipped or
not, or the CSV itself once decoded (``--assume-time`` then says when it was
generated: the CSV does not). Several files (several accounts) are merged.

FIELD MAPPING (one record per CSV row, a sign-in record: the account's use)

- subject: ``user:<user>`` (``<root_account>`` -> ``user:aws-root``), as the
  ``cloudtrail`` and ``aws-authz`` importers name IAM users;
- resource: ``aws:<account>`` (the account in the row's ``arn``): the record
  stands for every entitlement the user holds in that account;
- last_used: the latest of ``password_last_used``,
  ``access_key_1_last_used_date`` and ``access_key_2_last_used_date``; null
  (never used) when none has a time (``N/A``, ``no_information``,
  ``not_supported``: AWS recorded no use);
- collected_at: ``GeneratedTime`` (or ``--assume-time``);
- source: ``aws-credential-report``; kept beside: ``password_enabled``,
  ``mfa_active``, ``access_keys_active`` (how many), ``password_last_used``,
  ``access_key_last_used`` (the later key's).

Counted as converted by kind: ``user``, ``root``. SKIPPED: an error response
(``ReportNotPresent``: no report was generated yet) by its code; a
``GenerateCredentialReport`` response (``State``) as "not a report".
ERRORS (malformed, located by file and line): a CSV without the ``user`` and
``arn`` columns, a row with the wrong number of fields, an ``arn`` that is not
an IAM ARN, a time that cannot be read; a JSON document that is none of the
above.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.aws_names import ROOT, resource, user_id
from keytrail.importers.base import Context, Record, iso_utc, read_records
from keytrail.importers.reading import open_text
from keytrail.importers.usage_common import aws_time, collected, response_body, usage_record

FORMAT = "aws-credential-report"
KIND = "usage"
SOURCE = "aws-credential-report"
_NO_TIME = {"N/A", "no_information", "not_supported", ""}
_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(root|user/.+)$")


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    for path in paths:
        text = open_text(path)
        if text.lstrip().startswith("user,"):
            yield from _csv(text, Record(None, str(path), 1), None, ctx)
            continue
        for record in read_records([path]):
            yield from _response(record, ctx)


def _response(record: Record, ctx: Context) -> Iterator[dict[str, Any]]:
    body = response_body(record.data)
    if not isinstance(body, dict):
        ctx.problem(record, "not a credential report: expected the get-credential-report response or its CSV")
        return
    if isinstance(body.get("Error"), dict):
        ctx.skip(record, f"error response {body['Error'].get('Code', '?')}", "GetCredentialReport")
        return
    if "State" in body and "Content" not in body:
        ctx.skip(record, "not a report (GenerateCredentialReport)", "GenerateCredentialReport")
        return
    content = body.get("Content")
    if not isinstance(content, str):
        ctx.problem(record, "not a credential report: no Content")
        return
    if not content.startswith("user,"):
        try:
            content = base64.b64decode(content, validate=True).decode("utf-8-sig")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            ctx.problem(record, "Content is neither the report's CSV nor base64 of it")
            return
    when = collected(ctx, record, aws_time(body.get("GeneratedTime")), "the credential report")
    if when is not None:
        yield from _csv(content, record, when, ctx)


def _csv(text: str, record: Record, when: str | None, ctx: Context) -> Iterator[dict[str, Any]]:
    """The rows of a report; ``record`` is the raw CSV file (``data`` None) or the JSON response."""
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a line break inside an unquoted field, a NUL: malformed, not a crash
        ctx.problem(record, f"not a well-formed CSV (CSV line {reader.line_num}): {exc}")
        return
    if not rows or "user" not in rows[0] or "arn" not in rows[0]:
        ctx.problem(record, "not a credential report: the CSV has no user and arn columns")
        return
    if when is None:
        when = collected(ctx, record, None, "the credential report CSV")
        if when is None:
            return
    header = rows[0]
    for n, row in enumerate(rows[1:], 2):
        # A raw CSV is located by its line; a report inside a JSON response by the response
        # (and the messages name the CSV line).
        place = Record(row, record.file, n) if record.data is None else record
        if not row:
            continue
        if len(row) != len(header):
            ctx.problem(place, f"CSV line {n}: {len(row)} fields, the header has {len(header)}")
            continue
        out = _row(dict(zip(header, row, strict=True)), place, when, ctx, n)
        if out is not None:
            yield out


def _row(row: dict[str, str], place: Record, when: str, ctx: Context, n: int) -> dict[str, Any] | None:
    m = _ARN.match(row.get("arn", ""))
    if m is None:
        ctx.problem(place, f"CSV line {n}: arn {row.get('arn', '')[:80]!r} is not an IAM user or root ARN")
        return None
    root = m.group(2) == "root"
    times: dict[str, str | None] = {}
    for name in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date"):
        value = row.get(name, "N/A").strip()
        if value in _NO_TIME:
            times[name] = None
            continue
        times[name] = iso_utc(value)
        if times[name] is None:
            ctx.problem(place, f"CSV line {n}: {name} {value[:40]!r} is not a time")
            return None
    used = [t for t in times.values() if t is not None]
    keys = [t for t in (times["access_key_1_last_used_date"], times["access_key_2_last_used_date"]) if t]
    ctx.count("root" if root else "user")
    return usage_record(
        place, SOURCE, ROOT if root else user_id(row["user"]), max(used) if used else None, when,
        resource(m.group(1)), password_enabled=row.get("password_enabled"), mfa_active=row.get("mfa_active"),
        access_keys_active=sum(row.get(f"access_key_{i}_active") == "true" for i in (1, 2)),
        password_last_used=times["password_last_used"], access_key_last_used=max(keys) if keys else None)
