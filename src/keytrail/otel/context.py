"""Where the W3C trace context of a run comes from: ``--traceparent`` or the environment.

A pipeline that runs inside a trace passes it on as the ``TRACEPARENT``
environment variable (OpenTelemetry's environment carrier for W3C Trace
Context, set by CI tracing and ``otel-cli``); the option wins over it. An
invalid value is an error naming where it came from, never silently ignored:
a change recorded outside the trace it belongs to would be missing from that
trace's timeline.
"""

from __future__ import annotations

import os

from keytrail.errors import UsageError
from keytrail.otel.mapping import TraceContext, parse_traceparent

ENV = "TRACEPARENT"


def trace_context(option: str | None = None, what: str = "--traceparent") -> TraceContext | None:
    """The trace context from ``option`` (named ``what`` in errors), else ``$TRACEPARENT``, else None."""
    if option is not None:
        source, text = what, option
    else:
        env = os.environ.get(ENV)
        if env is None or not env.strip():
            return None
        source, text = ENV, env
    try:
        return parse_traceparent(text)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}") from None


def trace_from_env() -> TraceContext | None:
    """The trace context of ``$TRACEPARENT``, or None."""
    return trace_context(None)
