"""A local OTLP/HTTP logs receiver for the tests: what a Collector's ``otlp`` receiver sees.

It listens on 127.0.0.1 (a free port), decodes each ``POST /v1/logs`` body with the
official ``opentelemetry-proto`` package (protobuf, or JSON when the content type says
so) and keeps the requests. ``status`` makes it answer with an error (503 to test
retries); ``hang`` makes it never answer (to test timeouts).
"""

from __future__ import annotations

import base64
import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """What arrived: each request's path, headers and decoded ExportLogsServiceRequest (as OTLP/JSON)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)  # arrival times (monotonic), answered or not
    status: int = 200
    hang: float = 0.0
    location: str = ""  # sent with a non-200 status (a redirect)

    def records(self) -> list[dict[str, Any]]:
        """Every log record received, with its resource and scope attributes beside it."""
        out = []
        for req in self.requests:
            for rl in req["body"].get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    for rec in sl.get("logRecords", []):
                        out.append({"record": rec, "resource": rl.get("resource", {}), "scope": sl.get("scope", {})})
        return out


def to_otlp_json(message: Any) -> dict[str, Any]:
    """A decoded protobuf message as OTLP/JSON: lowerCamelCase, trace and span ids in hex
    (protobuf's JSON mapping writes bytes as base64, which OTLP/JSON does not)."""
    from google.protobuf.json_format import MessageToDict

    data = MessageToDict(message, use_integers_for_enums=True)
    for rl in data.get("resourceLogs", []):
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                for name in ("traceId", "spanId"):
                    if name in rec:
                        rec[name] = base64.b64decode(rec[name]).hex()
    return data


def decode(body: bytes, content_type: str, encoding: str) -> dict[str, Any]:
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    message = ExportLogsServiceRequest()
    if content_type.startswith("application/json"):
        Parse(body.decode("utf-8"), message)
    else:
        message.ParseFromString(body)
    return to_otlp_json(message)


@contextmanager
def receiver(status: int = 200, hang: float = 0.0, location: str = "") -> Iterator[tuple[str, Received]]:
    """Run a receiver; yield its base URL (``http://127.0.0.1:PORT``) and what it receives."""
    got = Received(status=status, hang=hang, location=location)
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            got.attempts.append(time.monotonic())
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if got.hang:
                stop.wait(got.hang)  # never answers within the client's timeout
                return
            if got.status != 200:
                self.send_response(got.status)
                if got.location:
                    self.send_header("Location", got.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            got.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                 "body": decode(body, self.headers.get("Content-Type", ""),
                                                self.headers.get("Content-Encoding", ""))})
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
