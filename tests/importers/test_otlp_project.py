"""``import otlp``: the resource's ``keytrail.project`` is provenance (``source.project``), not a field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keytrail.cli import main


def _doc(resource: dict[str, str], own: dict[str, str]) -> dict[str, Any]:
    def kvs(d: dict[str, str]) -> list[dict[str, Any]]:
        return [{"key": k, "value": {"stringValue": v}} for k, v in d.items()]

    record = {"timeUnixNano": "1772359200000000000",
              "attributes": kvs({"keytrail.action": "grant", "keytrail.subject": "user:alice",
                                 "keytrail.target": "role:prod-admin", "keytrail.id": "e1", **own})}
    return {"resourceLogs": [{"resource": {"attributes": kvs(resource)},
                              "scopeLogs": [{"scope": {"name": "keytrail"}, "logRecords": [record]}]}]}


def _import(tmp_path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    src = tmp_path / "in.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "out.jsonl"
    assert main(["import", "otlp", str(src), "--out", str(out)]) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_the_resources_project_goes_to_source_not_to_the_event(tmp_path: Path, capsys: Any) -> None:
    event = _import(tmp_path, _doc({"service.name": "keytrail", "keytrail.project": "acme",
                                    "keytrail.actor": "svc:terraform"}, {}))
    assert "project" not in event
    assert event["source"]["project"] == "acme"
    assert event["actor"] == "svc:terraform"  # other resource attributes still apply to the record


def test_a_records_own_project_attribute_is_still_a_field(tmp_path: Path, capsys: Any) -> None:
    event = _import(tmp_path, _doc({}, {"keytrail.project": "payments"}))
    assert event["project"] == "payments"
    assert "project" not in event["source"]
