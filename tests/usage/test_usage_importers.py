"""The usage importers on real recorded API responses (when /work/shared/data is present) and
on fixtures of the same shapes: every record converted or skipped by reason, counts taken from
the samples, ids that line up with the state and history importers of the same system."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from keytrail.cli import main
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).parent.parent / "importers" / "fixtures"
PLACEBO = SHARED_DATA / "cloud-custodian-placebo" / "tests" / "data" / "placebo"
DERIVED = SHARED_DATA / "cloud-custodian-placebo" / "derived"
needs_data = pytest.mark.skipif(not PLACEBO.is_dir(), reason="shared sample data not present")
COLLECTED = "2026-09-30T06:00:00Z"


def run_import(capsys: pytest.CaptureFixture[str], fmt: str, inputs: list[Path], out: Path,
               *options: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["import", fmt, *map(str, inputs), "--out", str(out), *options])
    err = capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return code, records, err


def _na(value: str) -> bool:
    return value in ("N/A", "no_information", "not_supported", "")


# -- aws-credential-report ----------------------------------------------------------------

@needs_data
def test_credential_report_real_responses_every_row_converted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    responses = sorted(PLACEBO.glob("*/iam.GetCredentialReport_*.json"))
    rows = 0
    for path in responses:
        content = json.loads(path.read_text())["data"].get("Content")
        rows += len(content.splitlines()) - 1 if content else 0
    code, records, err = run_import(capsys, "aws-credential-report", responses, tmp_path / "u.jsonl")
    assert code == 0, err
    assert len(responses) == 9 and rows == 57
    assert "converted 57: user 52, root 5" in err
    # The one ReportNotPresent response is skipped by its code, never an error.
    assert "skipped 1 (error response ReportNotPresent): GetCredentialReport 1" in err
    # Two responses of test_iam_user_credential_multi_delete_noop are the same report (same GeneratedTime).
    assert len(records) == 55 and "wrote 55 usage records" in err


@needs_data
def test_credential_report_real_csv_last_use_is_the_latest_credential(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = DERIVED / "test_account_credential_report.credential_report_1.csv"
    rows = list(csv.DictReader(source.open()))
    code, records, err = run_import(capsys, "aws-credential-report", [source], tmp_path / "u.jsonl",
                                    "--assume-time", "2017-02-22T23:07:48Z")
    assert code == 0, err
    assert len(records) == len(rows) == 21
    by_subject = {r["subject"]: r for r in records}
    assert by_subject["user:aws-root"]["last_used"] == "2016-10-06T15:47:11Z"
    # andrew: password 2016-11-16, key 2 2016-10-20: the later counts.
    assert by_subject["user:andrew"]["last_used"] == "2016-11-16T14:10:34Z"
    assert by_subject["user:andrew"]["access_key_last_used"] == "2016-10-20T20:27:00Z"
    never = {f"user:{r['user']}" for r in rows if r["user"] != "<root_account>" and all(_na(r[k]) for k in (
        "password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date"))}
    assert len(never) == 4
    assert {s for s, r in by_subject.items() if r["last_used"] is None} == never
    assert {r["resource"] for r in records} == {"aws:644160558196"}


def test_credential_report_base64_response_equals_the_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The API's base64 Content and the decoded CSV give the same records."""
    folder = FIXTURES / "aws-credential-report"
    code, from_json, err = run_import(capsys, "aws-credential-report", [folder / "get-credential-report.json"],
                                      tmp_path / "a.jsonl")
    assert code == 0, err
    code, from_csv, err = run_import(capsys, "aws-credential-report", [folder / "credential-report.csv"],
                                     tmp_path / "b.jsonl", "--assume-time", COLLECTED)
    assert code == 0, err
    assert from_json == from_csv
    subjects = {r["subject"]: r["last_used"] for r in from_json}
    assert subjects == {"user:aws-root": "2026-08-01T10:00:00Z", "user:alice": "2026-09-29T07:00:00Z",
                        "user:deploy-bot": "2026-03-02T11:00:00Z", "user:mallory": None}


def test_credential_report_csv_without_a_time_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_import(capsys, "aws-credential-report", [FIXTURES / "aws-credential-report" / "credential-report.csv"],
                              tmp_path / "u.jsonl")
    assert code == 2 and not (tmp_path / "u.jsonl").exists()
    assert "credential-report.csv:1: the credential report CSV does not say when it was collected: give --assume-time" in err


def test_credential_report_bad_row_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (FIXTURES / "aws-credential-report" / "credential-report.csv").read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*text[:3], text[3].replace("2026-03-02T11:00:00+00:00", "yesterday"), *text[4:]]) + "\n")
    code, _, err = run_import(capsys, "aws-credential-report", [bad], tmp_path / "u.jsonl", "--assume-time", COLLECTED)
    assert code == 2
    assert "bad.csv:4: CSV line 4: access_key_1_last_used_date 'yesterday' is not a time" in err
    short = tmp_path / "short.csv"
    short.write_text("\n".join([*text[:2], "alice,arn:aws:iam::111122223333:user/alice"]) + "\n")
    code, _, err = run_import(capsys, "aws-credential-report", [short], tmp_path / "u.jsonl", "--assume-time", COLLECTED)
    assert code == 2 and "short.csv:3: CSV line 3: 2 fields, the header has 22" in err


def test_credential_report_malformed_csv_is_an_error_not_a_traceback(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A lone carriage return inside an unquoted field made Python's csv reader raise, and the
    import crashed with a traceback; it is a located error now, and nothing is written."""
    text = (FIXTURES / "aws-credential-report" / "credential-report.csv").read_bytes()
    at = text.index(b"arn:aws:iam::") + 5
    bad = tmp_path / "bad.csv"
    bad.write_bytes(text[:at] + b"\r" + text[at:])
    out = tmp_path / "u.jsonl"
    code, _, err = run_import(capsys, "aws-credential-report", [bad], out, "--assume-time", COLLECTED)
    assert code == 2 and not out.exists() and "Traceback" not in err
    assert "bad.csv:1: not a well-formed CSV (CSV line 2): new-line character seen in unquoted field" in err
    # near miss: CRLF line ends, as a Windows tool may save the report, are no problem
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(text.replace(b"\n", b"\r\n"))
    code, _, err = run_import(capsys, "aws-credential-report", [crlf], tmp_path / "ok.jsonl", "--assume-time", COLLECTED)
    assert code == 0, err


# -- aws-access-advisor ------------------------------------------------------------------

@needs_data
def test_access_advisor_real_response_every_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = PLACEBO / "test_iam_user_usage"
    report = json.loads((folder / "iam.GetServiceLastAccessedDetails_2.json").read_text())["data"]
    services = report["ServicesLastAccessed"]
    used = [s for s in services if "LastAuthenticated" in s]
    inputs = sorted(folder.glob("iam.*ServiceLastAccessedDetails_*.json"))
    code, records, err = run_import(capsys, "aws-access-advisor", inputs, tmp_path / "u.jsonl",
                                    "--entity", "arn:aws:iam::644160558196:user/kapil")
    assert code == 0, err
    assert (len(services), len(used)) == (168, 98)
    assert "converted 168: used 98, never used 70" in err
    assert "skipped 1 (job not finished (IN_PROGRESS))" in err
    assert "skipped 1 (not a report (GenerateServiceLastAccessedDetails))" in err
    assert len(records) == 168
    assert {(r["subject"], r["resource"], r["collected_at"]) for r in records} == {
        ("user:kapil", "aws:644160558196", "2019-03-13T12:56:11Z")}
    acm = next(r for r in records if r["service"] == "acm")
    assert acm["last_used"] == "2019-02-08T14:55:00Z" and acm["last_entity"].endswith("user/kapil")


def test_access_advisor_needs_the_entity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = FIXTURES / "aws-access-advisor" / "get-service-last-accessed-details.json"
    code, _, err = run_import(capsys, "aws-access-advisor", [source], tmp_path / "u.jsonl")
    assert code == 2 and "give --entity ARN" in err
    code, _, err = run_import(capsys, "aws-access-advisor", [source], tmp_path / "u.jsonl",
                              "--entity", "arn:aws:iam::111122223333:policy/ReadOnly")
    assert code == 2 and "is not one" in err
    code, records, err = run_import(capsys, "aws-access-advisor", [source], tmp_path / "u.jsonl",
                                    "--entity", "arn:aws:iam::111122223333:role/service-role/ci-deployer")
    assert code == 0, err
    assert {r["subject"] for r in records} == {"svc:aws-role/ci-deployer"}


# -- aws-role-last-used ------------------------------------------------------------------

@needs_data
def test_role_last_used_real_get_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = sorted((PLACEBO / "test_ec2_iam_role_filter_by_role_name").glob("iam.GetRole_*.json"))
    code, records, err = run_import(capsys, "aws-role-last-used", inputs, tmp_path / "u.jsonl",
                                    "--assume-time", "2026-04-13T00:00:00Z")
    assert code == 0, err
    assert "converted 2: used 2" in err and "wrote 1 usage records" in err
    assert records == [{"collected_at": "2026-04-13T00:00:00Z", "last_used": "2026-04-06T03:32:22Z",
                        "region": "us-east-1", "resource": "aws:644160558196", "source": "aws-role-last-used",
                        "subject": "svc:aws-role/CloudCustodianRole"}]
    code, _, err = run_import(capsys, "aws-role-last-used", inputs, tmp_path / "v.jsonl")
    assert code == 2 and "does not say when it was collected" in err


def test_role_last_used_ids_line_up_with_aws_authz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = FIXTURES / "aws-role-last-used" / "authorization-details.json"
    code, records, err = run_import(capsys, "aws-role-last-used", [source], tmp_path / "u.jsonl",
                                    "--assume-time", COLLECTED)
    assert code == 0, err
    assert main(["import", "aws-authz", str(source), "--out", str(tmp_path / "state")]) == 0
    capsys.readouterr()
    directory = yaml.safe_load((tmp_path / "state" / "directory.yaml").read_text())
    principals = {p["id"] for p in directory["principals"]}
    assert {r["subject"] for r in records} == {"svc:aws-role/ci-deployer", "svc:aws-role/legacy-batch"} <= principals
    assert [r["last_used"] for r in records] == ["2026-09-29T22:00:00Z", None]


# -- okta-last-login ------------------------------------------------------------------------

def _okta_pages(folder: Path) -> list[list[dict[str, Any]]]:
    """The bodies of GET /api/v1/users list responses in the recorded cassettes, as the API returns them."""
    pages = []
    for cassette in sorted((SHARED_DATA / "okta-sdk-python").rglob("*.yaml")):
        for it in yaml.safe_load(cassette.read_text()).get("interactions", []):
            uri = it["request"]["uri"].split("?")[0]
            body = (it["response"].get("body") or {}).get("string")
            if it["request"]["method"] == "GET" and uri.endswith("/api/v1/users") and body:
                pages.append(json.loads(body))
    derived = SHARED_DATA / "okta-terraform-provider-okta" / "derived" / "okta_state_list_responses.jsonl"
    for line in derived.read_text().splitlines():
        entry = json.loads(line)
        if entry["endpoint"] == "/api/v1/users":
            pages.append(entry["body"])
    folder.mkdir()
    for n, page in enumerate(pages):
        (folder / f"users-{n:03d}.json").write_text(json.dumps(page))
    return pages


@pytest.mark.skipif(not (SHARED_DATA / "okta-sdk-python").is_dir(), reason="shared sample data not present")
def test_okta_last_login_real_user_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pages = _okta_pages(tmp_path / "pages")
    users = [u for page in pages for u in page]
    logged_in = {u["profile"]["login"] for u in users if u.get("lastLogin")}
    code, records, err = run_import(capsys, "okta-last-login", [tmp_path / "pages"], tmp_path / "u.jsonl",
                                    "--assume-time", COLLECTED)
    assert code == 0, err
    assert f"converted {len(users)}:" in err
    assert len(logged_in) == 3  # the only real lastLogin values (SOURCES.md section 11)
    assert {r["subject"].removeprefix("user:") for r in records if r["last_used"]} == logged_in
    assert {r["subject"] for r in records} == {f"user:{u['profile']['login']}" for u in users}
    assert all(r["targets"] == ["group:okta/*", "role:okta/*", "role:okta-app/*"] for r in records)


def test_okta_last_login_fixture_and_a_bad_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = FIXTURES / "okta-last-login" / "users-page-1.json"
    code, records, err = run_import(capsys, "okta-last-login", [source], tmp_path / "u.jsonl", "--assume-time", COLLECTED)
    assert code == 0, err
    assert [(r["subject"], r["last_used"]) for r in records] == [
        ("user:alice@example.com", "2026-09-29T08:00:00Z"), ("user:bob@example.com", "2026-02-01T08:00:00Z"),
        ("user:carol@example.com", None)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "00u9", "profile": {"login": "x@example.com"}, "lastLogin": "soon"}\n{"id": "00u8"}\n')
    code, _, err = run_import(capsys, "okta-last-login", [bad], tmp_path / "v.jsonl", "--assume-time", COLLECTED)
    assert code == 2
    assert "bad.jsonl:1: lastLogin 'soon' is not a time" in err
    assert "bad.jsonl:2: not an Okta User object" in err


# -- entra-sign-ins -----------------------------------------------------------------------

@pytest.mark.skipif(not (SHARED_DATA / "pnp-proxy-samples-graph-mocks").is_dir(), reason="shared sample data not present")
def test_entra_sign_ins_graph_documentation_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mocks = json.loads((SHARED_DATA / "pnp-proxy-samples-graph-mocks" / "derived" /
                        "graph-v1_0-identity-access-mocks.json").read_text())["mocks"]
    bodies = [m["response"]["body"] for m in mocks if "signInActivity" in m["request"]["url"]]
    assert len(bodies) == 1 and len(bodies[0]["value"]) == 2
    (tmp_path / "page.json").write_text(json.dumps(bodies[0]))
    code, records, err = run_import(capsys, "entra-sign-ins", [tmp_path / "page.json"], tmp_path / "u.jsonl",
                                    "--assume-time", "2021-08-01T00:00:00Z")
    assert code == 0, err
    # Adele: interactive 2021-06-17, non-interactive the year-1 "none"; Alex: non-interactive is later.
    assert [(r["subject"], r["last_used"]) for r in records] == [
        ("user:AdeleV@contoso.com", "2021-06-17T16:41:33Z"), ("user:AlexW@contoso.com", "2021-07-29T17:53:42Z")]


def test_entra_user_without_sign_in_activity_is_skipped_not_never(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, records, err = run_import(capsys, "entra-sign-ins", [FIXTURES / "entra-sign-ins" / "users-page-1.json"],
                                    tmp_path / "u.jsonl", "--assume-time", COLLECTED)
    assert code == 0, err
    assert "skipped 1 (no signInActivity (not covered)): user 1" in err
    assert [(r["subject"], r["last_used"]) for r in records] == [
        ("user:alice@example.com", "2026-09-29T10:00:00Z"), ("user:bob@example.com", None)]


# -- gworkspace-last-login ---------------------------------------------------------------

def test_gworkspace_last_login_epoch_means_never(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, records, err = run_import(capsys, "gworkspace-last-login", [FIXTURES / "gworkspace-last-login"],
                                    tmp_path / "u.jsonl", "--assume-time", COLLECTED)
    assert code == 0, err
    assert "converted 3: user 2, suspended user 1" in err
    assert [(r["subject"], r["last_used"]) for r in records] == [
        ("user:alice@example.com", "2026-09-29T08:00:00Z"), ("user:bob@example.com", None),
        ("user:old@example.com", "2025-11-01T08:00:00Z")]


def test_a_usage_import_never_writes_a_folder_or_over_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "users.json"
    source.write_text((FIXTURES / "gworkspace-last-login" / "users-page-1.json").read_text())
    (tmp_path / "dir").mkdir()
    assert main(["import", "gworkspace-last-login", str(source), "--out", str(tmp_path / "dir"),
                 "--assume-time", COLLECTED]) == 2
    assert "writes usage, one JSONL file" in capsys.readouterr().err
    assert main(["import", "gworkspace-last-login", str(source), "--out", str(source), "--force",
                 "--assume-time", COLLECTED]) == 2
    assert json.loads(source.read_text())["kind"] == "admin#directory#users"


def test_okta_usage_lines_up_with_the_okta_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The history importer and the usage importer name the same Okta user the same way, and the
    sign-in's target globs cover what the history grants, so a dormant account is found end to end."""
    history = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(FIXTURES / "okta" / "api.json"), "--out", str(history)]) == 0
    events = [json.loads(line) for line in history.read_text().splitlines()]
    bob_grants = [e for e in events if e.get("subject") == "user:bob@example.com" and e["action"] == "grant"]
    assert bob_grants and all(e["target"].startswith(("group:okta/", "role:okta/", "role:okta-app/"))
                              for e in bob_grants)
    code, records, err = run_import(capsys, "okta-last-login", [FIXTURES / "okta-last-login"], tmp_path / "u.jsonl",
                                    "--assume-time", COLLECTED)
    assert code == 0, err
    bob = next(r for r in records if r["subject"] == "user:bob@example.com")
    assert bob["last_used"] == "2026-02-01T08:00:00Z"
    from fnmatch import fnmatchcase
    assert all(any(fnmatchcase(e["target"], g) for g in bob["targets"]) for e in bob_grants)
