"""OpenTelemetry out: findings and recorded changes as OTLP log records.

:mod:`keytrail.otel.mapping` turns a finding or a recorded event into one
:class:`~keytrail.otel.mapping.LogItem` (the single mapping every output
shares); :mod:`keytrail.otel.jsonfile` writes items as an OTLP/JSON document
(``--format otlp``, no OpenTelemetry package needed); :mod:`keytrail.otel.export`
sends them over OTLP/HTTP with the official ``opentelemetry-sdk`` and
``opentelemetry-exporter-otlp-proto-http`` packages, imported only then.
The attribute names are documented in docs/otel.md.
"""

from __future__ import annotations
