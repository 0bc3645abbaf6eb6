"""``record --otlp-endpoint`` → OTLP receiver → OTLP/JSON file → ``import otlp`` → the same event."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import write_project
from tests.otel.receiver import receiver
from tests.otel.test_record import DIRECTORY, EVENTS, KEYS, NOW

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("OTEL_") or name == "TRACEPARENT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # the receiver is local, whatever proxy CI has
    return write_project(tmp_path / "proj", directory=DIRECTORY, keys=KEYS, events=EVENTS)


def last_event(root: Path, name: str = "h.jsonl") -> dict[str, Any]:
    return json.loads((root / "history" / name).read_text().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("action,options", [
    ("grant", ["--subject", "user:alice", "--target", "role:prod-admin", "--resource", "aws:123456789012",
               "--approver", "user:bob", "--ticket", "CHG-7", "--reason", "on-call rotation \u00e9\u202e",
               "--expires", "2026-07-01T00:00:00Z", "--time", "2026-06-01T11:59:58.25Z"]),
    ("revoke", ["--subject", "user:bob", "--target", "group:eng"]),
    ("join", ["--subject", "user:carol", "--attribute", "department=payments"]),
    ("define", ["--target", "role:prod-new", "--owner", "user:bob"]),
])
def test_a_recorded_change_reads_back_from_the_central_log_as_the_same_event(
        project: Path, tmp_path: Path, capsys: Any, action: str, options: list[str]) -> None:
    with receiver() as (url, got):
        assert main(["record", action, "--dir", str(project), "--out", str(project / "history" / "h.jsonl"),
                     "--actor", "svc:terraform", "--key", "pk-tf", "--traceparent", TRACEPARENT,
                     "--otlp-endpoint", url, *options]) == 0
    written = last_event(project)
    assert "sent " + written["id"] + " as an OTLP log record" in capsys.readouterr().err
    (request,) = got.requests
    (record,) = got.records()
    assert record["record"]["eventName"] == "keytrail.change"
    assert record["record"]["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    # What the Collector's file exporter would write: the received request as OTLP/JSON.
    central = tmp_path / "central.jsonl"
    central.write_text(json.dumps(request["body"]) + "\n")
    imported = tmp_path / "imported.jsonl"
    assert main(["import", "otlp", str(central), "--out", str(imported)]) == 0
    (line,) = imported.read_text().splitlines()
    back = json.loads(line)
    assert back["id"] == "otlp-" + written["id"]
    assert back["source"]["traceId"] == written["source"]["traceId"]
    assert back["source"]["spanId"] == written["source"]["spanId"]
    assert back["source"]["project"] == "proj"
    same = {k: v for k, v in written.items() if k not in ("id", "prev", "source")}
    assert {k: v for k, v in back.items() if k not in ("id", "source")} == same


def test_a_failed_export_after_recording_says_the_event_was_written_and_exits_2(
        project: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    with receiver(status=503) as (url, _):
        rc = main(["record", "grant", "--dir", str(project), "--out", str(project / "history" / "h.jsonl"),
                   "--subject", "user:alice", "--target", "role:prod-admin", "--actor", "svc:terraform",
                   "--key", "pk-tf", "--otlp-endpoint", url])
    assert rc == 2
    written = last_event(project)
    err = capsys.readouterr().err
    assert f"{written['id']} was written to history/h.jsonl:2, but OTLP export to {url}/v1/logs failed" in err
    assert "nothing was written" not in err


def test_a_bad_endpoint_refuses_before_recording(project: Path, capsys: Any) -> None:
    before = (project / "history" / "h.jsonl").read_bytes()
    assert main(["record", "grant", "--dir", str(project), "--out", str(project / "history" / "h.jsonl"),
                 "--subject", "user:alice", "--target", "role:prod-admin", "--actor", "svc:terraform",
                 "--key", "pk-tf", "--otlp-endpoint", "collector:4318"]) == 2
    assert "is not an http:// or https:// URL" in capsys.readouterr().err
    assert (project / "history" / "h.jsonl").read_bytes() == before


def test_the_python_api_sends_too(project: Path) -> None:
    import keytrail

    with receiver() as (url, got):
        event = keytrail.record("grant", dir=project, out=project / "history" / "h.jsonl", subject="user:alice",
                                target="role:prod-admin", actor="svc:terraform", key="pk-tf", otlp_endpoint=url)
    (record,) = got.records()
    ids = [kv["value"]["stringValue"] for kv in record["record"]["attributes"] if kv["key"] == "keytrail.id"]
    assert ids == [event["id"]]


def test_a_change_recorded_although_unexplained_is_sent_as_a_warning(project: Path, capsys: Any) -> None:
    with receiver() as (url, got):
        assert main(["record", "grant", "--dir", str(project), "--out", str(project / "history" / "h.jsonl"),
                     "--subject", "user:alice", "--target", "role:billing", "--actor", "svc:terraform",
                     "--key", "pk-tf", "--allow-unexplained", "--otlp-endpoint", url]) == 0
        assert main(["record", "grant", "--dir", str(project), "--out", str(project / "history" / "h.jsonl"),
                     "--subject", "user:alice", "--target", "role:prod-admin", "--actor", "svc:terraform",
                     "--key", "pk-tf", "--otlp-endpoint", url]) == 0
    warned, fine = (r["record"] for r in got.records())
    assert (warned["severityNumber"], warned["severityText"]) == (13, "warn")
    assert (fine["severityNumber"], fine["severityText"]) == (9, "info")
