"""LogItems as an OTLP/JSON document (``keytrail check --format otlp``).

The document is an ``ExportLogsServiceRequest`` in the OTLP/JSON encoding of
the OTLP specification: ``{"resourceLogs": [{"resource": ..., "scopeLogs":
[{"scope": ..., "logRecords": [...]}]}]}``, with field names in lowerCamelCase,
trace and span ids as hex, 64-bit integers (times, ``intValue``) as decimal
strings and enums as numbers. It is what the Collector's ``otlpjsonfile``
receiver and ``keytrail import otlp`` read. Each log record is written compactly
on a line of its own (a large organisation has many findings: the file stays
greppable and is written a record at a time). Values are exact; control and
invisible characters inside strings are written as ``\\u`` escapes
(:func:`keytrail.textsafe.json_inert`). The same findings give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from keytrail.otel.mapping import SCOPE, LogItem, finding_items, resource_attributes


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP/JSON ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def key_values(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


def record_data(item: LogItem) -> dict[str, Any]:
    """One ``LogRecord`` in OTLP/JSON."""
    out: dict[str, Any] = {"timeUnixNano": str(item.time_ns), "observedTimeUnixNano": str(item.observed_ns),
                           "severityNumber": item.severity_number, "severityText": item.severity_text,
                           "body": {"stringValue": item.body}, "attributes": key_values(item.attributes)}
    if item.trace is not None:
        out["flags"] = item.trace.flags
        out["traceId"] = item.trace.trace_id
        out["spanId"] = item.trace.span_id
    out["eventName"] = item.event_name
    return out


def iter_document(items: Iterable[LogItem], project: str) -> Iterator[str]:
    """The document in pieces, one log record a line."""
    import orjson

    from keytrail import __version__
    from keytrail.textsafe import json_inert

    resource = orjson.dumps({"attributes": key_values(resource_attributes(project))}).decode("utf-8")
    scope = orjson.dumps({"name": SCOPE, "version": __version__}).decode("utf-8")
    yield ('{"resourceLogs": [{"resource": ' + json_inert(resource) + ', "scopeLogs": [{"scope": '
           + scope + ', "logRecords": [')
    for n, item in enumerate(items):
        line = orjson.dumps(record_data(item)).decode("utf-8")
        yield ("," if n else "") + "\n  " + json_inert(line)
    yield "\n]}]}]}\n"


def document(items: Iterable[LogItem], project: str) -> str:
    return "".join(iter_document(items, project))


def iter_render(report: Any, fail_on: str = "high") -> Iterator[str]:
    """``--format otlp``: every finding of ``report`` as an OTLP/JSON logs document, a record
    at a time. A ``TRACEPARENT`` in the environment puts the records in that trace."""
    from keytrail.otel.context import trace_from_env

    return iter_document(finding_items(report, fail_on, trace_from_env()), report.view.project.name)


def render(report: Any, fail_on: str = "high") -> str:
    return "".join(iter_render(report, fail_on))
