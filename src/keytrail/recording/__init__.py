"""``keytrail record`` and :func:`record`: a keyed change written at the source.

Provisioning automation calls this when it changes access: the change is
checked as ``keytrail check`` would check it (fields, key checks), chained to
the history file it is appended to, and, with an OTLP endpoint, also sent to
the central log as an OpenTelemetry log record. A change that would be
unexplained is refused unless the caller allows it. The modules: ``event``
(the fields), ``gate`` (the key checks), ``append`` (lock, file, chain, write)
and ``core`` (the order of it all).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def record(action: str, *, out: str | Path, dir: str | Path = ".", subject: str | None = None,
           target: str | None = None, resource: str | None = None, actor: str, key: str,
           approver: str | None = None, ticket: str | None = None, reason: str | None = None,
           expires: str | datetime | None = None, time: str | datetime | None = None,
           owner: str | None = None, attributes: dict[str, Any] | None = None, id: str | None = None,
           traceparent: str | None = None, allow_unexplained: bool = False,
           otlp_endpoint: str | None = None, wait: float = 30.0) -> dict[str, Any]:
    """Record one change in the history file ``out`` of the project in ``dir``; return the event.

    Does what ``keytrail record`` does (docs/otel.md), with the same checks. ``time`` and
    ``expires`` are ISO 8601 strings with a zone or aware datetimes (default time: now).
    ``traceparent`` (else the ``TRACEPARENT`` environment variable) puts the change in a
    W3C trace. Raises :class:`keytrail.errors.KeytrailError` when the change is refused
    (:class:`~keytrail.recording.core.RecordRefused` for an unexplained one, nothing
    written) or, after writing, when the OTLP export fails
    (:class:`~keytrail.otel.export.ExportError`).
    """
    from keytrail.commands._args import now_us
    from keytrail.otel.context import trace_context
    from keytrail.recording.core import record_change
    from keytrail.recording.event import Change

    change = Change(action, subject, target, resource, actor, key, approver, ticket, reason, expires,
                    time, owner, dict(attributes or {}), id, cli=False)
    trace = trace_context(traceparent, "traceparent=")
    where = None
    if otlp_endpoint:
        from keytrail.otel.export import require_sdk
        from keytrail.otel.export import target as otlp_target

        where = otlp_target(otlp_endpoint)
        require_sdk()
    now = now_us()
    done = record_change(change, Path(dir), Path(out), now_us=now, trace=trace,
                         allow_unexplained=allow_unexplained, wait=wait)
    if where is not None:
        send_change(done, now, trace, where)
    return done.event


def send_change(done: Any, now: int, trace: Any, where: Any) -> int:
    """Send a recorded change to the OTLP endpoint; an ExportError says it was written all the same."""
    from keytrail.otel.export import ExportError, send
    from keytrail.otel.mapping import change_item
    item = change_item(done.event, now * 1000, trace, bool(done.unexplained))
    try:
        return send([item], done.project, where)
    except ExportError as exc:
        raise ExportError(f"{done.event['id']} was written to {done.file}:{done.line}, but {exc.message}") \
            from None
