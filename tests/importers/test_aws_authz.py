"""keytrail import aws-authz: the real authorization-details dump (counts derived here) and edge cases."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import aws_authz
from keytrail.importers.base import Context

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
EXAMPLE = DATA / "salesforce-cloudsplaining" / "examples" / "files" / "example.json"
TEST_DUMP = DATA / "salesforce-cloudsplaining" / "test" / "files" / "example-authz-details.json"
FIXTURES = Path(__file__).parent / "fixtures" / "aws-authz"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (shared data absent)")
    return path


def run(paths: list[Path]) -> tuple[aws_authz.State, Context]:
    ctx = Context("aws-authz")
    return aws_authz.convert(paths, ctx), ctx


@pytest.mark.parametrize("dump", [EXAMPLE, TEST_DUMP], ids=["example", "test-fixture"])
def test_the_cloudsplaining_dumps_counts_match_the_raw_document(dump: Path) -> None:
    doc = json.loads(need(dump).read_text())
    state, ctx = run([dump])
    assert not ctx.problems
    users, groups, roles, policies = (doc[k] for k in aws_authz.LISTS)
    assert ctx.converted == {"user": len(users), "group": len(groups), "role": len(roles),
                             "policy": len(policies)}
    by_via = Counter(line["via"] for line in state.snapshot)
    assert by_via["GroupList"] == sum(len(u["GroupList"]) for u in users)
    assert by_via["AttachedManagedPolicies"] == sum(len(x.get("AttachedManagedPolicies") or [])
                                                    for x in users + groups + roles)
    assert by_via["UserPolicyList"] + by_via["GroupPolicyList"] + by_via["RolePolicyList"] == sum(
        len(x.get(k) or []) for x in users + groups + roles for k in ("UserPolicyList", "GroupPolicyList",
                                                                     "RolePolicyList"))
    assert by_via["InstanceProfileList"] == sum(len(r["InstanceProfileList"]) for r in roles)
    # Every role is assumable by someone: at least one trust line each, and the services named line up.
    trusted = {line["target"] for line in state.snapshot if line["via"] == "AssumeRolePolicyDocument"}
    assert trusted == {"role:aws/" + r["RoleName"] for r in roles}
    services = {s for r in roles for st in r["AssumeRolePolicyDocument"]["Statement"]
                for s in ([st["Principal"]["Service"]] if isinstance(st.get("Principal", {}).get("Service"), str)
                          else st.get("Principal", {}).get("Service", []))}
    assert {line["subject"] for line in state.snapshot if line["subject"].startswith("svc:aws-service/")} == {
        "svc:aws-service/" + s for s in services}
    # Directory: users, role principals and instance profiles; groups; roles, policies and inline policies.
    assert sum(1 for p in state.principals if p.startswith("user:")) == len(users)
    assert sum(1 for p in state.principals if p.startswith("svc:aws-role/")) == len(roles)
    assert set(state.groups) == {"group:aws/" + g["GroupName"] for g in groups}
    assert sum(1 for r in state.roles if r.startswith("role:aws/")) == len(roles)
    attached = {a["PolicyName"] for x in users + groups + roles for a in x.get("AttachedManagedPolicies") or []}
    assert {r for r in state.roles if r.startswith("role:aws-policy/")} == {
        "role:aws-policy/" + n for n in attached | {p["PolicyName"] for p in policies}}
    used = [r for r in roles if r.get("RoleLastUsed", {}).get("LastUsedDate")]
    assert sum(1 for r in state.roles.values() if "last_used" in r.get("attributes", {})) == len(used)
    if dump == EXAMPLE:
        assert len(used) == 26  # as docs/real-data-aws.md says
    # Permissions come from the default version only.
    for p in policies:
        default = next(v for v in p["PolicyVersionList"] if v["IsDefaultVersion"])
        statements = default["Document"]["Statement"]
        statements = [statements] if isinstance(statements, dict) else statements
        allow = {a for st in statements if st["Effect"] == "Allow" and "Action" in st
                 for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
        assert allow <= set(state.roles["role:aws-policy/" + p["PolicyName"]].get("permissions", []))
    assert all(line["resource"].startswith("aws:") for line in state.snapshot)


def test_check_on_the_dump_reports_drift_ownerless_and_duplicates(tmp_path: Path) -> None:
    need(EXAMPLE)
    out = tmp_path / "aws"
    assert main(["import", "aws-authz", str(EXAMPLE), "--out", str(out),
                 "--assume-time", "2026-01-01T00:00:00Z"]) == 0
    snapshot = [json.loads(x) for x in (out / "snapshot.jsonl").read_text().splitlines()]
    directory = yaml.safe_load((out / "directory.yaml").read_text())
    project = pipeline.load(out)
    state = pipeline.replay(project, "2026-01-01T00:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    checks = Counter(f.check for f in report.findings)
    # No history: every snapshot line is access nobody explains.
    assert checks["unexplained.drift-extra"] == len({(s["subject"], s["target"], s["resource"]) for s in snapshot})
    # Nobody owns anything in IAM: every group, role and service principal is ownerless.
    owned = [x for x in directory["groups"] + directory["roles"] + directory["principals"]
             if not x["id"].startswith("user:")]
    assert checks["orphaned.ownerless"] == len(owned)
    assert checks["sprawl.duplicate-role"] > 0


def test_the_small_fixture_maps_every_kind_of_entitlement() -> None:
    state, ctx = run([FIXTURES / "small.json"])
    assert not ctx.problems and ctx.converted == {"user": 1, "group": 1, "role": 2, "policy": 3}
    acct = "aws:444455556666"
    assert [(s["subject"], s["target"]) for s in state.snapshot] == [
        ("group:aws/ops", "role:aws-policy/ops-admin"),
        ("svc:aws-account/999988887777", "role:aws/idle"),      # URL-encoded trust policy
        ("svc:aws-instance-profile/app-profile", "role:aws/app"),
        ("svc:aws-role/app", "role:aws-inline/role/app/read-s3"),
        ("svc:aws-role/app", "role:aws-policy/ops-admin-copy"),
        ("svc:aws-service/ec2.amazonaws.com", "role:aws/app"),
        ("user:dana", "group:aws/ops"),
        ("user:dana", "role:aws-inline/user/dana/self-service"),
        ("user:dana", "role:aws-policy/ReadOnlyAccess"),
        ("user:dana", "role:aws/app"),
    ]
    assert {s["resource"] for s in state.snapshot} == {acct}
    ops = state.roles["role:aws-policy/ops-admin"]
    assert ops["permissions"] == ["Deny:s3:DeleteBucket", "ec2:*", "iam:PassRole", "s3:*"]  # v2, the default
    assert ops["privileged"] is True and ops["attributes"]["default_version"] == "v2"
    assert "privileged" not in state.roles["role:aws-policy/ReadOnlyAccess"]
    assert state.roles["role:aws-policy/ReadOnlyAccess"]["attributes"]["aws_managed"] is True
    assert "privileged" not in state.roles["role:aws-inline/role/app/read-s3"]
    assert state.roles["role:aws-inline/user/dana/self-service"].get("privileged") is None  # ChangePassword only
    assert state.principals["svc:aws-role/app"]["attributes"]["last_used"] == "2026-03-01T12:00:00Z"
    assert "last_used" not in state.principals["svc:aws-role/idle"]["attributes"]
    assert state.principals["user:dana"]["attributes"]["created"] == "2025-01-02T03:04:05Z"


def test_the_cli_writes_a_project_that_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packed = tmp_path / "authz.json.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "small.json").read_bytes()))
    out = tmp_path / "aws"
    assert main(["import", "aws-authz", str(packed), "--out", str(out),
                 "--assume-time", "2026-04-01T00:00:00Z"]) == 0
    assert "converted 7: policy 3, role 2, group 1, user 1" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["directory.yaml", "history", "keys.yaml", "keytrail.yaml",
                                                    "snapshot.jsonl"]
    assert main(["check", str(out), "--format", "json", "--as-of", "2026-04-01T00:00:00Z"]) == 1
    report = json.loads(capsys.readouterr().out)
    checks = Counter(f["check"] for f in report["findings"])
    assert checks["unexplained.drift-extra"] == 10
    assert checks["sprawl.duplicate-role"] == 1  # ops-admin and its copy
    assert main(["import", "aws-authz", str(packed), "--out", str(out)]) == 2  # never overwrites


def test_without_a_capture_time_the_imported_snapshot_is_not_compared(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # The dump carries no time: the project asks for one, and check says drift was not checked.
    out = tmp_path / "aws"
    assert main(["import", "aws-authz", str(FIXTURES / "small.json"), "--out", str(out)]) == 0
    assert "# snapshot_time:" in (out / "keytrail.yaml").read_text(encoding="utf-8")
    capsys.readouterr()
    main(["check", str(out), "--format", "json", "--as-of", "2026-04-01T00:00:00Z"])
    report = json.loads(capsys.readouterr().out)
    assert not [f for f in report["findings"] if f["check"].startswith("unexplained.drift")]
    assert report["notes"][-1]["message"].startswith("snapshot snapshot.jsonl not used: it has no capture time")


def test_a_history_from_cloudtrail_lines_up_with_the_snapshot(tmp_path: Path) -> None:
    """The same names on both sides: a CloudTrail grant explains the snapshot line (no drift)."""
    out = tmp_path / "aws"
    assert main(["import", "aws-authz", str(FIXTURES / "small.json"), "--out", str(out),
                 "--assume-time", "2026-04-01T00:00:00Z"]) == 0
    record = {"eventVersion": "1.08", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "iam.amazonaws.com",
              "eventName": "AddUserToGroup", "eventID": "e-1", "readOnly": False,
              "recipientAccountId": "444455556666",
              "userIdentity": {"type": "IAMUser", "userName": "dana", "accountId": "444455556666"},
              "requestParameters": {"userName": "dana", "groupName": "ops"}}
    trail = tmp_path / "trail.json"
    trail.write_text(json.dumps({"Records": [record]}))
    (out / "history" / "imported.jsonl").unlink()
    assert main(["import", "cloudtrail", str(trail), "--out", str(out / "history" / "cloudtrail.jsonl")]) == 0
    project = pipeline.load(out)
    state = pipeline.replay(project, "2026-04-01T00:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    extra = {(f.subject, f.target) for f in report.findings if f.check == "unexplained.drift-extra"}
    missing = [f for f in report.findings if f.check == "unexplained.drift-missing"]
    assert ("user:dana", "group:aws/ops") not in extra and len(extra) == 9 and not missing


def test_malformed_documents_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "aws"
    bad = FIXTURES / "malformed.json"
    assert main(["import", "aws-authz", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert "GroupDetailList is not a list" in err and "UserDetailList[1]: expected an object with UserName" in err
    other = tmp_path / "other.json"
    other.write_text('{"Records": []}')
    assert main(["import", "aws-authz", str(other), "--out", str(out)]) == 2
    assert "not get-account-authorization-details output" in capsys.readouterr().err
