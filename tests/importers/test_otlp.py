"""keytrail import otlp: OTLP/JSON log records carrying keytrail event fields."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import otlp
from keytrail.importers.base import Context, Field, Mapping

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO.parent / "shared" / "data" / "opentelemetry-proto" / "examples"
FIXTURES = Path(__file__).parent / "fixtures" / "otlp"


def _convert(*paths: Path, mapping: Mapping | None = None, strict: bool = False) -> tuple[Context, list[dict]]:
    ctx = Context("otlp", mapping or Mapping(), strict)
    return ctx, list(otlp.convert(list(paths), ctx))


def _raw_log_records(path: Path) -> list[dict]:
    docs = [json.loads(path.read_text())] if path.suffix == ".json" else \
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [log for doc in docs for r in doc["resourceLogs"] for s in r["scopeLogs"] for log in s["logRecords"]]


def test_the_specification_examples_are_counted_as_skipped() -> None:
    files = [EXAMPLES / "logs.json", EXAMPLES / "events.json"]
    if not all(f.is_file() for f in files):
        pytest.skip("the shared OTLP examples are absent")
    records = [log for f in files for log in _raw_log_records(f)]
    ctx, events = _convert(*files)
    assert events == [] and not ctx.problems
    kinds = Counter(log.get("eventName") or "log record" for log in records)
    assert ctx.skipped == {"not an access event": kinds}


def test_access_events_are_converted() -> None:
    raw = _raw_log_records(FIXTURES / "access.json")
    with_action = [log for log in raw if any(a["key"] == "keytrail.action" for a in log["attributes"])]
    ctx, events = _convert(FIXTURES / "access.json")
    assert not ctx.problems
    assert sum(ctx.converted.values()) == len(events) == len(with_action)
    assert sum(ctx.skipped["not an access event"].values()) == len(raw) - len(with_action)
    grant, revoke, join, leave = events
    assert grant["id"] == "otlp-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-1"
    assert revoke["id"].endswith("-2")  # same span: numbered in input order
    assert grant["time"] == "2026-03-01T10:00:00Z"
    assert revoke["time"] == "2026-03-01T11:00:00.123456789Z"  # nanoseconds kept
    assert (grant["subject"], grant["target"], grant["resource"]) == ("user:alice", "role:payments-approver",
                                                                       "erp:prod")
    assert grant["actor"] == "svc:idp-sync"  # from the resource's attributes
    assert "key" not in grant  # never invented without a mapping
    assert join["id"] == "otlp-hr-7781" and join["attributes"] == {"department": "payments", "level": 3}
    assert leave["time"] == "2026-03-02T10:00:00Z"  # timeUnixNano 0: the observed time
    assert leave["id"].startswith("otlp-") and len(leave["id"]) == len("otlp-") + 16
    assert grant["source"]["path"] == "resourceLogs[0].scopeLogs[0].logRecords[0]"
    again = _convert(FIXTURES / "access.json")[1]
    assert [e["id"] for e in again] == [e["id"] for e in events]  # deterministic


def test_key_mapping_reads_dotted_attribute_keys_and_the_body() -> None:
    mapping = Mapping(key=Field("attributes.change.key"), ticket=Field("attributes.change.ticket"))
    events = _convert(FIXTURES / "access.json", mapping=mapping)[1]
    assert (events[0]["key"], events[0]["ticket"]) == ("pk-2026-0042", "CHG-1240")
    import re

    mapping = Mapping(key=Field("body", re.compile(r"key=(\S+)\)")))
    events = _convert(FIXTURES / "access.json", mapping=mapping)[1]
    assert [e.get("key") for e in events] == ["pk-2026-0042", "pk-2026-0042", None, None]


def test_json_lines_and_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "collector.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "collector.jsonl").read_bytes()))
    for path in (FIXTURES / "collector.jsonl", gz):
        ctx, events = _convert(path)
        assert [e["action"] for e in events] == ["define", "grant"]
        assert events[0]["owner"] == "user:carol"
        assert [e["source"]["line"] for e in events] == [1, 2]
        assert ctx.skipped == {"not an access event": Counter({"log record": 1})}


def test_malformed_records_exit_2_naming_file_line_and_record(tmp_path: Path, capsys) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "otlp", str(FIXTURES / "bad.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: resourceLogs[0].scopeLogs[0].logRecords[0]: keytrail.action 'promote'" in err
    assert "bad.jsonl:2: resourceLogs[0].scopeLogs[0].logRecords[1]: no time" in err
    assert not out.exists()


def test_not_otlp_is_a_problem(tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text('{"Records": []}')
    ctx, _ = _convert(other)
    assert "resourceLogs" in ctx.problems[0].message


def test_strict_accepts_log_records_that_are_not_access_events(tmp_path: Path, capsys) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "otlp", str(FIXTURES / "access.json"), "--out", str(out), "--strict"]) == 0
    assert "skipped 1 (not an access event): http.request 1" in capsys.readouterr().err


def test_cli_end_to_end_loads_as_a_project(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    out = tmp_path / "history" / "otlp.jsonl"
    assert main(["import", "otlp", str(FIXTURES / "access.json"), str(FIXTURES / "collector.jsonl"),
                 "--out", str(out), "--key-from", "attributes.change.key"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 6
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text(
        "principals:\n  - {id: user:alice}\n  - {id: user:bob}\n  - {id: user:carol}\n"
        "  - {id: svc:idp-sync, owner: user:carol}\n"
        "groups:\n  - {id: group:eng, owner: user:carol}\n"
        "roles:\n  - {id: role:payments-approver, owner: user:carol}\n")
    (tmp_path / "keys.yaml").write_text("keys:\n  - {id: pk-2026-0042, holder: svc:idp-sync, owner: user:carol, scope: ['role:*', 'group:*']}\n")
    project = pipeline.load(tmp_path)
    assert len(project.events) == 6
    report = tmp_path / "findings.json"
    main(["check", str(tmp_path), "--as-of", "2026-09-30T23:59:59Z", "-f", "json", "-o", str(report)])
    findings = json.loads(report.read_text())["findings"]
    keyed = {f["event"] for f in findings if f["check"] == "unexplained.missing-key"}
    assert "otlp-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-1" not in keyed  # the mapped key
