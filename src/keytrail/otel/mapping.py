"""The one mapping from keytrail's data to OTLP log records.

A finding becomes a record with ``eventName`` ``keytrail.finding``, the
finding's message as its body, its severity as an OpenTelemetry severity
number (``severityText`` keeps keytrail's word) and its fields as
``keytrail.*`` attributes. A recorded change becomes a record with
``eventName`` ``keytrail.change`` whose attributes are exactly the ones
``keytrail import otlp`` reads back into the same native event. Finding
records never carry ``keytrail.action``, so importing a central log that holds
both never mistakes a finding for a change. The resource names the service
(``service.name`` ``keytrail``, ``service.version``) and the project
(``keytrail.project``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from keytrail import __version__

#: keytrail severity → OpenTelemetry SeverityNumber (logs data model: INFO 9, WARN 13-16,
#: ERROR 17, FATAL 21). ``severityText`` keeps keytrail's own word.
SEVERITY_NUMBER = {"info": 9, "low": 13, "medium": 14, "high": 17, "critical": 21}
#: The instrumentation scope of every record keytrail writes.
SCOPE = "keytrail"
FINDING_EVENT = "keytrail.finding"
CHANGE_EVENT = "keytrail.change"

# W3C Trace Context: version-traceid-parentid-flags, lower-case hex. A future version may
# append fields after the flags (kept readable: "-" and more); version ff is invalid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?\Z")


@dataclass(frozen=True)
class TraceContext:
    """A W3C ``traceparent``: the trace and the span (the caller's) a record belongs to."""

    trace_id: str   # 32 lower-case hex digits
    span_id: str    # 16 lower-case hex digits
    flags: int


def parse_traceparent(text: str) -> TraceContext:
    """A ``traceparent`` header value; ValueError saying what is wrong with it."""
    from keytrail.textsafe import excerpt

    m = _TRACEPARENT.match(text.strip())
    if m is None:
        raise ValueError(f"'{excerpt(text)}' is not a W3C traceparent "
                         "(00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>)")
    version, trace, span, flags, rest = m.groups()
    if version == "ff" or (version == "00" and rest):
        raise ValueError(f"'{excerpt(text)}' is not a valid traceparent (version {version})")
    if trace == "0" * 32 or span == "0" * 16:
        raise ValueError(f"'{excerpt(text)}' has an all-zero trace id or parent id, which W3C "
                         "Trace Context defines as invalid")
    return TraceContext(trace, span, int(flags, 16))


@dataclass(frozen=True)
class LogItem:
    """One OTLP log record, independent of how it is written (JSON file or OTLP/HTTP)."""

    time_ns: int
    observed_ns: int
    severity_number: int
    severity_text: str
    body: str
    event_name: str
    attributes: dict[str, Any] = field(default_factory=dict)  # str, bool or int values only
    trace: TraceContext | None = None


def resource_attributes(project: str) -> dict[str, str]:
    """The resource of every record: the service and the project."""
    return {"service.name": "keytrail", "service.version": __version__, "keytrail.project": project}


def _put(attrs: dict[str, Any], name: str, value: Any) -> None:
    # An absent or empty value is left out rather than sent as "": a collector's filter
    # on `keytrail.key != nil` must mean "has a key".
    if value is not None and value != "":
        attrs[name] = value


def finding_items(report: Any, fail_on: str | None, trace: TraceContext | None = None) -> Iterator[LogItem]:
    """One record per finding of ``report``, in report order (waived and known ones included);
    ``keytrail.failing`` says whether it fails ``--fail-on`` (none without ``fail_on``)."""
    from keytrail.formats._common import fields
    from keytrail.model import SEVERITY_RANK
    from keytrail.timeutil import format_time

    at = report.as_of * 1000
    rank = SEVERITY_RANK[fail_on] if fail_on else None
    as_of = format_time(report.as_of)
    for item in report.findings:
        f = fields(item)
        attrs: dict[str, Any] = {}
        for name, value in (("rule", item.rule), ("check", item.check), ("category", item.category),
                            ("severity", item.severity), ("subject", f["subject"]),
                            ("target", f["target"]), ("resource", f["resource"]),
                            ("event.id", f["event"]), ("key", f["key"]),
                            ("fingerprint", item.fingerprint)):
            _put(attrs, "keytrail." + name, value)
        known = report.known(item)
        attrs["keytrail.waived"] = item.waived is not None
        if item.waived is not None:
            w = item.waived
            _put(attrs, "keytrail.waiver.reason", w.reason)
            _put(attrs, "keytrail.waiver.approved_by", w.approved_by)
            _put(attrs, "keytrail.waiver.expires", format_time(w.expires))
            _put(attrs, "keytrail.waiver.ticket", w.ticket)
        if report.baseline is not None:
            attrs["keytrail.baseline"] = "known" if known else "new"
        if rank is not None:  # `check` has a gate; a review pack has none
            attrs["keytrail.failing"] = (item.waived is None and not known
                                         and SEVERITY_RANK[item.severity] >= rank)
        location = item.finding.location
        if location is not None:
            _put(attrs, "keytrail.location.path", location.path)
            if location.line:
                attrs["keytrail.location.line"] = location.line
        _put(attrs, "keytrail.as_of", as_of)
        yield LogItem(at, at, SEVERITY_NUMBER[item.severity], item.severity, f["message"] or "",
                      FINDING_EVENT, attrs, trace)


#: The native event fields a change record carries, as ``keytrail.<field>`` (what
#: ``import otlp`` reads back); ``prev`` and ``source`` stay out (they are about the file).
CHANGE_FIELDS = ("id", "action", "subject", "target", "resource", "actor", "key", "approver",
                 "ticket", "reason", "expires", "owner")


def change_item(event: dict[str, Any], observed_ns: int, trace: TraceContext | None,
                unexplained: bool = False) -> LogItem:
    """The record of a change ``keytrail record`` wrote: ``import otlp`` turns it back into
    ``event`` (its id prefixed ``otlp-``, its ``source`` the log record's)."""
    from keytrail.timeutil import parse_time

    attrs: dict[str, Any] = {}
    for name in CHANGE_FIELDS:
        value = event.get(name)
        if value is not None:
            attrs["keytrail." + name] = value  # resource "" too: the event holds it
    for name, value in (event.get("attributes") or {}).items():
        attrs["keytrail.attributes." + name] = value
    what = event.get("target") or ""
    if event.get("resource"):
        what += f" on {event['resource']}"
    if event.get("subject"):
        what = f"{what} for {event['subject']}" if what else event["subject"]
    body = f"{event['action']} of {what} by {event.get('actor') or 'no actor'} under key {event.get('key')}"
    return LogItem(parse_time(event["time"]) * 1000, observed_ns, 13 if unexplained else 9,
                   "warn" if unexplained else "info", body, CHANGE_EVENT, attrs, trace)
