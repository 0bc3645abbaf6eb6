"""The okta importer: the real Panther samples, edge-case fixtures, and the CLI end to end."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from keytrail.cli import main
from keytrail.importers import get
from keytrail.importers.base import Context, Mapping
from keytrail.importers.runner import mapping_from, run_import
from tests.importers import without_source

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "panther-analysis"
DERIVED = DATA / "derived" / "okta_systemlog_rule_tests.jsonl"
SCENARIO = DATA / "test_scenarios" / "okta-add-administrator"
FIX = Path(__file__).resolve().parent / "fixtures" / "okta"

HANDLED = {"group.user_membership.add", "group.user_membership.remove", "user.account.privilege.grant",
           "user.account.privilege.revoke", "group.privilege.grant", "group.privilege.revoke",
           "application.user_membership.add", "application.user_membership.remove", "user.lifecycle.create",
           "user.lifecycle.activate", "user.lifecycle.deactivate", "user.lifecycle.suspend",
           "user.lifecycle.reactivate", "user.lifecycle.unsuspend",
           "group.application_assignment.add", "group.application_assignment.remove"}


def _get(d: dict, key: str):
    return next((v for k, v in d.items() if k.lower() == key.lower()), None)


def _read(path: Path) -> list[dict]:
    return [json.loads(x)["event"] for x in path.read_text().splitlines() if x.strip()]


def _convert(paths: list[Path], mapping: Mapping | None = None) -> tuple[Context, list[dict]]:
    ctx = Context("okta", mapping or Mapping())
    events = list(get("okta").convert(paths, ctx))
    return ctx, events


def test_real_panther_derived() -> None:
    if not DERIVED.exists():
        pytest.skip("shared Okta sample not present")
    raw = _read(DERIVED)
    types = Counter(_get(e, "eventType").lower() for e in raw)
    ok = [e for e in raw if _get(e, "eventType").lower() in HANDLED
          and _get(_get(e, "outcome"), "result") == "SUCCESS"]
    failed = [e for e in raw if _get(e, "eventType").lower() in HANDLED and e not in ok]
    ctx, events = _convert([DERIVED])
    assert not ctx.problems
    assert sum(ctx.converted.values()) == len(ok)
    assert sum(ctx.skipped.get("failed call", Counter()).values()) == len(failed)
    assert ctx.skipped["not an access change"] == Counter({t: n for t, n in types.items() if t not in HANDLED})
    # one event per privilege named in privilegeGranted
    expected = sum(len([p for p in _get(_get(e, "debugContext"), "debugData")["privilegeGranted"].split(",")])
                   for e in ok)
    assert len(events) == expected
    assert len({e["id"] for e in events}) == len(events)  # a repeated uuid still gives unique ids
    assert all(e["action"] == "grant" and e["target"].startswith("role:okta/") for e in events)
    assert {e["target"] for e in events} >= {"role:okta/Organization-administrator", "role:okta/Super-administrator"}
    lines = {e["source"]["line"] for e in events}
    assert lines <= set(range(1, len(raw) + 1))


def test_real_scenario_yaml() -> None:
    files = sorted(SCENARIO.glob("*.yml")) if SCENARIO.exists() else []
    if not files:
        pytest.skip("shared Okta scenario not present")
    logs = [log for f in files for log in yaml.safe_load(f.read_text())["Logs"]]
    types = Counter(log["eventType"] for log in logs)
    ctx, events = _convert(files)
    assert not ctx.problems
    assert ctx.converted == Counter({t: n for t, n in types.items() if t in HANDLED})
    assert ctx.skipped["not an access change"] == Counter({t: n for t, n in types.items() if t not in HANDLED})
    joins = [e for e in events if e["action"] == "join"]
    assert len(joins) == types["user.lifecycle.create"]
    assert all(e["source"]["file"].endswith(".yml") and "index" in e["source"] for e in events)


def test_fixture_mapping_and_case_insensitivity() -> None:
    ctx, events = _convert([FIX / "events.jsonl"])
    by = {e["id"]: e for e in events}
    assert by["okta-e-01"]["action"] == "join" and by["okta-e-02"]["action"] == "join"
    assert (by["okta-e-03"]["subject"], by["okta-e-03"]["target"]) == ("user:bob@example.com", "group:okta/Engineering")
    # upper-case eventType and lower-case target types still match; system actor becomes svc:
    assert by["okta-e-04"]["target"] == "role:okta-app/Salesforce.com"
    assert by["okta-e-04"]["actor"] == "svc:system@okta.com"
    # lower-cased top-level keys (Panther's normalised form) and a published time without a zone (UTC)
    assert by["okta-e-05"]["target"] == "role:okta/Help-Desk-administrator"
    assert by["okta-e-05"]["time"] == "2026-01-06T10:00:00Z"
    assert (by["okta-e-06"]["subject"], by["okta-e-06"]["target"]) == ("group:okta/Engineering",
                                                                      "role:okta/Read-only-admin")
    assert by["okta-e-09"]["action"] == "revoke"
    assert [by[f"okta-e-{n}"]["action"] for n in (10, 11, 12, 13)] == ["revoke", "revoke", "leave", "leave"]
    assert ctx.skipped["failed call"] == Counter({"group.user_membership.add": 1})
    assert ctx.skipped["not an access change"] == Counter({"user.session.start": 1})
    assert all("key" not in e for e in events)  # no mapping: no invented keys
    assert by["okta-e-03"]["source"] == {"format": "okta", "file": str(FIX / "events.jsonl"), "line": 3,
                                         "id": "e-03", "eventType": "group.user_membership.add",
                                         "transaction": "CHG-1001", "requestId": "req-e-03"}


def test_key_mapping_case_insensitive() -> None:
    mapping = mapping_from({"key_from": "debugContext.debugData.requestId", "key_pattern": r"req-(.+)",
                            "ticket_from": "transaction.id", "ticket_pattern": r"(CHG-\d+)"}, None)
    _, events = _convert([FIX / "events.jsonl"], mapping)
    by = {e["id"]: e for e in events}
    assert by["okta-e-03"]["key"] == "e-03" and by["okta-e-03"]["ticket"] == "CHG-1001"
    assert by["okta-e-05"]["key"] == "e-05"  # found under debugcontext (lower-cased keys)
    assert "ticket" not in by["okta-e-01"]


def test_json_array_and_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress((FIX / "events.jsonl").read_bytes()))
    _, plain = _convert([FIX / "events.jsonl"])
    _, zipped = _convert([gz])
    assert [e["id"] for e in plain] == [e["id"] for e in zipped]
    ctx, array = _convert([FIX / "api.json"])
    assert [e["id"] for e in array] == ["okta-e-01", "okta-e-02", "okta-e-03"]
    assert array[0]["source"]["index"] == 0


def test_duplicate_uuid(tmp_path: Path) -> None:
    line = (FIX / "events.jsonl").read_text().splitlines()[2]
    changed = json.loads(line)
    changed["target"][1]["displayName"] = "Sales"
    path = tmp_path / "dup.jsonl"
    path.write_text(f"{line}\n{line}\n{json.dumps(changed)}\n")
    ctx, events = _convert([path])
    assert [e["id"] for e in events] == ["okta-e-03", "okta-e-03.2"]
    assert ctx.skipped["duplicate"] == Counter({"group.user_membership.add": 1})


def test_malformed_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(FIX / "malformed.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "malformed.jsonl:2" in err and "no eventType" in err
    assert "malformed.jsonl:3" in err and "no UserGroup target" in err
    assert "malformed.jsonl:3: warning: " in err  # a record of the format, not convertible: named
    assert "keytrail: 1 error; nothing was written" in err  # the record of no known shape
    assert not out.exists()


def test_strict_refuses_incomplete_changes_but_not_records_that_change_no_access(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    # a session start and a failed call change no access
    assert main(["import", "okta", str(FIX / "events.jsonl"), "--out", str(out), "--strict"]) == 0
    lines = (FIX / "events.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    del first["published"]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    assert main(["import", "okta", str(cut), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert not (tmp_path / "s.jsonl").exists()


def test_cli_end_to_end_loads(tmp_path: Path) -> None:
    from keytrail import pipeline

    hist = tmp_path / "history" / "okta.jsonl"
    assert main(["import", "okta", str(FIX / "events.jsonl"), "--out", str(hist)]) == 0
    lines = [json.loads(x) for x in hist.read_text().splitlines()]
    assert len(lines) == 11
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text("principals:\n  - {id: user:bob@example.com, status: terminated}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    assert len(project.events) == 11
    ctx = run_import("okta", [FIX / "api.json"], tmp_path / "again.jsonl", Mapping())
    assert sum(ctx.converted.values()) == 3


def test_reactivated_and_unsuspended_users_join_again(tmp_path: Path) -> None:
    def event(n: int, kind: str) -> dict:
        return {"uuid": f"e{n}", "published": f"2026-02-0{n}T10:00:00.000Z", "eventType": kind,
                "actor": {"type": "User", "alternateId": "admin@example.com"}, "outcome": {"result": "SUCCESS"},
                "target": [{"type": "User", "alternateId": "bob@example.com"}]}
    kinds = ("user.lifecycle.suspend", "user.lifecycle.unsuspend", "user.lifecycle.deactivate",
             "user.lifecycle.reactivate")
    source = tmp_path / "e.jsonl"
    source.write_text("".join(json.dumps(event(n, k)) + "\n" for n, k in enumerate(kinds, 1)))
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out)]) == 0
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert [e["action"] for e in events] == ["leave", "join", "leave", "join"]
    assert {e["subject"] for e in events} == {"user:bob@example.com"}


def test_an_app_assigned_to_a_group_is_held_by_the_group(tmp_path: Path) -> None:
    def event(n: int, kind: str) -> dict:
        return {"uuid": f"g{n}", "published": f"2026-02-0{n}T10:00:00.000Z", "eventType": kind,
                "actor": {"type": "User", "alternateId": "admin@example.com"}, "outcome": {"result": "SUCCESS"},
                "target": [{"type": "AppInstance", "displayName": "Salesforce"},
                           {"type": "UserGroup", "displayName": "Sales"}]}
    source = tmp_path / "e.jsonl"
    source.write_text("".join(json.dumps(event(n, k)) + "\n" for n, k in
                              enumerate(("group.application_assignment.add", "group.application_assignment.remove"), 1)))
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out)]) == 0
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(e["action"], e["subject"], e["target"]) for e in events] == [
        ("grant", "group:okta/Sales", "role:okta-app/Salesforce"),
        ("revoke", "group:okta/Sales", "role:okta-app/Salesforce")]


def test_event_hook_deliveries_and_eventbridge_envelopes_are_opened(tmp_path: Path) -> None:
    """Okta event hooks post batches; log streaming to EventBridge wraps each event in ``detail``."""
    lines = [json.loads(x) for x in (FIX / "events.jsonl").read_text().splitlines() if x.strip()]
    hook = tmp_path / "hook.json"
    hook.write_text(json.dumps({"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
                                "source": "https://example.okta.com/api/v1/eventHooks/who8",
                                "data": {"events": lines}}))
    bridge = tmp_path / "bridge.jsonl"
    bridge.write_text("".join(json.dumps({"version": "0", "detail-type": "SystemLog", "source": "okta",
                                          "detail": x}) + "\n" for x in lines))
    plain = tmp_path / "plain.jsonl"
    assert main(["import", "okta", str(FIX / "events.jsonl"), "--out", str(plain)]) == 0
    expected = without_source([json.loads(x) for x in plain.read_text().splitlines()])
    for source in (hook, bridge):
        out = tmp_path / f"{source.stem}.out.jsonl"
        assert main(["import", "okta", str(source), "--out", str(out)]) == 0
        got = [json.loads(x) for x in out.read_text().splitlines()]
        assert without_source(got) == expected
    first = json.loads((tmp_path / "hook.out.jsonl").read_text().splitlines()[0])
    assert first["source"]["index"] == 0 and "item" in first["source"]


def test_an_app_assignment_to_a_group_without_the_app_is_incomplete_not_guessed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"uuid": "g9", "published": "2026-02-01T10:00:00.000Z", "eventType": "group.application_assignment.add",
             "actor": {"type": "User", "alternateId": "admin@example.com"}, "outcome": {"result": "SUCCESS"},
             "target": [{"type": "UserGroup", "displayName": "Sales"}]}
    source = tmp_path / "e.jsonl"
    source.write_text(json.dumps(event) + "\n")
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out)]) == 0
    assert out.read_text() == ""
    assert f"{source}[0]: warning: group.application_assignment.add: no AppInstance target" in capsys.readouterr().err
