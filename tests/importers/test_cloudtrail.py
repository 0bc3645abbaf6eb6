"""keytrail import cloudtrail: real samples (counts derived here from the raw records) and edge cases."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import cloudtrail
from keytrail.importers.base import Context
from tests.importers import without_source

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
INVICTUS = DATA / "invictus-ir-aws_dataset" / "CloudTrail"
ELASTIC = DATA / "elastic-integrations" / "packages" / "aws" / "data_stream" / "cloudtrail" / "_dev" / "test" / "pipeline"
ADD_USER = DATA / "elastic-integrations" / "derived" / "test-add-user-to-group-json.event-original.jsonl"
PANTHER = DATA / "panther-analysis" / "derived" / "aws_cloudtrail_iam_rule_tests.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "cloudtrail"
IAM = "iam.amazonaws.com"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (shared data absent)")
    return path


def run(paths: list[Path], **kw: object) -> tuple[list[dict], Context]:
    ctx = Context("cloudtrail", **kw)  # type: ignore[arg-type]
    events = list(cloudtrail.convert(paths, ctx))
    return events, ctx


def raw_records(paths: list[Path]) -> list[dict]:
    out = []
    for path in paths:
        text = path.read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.strip()] if "\n{" in text.strip() \
            or "Records" not in text[:20] else None
        out += lines if lines is not None else json.loads(text)["Records"]
    return out


def write_project(root: Path, history: Path) -> Path:
    (root / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                        f"history: [{history.name}]\npolicies: [keytrail:default]\n")
    (root / "directory.yaml").write_text("{}\n")
    (root / "keys.yaml").write_text("keys: []\n")
    return root


# -- the real Invictus IR CloudTrail history -----------------------------------------------------

def test_the_invictus_history_counts_match_the_raw_records() -> None:
    files = sorted(need(INVICTUS).glob("*.json"))
    raw = [r for f in files for r in json.loads(f.read_text())["Records"]]
    iam = [r for r in raw if r["eventSource"] == IAM]
    writes = [r for r in iam if not r["readOnly"]]
    failed = Counter(r["eventName"] for r in writes if r.get("errorCode"))
    tags = Counter(r["eventName"] for r in writes if not r.get("errorCode") and r["eventName"].startswith("Tag"))
    changes = Counter(r["eventName"] for r in writes if not r.get("errorCode")) - tags

    events, ctx = run(files)
    assert not ctx.problems
    assert len(raw) == 2900 and len(iam) == 398 and len(writes) == 88  # as SOURCES.md says
    assert ctx.skipped["not IAM"] == Counter(r["eventName"] for r in raw if r["eventSource"] != IAM)
    assert ctx.skipped["read-only"] == Counter(r["eventName"] for r in iam if r["readOnly"])
    assert ctx.skipped["failed call"] == failed == Counter({"DeleteLoginProfile": 3})
    assert ctx.skipped["not an access change"] == tags
    assert ctx.converted == changes
    assert sum(ctx.converted.values()) + sum(sum(c.values()) for c in ctx.skipped.values()) == len(raw)

    # Every converted record is traceable: its eventID is the source id of its events.
    by_record = Counter(e["source"]["id"] for e in events)
    assert set(by_record) == {r["eventID"] for r in writes if not r.get("errorCode")
                              and not r["eventName"].startswith("Tag")}
    single = {n for n in changes if n not in ("CreateRole", "DeleteRole", "UpdateAssumeRolePolicy")}
    for r in writes:
        if r["eventName"] in single and not r.get("errorCode"):
            assert by_record[r["eventID"]] == 1
    # CreateRole: define + join + one grant per trusted principal; DeleteRole: its revokes + leave + retire.
    creates = [e for e in events if e["source"]["eventName"] == "CreateRole"]
    assert Counter(e["action"] for e in creates)["define"] == changes["CreateRole"]
    assert Counter(e["action"] for e in creates)["join"] == changes["CreateRole"]
    deletes = [e for e in events if e["source"]["eventName"] == "DeleteRole"]
    assert Counter(e["action"] for e in deletes)["retire"] == changes["DeleteRole"]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    assert all(e["time"].endswith("Z") and e.get("key") is None for e in events)
    assert all(e["actor"] == "user:bert-jan" for e in events)
    # Users created are joiners, deleted are leavers; the console password and the access keys are grants.
    assert sum(1 for e in events if e["action"] == "join" and e["subject"].startswith("user:")) == changes["CreateUser"]
    keys = [e for e in events if e.get("target") == "role:aws-credential/access-key"]
    assert Counter(e["action"] for e in keys) == {"grant": changes["CreateAccessKey"],
                                                  "revoke": changes["DeleteAccessKey"]}
    assert all(e["resource"].startswith("aws:123837392027/access-key/AKIA") for e in keys)


def test_the_invictus_history_with_the_user_agent_key_mapping(tmp_path: Path) -> None:
    files = sorted(need(INVICTUS).glob("*.json"))
    raw = [r for f in files for r in json.loads(f.read_text())["Records"]]
    out = tmp_path / "history.jsonl"
    assert main(["import", "cloudtrail", str(INVICTUS), "--out", str(out), "--key-from", "userAgent",
                 "--key-pattern", "stratus-red-team_([0-9a-f-]+)"]) == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    import re

    expected = {}
    for r in raw:
        m = re.search("stratus-red-team_([0-9a-f-]+)", r.get("userAgent") or "")
        expected[r["eventID"]] = m.group(1) if m else None
    assert all(e.get("key") == expected[e["source"]["id"]] for e in events)
    assert {e["key"] for e in events if e.get("key")} == {
        v for r in raw if r["eventSource"] == IAM and not r["readOnly"] and not r.get("errorCode")
        and not r["eventName"].startswith("Tag") for v in [expected[r["eventID"]]] if v}
    project = pipeline.load(write_project(tmp_path, out))
    state = pipeline.replay(project, "2023-07-11T00:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    checks = Counter(f.check for f in report.findings)
    changes = [e for e in events if e["action"] in ("grant", "revoke", "define", "retire")]
    assert checks["unexplained.unknown-key"] == sum(1 for e in changes if e.get("key"))
    assert checks["unexplained.missing-key"] == sum(1 for e in changes if not e.get("key"))


# -- the Elastic, AWS-docs and Panther samples --------------------------------------------------

def test_the_elastic_pipeline_samples() -> None:
    files = sorted(need(ELASTIC).glob("*.log"))
    raw = raw_records(files)
    events, ctx = run(files)
    assert not ctx.problems
    assert ctx.converted == Counter(r["eventName"] for r in raw if not r.get("errorCode"))
    assert ctx.skipped == {"failed call": Counter(r["eventName"] for r in raw if r.get("errorCode"))}
    by = {e["source"]["eventName"]: e for e in events}
    assert by["AttachGroupPolicy"]["subject"] == "group:aws/TestGroupPolicy"
    assert by["AttachGroupPolicy"]["target"] == "role:aws-policy/ReadOnlyAccess"
    assert by["AttachRolePolicy"]["subject"] == "svc:aws-role/cloudtrail-role"
    assert by["AttachUserPolicy"]["actor"] == "svc:aws-role/ec2-instance-role"
    assert by["AttachUserPolicy"]["source"]["session"] == "i-06815aa7cf7d21f8f"
    # The create-group sample reuses one eventID for two different records (IAMUser and
    # IdentityCenterUser variants): both are kept, the second with a distinct id naming the first.
    groups = [e for e in events if e["action"] == "define"]
    assert len(groups) == 2 and len({e["id"] for e in groups}) == 2
    assert sum(1 for e in groups if "reused_event_id" in e["source"]) == 1


def test_the_aws_docs_add_user_to_group_sample_has_no_event_id() -> None:
    events, ctx = run([need(ADD_USER)])
    raw = raw_records([ADD_USER])[0]
    assert "eventID" not in raw and ctx.converted == {"AddUserToGroup": 1}
    (event,) = events
    assert event["id"].startswith("cloudtrail-sha256-") and event["time"] == raw["eventTime"]
    assert (event["action"], event["subject"], event["target"], event["resource"], event["actor"]) == (
        "grant", "user:" + raw["requestParameters"]["userName"],
        "group:aws/" + raw["requestParameters"]["groupName"], "aws:123456789012", "user:Alice")
    assert run([ADD_USER])[0][0]["id"] == event["id"]  # deterministic


def _panther_broken(lines: list[dict]) -> list[int]:
    """Hand-trimmed rule tests: IAM changes whose request parameters lack what changed."""
    names = {"UpdateAssumeRolePolicy": "roleName", "CreateServiceLinkedRole": "aWSServiceName",
             "PutUserPolicy": "userName"}
    out = []
    for n, line in enumerate(lines, 1):
        e = line["event"]
        if e.get("eventSource") == IAM and e.get("readOnly") is not True and not e.get("errorCode") \
                and e.get("eventName") in names and names[e["eventName"]] not in (e.get("requestParameters") or {}):
            out.append(n)
    return out


def test_panther_rule_tests_are_unwrapped_and_their_trimmed_records_skipped_by_place(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.loads(x) for x in need(PANTHER).read_text().splitlines() if x.strip()]
    assert all(set(x) == {"p_sources", "event"} for x in lines)
    broken = _panther_broken(lines)
    assert broken
    out = tmp_path / "h.jsonl"
    assert main(["import", "cloudtrail", str(PANTHER), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    # every trimmed change is named by its line, and the rest is written
    assert [int(x.split(":")[1]) for x in err.splitlines() if x.strip().startswith(str(PANTHER))] == broken
    assert f"{len(broken)} access change(s) could not be converted" in err
    events = [json.loads(x) for x in out.read_text().splitlines()]
    # --strict refuses them: exit 2, nothing written
    strict = tmp_path / "strict.jsonl"
    assert main(["import", "cloudtrail", str(PANTHER), "--out", str(strict), "--strict"]) == 2
    assert not strict.exists()
    assert {int(x.split(":")[1]) for x in capsys.readouterr().err.splitlines()
            if "--strict is on" in x and "requestParameters" in x} == set(broken)
    again, ctx = run([PANTHER])
    assert again == events and not ctx.problems
    assert ctx.skipped["incomplete"] == Counter(lines[n - 1]["event"]["eventName"] for n in broken)
    raw = [x["event"] for x in lines]
    assert ctx.skipped["not IAM"] == Counter(e["eventName"] for e in raw if e["eventSource"] != IAM)
    iam = [e for e in raw if e["eventSource"] == IAM]
    handled = sum(ctx.converted.values()) + sum(sum(c.values()) for r, c in ctx.skipped.items() if r != "not IAM")
    assert handled == len(iam)
    assert ctx.skipped["failed call"] == Counter(e["eventName"] for e in iam if e.get("errorCode")
                                                 and e.get("readOnly") is not True
                                                 and not e["eventName"].startswith(("Get", "List", "Describe")))
    root = [e for e in events if e.get("actor") == "user:aws-root"]
    assert root  # the compromised-root-credentials tests
    assert ctx.skipped["not an access change"]["UpdateLoginProfile"] == sum(
        1 for e in iam if e["eventName"] == "UpdateLoginProfile" and not e.get("errorCode"))
    assert all(e["time"].endswith("Z") for e in events)


def test_panther_test_scenarios_in_yaml_are_flattened() -> None:
    import yaml

    files = sorted((DATA / "panther-analysis" / "test_scenarios").glob("*/*cloudtrail.yml"))
    if not files:
        pytest.skip("the shared Panther test scenarios are absent")
    logs = [(f, i, e) for f in files for i, e in enumerate(yaml.safe_load(f.read_text())["Logs"])]
    events, ctx = run(files)
    assert not ctx.problems and not ctx.incomplete_at
    iam = [e for _, _, e in logs if e["eventSource"] == IAM]
    assert ctx.skipped["not IAM"] == Counter(e["eventName"] for _, _, e in logs if e["eventSource"] != IAM)
    assert sum(ctx.converted.values()) + sum(sum(c.values()) for r, c in ctx.skipped.items()
                                             if r != "not IAM") == len(iam)
    assert ctx.converted == Counter(e["eventName"] for e in iam if not e.get("errorCode"))
    # each event points back at its scenario file and its place in the Logs list
    first = next(e for e in events if e["source"]["eventName"] == "CreateUser")
    where = next((f, i) for f, i, e in logs if e["eventName"] == "CreateUser")
    assert (first["source"]["file"], first["source"]["index"]) == (str(where[0]), where[1])


# -- fixtures: edge cases ------------------------------------------------------------------------

def test_the_mixed_fixture_converts_and_skips_by_reason() -> None:
    events, ctx = run([FIXTURES / "mixed.json", FIXTURES / "lines.jsonl"])
    assert not ctx.problems
    assert ctx.skipped == {"duplicate delivery": {"AddUserToGroup": 1}, "failed call": {"AttachUserPolicy": 1},
                           "not IAM": {"PutObject": 1}, "not an access change": {"TagRole": 1},
                           "read-only": {"GetUser": 1}, "unsupported IAM write": {"CreateWidgetThing": 1}}
    got = [(e["action"], e.get("subject"), e.get("target"), e.get("resource")) for e in events]
    acct = "aws:111122223333"
    assert got == [
        ("join", "user:bob", None, None),
        ("define", None, "group:aws/admins", None),
        ("grant", "user:bob", "group:aws/admins", acct),
        ("grant", "group:aws/admins", "role:aws-policy/AdministratorAccess", acct),
        ("define", None, "role:aws/app", None),
        ("join", "svc:aws-role/app", None, None),
        ("grant", "svc:aws-service/ec2.amazonaws.com", "role:aws/app", acct),
        ("grant", "user:alice", "role:aws/app", acct),
        ("grant", "svc:aws-role/app", "role:aws-inline/role/app/read-s3", acct),
        # the trust policy is replaced: the old principals lose the role, the account gains it
        ("revoke", "svc:aws-service/ec2.amazonaws.com", "role:aws/app", acct),
        ("revoke", "user:alice", "role:aws/app", acct),
        ("grant", "svc:aws-account/111122223333", "role:aws/app", acct),
        # CreateAccessKey with no userName: the caller's own key
        ("grant", "user:alice", "role:aws-credential/access-key", acct + "/access-key/AKIAEXAMPLE1"),
        ("grant", "user:bob", "role:aws-credential/console-password", acct),
        ("revoke", "user:alice", "role:aws-credential/access-key", acct + "/access-key/AKIAEXAMPLE1"),
        ("revoke", "svc:aws-role/app", "role:aws-inline/role/app/read-s3", acct),
        ("revoke", "user:bob", "group:aws/admins", acct),  # a Panther-wrapped line, time without a zone
        ("revoke", "svc:aws-account/111122223333", "role:aws/app", acct),
        ("leave", "svc:aws-role/app", None, None),
        ("retire", None, "role:aws/app", None),
    ]
    assert events[4]["actor"] == "svc:aws-role/deployer" and events[4]["source"]["session"] == "ci-run-42"
    assert events[4]["id"] == "cloudtrail-ev-0005-1" and events[7]["id"] == "cloudtrail-ev-0005-4"
    assert events[0]["source"] == {"format": "cloudtrail", "file": str(FIXTURES / "mixed.json"), "index": 0,
                                       "id": "ev-0001", "eventName": "CreateUser", "requestID": "req-0001",
                                       "userAgent": "aws-cli/2.0 exec-env/stratus-red-team_aaaa-0001",
                                       "sourceIPAddress": "198.51.100.7"}
    assert events[16]["time"] == "2026-03-02T09:30:00Z" and events[16]["source"]["line"] == 2


def test_gzip_and_json_lines_read_like_the_document(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "mixed.json").read_text())
    packed = tmp_path / "mixed.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(doc).encode()))
    lines = tmp_path / "mixed.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in doc["Records"]))
    plain = run([FIXTURES / "mixed.json"])[0]
    strip = without_source(plain)
    for other in (packed, lines):
        events = run([other])[0]
        assert without_source(events) == strip


def test_malformed_records_are_located_and_nothing_is_written(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    bad = FIXTURES / "malformed.jsonl"
    assert main(["import", "cloudtrail", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    # a record that is no CloudTrail record at all is an error; the CloudTrail records that
    # cannot be converted are named among the errors, as warnings, in input order
    assert f"{bad}:2: not a CloudTrail record" in err
    assert f"{bad}:3: warning: AttachRolePolicy: requestParameters.roleName is missing" in err
    assert f"{bad}:4: warning: DeleteUser: eventTime 'yesterday'" in err
    assert err.index(f"{bad}:2:") < err.index(f"{bad}:3:") < err.index(f"{bad}:4:")
    assert "keytrail: 1 error; nothing was written" in err


def test_unconvertible_records_are_skipped_named_and_strict_refuses_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = FIXTURES / "malformed.jsonl"
    kept = tmp_path / "kept.jsonl"
    kept.write_text("".join(line + "\n" for n, line in enumerate(bad.read_text().splitlines(), 1) if n != 2))
    out = tmp_path / "h.jsonl"
    assert main(["import", "cloudtrail", str(kept), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 (incomplete): AttachRolePolicy 1, DeleteUser 1" in err
    assert f"  {kept}:2: warning: AttachRolePolicy: requestParameters.roleName is missing" in err
    assert f"  {kept}:3: warning: DeleteUser: eventTime 'yesterday'" in err
    assert main(["import", "cloudtrail", str(kept), "--out", str(tmp_path / "s.jsonl"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()
    assert f"{kept}:2: AttachRolePolicy: requestParameters.roleName is missing (not converted, and --strict is on)" \
        in err


def test_strict_refuses_unconverted_iam_writes_but_not_records_that_change_no_access(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "cloudtrail", str(FIXTURES / "mixed.json"), "--out", str(out)]) == 0
    assert "skipped 1 (unsupported IAM write; access changes, refused by --strict): CreateWidgetThing 1" \
        in capsys.readouterr().err
    out.unlink()
    assert main(["import", "cloudtrail", str(FIXTURES / "mixed.json"), "--out", str(out), "--strict"]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert "unsupported IAM write: CreateWidgetThing), and --strict is on" in err
    # the read, the failed call, the S3 call, the tag and the duplicate are not access changes
    assert "GetUser" not in err and "PutObject" not in err and "TagRole" not in err
    doc = json.loads((FIXTURES / "mixed.json").read_text())
    doc["Records"] = [r for r in doc["Records"] if r.get("eventName") != "CreateWidgetThing"]
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps(doc))
    assert main(["import", "cloudtrail", str(rest), "--out", str(out), "--strict"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 (read-only): GetUser 1" in err and "skipped 1 (not IAM): PutObject 1" in err


def test_the_cli_end_to_end_with_a_key_mapping_and_a_project(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "h.jsonl"
    assert main(["import", "cloudtrail", str(FIXTURES / "mixed.json"), str(FIXTURES / "lines.jsonl"),
                 "--out", str(out), "--key-from", "userAgent",
                 "--key-pattern", "stratus-red-team_([0-9a-f-]+)"]) == 0
    err = capsys.readouterr().err
    assert "converted 13" in err and "skipped 1 (read-only): GetUser 1" in err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["key"] for e in events} == {"aaaa-0001", "bbbb-0002"}
    write_project(tmp_path, out)
    (tmp_path / "keys.yaml").write_text(
        "keys:\n  - {id: bbbb-0002, holder: svc:aws-role/deployer, owner: user:alice, purpose: app role,"
        " scope: ['role:aws*']}\n")
    project = pipeline.load(tmp_path)
    state = pipeline.replay(project, "2026-04-01T00:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    unknown = {f.finding.event.id for f in report.findings if f.check == "unexplained.unknown-key"}
    keyed = {e["id"] for e in events if e["action"] in ("grant", "revoke", "define", "retire")}
    # aaaa-0001 is not registered; bbbb-0002 (the deployer role's changes) is.
    assert unknown == {i for i in keyed if next(e for e in events if e["id"] == i)["key"] == "aaaa-0001"}
    assert main(["check", str(tmp_path), "--as-of", "2026-04-01T00:00:00Z", "--format", "json"]) == 1


def test_a_synced_bucket_with_digest_files_and_insights_imports(tmp_path: Path) -> None:
    """``aws s3 sync`` of a trail brings CloudTrail-Digest/ files and Insights events along."""
    logs = tmp_path / "AWSLogs" / "111122223333"
    (logs / "CloudTrail" / "us-east-1").mkdir(parents=True)
    (logs / "CloudTrail-Digest" / "us-east-1").mkdir(parents=True)
    (logs / "CloudTrail-Insight" / "us-east-1").mkdir(parents=True)
    doc = json.loads((FIXTURES / "mixed.json").read_text())
    (logs / "CloudTrail" / "us-east-1" / "a.json.gz").write_bytes(gzip.compress(json.dumps(doc).encode()))
    digest = {"awsAccountId": "111122223333", "digestStartTime": "2026-03-01T09:00:00Z",
              "digestEndTime": "2026-03-01T10:00:00Z", "digestS3Bucket": "trail", "logFiles": [],
              "digestSignatureAlgorithm": "SHA256withRSA"}
    (logs / "CloudTrail-Digest" / "us-east-1" / "d.json.gz").write_bytes(gzip.compress(json.dumps(digest).encode()))
    insight = {"Records": [{"eventVersion": "1.07", "eventTime": "2026-03-01T09:00:00Z",
                            "awsRegion": "us-east-1", "eventID": "i-1", "eventType": "AwsCloudTrailInsight",
                            "eventSource": "iam.amazonaws.com", "eventName": "AttachRolePolicy",
                            "insightDetails": {"state": "Start"}, "eventCategory": "Insight"}]}
    (logs / "CloudTrail-Insight" / "us-east-1" / "i.json.gz").write_bytes(gzip.compress(json.dumps(insight).encode()))
    plain, _ = run([FIXTURES / "mixed.json"])
    events, ctx = run(sorted(p for p in tmp_path.rglob("*.gz")))
    assert not ctx.problems
    assert without_source(events) == \
        without_source(plain)
    assert ctx.skipped["digest file"] == {"CloudTrail-Digest": 1}
    assert ctx.skipped["insight event"] == {"AttachRolePolicy": 1}


def test_eventbridge_envelopes_are_opened(tmp_path: Path) -> None:
    """CloudTrail calls routed through EventBridge ("AWS API Call via CloudTrail") carry the record in detail."""
    doc = json.loads((FIXTURES / "mixed.json").read_text())
    bridge = tmp_path / "bridge.jsonl"
    bridge.write_text("".join(json.dumps({"version": "0", "id": f"eb-{n}", "detail-type": "AWS API Call via CloudTrail",
                                          "source": "aws.iam", "detail": r}) + "\n"
                              for n, r in enumerate(doc["Records"])))
    plain, _ = run([FIXTURES / "mixed.json"])
    events, ctx = run([bridge])
    assert not ctx.problems
    assert without_source(events) == \
        without_source(plain)
