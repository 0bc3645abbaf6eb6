"""The entra importer: the real audit-log samples, edge-case fixtures, and the CLI end to end."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.importers import get
from keytrail.importers.base import Context, Mapping
from keytrail.importers.runner import mapping_from
from tests.importers import without_source

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
PANTHER = DATA / "panther-analysis" / "derived" / "azure_entra_audit_rule_tests.jsonl"
ELASTIC = DATA / "elastic-integrations" / "packages" / "azure" / "data_stream" / "auditlogs" / "_dev" / "test" \
    / "pipeline"
FIX = Path(__file__).resolve().parent / "fixtures" / "entra"


def _convert(paths: list[Path], mapping: Mapping | None = None) -> tuple[Context, list[dict]]:
    ctx = Context("entra", mapping or Mapping())
    return ctx, list(get("entra").convert(paths, ctx))


def _op(event: dict) -> str:
    low = {k.lower(): v for k, v in event.items()}
    return low.get("operationname") or (low.get("properties") or {}).get("activityDisplayName")


def test_real_panther_sample() -> None:
    if not PANTHER.exists():
        pytest.skip("shared Entra sample not present")
    raw = [json.loads(x)["event"] for x in PANTHER.read_text().splitlines() if x.strip()]
    ops = Counter(_op(e) for e in raw)
    pim_requests = Counter({o: n for o, n in ops.items() if "PIM requested" in o})
    invites = Counter({o: n for o, n in ops.items() if o.lower().startswith("invite")})
    changes = Counter({o: n for o, n in ops.items() if o.startswith("Add member to role") and "requested" not in o
                       or o in ("Delete role assignment", "User has elevated their access to User Access "
                                                          "Administrator for their Azure Resources")})
    ctx, events = _convert([PANTHER])
    assert not ctx.problems
    assert ctx.converted == changes
    assert ctx.skipped["PIM request"] == pim_requests
    assert ctx.skipped["invitation"] == invites
    assert sum(ctx.skipped["not an access change"].values()) == len(raw) - sum(changes.values()) \
        - sum(pim_requests.values()) - sum(invites.values())
    assert ctx.skipped["not an access change"]["Sign-in activity"] == ops["Sign-in activity"]
    pim = [e for e in events if e["target"] == "role:entra/Application-Administrator"]
    # the justification and request id are kept (additionalDetails Justification / RequestId)
    assert {e["reason"] for e in pim} == {"test assign"}
    raw_requests = {d["value"] for e in raw if _op(e).startswith("Add member to role") and "requested" not in _op(e)
                    for d in e["properties"]["additionalDetails"] if d["key"] == "RequestId"}
    assert {e["ticket"] for e in pim} == raw_requests
    assert len({e["id"] for e in events}) == len(events)  # PIM_123415 repeats in the sample
    revoke = next(e for e in events if e["action"] == "revoke")
    assert (revoke["target"], revoke["resource"]) == ("role:azure/Reader", "azure:/subscriptions/sub-def")


def test_real_elastic_samples() -> None:
    files = sorted(ELASTIC.glob("*.log")) if ELASTIC.exists() else []
    if not files:
        pytest.skip("shared Entra sample not present")
    raw = [json.loads(x) for f in files for x in f.read_text().splitlines() if x.strip()]
    ctx, events = _convert(files)
    assert not ctx.problems and events == []
    assert ctx.skipped["not an access change"] == Counter(e["operationName"] for e in raw)


def test_fixture_mapping() -> None:
    ctx, events = _convert([FIX / "auditlogs.jsonl"])
    by = {e["id"]: e for e in events}
    assert by["entra-Directory_01"]["action"] == "join" and by["entra-Directory_02"]["action"] == "define"
    # group name from the Group.DisplayName modified property (the Group target has no displayName)
    assert by["entra-Directory_03"]["target"] == "group:entra/Finance"
    assert by["entra-Directory_04"]["target"] == "role:entra/Helpdesk-Administrator"
    assert "reason" not in by["entra-Directory_04"] and "ticket" not in by["entra-Directory_04"]
    pim = by["entra-Directory_07"]
    assert (pim["reason"], pim["ticket"], pim["expires"], pim["actor"]) == (
        "INC-42 outage", "req-6", "2026-01-05T17:07:00Z", "svc:MS-PIM")
    assert by["entra-Directory_08"]["action"] == "revoke"
    assert by["entra-Directory_09"]["target"] == "role:entra-app/Payroll/Payroll.Approver"
    assert (by["entra-Directory_10"]["subject"], by["entra-Directory_10"]["target"]) == (
        "group:entra/Finance", "role:entra-app/Payroll/default")
    assert by["entra-Directory_13"]["target"] == "role:entra-app/Payroll/Payroll.Approver"  # from oldValue
    assert by["entra-Directory_14"]["target"] == "group:entra/Finance"
    assert by["entra-Directory_16"]["action"] == "leave"
    assert by["entra-Directory_17"]["action"] == "retire"  # lower-cased keys
    assert ctx.skipped["PIM eligibility"] and ctx.skipped["PIM request"]
    assert ctx.skipped["failed call"] == Counter({"Add member to group": 1})
    assert ctx.skipped["not an access change"] == Counter({"Update device": 1})
    assert all("key" not in e for e in events)
    assert by["entra-Directory_03"]["source"] == {"format": "entra", "file": str(FIX / "auditlogs.jsonl"),
                                                 "line": 3, "id": "Directory_03",
                                                 "operation": "Add member to group", "correlationId": "corr-03"}


def test_mapping_overrides_defaults() -> None:
    mapping = mapping_from({"key_from": "properties.initiatedBy.user.userPrincipalName",
                            "ticket_from": "correlationId"}, None)
    _, events = _convert([FIX / "auditlogs.jsonl"], mapping)
    by = {e["id"]: e for e in events}
    assert by["entra-Directory_03"]["key"] == "admin@contoso.com"
    assert by["entra-Directory_07"]["ticket"] == "corr-07"  # the mapping wins over the PIM request id
    assert by["entra-Directory_07"]["reason"] == "INC-42 outage"


def test_graph_shape_and_gzip(tmp_path: Path) -> None:
    ctx, graph = _convert([FIX / "graph.json"])
    _, envelope = _convert([FIX / "auditlogs.jsonl"])
    assert [e["id"] for e in graph] == [e["id"] for e in envelope[:4]]
    assert [e.get("target") for e in graph] == [e.get("target") for e in envelope[:4]]
    assert graph[0]["source"]["index"] == 0
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress((FIX / "auditlogs.jsonl").read_bytes()))
    _, zipped = _convert([gz])
    assert [e["id"] for e in zipped] == [e["id"] for e in envelope]


def test_malformed_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "entra", str(FIX / "malformed.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "malformed.jsonl:2" in err and "no operationName" in err
    assert "malformed.jsonl:3" in err and "no member" in err
    assert "malformed.jsonl:3: warning: " in err  # a record of the format, not convertible: named
    assert "keytrail: 1 error; nothing was written" in err  # the record of no known shape
    assert not out.exists()


def test_strict_refuses_incomplete_changes_but_not_records_that_change_no_access(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    # a failed call, a device update and PIM eligibility or requests change no access
    assert main(["import", "entra", str(FIX / "auditlogs.jsonl"), "--out", str(out), "--strict"]) == 0
    lines = (FIX / "auditlogs.jsonl").read_text().splitlines()
    cut = tmp_path / "cut.jsonl"
    first = json.loads(lines[0])
    first.pop("time", None)
    first.get("properties", {}).pop("activityDateTime", None)
    cut.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    assert main(["import", "entra", str(cut), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert not (tmp_path / "s.jsonl").exists()


def test_cli_end_to_end_loads(tmp_path: Path) -> None:
    from keytrail import pipeline

    hist = tmp_path / "history" / "entra.jsonl"
    assert main(["import", "entra", str(FIX / "auditlogs.jsonl"), "--out", str(hist)]) == 0
    assert len(hist.read_text().splitlines()) == 13
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text("principals:\n  - {id: user:bob@contoso.com, status: terminated}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    state = pipeline.replay(project, "2026-12-31T00:00:00Z")
    assert not state.anomalies
    assert {(g.subject, g.target) for g in state.grants.values()} == {
        ("group:entra/Finance", "role:entra-app/Payroll/default")}


def test_azure_monitor_records_wrapping_reads_like_json_lines(tmp_path: Path) -> None:
    """Event Hubs and storage exports of the audit log hold the entries in ``records``."""
    lines = [json.loads(x) for x in (FIX / "auditlogs.jsonl").read_text().splitlines() if x.strip()]
    wrapped = tmp_path / "PT1H.json"
    wrapped.write_text(json.dumps({"records": lines}, indent=1))
    _, plain = _convert([FIX / "auditlogs.jsonl"])
    ctx, events = _convert([wrapped])
    assert not ctx.problems
    assert without_source(events) == \
        without_source(plain)
