"""The github importer: the real audit-log samples, edge-case fixtures, and the CLI end to end."""

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

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
ELASTIC = DATA / "elastic-integrations" / "packages" / "github" / "data_stream" / "audit" / "_dev" / "test" \
    / "pipeline" / "test-audit-json.log"
PANTHER = DATA / "panther-analysis" / "derived" / "github_audit_rule_tests.jsonl"
FIX = Path(__file__).resolve().parent / "fixtures" / "github"

GRANTS = {"org.add_member", "team.add_member", "repo.add_member", "team.add_repository",
          "team.update_repository_permission", "repo.update_member", "organization_moderators.add_user"}
REVOKES = {"org.remove_member", "team.remove_member", "repo.remove_member", "team.remove_repository",
           "organization_moderators.remove_user"}
LIFE = {"team.create", "team.destroy"}
INVITES = {"org.invite_member", "org.invite_user", "invite_member"}


def _convert(paths: list[Path], mapping: Mapping | None = None) -> tuple[Context, list[dict]]:
    ctx = Context("github", mapping or Mapping())
    return ctx, list(get("github").convert(paths, ctx))


def _expected(raw: list[dict]) -> tuple[Counter, Counter, Counter, Counter]:
    actions = Counter(r["action"] for r in raw)
    handled = GRANTS | REVOKES | LIFE
    converted = Counter({a: n for a, n in actions.items() if a in handled})
    invites = Counter({a: n for a, n in actions.items() if a in INVITES})
    no_perm = Counter(r["action"] for r in raw if r["action"] == "org.update_member" and not r.get("permission"))
    other = Counter({a: n for a, n in actions.items() if a not in handled | INVITES | {"org.update_member"}})
    return converted, invites, no_perm, other


def test_real_elastic_export() -> None:
    if not ELASTIC.exists():
        pytest.skip("shared GitHub sample not present")
    raw = [json.loads(x) for x in ELASTIC.read_text().splitlines() if x.strip()]
    converted, invites, _, other = _expected(raw)
    ctx, events = _convert([ELASTIC])
    assert not ctx.problems
    assert ctx.converted == converted
    assert ctx.skipped["invitation"] == invites
    assert ctx.skipped["not an access change"] == other
    assert sum(ctx.converted.values()) + sum(sum(c.values()) for c in ctx.skipped.values()) == len(raw)
    by_action = Counter(e["action"] for e in events)
    assert by_action["grant"] == sum(n for a, n in converted.items() if a in GRANTS)
    assert by_action["revoke"] == sum(n for a, n in converted.items() if a in REVOKES)
    assert by_action["define"] == converted["team.create"]
    team_repo = [e for e in events if e["source"]["action"] == "team.add_repository"]
    assert all(e["subject"].startswith("group:github/Example-Org/") and e["resource"].startswith("github:")
               for e in team_repo)
    assert len({e["id"] for e in events}) == len(events)


def test_real_panther_sample() -> None:
    if not PANTHER.exists():
        pytest.skip("shared GitHub sample not present")
    raw = [json.loads(x)["event"] for x in PANTHER.read_text().splitlines() if x.strip()]
    converted, invites, no_perm, other = _expected(raw)
    ctx, events = _convert([PANTHER])
    assert not ctx.problems
    assert ctx.converted == converted
    assert ctx.skipped["invitation"] == invites
    assert ctx.skipped["no permission in record"] == no_perm
    assert ctx.skipped["not an access change"] == other
    # two different records share _document_id Ab123: both kept, ids still unique
    assert {e["id"] for e in events} >= {"github-Ab123", "github-Ab123.2"}
    assert len({e["id"] for e in events}) == len(events)


def test_fixture_mapping() -> None:
    ctx, events = _convert([FIX / "events.jsonl"])
    by = {e["id"]: e for e in events}
    assert "github-doc-01" not in by and ctx.skipped["invitation"] == Counter({"org.invite_member": 1})
    assert ctx.skipped["not an access change"] == Counter({"git.push": 1})
    assert (by["github-doc-02"]["subject"], by["github-doc-02"]["target"]) == ("user:bob", "group:github/acme")
    assert by["github-doc-03"]["action"] == "define" and by["github-doc-03"]["time"] == "2026-01-05T09:03:00Z"
    assert by["github-doc-04"]["target"] == "group:github/acme/payments"  # bare slug prefixed with the org
    assert by["github-doc-05"]["permission"] == "write"  # push shown as write
    assert (by["github-doc-06"]["target"], by["github-doc-06"]["resource"]) == ("role:github/repo-access",
                                                                                "github:acme/api")
    assert by["github-doc-07"]["action"] == "grant" and by["github-doc-07"]["permission"] == "maintain"
    assert (by["github-doc-08"]["action"], by["github-doc-08"]["target"]) == ("grant", "role:github/org-owner")
    assert by["github-doc-10"]["actor"] == "svc:release-bot[bot]"
    assert by["github-doc-13"]["action"] == "revoke"
    assert by["github-doc-14"]["time"] == "2026-01-05T09:14:00Z"  # from @timestamp
    assert by["github-doc-15"]["action"] == "retire"
    assert all("key" not in e for e in events)
    assert by["github-doc-02"]["source"] == {"format": "github", "file": str(FIX / "events.jsonl"), "line": 2,
                                           "id": "doc-02", "action": "org.add_member", "request_id": "req-02"}


def test_key_mapping() -> None:
    mapping = mapping_from({"key_from": "user_agent", "key_pattern": r"provisioner/(pk-[0-9-]+)"}, None)
    _, events = _convert([FIX / "events.jsonl"], mapping)
    assert {e.get("key") for e in events} == {"pk-2026-0007"}


def test_array_gzip_and_hash_ids(tmp_path: Path) -> None:
    _, array = _convert([FIX / "export.json"])
    assert [e["id"] for e in array] == ["github-doc-02", "github-doc-03", "github-doc-04"]
    assert array[0]["source"]["index"] == 0
    gz = tmp_path / "a.jsonl.gz"
    lines = [json.loads(x) for x in (FIX / "events.jsonl").read_text().splitlines()]
    for line in lines:
        del line["_document_id"]
    text = "".join(json.dumps(x) + "\n" for x in lines)
    gz.write_bytes(gzip.compress((text + json.dumps(lines[1]) + "\n").encode()))
    ctx, first = _convert([gz])
    _, second = _convert([gz])
    assert [e["id"] for e in first] == [e["id"] for e in second]  # deterministic without _document_id
    assert all(e["id"].startswith("github-h") for e in first)
    assert ctx.skipped["duplicate"] == Counter({"org.add_member": 1})


def test_malformed_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "github", str(FIX / "malformed.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "malformed.jsonl:2" in err and "no action" in err
    assert "malformed.jsonl:3" in err and "no team" in err
    assert "malformed.jsonl:4" in err and "no readable created_at" in err
    assert "malformed.jsonl:3: warning: " in err  # a record of the format, not convertible: named
    assert "malformed.jsonl:4: warning: " in err  # a record of the format, not convertible: named
    assert "keytrail: 1 error; nothing was written" in err  # the record of no known shape
    assert not out.exists()


def test_strict_refuses_unconverted_changes_but_not_records_that_change_no_access(tmp_path: Path) -> None:
    out = tmp_path / "h.jsonl"
    # an invitation and a push change no access
    assert main(["import", "github", str(FIX / "events.jsonl"), "--out", str(out), "--strict"]) == 0
    vague = tmp_path / "vague.jsonl"
    vague.write_text(json.dumps({"action": "org.update_member", "created_at": 1772359200000, "org": "acme",
                                 "user": "alice", "actor": "bob"}) + "\n")
    assert main(["import", "github", str(vague), "--out", str(tmp_path / "v.jsonl")]) == 0
    assert main(["import", "github", str(vague), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    assert not (tmp_path / "s.jsonl").exists()


def test_cli_end_to_end_loads(tmp_path: Path) -> None:
    from keytrail import pipeline

    hist = tmp_path / "history" / "github.jsonl"
    assert main(["import", "github", str(FIX / "events.jsonl"), "--out", str(hist)]) == 0
    assert len(hist.read_text().splitlines()) == 13
    (tmp_path / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                            "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (tmp_path / "directory.yaml").write_text("principals:\n  - {id: user:bob, status: active}\n")
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    project = pipeline.load(tmp_path)
    state = pipeline.replay(project, "2026-12-31T00:00:00Z")
    assert not state.anomalies  # every revoke matches a grant
    assert not state.grants


def test_a_team_moved_under_another_parent_leaves_the_old_and_joins_the_new(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nested teams: members of a child team hold what its parent is granted."""
    moves = [
        {"action": "team.change_parent_team", "team": "acme/sre", "parent_team": "acme/platform",
         "org": "acme", "actor": "octo-admin", "created_at": 1772359200000, "_document_id": "p1"},
        {"action": "team.change_parent_team", "team": "sre", "parent_team": "infra", "parent_team_was": "platform",
         "org": "acme", "actor": "octo-admin", "created_at": 1772445600000, "_document_id": "p2"},
        {"action": "team.change_parent_team", "team": "acme/sre", "org": "acme", "actor": "octo-admin",
         "created_at": 1772532000000, "_document_id": "p3"},
    ]
    source = tmp_path / "audit.json"
    source.write_text(json.dumps(moves))
    out = tmp_path / "h.jsonl"
    assert main(["import", "github", str(source), "--out", str(out)]) == 0
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(e["id"], e["action"], e["subject"], e["target"]) for e in events] == [
        ("github-p1", "grant", "group:github/acme/sre", "group:github/acme/platform"),
        ("github-p2-1", "revoke", "group:github/acme/sre", "group:github/acme/platform"),
        ("github-p2-2", "grant", "group:github/acme/sre", "group:github/acme/infra"),
    ]
    # the third names no parent at all: an incomplete record, listed, not a guess
    assert f"{source}[2]: warning: team.change_parent_team: no parent_team or parent_team_was" \
        in capsys.readouterr().err
