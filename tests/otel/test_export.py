"""Findings as OpenTelemetry logs: what arrives at an OTLP/HTTP receiver, and ``--format otlp``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.otel.receiver import receiver

ACME = str(REPO / "examples" / "acme")
AS_OF = "2026-09-30T23:59:59Z"
#: The findings of examples/acme as of AS_OF, one log record each (as many as its README
#: counts; tests/test_docs_output.py compares the README with the check).
ACME_FINDINGS = 51
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_") or name == "TRACEPARENT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEYTRAIL_NOW", AS_OF)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # the receiver is local, whatever proxy CI has


def attrs(kvs: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP/JSON KeyValues as a dict of plain values."""
    out = {}
    for kv in kvs:
        (kind, value), = kv["value"].items()
        out[kv["key"]] = int(value) if kind == "intValue" else value
    return out


def report_json(tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "findings.json"
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(out)]) in (0, 1)
    return json.loads(out.read_text())["findings"]  # type: ignore[no-any-return]


def test_every_finding_arrives_as_one_log_record_with_its_attributes(tmp_path: Path, capsys: Any) -> None:
    findings = report_json(tmp_path)
    with receiver() as (url, got):
        rc = main(["check", ACME, "--as-of", AS_OF, "-f", "text", "-o", str(tmp_path / "r.txt"),
                   "--otlp-endpoint", url])
    assert rc == 1  # the findings decide the exit code, as without the export
    assert f"sent {len(findings)} findings as OTLP log records to {url}/v1/logs" in capsys.readouterr().err
    assert [r["path"] for r in got.requests] == ["/v1/logs"]
    assert got.requests[0]["headers"]["content-type"] == "application/x-protobuf"
    records = got.records()
    assert len(records) == len(findings) == ACME_FINDINGS
    by_print = {attrs(r["record"]["attributes"])["keytrail.fingerprint"]: r for r in records}
    numbers = {"info": 9, "low": 13, "medium": 14, "high": 17, "critical": 21}
    for finding in findings:
        got_one = by_print[finding["fingerprint"]]
        rec, a = got_one["record"], attrs(got_one["record"]["attributes"])
        assert rec["severityNumber"] == numbers[finding["severity"]]
        assert rec["severityText"] == finding["severity"]
        assert rec["body"] == {"stringValue": finding["message"]}
        assert rec["eventName"] == "keytrail.finding"
        assert rec["timeUnixNano"] == "1790812799000000000"
        assert "keytrail.action" not in a  # import otlp never takes a finding for a change
        for name in ("rule", "check", "category", "severity", "subject", "target", "key"):
            assert a.get(f"keytrail.{name}") == (finding[name] or None), name
        assert a.get("keytrail.resource") == (finding["resource"] or None)
        assert a.get("keytrail.event.id") == finding["event"]
        assert a["keytrail.waived"] is (finding["waived"] is not None)
        if finding["location"]:
            assert a["keytrail.location.path"] == finding["location"]["path"]
        resource = attrs(got_one["resource"]["attributes"])
        assert resource["service.name"] == "keytrail" and resource["keytrail.project"] == "acme"
        assert got_one["scope"]["name"] == "keytrail"
    waived = [attrs(r["record"]["attributes"]) for r in records
              if attrs(r["record"]["attributes"])["keytrail.waived"]]
    assert len(waived) == 1
    assert waived[0]["keytrail.waiver.approved_by"] == "user:marcus.lindqvist"
    assert waived[0]["keytrail.waiver.expires"] == "2027-03-31T23:59:59Z"
    assert waived[0]["keytrail.waiver.ticket"] == "FIN-233"
    assert waived[0]["keytrail.failing"] is False
    assert {r["record"]["severityNumber"] for r in records} == {9, 13, 14, 17, 21}


def test_headers_and_the_endpoint_come_from_the_standard_variables(tmp_path: Path, capsys: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret,x-tenant=acme")
    with receiver() as (url, got):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url + "/")
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", "env"]) == 1
    headers = got.requests[0]["headers"]
    assert headers["authorization"] == "Bearer s3cret" and headers["x-tenant"] == "acme"
    assert got.requests[0]["path"] == "/v1/logs"
    assert "s3cret" not in capsys.readouterr().err  # a header's secret is never printed


def test_the_logs_endpoint_variable_is_used_as_it_is(tmp_path: Path, capsys: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with receiver() as (url, got):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9/unused")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", url + "/custom/ingest")
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", "env"]) == 1
    assert got.requests[0]["path"] == "/custom/ingest"


def test_a_url_that_already_names_v1_logs_is_not_doubled(tmp_path: Path, capsys: Any) -> None:
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url + "/v1/logs"]) == 1
    assert got.requests[0]["path"] == "/v1/logs"


def test_gzip_compression_from_the_environment(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    assert got.requests[0]["headers"]["content-encoding"] == "gzip"
    assert len(got.records()) == ACME_FINDINGS


def test_a_503_is_retried_within_the_timeout_then_the_run_exits_2_with_its_outputs_written(
        tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")  # milliseconds, as the specification says
    out = tmp_path / "report.sarif"
    with receiver(status=503) as (url, got):
        start = time.monotonic()
        rc = main(["check", ACME, "--as-of", AS_OF, "-f", "sarif", "-o", str(out), "--otlp-endpoint", url])
        took = time.monotonic() - start
    err = capsys.readouterr().err
    assert rc == 2
    assert len(got.attempts) >= 2  # retried
    assert took < 12  # unbounded, six tries would take over 30 s
    assert out.is_file() and json.loads(out.read_text())["runs"]  # written before the export
    assert f"OTLP export to {url}/v1/logs failed: 0 of {ACME_FINDINGS} log records sent (timeout 2.5 s with retries)" in err
    assert "Traceback" not in err


def test_a_receiver_that_never_answers_costs_one_timeout(tmp_path: Path, capsys: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1000")
    out = tmp_path / "r.json"
    with receiver(hang=30) as (url, got):
        start = time.monotonic()
        rc = main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(out), "--otlp-endpoint", url])
        took = time.monotonic() - start
    assert rc == 2
    assert took < 10  # the receiver would hold the request for 30 s
    assert out.is_file()
    assert f"failed: 0 of {ACME_FINDINGS} log records sent (timeout 1 s with retries)" in capsys.readouterr().err


def test_a_refused_connection_fails_the_same_way(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                 "--otlp-endpoint", f"http://127.0.0.1:{port}"]) == 2
    assert f"0 of {ACME_FINDINGS} log records sent" in capsys.readouterr().err


@pytest.mark.parametrize("env,option,message", [
    ({}, "ftp://collector:4318", "--otlp-endpoint: 'ftp://collector:4318' is not an http:// or https:// URL"),
    ({}, "collector:4318", "is not an http:// or https:// URL"),
    ({}, "env", "--otlp-endpoint env: neither OTEL_EXPORTER_OTLP_LOGS_ENDPOINT nor OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http://127.0.0.1:4318",
     "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: keytrail exports OTLP over HTTP with protobuf"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "ten"}, "http://127.0.0.1:4318",
     "OTEL_EXPORTER_OTLP_TIMEOUT: 'ten' is not a timeout in milliseconds"),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "0"}, "http://127.0.0.1:4318", "is not a timeout in milliseconds"),
    ({"TRACEPARENT": "not-a-traceparent"}, "http://127.0.0.1:4318", "TRACEPARENT: 'not-a-traceparent' is not"),
])
def test_a_bad_export_setting_fails_before_anything_is_written(tmp_path: Path, capsys: Any,
                                                               monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                               option: str, message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "r.txt"
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "text", "-o", str(out), "--otlp-endpoint", option]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_http_protobuf_named_in_the_environment_is_accepted(tmp_path: Path, capsys: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # the logs variable wins
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    assert len(got.records()) == ACME_FINDINGS


def test_without_the_otel_extra_the_run_says_what_to_install(tmp_path: Path, capsys: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def missing(name: str, *args: Any) -> Any:
        return None if name.startswith("opentelemetry") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", missing)
    out = tmp_path / "r.txt"
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "text", "-o", str(out),
                 "--otlp-endpoint", "http://127.0.0.1:4318"]) == 2
    assert "pip install 'keytrail[otel]'" in capsys.readouterr().err
    assert not out.exists()


def test_the_trace_of_the_run_is_put_on_every_record(tmp_path: Path, capsys: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    assert {(r["record"]["traceId"], r["record"]["spanId"], r["record"]["flags"]) for r in got.records()} == \
        {("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)}


def test_review_exports_the_findings_of_its_pack(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "pack"
    with receiver() as (url, got):
        assert main(["review", ACME, "--period", "2026-Q3", "--out", str(out), "--otlp-endpoint", url]) == 0
    findings = json.loads((out / "findings.json").read_text())["findings"]
    records = got.records()
    assert len(records) == len(findings) > 0
    assert [attrs(r["record"]["attributes"])["keytrail.fingerprint"] for r in records] == \
        [f["fingerprint"] for f in findings]
    assert all("keytrail.failing" not in attrs(r["record"]["attributes"]) for r in records)  # no gate in a review


def test_review_with_a_dead_endpoint_writes_the_pack_and_exits_2(tmp_path: Path, capsys: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    out = tmp_path / "pack"
    with receiver(status=503) as (url, _):
        assert main(["review", ACME, "--period", "2026-Q3", "--out", str(out), "--otlp-endpoint", url]) == 2
    assert (out / "index.html").is_file() and (out / "findings.json").is_file()
    assert "OTLP export" in capsys.readouterr().err


# -- --format otlp ------------------------------------------------------------------------------------

def test_format_otlp_is_deterministic_and_holds_what_the_wire_carries(tmp_path: Path, capsys: Any) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        assert main(["check", ACME, "--as-of", AS_OF, "-f", "otlp", "-o", str(path)]) == 1
    assert first.read_bytes() == second.read_bytes()
    doc = json.loads(first.read_text())
    (rl,) = doc["resourceLogs"]
    assert attrs(rl["resource"]["attributes"]) == {"service.name": "keytrail", "service.version": "0.1.0",
                                                   "keytrail.project": "acme"}
    in_file = rl["scopeLogs"][0]["logRecords"]
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    on_wire = [r["record"] for r in got.records()]
    assert len(in_file) == len(on_wire) == ACME_FINDINGS
    for a, b in zip(in_file, on_wire, strict=True):
        assert attrs(a.pop("attributes")) == attrs(b.pop("attributes"))
        assert a == b


def test_import_otlp_reads_a_findings_file_as_no_access_change(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "findings.otlp.json"
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "otlp", "-o", str(path)]) == 1
    out = tmp_path / "h.jsonl"
    assert main(["import", "otlp", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {ACME_FINDINGS} (not an access event): keytrail.finding {ACME_FINDINGS}" in err
    assert out.read_text() == ""


def test_format_otlp_writes_control_characters_as_escapes(tmp_path: Path, capsys: Any) -> None:
    import shutil

    root = tmp_path / "acme"
    shutil.copytree(ACME, root)
    policy = root / "policies" / "acme.yaml"
    lines = policy.read_text().splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.strip() == "reason: >-" and
              "Financial Controller" in lines[n + 1])
    lines[at] = '    reason: "\\u202e\\e[31mFinancial"\n'
    lines[at + 1:at + 3] = []  # the folded text it replaces
    policy.write_text("".join(lines))
    out = tmp_path / "f.json"
    assert main(["check", str(root), "--as-of", AS_OF, "-f", "otlp", "-o", str(out)]) == 1
    raw = out.read_text()
    assert "\u202e" not in raw and "\x1b" not in raw
    assert "\\u202e" in raw and "\\u001b" in raw
    values = [attrs(r["attributes"]).get("keytrail.waiver.reason") for r in
              json.loads(raw)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]]
    assert "\u202e\x1b[31mFinancial" in values  # the value itself is exact


# -- startup ----------------------------------------------------------------------------------------------

def _modules_after(args: list[str]) -> list[str]:
    code = ("import sys; from keytrail.cli import main; main(sys.argv[1:]); "
            "print(sorted({m.split('.')[0] + '.' + m.split('.')[1] for m in sys.modules "
            "if m.startswith('opentelemetry.')}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", code, *args], env={**env, "PYTHONPATH": str(REPO / "src")},
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))  # type: ignore[no-any-return]


def test_check_without_an_endpoint_never_imports_opentelemetry(tmp_path: Path) -> None:
    assert _modules_after(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(tmp_path / "a.json"),
                           "-f", "otlp", "-o", str(tmp_path / "b.json")]) == []


def test_check_with_an_endpoint_does_import_it(tmp_path: Path) -> None:
    # The near miss: the same probe sees the SDK when an export runs (so the test above can fail).
    with receiver() as (url, _):
        found = _modules_after(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "a.txt"), "-f", "text",
                                "--otlp-endpoint", url])
    assert "opentelemetry.sdk" in found


def test_a_password_in_the_endpoint_url_is_never_printed(tmp_path: Path, capsys: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    with receiver(status=503) as (url, _):
        secret_url = url.replace("http://", "http://ingest:s3cret@")
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", secret_url]) == 2
    err = capsys.readouterr().err
    assert "OTLP export to http://***@127.0.0.1:" in err
    assert "s3cret" not in err and "ingest" not in err


def test_a_url_without_credentials_is_printed_as_it_is(tmp_path: Path, capsys: Any) -> None:
    with receiver() as (url, _):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    assert f"to {url}/v1/logs" in capsys.readouterr().err


def test_compare_policies_refuses_an_endpoint_it_would_not_use(tmp_path: Path, capsys: Any) -> None:
    assert main(["check", ACME, "--as-of", AS_OF, "--compare-policies", str(Path(ACME) / "policies"),
                 "--otlp-endpoint", "http://127.0.0.1:4318"]) == 2
    assert "--otlp-endpoint exports findings; --compare-policies prints no findings" in capsys.readouterr().err
    # The near miss: the comparison itself runs without the endpoint.
    assert main(["check", ACME, "--as-of", AS_OF, "--compare-policies", str(Path(ACME) / "policies")]) in (0, 1)


def test_the_logs_headers_variable_wins_over_the_general_one(tmp_path: Path, capsys: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=general")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-tenant=logs")
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 1
    assert got.requests[0]["headers"]["x-tenant"] == "logs"


def test_an_sdk_without_the_logs_api_keytrail_uses_is_a_clear_error(tmp_path: Path, capsys: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk._logs", types.ModuleType("opentelemetry.sdk._logs"))
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url]) == 2
    err = capsys.readouterr().err
    assert "the installed OpenTelemetry SDK lacks what keytrail uses" in err and "Traceback" not in err
    assert not got.requests


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_neither_followed_nor_counted_as_delivered(tmp_path: Path, capsys: Any,
                                                                  monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    # The exporter takes any answer below 400 as success: a collector moved elsewhere would
    # swallow every finding while the run said it exported them. Nor may the headers (an API
    # key) follow the redirect to another host.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
    with receiver() as (other, elsewhere), \
            receiver(status=status, location=other.replace("127.0.0.1", "localhost") + "/v1/logs") as (url, _):
        rc = main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                   "--otlp-endpoint", url])
    err = capsys.readouterr().err
    assert rc == 2 and elsewhere.attempts == []
    assert (f"OTLP export to {url}/v1/logs failed: 0 of {ACME_FINDINGS} log records sent (timeout 2 s with retries): "
            f"the endpoint answered HTTP {status}, not 2xx (a redirect is not followed)") in err
    assert "s3cret" not in err


def test_a_2xx_other_than_200_is_a_delivery(tmp_path: Path, capsys: Any) -> None:
    # Near miss: 202 Accepted is success in OTLP/HTTP terms.
    with receiver(status=202) as (url, got):
        rc = main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                   "--otlp-endpoint", url])
    assert rc == 1 and len(got.attempts) == 1
    assert "export" not in capsys.readouterr().err.lower()


def test_a_token_in_the_endpoint_query_is_sent_but_never_printed(tmp_path: Path, capsys: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    with receiver(status=503) as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url + "/?api-key=s3cret"]) == 2
    err = capsys.readouterr().err
    assert f"OTLP export to {url}/v1/logs?*** failed" in err and "s3cret" not in err
    assert got.attempts  # /v1/logs goes into the path, before the query


def test_a_query_on_the_endpoint_keeps_v1_logs_in_the_path(tmp_path: Path, capsys: Any) -> None:
    # Near miss: a working endpoint with a query receives every record at /v1/logs.
    with receiver() as (url, got):
        assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                     "--otlp-endpoint", url + "?tenant=acme"]) == 1
    assert got.requests[0]["path"] == "/v1/logs?tenant=acme"


def test_a_refused_connection_never_prints_the_query_token(tmp_path: Path, capsys: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["check", ACME, "--as-of", AS_OF, "-o", str(tmp_path / "r.txt"), "-f", "text",
                 "--otlp-endpoint", f"http://127.0.0.1:{port}/?token=s3cret"]) == 2
    assert "s3cret" not in capsys.readouterr().err


@pytest.mark.parametrize(("url", "env", "named"), [
    ("http://collector:4318/v1/logs", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    ("http://10.0.0.7:4318/v1/logs", "OTEL_EXPORTER_OTLP_LOGS_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"),
    ("http://ingest:pw-s3cret@collector:4318/v1/logs", None, "a user or password in the URL"),
    ("http://collector:4318/v1/logs?api-key=s3cret", None, "a query in the URL"),
])
def test_credentials_over_plain_http_to_another_machine_are_warned_of(
        monkeypatch: pytest.MonkeyPatch, url: str, env: str | None, named: str) -> None:
    from keytrail.otel.export import cleartext_credentials

    if env:
        monkeypatch.setenv(env, "authorization=Bearer%20s3cret")
    why = cleartext_credentials(url)
    assert why is not None and named in why and "https://" in why
    assert "s3cret" not in why  # the warning names where the credentials are, never them


@pytest.mark.parametrize("url", [
    "https://collector:4318/v1/logs",        # encrypted
    "http://localhost:4318/v1/logs",         # this machine
    "http://127.0.0.1:4318/v1/logs",
    "http://[::1]:4318/v1/logs",
    "http://otel.localhost:4318/v1/logs",
])
def test_no_warning_for_https_or_this_machine(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from keytrail.otel.export import cleartext_credentials

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret")
    assert cleartext_credentials(url) is None


def test_no_warning_for_plain_http_without_credentials() -> None:
    from keytrail.otel.export import cleartext_credentials

    assert cleartext_credentials("http://collector:4318/v1/logs") is None


def test_the_warning_comes_before_the_long_part(tmp_path: Path, capsys: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Said when the endpoint is resolved: here the project is missing, so nothing is sent."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret")
    assert main(["check", str(tmp_path / "missing"), "--otlp-endpoint", "http://collector:4318"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keytrail: warning: --otlp-endpoint http://collector:4318/v1/logs is plain http://")
    assert "s3cret" not in err
