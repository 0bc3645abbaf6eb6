"""``keytrail keys suggest``: registry entries for the keys the history uses but the registry lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from keytrail.cli import main
from keytrail.keys.suggest import narrowest
from tests.conftest import SHARED_DATA
from tests.keys.conftest import DIRECTORY, EVENTS, KEYS_YAML, write_org

AS_OF = ["--as-of", "2026-09-30T12:00:00Z"]


def test_suggests_holder_scope_and_validity_from_the_history(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "suggest", str(org), *AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# keytrail keys suggest: 1 key the history uses that keys.yaml does not register")
    assert ("  # 1 event (grant 1), first at history/h.jsonl:3; changed 1 target\n"
            '  - id: "pk-ghost"\n'
            '    holder: "svc:ci"\n'
            "    # owner: user:...            the accountable human\n") in out
    assert ('    scope: ["group:eng"]\n'
            "    not_before: 2026-05-01T10:00:00Z\n"
            "    expires: 2026-05-01T10:00:01Z\n") in out
    # Registered keys are never suggested.
    assert '"pk-1"' not in out


def test_the_suggestion_pastes_into_a_valid_registry(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "suggest", str(org), *AS_OF]) == 0
    suggested = yaml.safe_load(capsys.readouterr().out)["keys"]
    registry = yaml.safe_load(KEYS_YAML)
    (org / "keys.yaml").write_text(yaml.safe_dump({"keys": registry["keys"] + suggested}, sort_keys=False))
    assert main(["lint", str(org), *AS_OF]) == 0
    capsys.readouterr()
    assert main(["keys", str(org), *AS_OF, "-f", "json"]) == 0
    ghost = json.loads(capsys.readouterr().out)["keys"][-1]
    # Now registered: known, used within its validity, and no longer an unknown key.
    assert (ghost["id"], ghost["status"], ghost["findings"]) == ("pk-ghost", "expired", [])


def test_a_key_used_by_several_actors_names_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [dict(EVENTS[2], id=f"ev-{n}", actor=actor, time=f"2026-05-0{n}T10:00:00Z")
              for n, actor in ((1, "svc:ci"), (2, "user:bob"), (3, "svc:ci"))]
    root = write_org(tmp_path / "org", events=events)
    assert main(["keys", "suggest", str(root), *AS_OF]) == 0
    out = capsys.readouterr().out
    assert "  # also used by user:bob: a key is held by one individual or service" in out
    assert '    holder: "svc:ci"\n' in out


def test_narrowest_lists_a_few_targets_and_globs_many() -> None:
    assert narrowest(["role:a", "group:g", "role:b"]) == ["group:g", "role:a", "role:b"]
    many = [f"role:aws/stratus-{n}-role" for n in range(6)]
    assert narrowest(many) == ["role:aws/stratus-*"]
    assert narrowest([f"role:x{n}" for n in range(5)] + ["role:y"]) == ["role:*"]
    # A name holding glob characters matches only itself.
    assert narrowest(["role:a*b[1]"]) == ["role:a[*]b[[]1]"]


def test_write_needs_owner_approver_and_ticket(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "suggest", str(org), "--write", "--owner", "user:alice", *AS_OF]) == 2
    assert "give --approved-by, --ticket" in capsys.readouterr().err
    assert main(["keys", "suggest", str(org), "--owner", "user:alice", *AS_OF]) == 2
    assert "go with --write" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML


def test_write_applies_key_issue_checks_all_or_nothing(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["keys", "suggest", str(org), "--write", "--owner", "user:alice", "--approved-by", "user:bob",
            "--ticket", "SEC-77", *AS_OF]
    assert main(args) == 2  # svc:ci, the holder seen, is not in the directory
    assert "pk-ghost: holder 'svc:ci' is not in the directory" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML
    directory = dict(DIRECTORY, principals=[*DIRECTORY["principals"],
                                            {"id": "svc:ci", "status": "active", "owner": "user:alice"}])
    (org / "directory.yaml").write_text(yaml.safe_dump(directory, sort_keys=False))
    assert main(args) == 0
    assert "keys.yaml: registered pk-ghost for svc:ci, valid 2026-05-01T10:00:00Z to 2026-05-01T10:00:01Z" \
        in capsys.readouterr().out
    text = (org / "keys.yaml").read_text()
    assert text.startswith(KEYS_YAML)
    assert "    purpose: Registered from the history (1 event by svc:ci, 2026-05-01T10:00:00Z to " \
           "2026-05-01T10:00:00Z)\n" in text
    assert main(["lint", str(org), *AS_OF]) == 0
    capsys.readouterr()
    assert main(["keys", "suggest", str(org), "--write", "--owner", "user:alice", "--approved-by",
                 "user:bob", "--ticket", "SEC-77", *AS_OF]) == 0
    assert "every key the history uses is registered; nothing to add" in capsys.readouterr().out


CLOUDTRAIL = SHARED_DATA / "invictus-ir-aws_dataset" / "CloudTrail"


@pytest.mark.skipif(not CLOUDTRAIL.is_dir(), reason="the shared CloudTrail sample is absent")
def test_the_real_cloudtrail_sample_gives_21_reviewable_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "aws"
    (root / "history").mkdir(parents=True)
    (root / "directory.yaml").write_text("principals: []\n")
    (root / "keys.yaml").write_text("keys: []\n")
    (root / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                        "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    assert main(["import", "cloudtrail", str(CLOUDTRAIL), "--out", str(root / "history" / "ct.jsonl"),
                 "--key-from", "userAgent", "--key-pattern", "stratus-red-team_([0-9a-f-]+)"]) == 0
    capsys.readouterr()
    assert main(["keys", "suggest", str(root), "--as-of", "2023-07-11T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    entries = yaml.safe_load(out)["keys"]
    assert len(entries) == 21
    assert {e["holder"] for e in entries} == {"user:bert-jan"}
    assert all(e["scope"] and e["expires"] > e["not_before"] for e in entries)
    # Pasted, they form a valid registry, and every change of the history is under a known key.
    (root / "keys.yaml").write_text(out)
    assert main(["lint", str(root), "--as-of", "2023-07-11T00:00:00Z"]) == 0
    capsys.readouterr()
    assert main(["keys", str(root), "--as-of", "2023-07-11T00:00:00Z", "-f", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["summary"]["by_status"] == {"expired": 21}
    assert not any(f["check"] == "unexplained.unknown-key" for k in listed["keys"] for f in k["findings"])
