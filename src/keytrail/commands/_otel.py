"""``--otlp-endpoint`` for the commands that export (``check``, ``review``, ``record``).

The endpoint is resolved and the OpenTelemetry packages looked for (not imported)
before anything is written: a typo in the URL or a missing ``keytrail[otel]``
fails the run at once (exit 2), not after a long check. The export itself runs
last, after every other output is written; when it fails the run says so and
exits 2 (:class:`keytrail.otel.export.ExportError`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def otlp_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--otlp-endpoint", metavar="URL",
                        help=f"also send {what} as OpenTelemetry log records over OTLP/HTTP to URL, "
                             "the collector's base URL (http://collector:4318; /v1/logs is added), or "
                             "`env` for OTEL_EXPORTER_OTLP_LOGS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT; "
                             "headers, timeout (milliseconds), compression and TLS come from the "
                             "standard OTEL_EXPORTER_OTLP_* variables (docs/otel.md); needs "
                             "keytrail[otel]; a failed export exits 2 after the other outputs are written")


def prepare(args: argparse.Namespace) -> Any:
    """The export target of ``--otlp-endpoint`` (None without it), checked before the run's work."""
    if not getattr(args, "otlp_endpoint", None):
        return None
    from keytrail.otel.export import cleartext_credentials, require_sdk, target

    where = target(args.otlp_endpoint)
    require_sdk()
    why = cleartext_credentials(where.url)
    if why is not None:  # said before the long part, and the export still runs
        print(f"keytrail: warning: {why}", file=sys.stderr)
    return where


def export_findings(report: Any, fail_on: str | None, where: Any) -> None:
    """Send every finding of ``report``; say how many went where (stderr)."""
    from keytrail.otel.context import trace_from_env
    from keytrail.otel.export import send
    from keytrail.otel.mapping import finding_items

    items = list(finding_items(report, fail_on, trace_from_env()))
    sent = send(items, report.view.project.name, where)
    print(f"keytrail: sent {sent} finding{'s' if sent != 1 else ''} as OTLP log records to "
          f"{where.shown}", file=sys.stderr)
