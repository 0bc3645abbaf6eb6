"""OTLP/JSON log records carrying keytrail events → native history.

Input: OpenTelemetry log exports in the OTLP/JSON encoding: a document
``{"resourceLogs": [{"resource": ..., "scopeLogs": [{"scope": ..., "logRecords":
[...]}]}]}`` (an ``ExportLogsServiceRequest``), or JSON lines of such documents
(what the Collector's ``file`` exporter writes), gzipped or not. Each log
record in ``resourceLogs[].scopeLogs[].logRecords[]`` is one candidate event.

FIELD MAPPING. A log record is an access event when its attributes carry
``keytrail.action``. Only ``keytrail.``-prefixed attribute keys are read (plain
``action`` or ``subject`` are common in unrelated application logs and would be
misread as access changes). Attributes of the resource and of the scope apply
to every record under them (a record's own attributes win, then the scope's,
then the resource's), so a pipeline can put ``keytrail.actor`` or
``keytrail.key`` on its resource once. Typed values (``stringValue``,
``intValue``, ``boolValue``, ``doubleValue``, ``arrayValue``, ``kvlistValue``,
``bytesValue``) are unwrapped; scalar fields must be scalars.

=============================================  ===============================
OTLP                                           native event
=============================================  ===============================
``keytrail.action``                            ``action``
``keytrail.subject``                           ``subject`` (a native id: ``user:alice``)
``keytrail.target``                            ``target`` (``role:...``/``group:...``)
``keytrail.resource``                          ``resource``
``keytrail.actor`` / ``keytrail.approver``     ``actor`` / ``approver``
``keytrail.key`` / ``ticket`` / ``reason``     ``key`` / ``ticket`` / ``reason``
``keytrail.expires``, ``keytrail.owner``       ``expires``, ``owner``
``keytrail.attributes.NAME``                   ``attributes.NAME`` (join, move)
``timeUnixNano`` (else ``observedTimeUnixNano``,  ``time`` (ISO 8601 UTC, ``Z``,
else ``keytrail.time``)                        nanoseconds kept)
``keytrail.id``                                ``id`` = ``otlp-<keytrail.id>``
``traceId`` + ``spanId`` (no ``keytrail.id``)  ``id`` = ``otlp-<traceId>-<spanId>-<n>``, ``n`` counting
                                               records of that span in input order (1, 2, ...)
neither                                        ``id`` = ``otlp-<first 16 hex of the SHA-256 of the record>``
=============================================  ===============================

Other ``keytrail.X`` attributes are kept on the event as ``X`` (the native
format keeps unknown fields). ``source`` holds the format, file, line (JSON
lines) or document index, the record's path
(``resourceLogs[0].scopeLogs[0].logRecords[2]``), its ``traceId`` and
``spanId``, and the resource's ``keytrail.project`` (the project whose
``keytrail record`` sent the record: provenance, not a field of the event).

Key mapping: ``--key-from`` (and ``--ticket-from``, ``--reason-from``) take a
dotted path into the log record seen as ``{"attributes": {...}, "scope":
{...}, "resource": {...}, "body": ..., "traceId": ..., "spanId": ...,
"eventName": ..., "severityText": ...}``, where attribute keys are split at
their dots: ``--key-from attributes.change.key`` reads the attribute
``change.key``; ``--key-from resource.service.name`` the resource's
``service.name``; ``--key-from body --key-pattern 'key=(\\S+)'`` the body text.

Skipped (``not an access event``, counted by ``eventName``, else the
``event.name`` attribute, else ``log record``): every record without
``keytrail.action``, such as the OTLP specification's own example. Problems:
a document without ``resourceLogs``, a record with ``keytrail.action`` but no
usable time, an unknown action, a record that is not an object.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from keytrail.importers.base import Context, Malformed, Record, arr, obj, read_records

FORMAT = "otlp"
KIND = "history"

PREFIX = "keytrail."
PROJECT = "keytrail.project"
ACTIONS = ("grant", "revoke", "join", "move", "leave", "define", "retire", "certify")
_SCALAR_KEYS = ("stringValue", "boolValue", "intValue", "doubleValue", "bytesValue")


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    per_span: Counter[tuple[str, str]] = Counter()
    for record in read_records(paths):
        data = record.data
        if not isinstance(data, dict) or not isinstance(data.get("resourceLogs"), list):
            ctx.problem(record, "expected an OTLP/JSON logs document with resourceLogs[]")
            continue
        for place, log, scope_attrs, resource_attrs, scope in _log_records(record, data, ctx):
            try:
                event = _convert_one(record, place, log, scope_attrs, resource_attrs, scope, per_span, ctx)
            except Malformed as exc:
                ctx.problem(record, f"{place}: {exc}")
                continue
            if event is not None:
                yield event


def _log_records(record: Record, data: dict[str, Any], ctx: Context) -> Iterator[tuple[Any, ...]]:
    try:
        yield from _walk(record, data, ctx)
    except Malformed as exc:  # the envelope itself (a resource, a list of scopes) is malformed
        ctx.problem(record, str(exc))


def _walk(record: Record, data: dict[str, Any], ctx: Context) -> Iterator[tuple[Any, ...]]:
    for i, rlog in enumerate(data["resourceLogs"]):
        if not isinstance(rlog, dict):
            ctx.problem(record, f"resourceLogs[{i}] is not an object")
            continue
        at = f"resourceLogs[{i}]"
        resource_attrs = attributes(obj(rlog.get("resource"), f"{at}.resource").get("attributes"),
                                    f"{at}.resource.attributes")
        for j, slog in enumerate(arr(rlog.get("scopeLogs"), f"{at}.scopeLogs")):
            if not isinstance(slog, dict):
                ctx.problem(record, f"{at}.scopeLogs[{j}] is not an object")
                continue
            scope = obj(slog.get("scope"), f"{at}.scopeLogs[{j}].scope")
            scope_attrs = attributes(scope.get("attributes"), f"{at}.scopeLogs[{j}].scope.attributes")
            for k, log in enumerate(arr(slog.get("logRecords"), f"{at}.scopeLogs[{j}].logRecords")):
                place = f"{at}.scopeLogs[{j}].logRecords[{k}]"
                if not isinstance(log, dict):
                    ctx.problem(record, f"{place} is not an object")
                    continue
                yield place, log, scope_attrs, resource_attrs, scope


def value(typed: Any, what: str = "value") -> Any:
    """An OTLP ``AnyValue`` unwrapped: ``{"intValue": "10"}`` → 10, arrays to lists, kvlists to dicts."""
    if not isinstance(typed, dict):
        return typed
    for name in _SCALAR_KEYS:
        if name in typed:
            raw = typed[name]
            if name == "intValue":
                try:
                    number = int(raw)
                except (TypeError, ValueError):
                    return raw
                # OTLP's intValue is a signed 64-bit integer: anything wider is kept as written
                return number if -2**63 <= number < 2**63 else raw
            return raw
    if "arrayValue" in typed:
        items = arr(obj(typed["arrayValue"], f"{what}.arrayValue").get("values"), f"{what}.arrayValue.values")
        return [value(v, f"{what}.arrayValue.values[{n}]") for n, v in enumerate(items)]
    if "kvlistValue" in typed:
        return attributes(obj(typed["kvlistValue"], f"{what}.kvlistValue").get("values"),
                          f"{what}.kvlistValue.values")
    return None


def attributes(items: Any, what: str = "attributes") -> dict[str, Any]:
    """An OTLP ``KeyValue`` list as a dict (later keys win)."""
    out: dict[str, Any] = {}
    for n, item in enumerate(arr(items, what)):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            out[item["key"]] = value(item.get("value"), f"{what}[{n}].value")
    return out


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"change.key": "k"}`` → ``{"change": {"key": "k"}, "change.key": "k"}`` so dotted paths reach it."""
    out: dict[str, Any] = dict(flat)
    for key, val in flat.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                if child is not None:
                    break  # a scalar attribute of that name already: keep the flat key only
                child = node[part] = {}
            node = child
        else:
            node.setdefault(parts[-1], val)
    return out


def _time(nanos: Any) -> str | None:
    try:
        n = int(nanos)
    except (TypeError, ValueError):
        return None
    if n <= 0:
        return None
    seconds, frac = divmod(n, 1_000_000_000)
    try:
        text = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):  # past the year 9999: not a time
        return None
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def _convert_one(record: Record, place: str, log: dict[str, Any], scope_attrs: dict[str, Any],
                 resource_attrs: dict[str, Any], scope: dict[str, Any], per_span: Counter[tuple[str, str]],
                 ctx: Context) -> dict[str, Any] | None:
    own = attributes(log.get("attributes"), f"{place}.attributes")
    # keytrail.project on the resource names the project whose keytrail wrote the records
    # (`keytrail record --otlp-endpoint`): where the event came from, not a field of it.
    project = resource_attrs.get(PROJECT)
    merged = {**{k: v for k, v in resource_attrs.items() if k != PROJECT}, **scope_attrs, **own}
    fields = {k[len(PREFIX):]: v for k, v in merged.items() if k.startswith(PREFIX)}
    action = fields.get("action")
    if action is None:
        kind = log.get("eventName") or own.get("event.name") or "log record"
        ctx.skip(record, "not an access event", str(kind))
        return None
    if action not in ACTIONS:
        ctx.problem(record, f"{place}: keytrail.action {action!r} is not one of {', '.join(ACTIONS)}")
        return None
    time = _time(log.get("timeUnixNano")) or _time(log.get("observedTimeUnixNano")) \
        or (fields.get("time") if isinstance(fields.get("time"), str) else None)
    if not time:
        ctx.problem(record, f"{place}: no time (timeUnixNano, observedTimeUnixNano or keytrail.time)")
        return None
    trace, span = str(log.get("traceId") or ""), str(log.get("spanId") or "")
    if fields.get("id") not in (None, ""):
        ident = str(fields["id"])
    elif trace and span:
        per_span[(trace, span)] += 1
        ident = f"{trace}-{span}-{per_span[(trace, span)]}"
    else:
        ident = hashlib.sha256(json.dumps(log, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    event: dict[str, Any] = {"id": f"otlp-{ident}", "time": time, "action": action}
    attrs: dict[str, Any] = {}
    for name, val in fields.items():
        if name in ("id", "time", "action"):
            continue
        if name.startswith("attributes."):
            attrs[name[len("attributes."):]] = val
        elif isinstance(val, (dict, list)):
            ctx.problem(record, f"{place}: keytrail.{name} must be a scalar value")
            return None
        else:
            event[name] = val
    if attrs:
        event["attributes"] = attrs
    raw = {"attributes": _nested(own), "scope": _nested({**scope_attrs, **{k: v for k, v in scope.items()
                                                                          if k != "attributes"}}),
           "resource": _nested(resource_attrs), "body": value(log.get("body"), f"{place}.body")}
    raw.update({k: v for k, v in log.items() if k not in ("attributes", "body")})
    ctx.mapping.apply(raw, event)
    event["source"] = ctx.source(record, fields.get("id") or (f"{trace}/{span}" if trace and span else None),
                                 path=place, traceId=trace or None, spanId=span or None,
                                 project=project if isinstance(project, str) and project else None)
    ctx.count(str(action))
    return event
