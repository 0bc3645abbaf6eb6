"""``keytrail keys``: one row per key with status, use and findings; a key's and a trace's timeline."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.keys.conftest import KEYS_YAML, write_org

AS_OF = ["--as-of", "2026-09-30T12:00:00Z"]


def test_text_lists_every_key_with_status_use_and_findings(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), *AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 keys as of 2026-09-30T12:00:00Z: 2 valid, 1 unknown\n")
    assert ("pk-1  valid  held by svc:deployer (owner user:alice)\n"
            "  purpose:  Deploys: production IAM\n"
            "  ticket:   SEC-1; approved by user:bob\n"
            "  scope:    role:prod-*, group:eng\n"
            "  valid:    2026-01-01 to 2026-12-31\n"
            "  used:     2 events by svc:deployer, user:mallory on 2 targets, first 2026-03-01T10:00:00Z, "
            "last 2026-04-01T10:00:00Z\n"
            "  findings: 1 (1 high): unexplained.key-misuse\n") in out
    assert "  used:     not used in the window\n  findings: none\n" in out  # pk-2
    assert "pk-ghost  unknown: not in the key registry (`keytrail keys suggest` proposes an entry)" in out


@pytest.mark.parametrize("as_of, status", [
    ("2025-12-31T23:59:59Z", "not yet valid"), ("2026-01-01T00:00:00Z", "valid"),
    ("2026-12-31T23:59:58Z", "valid"), ("2026-12-31T23:59:59Z", "expired")])
def test_status_follows_as_of_valid_from_not_before_until_strictly_before_expires(org: Path, as_of: str, status: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), "--as-of", as_of, "--format", "json"]) == 0
    keys = {k["id"]: k for k in json.loads(capsys.readouterr().out)["keys"]}
    assert keys["pk-1"]["status"] == status


def test_a_revocation_counts_from_its_time_and_outranks_expiry(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML.replace("revoked_at: null", "revoked_at: 2026-06-01T00:00:00Z"))
    for as_of, status in (("2026-05-31T23:59:59Z", "valid"), ("2026-06-01T00:00:00Z", "revoked"),
                          ("2027-06-01T00:00:00Z", "revoked")):
        assert main(["keys", str(org), "--as-of", as_of, "-f", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["keys"][0]["status"] == status


def test_json_carries_use_and_findings(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), *AS_OF, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == {"keys": 3, "by_status": {"unknown": 1, "valid": 2}, "findings": 2}
    k1, k2, ghost = data["keys"]
    assert (k1["changes"], k1["actors"], k1["targets"]) == (2, ["svc:deployer", "user:mallory"],
                                                            ["role:prod-admin", "role:prod-read"])
    assert (k1["first_use"], k1["last_use"]) == ("2026-03-01T10:00:00Z", "2026-04-01T10:00:00Z")
    assert [(f["check"], f["event"]) for f in k1["findings"]] == [("unexplained.key-misuse", "ev-2")]
    assert k2["changes"] == 0 and k2["first_use"] is None and k2["location"] == {"path": "keys.yaml", "line": 17, "column": 5}
    assert (ghost["id"], ghost["status"], ghost["holder"]) == ("pk-ghost", "unknown", None)
    assert [f["check"] for f in ghost["findings"]] == ["unexplained.unknown-key"]


def test_since_limits_use_to_the_window(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), *AS_OF, "--since", "2026-03-15T00:00:00Z", "-f", "json"]) == 0
    k1 = json.loads(capsys.readouterr().out)["keys"][0]
    assert (k1["changes"], k1["actors"]) == (1, ["user:mallory"])


def test_csv_is_one_formula_safe_row_per_key(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML.replace('"Deploys: production IAM"', '"=HYPERLINK(1)"'))
    assert main(["keys", str(org), *AS_OF, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ["pk-1", "pk-2", "pk-ghost"]
    assert rows[0]["purpose"] == "'=HYPERLINK(1)"
    assert (rows[0]["changes"], rows[0]["findings"], rows[0]["checks"]) == ("2", "1", "unexplained.key-misuse")


def test_markdown_is_a_table(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), *AS_OF, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Provisioning keys as of 2026-09-30T12:00:00Z\n\n| key | status | holder |")
    assert "| `pk-1` | valid | svc:deployer | user:alice |" in out


def test_values_from_input_are_inert(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML.replace('"Deploys: production IAM"', '"a\\u202eb\\n::error::x"'))
    assert main(["keys", str(org), *AS_OF]) == 0
    assert "  purpose:  a\\u202eb\\n::error::x\n" in capsys.readouterr().out


def test_timeline_of_a_key_spans_files_and_systems_with_the_chain(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "show", "pk-1", "--dir", str(org), *AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("key pk-1 as of 2026-09-30T12:00:00Z\n  status:   valid\n"
                          "  holder:   svc:deployer, owner user:alice\n")
    assert "  events:   2 from 1 file (cloudtrail 1, otlp 1), 2026-03-01T10:00:00Z to 2026-04-01T10:00:00Z\n" in out
    assert ("2026-03-01T10:00:00Z  ev-1  grant role:prod-read to user:bob on aws:1\n"
            "    actor svc:deployer, approved by user:alice, ticket CHG-1\n"
            "    reason: on-call\n"
            "    from otlp record rec-1, written at history/h.jsonl:1\n") in out
    assert ("    from cloudtrail record ct-9, written at history/h.jsonl:2\n"
            "    finding: [high] unexplained.key-misuse: ") in out
    # --key is the same timeline.
    assert main(["keys", str(org), "--key", "pk-1", *AS_OF]) == 0
    assert capsys.readouterr().out == out


def test_timeline_json(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "show", "pk-1", "--dir", str(org), *AS_OF, "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"]["id"] == "pk-1" and data["summary"]["systems"] == {"cloudtrail": 1, "otlp": 1}
    first, second = data["events"]
    assert first["chain"] == {"holder": "svc:deployer", "owner": "user:alice", "approved_by": "user:bob",
                              "ticket": "SEC-1"}
    assert (first["system"], first["record"], first["trace"], first["location"]) == (
        "otlp", "rec-1", "4bf92f3577b34da6a3ce929d0e0e4736", {"path": "history/h.jsonl", "line": 1})
    assert [f["check"] for f in second["findings"]] == ["unexplained.key-misuse"]


def test_timeline_of_a_trace_shows_each_event_with_its_key(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), "--trace", "4bf92f3577b34da6a3ce929d0e0e4736", *AS_OF]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trace 4bf92f3577b34da6a3ce929d0e0e4736 as of 2026-09-30T12:00:00Z\n")
    assert "  keys:     pk-1\n" in out
    assert "    actor svc:deployer, key pk-1, held by svc:deployer, approved by user:alice, ticket CHG-1\n" in out
    assert "ev-3" not in out  # no trace id
    assert main(["keys", str(org), "--trace", "0af7651916cd43dd8448eb211c80319c", *AS_OF]) == 0
    assert "no event carries trace id 0af7651916cd43dd8448eb211c80319c up to --as-of" in capsys.readouterr().out


def test_an_unknown_key_in_use_has_a_timeline(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "show", "pk-ghost", "--dir", str(org), *AS_OF]) == 0
    out = capsys.readouterr().out
    assert "  status:   unknown: not in the key registry\n" in out and "ev-3" in out


@pytest.mark.parametrize("args, says", [
    (["keys", "show", "pk-l"], "no key 'pk-l' in the registry and no event made under it (did you mean"),
    (["keys", "--trace", "4BF92F3577B34DA6A3CE929D0E0E4736"], "a trace id is 32 lowercase hexadecimal digits"),
    (["keys", "--trace", "0" * 32], "the all-zero trace id is invalid"),
    (["keys", "--key", "pk-1", "--trace", "4bf92f3577b34da6a3ce929d0e0e4736"], "give --key or --trace, not both"),
    (["keys", "--key", "pk-1", "--format", "csv"], "a timeline is written as text, json, markdown"),
    (["keys", "--format", "html"], "the key list is written as text, json, markdown, csv"),
])
def test_bad_usage_exits_2(org: Path, args: list[str], says: str, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(org)
    assert main(args) == 2
    assert says in capsys.readouterr().err


def test_a_key_given_as_the_folder_is_told_the_grammar(org: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(org)
    assert main(["keys", "pk-1"]) == 2
    assert "'pk-1' is not a project folder; for a key's timeline give `keytrail keys show ID`" \
        in capsys.readouterr().err


def test_a_project_folder_named_like_a_subcommand_is_still_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    write_org(tmp_path / "suggest")
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "suggest", *AS_OF]) == 0
    assert capsys.readouterr().out.startswith("3 keys as of")


def test_without_rules_the_findings_are_said_to_be_unchecked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_org(tmp_path / "org", policy=None)
    assert main(["keys", str(root), *AS_OF]) == 0
    captured = capsys.readouterr()
    assert "keytrail: warning: no finding is shown: no rule to evaluate" in captured.err
    assert "warning: no finding is shown" in captured.out


def test_output_never_overwrites_an_input(org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", str(org), *AS_OF, "--output", str(org / "keys.yaml")]) == 2
    assert "keytrail never writes over its own input" in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML
    assert main(["keys", str(org), *AS_OF, "-f", "csv", "--output", str(org / "keys.csv")]) == 0
    assert (org / "keys.csv").read_text().startswith("id,status,holder")


def test_a_widely_shared_key_names_five_actors_and_counts_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [{"id": f"ev-{n}", "time": f"2026-05-0{n}T10:00:00Z", "action": "grant", "subject": "user:bob",
               "target": "group:eng", "actor": f"user:a{n}", "key": "pk-1"} for n in range(1, 8)]
    root = write_org(tmp_path / "org", events=events)
    assert main(["keys", str(root), *AS_OF]) == 0
    assert "  used:     7 events by user:a1, user:a2, user:a3, user:a4, user:a5 and 2 more on 1 target," \
        in capsys.readouterr().out
    assert main(["keys", str(root), *AS_OF, "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["keys"][0]["actors"]) == 7


@pytest.mark.parametrize("args", [["-f", "json"], ["-f", "csv"], ["-f", "markdown"], ["--key", "pk-1"]])
def test_output_is_the_same_bytes_every_run(org: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["keys", str(org), *AS_OF, *args]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_an_empty_registry_and_unkeyed_history_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_org(tmp_path / "org", keys_yaml="keys: []\n", events=[])
    assert main(["keys", str(root), *AS_OF]) == 0
    assert capsys.readouterr().out == ("0 keys as of 2026-09-30T12:00:00Z (the registry is empty and the "
                                       "history uses no key)\n")
