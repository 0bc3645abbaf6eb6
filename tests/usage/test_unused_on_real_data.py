"""The unused-access checks end to end on real usage: the AWS credential report of account
644160558196 and its access-advisor report, with a history that grants the report's users access."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from keytrail.report import to_data
from tests.conftest import SHARED_DATA, report_of, write_project

PLACEBO = SHARED_DATA / "cloud-custodian-placebo"
REPORT = PLACEBO / "tests" / "data" / "placebo" / "test_account_credential_report" / "iam.GetCredentialReport_1.json"
ADVISOR = PLACEBO / "tests" / "data" / "placebo" / "test_iam_user_usage" / "iam.GetServiceLastAccessedDetails_2.json"
pytestmark = pytest.mark.skipif(not REPORT.is_file(), reason="shared sample data not present")
GENERATED = "2017-02-22T23:07:48Z"  # the report's GeneratedTime


def _project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[dict[str, str]]]:
    rows = list(csv.DictReader(json.loads(REPORT.read_text())["data"]["Content"].splitlines()))
    users = [r["user"] for r in rows if r["user"] != "<root_account>"]
    events = [{"time": "2016-06-01T00:00:00Z", "action": "grant", "subject": f"user:{u}",
               "target": "group:aws/Developers", "resource": "aws:644160558196"} for u in users]
    root = write_project(tmp_path / "org", events=events, policies=[{
        "apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
        "rules": [{"id": "dormant", "use": "sprawl.dormant-account"},
                  {"id": "unused", "use": "sprawl.unused-access"}]}], usage=[])
    assert main(["import", "aws-credential-report", str(REPORT), "--out", str(root / "usage.jsonl"), "--force"]) == 0
    capsys.readouterr()
    return root, rows


def test_dormant_accounts_in_a_real_credential_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, rows = _project(tmp_path, capsys)
    report = report_of(root, "2017-02-23T00:00:00Z")
    dormant = {f.finding.subject for f in report.findings if f.check == "sprawl.dormant-account"}

    def last(r: dict[str, str]) -> str | None:
        times = [r[k] for k in ("password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date")
                 if r[k] not in ("N/A", "no_information", "not_supported")]
        return max(times) if times else None
    # Every user but those who used a credential after 2016-11-24 (90 days before as_of) is dormant.
    expected = {f"user:{r['user']}" for r in rows if r["user"] != "<root_account>"
                and (last(r) is None or last(r) < "2016-11-24T00:00:00")}
    assert dormant == expected and len(expected) == 18
    one = next(f for f in report.findings if f.finding.subject == "user:andrew")
    assert one.finding.message == ("user:andrew last signed in 2016-11-16 (98 days before the review) yet holds 1 "
                                   "entitlement(s) on aws:644160558196: group:aws/Developers; usage from "
                                   "aws-credential-report collected 52m before the review")
    evidence = dict(one.finding.evidence_data())
    assert evidence["usage_collected_at"] == GENERATED and evidence["last_used"] == "2016-11-16T14:10:34Z"
    # The importer's extra fields are kept and shown with the record they came from.
    assert evidence["usage_records"] == [{"at": "usage.jsonl:2", "source": "aws-credential-report",
                                          "access_key_last_used": "2016-10-20T20:27:00Z", "access_keys_active": 2,
                                          "mfa_active": "false", "password_enabled": "true",
                                          "password_last_used": "2016-11-16T14:10:34Z"}]
    # The root user holds nothing in the history: no finding for it.
    assert "user:aws-root" not in dormant


def test_the_same_report_a_month_later_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = _project(tmp_path, capsys)
    report = report_of(root, "2017-03-25T00:00:00Z")
    assert [f for f in report.findings if f.check.startswith("sprawl.")] == []
    notes = [n["message"] for n in to_data(report)["notes"] if n["kind"] == "usage"]
    assert notes[0].startswith("rule dormant: left out 21 sign-in record(s) from aws-credential-report collected "
                               f"{GENERATED}, 30d 52m before 2017-03-25T00:00:00Z (max_staleness 7d)")


def test_access_advisor_judges_policies_by_their_services(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """kapil's real access-advisor report: a policy of services he used stays quiet, one of services he
    never used fires, one naming a service the report lacks is not judged."""
    services: dict[str, Any] = {s["ServiceNamespace"]: s for s in json.loads(ADVISOR.read_text())["data"]["ServicesLastAccessed"]}
    assert "LastAuthenticated" in services["acm"] and "LastAuthenticated" not in services["a4b"]
    roles = [{"id": "role:aws-policy/Certs", "permissions": ["acm:ListCertificates"]},
             {"id": "role:aws-policy/Alexa", "permissions": ["a4b:ListRooms"]},
             {"id": "role:aws-policy/Made-up", "permissions": ["no-such-service:Do"]}]
    events = [{"time": "2018-01-01T00:00:00Z", "action": "grant", "subject": "user:kapil", "target": r["id"],
               "resource": "aws:644160558196"} for r in roles]
    root = write_project(tmp_path / "org", directory={"principals": [{"id": "user:kapil"}], "roles": roles},
                         events=events, usage=[], policies=[{
                             "apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                             "rules": [{"id": "unused", "use": "sprawl.unused-access"}]}])
    assert main(["import", "aws-access-advisor", str(ADVISOR), "--out", str(root / "usage.jsonl"), "--force",
                 "--entity", "arn:aws:iam::644160558196:user/kapil"]) == 0
    capsys.readouterr()
    report = report_of(root, "2019-03-14T00:00:00Z")
    assert [(f.finding.target, f.finding.message.split(";")[0]) for f in report.findings] == [
        ("role:aws-policy/Alexa", "user:kapil holds role:aws-policy/Alexa on aws:644160558196, never used")]
    notes = [n["message"] for n in to_data(report)["notes"] if n["kind"] == "usage"]
    assert notes[-1].endswith("was not judged (aws:644160558196 1)")
