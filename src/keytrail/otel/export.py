"""Sending LogItems to an OTLP/HTTP endpoint with the official OpenTelemetry exporter.

``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http`` (the
``keytrail[otel]`` extra) are imported here only, when a run exports: a
``keytrail check`` without ``--otlp-endpoint`` never loads them.

The endpoint: ``--otlp-endpoint URL`` is the collector's base URL, as in
``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/logs`` is appended; a URL whose path
already ends in ``/v1/logs`` is used as it is); ``--otlp-endpoint env`` takes it
from ``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` (as it is) or
``OTEL_EXPORTER_OTLP_ENDPOINT`` (plus ``/v1/logs``). Headers, compression and
TLS files come from the standard variables (``OTEL_EXPORTER_OTLP_HEADERS``,
``..._LOGS_HEADERS``, ``..._COMPRESSION``, ``..._CERTIFICATE``,
``..._CLIENT_KEY``, ``..._CLIENT_CERTIFICATE``), read by the exporter itself.
The timeout is ``OTEL_EXPORTER_OTLP_LOGS_TIMEOUT`` or ``OTEL_EXPORTER_OTLP_TIMEOUT``
in **milliseconds**, as the OpenTelemetry specification defines it (default
10000), read here: the Python exporter would take it as seconds, and a value
written for every other SDK (``10000``) would then wait almost three hours. A
protocol other than ``http/protobuf`` in ``OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL``
is refused, never silently replaced.

Retries and time: the exporter retries 429, 502, 503 and 504 answers and
connection errors with exponential backoff (1 s, 2 s, 4 s ..., honouring
``Retry-After``) within the timeout, which bounds each request and its retries
together. Records go in batches of :data:`BATCH`; the first batch that fails
ends the export, so a dead endpoint costs one timeout, not one per batch.
A failure raises :class:`ExportError`: the caller has written its other outputs
and exits 2.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from keytrail.errors import KeytrailError, UsageError
from keytrail.otel.mapping import SCOPE, LogItem, resource_attributes
from keytrail.textsafe import excerpt

#: Log records per export request.
BATCH = 512
#: The OTLP default timeout, in milliseconds.
DEFAULT_TIMEOUT_MS = 10_000
#: The packages an export needs (the ``otel`` extra).
PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
LOGS_PATH = "/v1/logs"


class ExportError(KeytrailError):
    """The OTLP export failed (after the run's other outputs were written)."""

    consequence = "the export failed"


@dataclass(frozen=True)
class Target:
    """Where and how long to export."""

    url: str
    timeout: float  # seconds, for each batch with its retries

    @property
    def shown(self) -> str:
        """The URL as messages print it: a user name or password in it is never printed."""
        return shown_url(self.url)


def shown_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@`` and a query or fragment (where
    ingest tokens travel: ``?api-key=...``) by ``***``, inert."""
    from keytrail.textsafe import inline

    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])
    if parts.query:
        parts = parts._replace(query="***")
    if parts.fragment:
        parts = parts._replace(fragment="***")
    return inline(parts.geturl())


def _secrets(url: str) -> list[str]:
    """The parts of ``url`` that may carry a secret, for scrubbing the exporter's messages."""
    parts = urlsplit(url)
    found = [parts.netloc.rpartition("@")[0]] if "@" in parts.netloc else []
    return [s for s in (*found, parts.query, parts.fragment) if s]


def _scrub(text: str, url: str) -> str:
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def require_sdk() -> None:
    """Fail early (before anything is written) when the ``otel`` extra is not installed."""
    import importlib.util

    for name in PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError("--otlp-endpoint needs the OpenTelemetry packages (opentelemetry-sdk, "
                             "opentelemetry-exporter-otlp-proto-http): pip install 'keytrail[otel]'")


def cleartext_credentials(url: str) -> str | None:
    """Why an export to ``url`` would carry credentials unencrypted across a network, or None.

    Plain ``http://`` to a host other than this machine, with a header variable set
    (``OTEL_EXPORTER_OTLP_HEADERS`` or ``..._LOGS_HEADERS``: where API keys and bearer
    tokens go), a user or password in the URL, or a query (``?api-key=...``). The export
    still runs (a collector on a private network may be reached that way on purpose);
    the caller warns before the long part.
    """
    import ipaddress

    parts = urlsplit(url)
    if parts.scheme != "http":
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    carried = [name for name in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS")
               if os.environ.get(name, "").strip()]
    if "@" in parts.netloc:
        carried.append("a user or password in the URL")
    if parts.query:
        carried.append("a query in the URL")
    if not carried:
        return None
    return (f"--otlp-endpoint {shown_url(url)} is plain http:// to another machine, and the export "
            f"carries credentials ({', '.join(carried)}): anyone on the network path can read them; "
            "use an https:// endpoint")


def _url(text: str, source: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{source}: '{excerpt(shown_url(text))}' is not an http:// or https:// URL")
    return text.strip()


def _with_path(base: str) -> str:
    """A base URL with ``/v1/logs`` appended, unless its path ends in it already."""
    parts = urlsplit(base)
    if parts.path.rstrip("/").endswith(LOGS_PATH):
        return base
    # Into the path, before any query (`https://host/?token=x` → `https://host/v1/logs?token=x`).
    return parts._replace(path=parts.path.rstrip("/") + LOGS_PATH).geturl()


def _timeout() -> float:
    for name in ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                ms = float(raw)
            except ValueError:
                ms = -1.0
            if not ms > 0 or ms == float("inf"):
                raise UsageError(f"{name}: '{excerpt(raw)}' is not a timeout in milliseconds "
                                 "(a positive number, e.g. 10000)")
            return ms / 1000
    return DEFAULT_TIMEOUT_MS / 1000


def target(option: str) -> Target:
    """The endpoint ``--otlp-endpoint option`` names, with the environment's timeout."""
    for name in ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(name, "").strip()
        if protocol:
            if protocol != "http/protobuf":
                raise UsageError(f"{name}={excerpt(protocol)}: keytrail exports OTLP over HTTP with "
                                 "protobuf (http/protobuf) only; unset it or set http/protobuf")
            break
    if option == "env":
        logs = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "").strip()
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if logs:
            url = _url(logs, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        elif base:
            url = _with_path(_url(base, "OTEL_EXPORTER_OTLP_ENDPOINT"))
        else:
            raise UsageError("--otlp-endpoint env: neither OTEL_EXPORTER_OTLP_LOGS_ENDPOINT nor "
                             "OTEL_EXPORTER_OTLP_ENDPOINT is set")
    else:
        url = _with_path(_url(option, "--otlp-endpoint"))
    return Target(url, _timeout())


class _Collect(logging.Handler):
    """The exporter's own log messages during an export: shown in our error, not printed raw."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a message that cannot be formatted is not worth a crash
            self.messages.append(str(record.msg))


def _records(items: Sequence[LogItem], project: str) -> list[object]:
    try:
        from opentelemetry._logs import LogRecord, SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            TraceFlags,
            set_span_in_context,
        )
    except ImportError as exc:  # an SDK from before the logs API took its present shape
        raise UsageError(f"--otlp-endpoint: the installed OpenTelemetry SDK lacks what keytrail uses "
                         f"({exc}); pip install 'keytrail[otel]' installs a version that has it") from None

    from keytrail import __version__

    # Resource.create adds the SDK's telemetry.sdk.* and OTEL_RESOURCE_ATTRIBUTES; ours win.
    resource = Resource.create(resource_attributes(project))
    scope = InstrumentationScope(SCOPE, __version__)
    contexts: dict[Any, Any] = {}
    out: list[object] = []
    for item in items:
        context = None
        if item.trace is not None:
            context = contexts.get(item.trace)
            if context is None:
                span = SpanContext(int(item.trace.trace_id, 16), int(item.trace.span_id, 16), is_remote=True,
                                   trace_flags=TraceFlags(item.trace.flags))
                context = contexts[item.trace] = set_span_in_context(NonRecordingSpan(span))
        record = LogRecord(timestamp=item.time_ns, observed_timestamp=item.observed_ns, context=context,
                           severity_text=item.severity_text,
                           severity_number=SeverityNumber(item.severity_number), body=item.body,
                           attributes=dict(item.attributes), event_name=item.event_name)
        out.append(ReadableLogRecord(log_record=record, resource=resource, instrumentation_scope=scope))
    return out


def _answer_session() -> tuple[Any, list[int]]:
    """A requests session for the exporter that notes the status of every answer; the one the
    SDK would make from its credential-provider variable when that is set."""
    import requests

    session = None
    if os.environ.get(CREDENTIAL_PROVIDER, "").strip():
        try:
            from opentelemetry.exporter.otlp.proto.http._common import _load_session_from_envvar

            session = _load_session_from_envvar(CREDENTIAL_PROVIDER)  # type: ignore[arg-type]
        except ImportError:  # an SDK without it has no such variable to honour either
            pass
    session = session or requests.Session()
    answers: list[int] = []
    session.hooks.setdefault("response", []).append(
        lambda response, *args, **kwargs: answers.append(response.status_code))
    return session, answers


#: The SDK's variable naming a function that makes an authenticated session for logs.
CREDENTIAL_PROVIDER = "OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER"


def send(items: Sequence[LogItem], project: str, where: Target) -> int:
    """Export ``items``; return how many were sent, or raise :class:`ExportError`."""
    require_sdk()
    records = _records(items, project)
    try:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs.export import LogRecordExportResult
    except ImportError as exc:
        raise UsageError(f"--otlp-endpoint: the installed OpenTelemetry exporter lacks what keytrail "
                         f"uses ({exc}); pip install 'keytrail[otel]' installs a version that has it") from None
    collect = _Collect()
    sdk_log = logging.getLogger("opentelemetry")
    propagate = sdk_log.propagate
    sdk_log.addHandler(collect)
    sdk_log.propagate = False
    sent = 0
    try:
        session, answers = _answer_session()
        exporter = OTLPLogExporter(endpoint=where.url, timeout=where.timeout, session=session)
        try:
            for start in range(0, len(records), BATCH):
                batch = records[start:start + BATCH]
                answers.clear()
                result = exporter.export(batch)  # type: ignore[arg-type]
                if result is not LogRecordExportResult.SUCCESS:
                    break
                # The exporter counts any answer below 400 as delivered; OTLP/HTTP success is
                # 2xx. A redirect is never followed (the headers, API keys among them, would
                # go to the other host) and is not a delivery either.
                if answers and not 200 <= answers[-1] < 300:
                    collect.messages.append(f"the endpoint answered HTTP {answers[-1]}, not 2xx (a "
                                            "redirect is not followed); the records were not delivered")
                    break
                sent += len(batch)
        finally:
            exporter.shutdown()
    except Exception as exc:  # noqa: BLE001 - any exporter failure is an export failure, never a traceback
        collect.messages.append(f"{type(exc).__name__}: {exc}")
    finally:
        sdk_log.removeHandler(collect)
        sdk_log.propagate = propagate
    if sent < len(records):
        # The first transient error says what the endpoint answered; the last, why it gave up.
        seen = list(dict.fromkeys(collect.messages))
        why = "; ".join(seen[:1] + seen[-1:] if len(seen) > 1 else seen) or "the exporter reported a failure"
        raise ExportError(f"OTLP export to {where.shown} failed: {sent} of {len(records)} "
                          f"log records sent (timeout {where.timeout:g} s with retries): "
                          f"{excerpt(_scrub(why, where.url), 300)}")
    return sent
