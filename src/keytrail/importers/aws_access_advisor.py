"""AWS IAM access advisor -> usage: when an IAM user, group or role last used each AWS service.

Input: the response of ``aws iam get-service-last-accessed-details --job-id
...`` (the job started by ``generate-service-last-accessed-details --arn
ARN``), as the CLI prints it or a boto3 recording holds it, gzipped or not;
several pages of a truncated response (``IsTruncated``/``Marker``) may be given
as several files. The response does not name the entity it is about, so
``--entity ARN`` (the ARN given to ``generate-service-last-accessed-details``)
is required.

FIELD MAPPING (one service record per ``ServicesLastAccessed[]`` entry)

- subject: the entity in the naming scheme of the ``cloudtrail`` and
  ``aws-authz`` importers: ``user:<name>``, ``group:aws/<name>``,
  ``svc:aws-role/<name>``;
- resource: ``aws:<account>`` (the account of ``--entity``);
- service: ``ServiceNamespace`` (``s3``, ``ec2``): the record stands for every
  role (managed or inline policy) of the subject whose permissions name only
  services with records (``docs/usage.md``), as Repokid reads access advisor;
- last_used: ``LastAuthenticated``; null when AWS recorded no use in its
  tracking period (up to 400 days);
- collected_at: ``JobCompletionDate`` (else ``--assume-time``);
- source: ``aws-access-advisor``; kept beside: ``last_entity``
  (``LastAuthenticatedEntity``: for a group, which member used it),
  ``entities`` (``TotalAuthenticatedEntities``).

Counted as converted by kind: ``used``, ``never used``. SKIPPED: a response of
a job that is not finished (``IN_PROGRESS``), and the
``GenerateServiceLastAccessedDetails`` response (only a ``JobId``).
ERRORS (malformed, located): no ``--entity`` or one that is not an IAM user,
group or role ARN; a ``FAILED`` job; a response without
``ServicesLastAccessed``; an entry without ``ServiceNamespace``; a time that
cannot be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.aws_names import group_id, resource, role_principal, user_id
from keytrail.importers.base import Context, Record, read_records
from keytrail.importers.usage_common import aws_time, collected, response_body, usage_record

FORMAT = "aws-access-advisor"
KIND = "usage"
SOURCE = "aws-access-advisor"
_ENTITY = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):(user|group|role)/(?:.*/)?([^/]+)$")


def entity(arn: str | None) -> tuple[str, str] | None:
    """(subject, resource) of an IAM user, group or role ARN."""
    m = _ENTITY.match(arn or "")
    if m is None:
        return None
    make = {"user": user_id, "group": group_id, "role": role_principal}[m.group(2)]
    return make(m.group(3)), resource(m.group(1))


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    who = entity(ctx.entity)
    for record in read_records(paths):
        if who is None:
            ctx.problem(record, "give --entity ARN: the IAM user, group or role the report was generated for "
                                + (f"({ctx.entity[:100]!r} is not one)" if ctx.entity else "(the response does not say)"))
            return
        yield from _response(record, who, ctx)


def _response(record: Record, who: tuple[str, str], ctx: Context) -> Iterator[dict[str, Any]]:
    body = response_body(record.data)
    if not isinstance(body, dict):
        ctx.problem(record, "not a get-service-last-accessed-details response")
        return
    status = body.get("JobStatus")
    if "JobId" in body and status is None:
        ctx.skip(record, "not a report (GenerateServiceLastAccessedDetails)", "GenerateServiceLastAccessedDetails")
        return
    if status == "IN_PROGRESS":
        ctx.skip(record, "job not finished (IN_PROGRESS)", "GetServiceLastAccessedDetails")
        return
    if status != "COMPLETED" or not isinstance(body.get("ServicesLastAccessed"), list):
        ctx.problem(record, f"not a completed access-advisor report (JobStatus {str(status)[:40]!r}, "
                            "ServicesLastAccessed a list)")
        return
    when = collected(ctx, record, aws_time(body.get("JobCompletionDate")), "the access-advisor report")
    if when is None:
        return
    subject, account = who
    for n, item in enumerate(body["ServicesLastAccessed"]):
        place = Record(item, record.file, record.line, record.index, n)
        if not isinstance(item, dict) or not isinstance(item.get("ServiceNamespace"), str) \
                or not item["ServiceNamespace"].strip():
            ctx.problem(place, f"ServicesLastAccessed[{n}]: expected an object with ServiceNamespace")
            continue
        used = None
        if item.get("LastAuthenticated") is not None:
            used = aws_time(item["LastAuthenticated"])
            if used is None:
                ctx.problem(place, f"ServicesLastAccessed[{n}].LastAuthenticated is not a time")
                continue
        ctx.count("used" if used else "never used")
        yield usage_record(place, SOURCE, subject, used, when, account, service=item["ServiceNamespace"].strip(),
                           last_entity=item.get("LastAuthenticatedEntity"),
                           entities=item.get("TotalAuthenticatedEntities"))
