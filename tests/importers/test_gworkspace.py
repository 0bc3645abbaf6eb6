"""The gworkspace importer: the real Reports API sample, edge-case fixtures, and the CLI end to end."""

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
PANTHER = REPO.parent / "shared" / "data" / "panther-analysis" / "derived" / "gsuite_activityevent_rule_tests.jsonl"
FIX = Path(__file__).resolve().parent / "fixtures" / "gworkspace"

IAM_APPS = {"admin", "groups", "groups_enterprise", "user_accounts"}
HANDLED = {("admin", n) for n in ("ASSIGN_ROLE", "UNASSIGN_ROLE", "CREATE_ROLE", "DELETE_ROLE", "CREATE_USER",
                                  "DELETE_USER", "SUSPEND_USER", "UNSUSPEND_USER", "UNDELETE_USER",
                                  "GRANT_ADMIN_PRIVILEGE", "REVOKE_ADMIN_PRIVILEGE",
                                  "ADD_GROUP_MEMBER", "REMOVE_GROUP_MEMBER")} \
    | {(a, n) for a in ("groups", "groups_enterprise") for n in ("add_member", "remove_member")}


def _convert(paths: list[Path], mapping: Mapping | None = None) -> tuple[Context, list[dict]]:
    ctx = Context("gworkspace", mapping or Mapping())
    return ctx, list(get("gworkspace").convert(paths, ctx))


def _complete(app: str, name: str, params: dict) -> bool:
    """Whether a handled (flattened Panther) activity names what its change needs."""
    if name in ("CREATE_ROLE", "DELETE_ROLE"):
        return "ROLE_NAME" in params
    if name in ("ASSIGN_ROLE", "UNASSIGN_ROLE"):
        return "ROLE_NAME" in params and "USER_EMAIL" in params
    if name in ("CREATE_USER", "DELETE_USER", "SUSPEND_USER", "UNSUSPEND_USER", "UNDELETE_USER",
                "GRANT_ADMIN_PRIVILEGE", "REVOKE_ADMIN_PRIVILEGE"):
        return "USER_EMAIL" in params
    return bool({"GROUP_EMAIL", "group_id", "group_email"} & set(params)) and \
        bool({"USER_EMAIL", "member_id", "member_email", "user_email"} & set(params))


def test_real_panther_sample(tmp_path: Path) -> None:
    if not PANTHER.exists():
        pytest.skip("shared Google Workspace sample not present")
    lines = PANTHER.read_text().splitlines()
    raw = [json.loads(x)["event"] for x in lines]
    kinds = [(r["id"]["applicationName"], r.get("name")) for r in raw]
    broken = [n for n, (r, k) in enumerate(zip(raw, kinds, strict=True), 1)
              if k in HANDLED and not _complete(*k, r.get("parameters") or {})]
    # detection-test stubs that name an access change but not its user or group: skipped, named
    ctx, events = _convert([PANTHER])
    assert not ctx.problems
    assert sorted(p.line for p in ctx.incomplete_at) == broken
    assert broken  # the sample has such stubs (add_member, CREATE_USER without parameters)
    assert ctx.skipped["incomplete"] == Counter(f"{a}:{n}" for i, (a, n) in enumerate(kinds, 1) if i in broken)
    # the rest: every activity is converted or skipped by reason
    kinds = [k for n, k in enumerate(kinds, 1) if n not in broken]
    label = Counter(f"{a}:{(n or '').strip() or '(unnamed)'}" for a, n in kinds)  # names are trimmed
    assert ctx.converted == Counter({f"{a}:{n}": c for (a, n), c in Counter(kinds).items() if (a, n) in HANDLED})
    assert ctx.skipped["not IAM"] == Counter({k: c for k, c in label.items() if k.split(":")[0] not in IAM_APPS})
    assert sum(ctx.skipped["not an access change"].values()) == sum(
        1 for a, n in kinds if a in IAM_APPS and (a, n) not in HANDLED)
    assert sorted(e["action"] for e in events) == ["define", "retire"]
    assert {e["target"] for e in events} == {"role:gws/CustomAdminRoleName"}
    assert len({e["id"] for e in events}) == len(events)  # both share uniqueQualifier -12456


def test_fixture_mapping() -> None:
    ctx, events = _convert([FIX / "activities.json"])
    by = {e["id"]: e for e in events}
    assert by["gws-101"]["action"] == "join"
    assert [by[f"gws-102-{n}"]["action"] for n in (1, 2, 3)] == ["define", "grant", "grant"]
    assert by["gws-102-2"]["target"] == "role:gws/Help-Desk" and by["gws-102-2"]["resource"] == ""
    assert by["gws-102-3"]["resource"] == "gws:/Sales"
    assert (by["gws-103"]["subject"], by["gws-103"]["target"]) == ("user:bob@example.com", "group:gws/eng@example.com")
    assert by["gws-104"]["subject"] == "user:carol@example.com"
    assert by["gws-107-1"]["actor"] == "svc:provisioner-sa"
    assert [by[f"gws-{n}"]["action"] for n in (108, 109, 110, 111, 112)] == ["revoke", "revoke", "leave", "leave",
                                                                            "retire"]
    assert ctx.skipped["not IAM"] == Counter({"drive:change_user_access": 1, "login:login_success": 1})
    assert ctx.skipped["not an access change"] == Counter({"admin:CHANGE_GROUP_SETTING": 1})
    assert all("key" not in e for e in events)
    assert by["gws-103"]["source"] == {"format": "gworkspace", "file": str(FIX / "activities.json"), "index": 2,
                                       "id": "103", "application": "groups_enterprise", "event": "add_member",
                                       "type": "moderator_action"}


def test_shapes_agree_and_gzip(tmp_path: Path) -> None:
    _, response = _convert([FIX / "activities.json"])
    _, lines = _convert([FIX / "activities.jsonl"])
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress((FIX / "activities.jsonl").read_bytes()))
    _, zipped = _convert([gz])
    strip = without_source(response)
    assert strip == without_source(lines)
    assert [e["id"] for e in zipped] == [e["id"] for e in lines]
    assert lines[0]["source"]["line"] == 1
    _, flat = _convert([FIX / "flat.jsonl"])
    assert flat[0]["target"] == "role:gws/Super-Admin" and flat[0]["time"] == "2026-03-01T08:00:00Z"


def test_key_mapping() -> None:
    mapping = mapping_from({"key_from": "actor.key"}, None)
    _, events = _convert([FIX / "activities.json"], mapping)
    assert {e["id"] for e in events if e.get("key") == "provisioner-sa"} == {"gws-107-1", "gws-107-2"}


def test_malformed_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "gworkspace", str(FIX / "malformed.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "malformed.jsonl:2" in err and "no id.applicationName" in err
    assert "malformed.jsonl:3" in err and "no ROLE_NAME" in err
    assert "malformed.jsonl:4" in err and "no readable id.time" in err
    assert "malformed.jsonl:3: warning: " in err  # a record of the format, not convertible: named
    assert "malformed.jsonl:4: warning: " in err  # a record of the format, not convertible: named
    assert "keytrail: 1 error; nothing was written" in err  # the record of no known shape
    assert not out.exists()


def test_strict_refuses_incomplete_changes_but_not_records_of_other_kinds(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    # Drive sharing, a login and a group setting are not access changes: a complete export holds
    # mostly such records, and --strict must stay usable on it
    assert main(["import", "gworkspace", str(FIX / "activities.json"), "--out", str(out), "--strict"]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 (not IAM): drive:change_user_access 1, login:login_success 1" in err
    doc = json.loads((FIX / "activities.json").read_text())
    item = next(i for i in doc["items"] if i["id"]["applicationName"] == "admin")
    item["events"][0]["parameters"] = []  # a handled admin event without its user: incomplete
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(doc))
    assert main(["import", "gworkspace", str(cut), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert "--strict is on" in capsys.readouterr().err and not (tmp_path / "s.jsonl").exists()


def test_cli_end_to_end_loads(tmp_path: Path) -> None:
    from keytrail import pipeline

    hist = tmp_path / "history" / "gws.jsonl"
    assert main(["import", "gworkspace", str(FIX / "activities.jsonl"), "--out", str(hist)]) == 0
    assert len(hist.read_text().splitlines()) == 13
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text("principals:\n  - {id: user:bob@example.com, status: terminated}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    state = pipeline.replay(project, "2026-12-31T00:00:00Z")
    assert not state.anomalies
    assert not state.grants


def test_a_user_suspended_then_unsuspended_leaves_and_joins_again(tmp_path: Path) -> None:
    def activity(n: int, name: str) -> dict:
        return {"id": {"time": f"2026-02-0{n}T10:00:00Z", "uniqueQualifier": f"q{n}", "applicationName": "admin"},
                "actor": {"email": "admin@example.com"},
                "events": [{"type": "USER_SETTINGS", "name": name,
                            "parameters": [{"name": "USER_EMAIL", "value": "bob@example.com"}]}]}
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(activity(n, name)) + "\n" for n, name in
                              enumerate(("SUSPEND_USER", "UNSUSPEND_USER", "DELETE_USER", "UNDELETE_USER"), 1)))
    ctx, events = _convert([source])
    assert [(e["action"], e["subject"]) for e in events] == [
        ("leave", "user:bob@example.com"), ("join", "user:bob@example.com"),
        ("leave", "user:bob@example.com"), ("join", "user:bob@example.com")]


def test_super_admin_privilege_and_the_super_admin_role_are_one_entitlement(tmp_path: Path) -> None:
    def activity(n: int, name: str, **params: str) -> dict:
        return {"id": {"time": f"2026-03-0{n}T10:00:00Z", "uniqueQualifier": f"s{n}", "applicationName": "admin"},
                "actor": {"email": "root@example.com"},
                "events": [{"type": "USER_SETTINGS", "name": name,
                            "parameters": [{"name": k, "value": v} for k, v in params.items()]}]}
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in (
        activity(1, "GRANT_ADMIN_PRIVILEGE", USER_EMAIL="eve@example.com"),
        activity(2, "ASSIGN_ROLE", USER_EMAIL="bob@example.com", ROLE_NAME="_SEED_ADMIN_ROLE"),
        activity(3, "REVOKE_ADMIN_PRIVILEGE", USER_EMAIL="eve@example.com"))))
    ctx, events = _convert([source])
    assert [(e["action"], e["subject"], e["target"]) for e in events] == [
        ("grant", "user:eve@example.com", "role:gws/_SEED_ADMIN_ROLE"),
        ("grant", "user:bob@example.com", "role:gws/_SEED_ADMIN_ROLE"),
        ("revoke", "user:eve@example.com", "role:gws/_SEED_ADMIN_ROLE")]


def test_a_super_admin_grant_without_its_user_is_incomplete(tmp_path: Path) -> None:
    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps({"id": {"time": "2026-03-01T10:00:00Z", "uniqueQualifier": "s9",
                                         "applicationName": "admin"},
                                  "events": [{"type": "USER_SETTINGS", "name": "GRANT_ADMIN_PRIVILEGE"}]}) + "\n")
    ctx, events = _convert([source])
    assert events == []
    assert [(p.path, p.message) for p in ctx.incomplete_at] == [("[0]", "admin:GRANT_ADMIN_PRIVILEGE: no USER_EMAIL")]
