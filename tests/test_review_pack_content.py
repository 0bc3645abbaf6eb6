"""What the review pack shows: every finding of the period, who each person is, and why a
grant has no reviewer.

examples/acme has findings that are on no active direct grant (tampered history,
drift, a duplicate role, an unused target, excessive access): they must appear in
index.html all the same, once each, the critical and unexplained ones first. People
are shown by name, title, department, manager and status beside their ids, in the page
and in the worksheets, escaped like every other value; ``keytrail decisions`` ignores
the new columns. ``unassigned.csv`` says, per row, why nobody can review the grant.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from keytrail.review import UNASSIGNED_REASONS, WORKSHEET_COLUMNS
from keytrail.review import pack as review_pack
from tests.conftest import REPO

ACME = REPO / "examples" / "acme"
FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def review(project: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code = main(["review", str(project), "--period", "2026-Q3", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def pack(acme_pack: Path) -> Path:
    return acme_pack


def fingerprints(pack: Path) -> tuple[list[str], str]:
    data = json.loads((pack / "findings.json").read_text(encoding="utf-8"))
    return [f["fingerprint"] for f in data["findings"]], (pack / "index.html").read_text(encoding="utf-8")


# -- 1. every finding of the period is in the page -----------------------------------------

def test_every_finding_of_the_period_is_in_index_html_once(pack: Path) -> None:
    expected, html = fingerprints(pack)
    assert len(expected) >= 20
    shown = FINGERPRINT.findall(html)
    assert sorted(shown) == sorted(expected)  # each exactly once: none missing, none repeated


def test_findings_on_no_grant_row_are_listed_with_their_chain(pack: Path) -> None:
    _, html = fingerprints(pack)
    # The detailed list (after the table of these findings by rule).
    section = html[html.index('<table class="findings">'):html.index("<h2>Grants to certify")]
    # The tampered event and the drift the summary counts are shown, with their chain.
    assert "ev-000353" in section and "broken-chain" in section and "drift-extra" in section
    for check in ("duplicate-role", "unused-target", "excessive-access"):
        assert check in section
    tampered = section[section.index("ev-000353"):]
    assert "key pk-" in tampered[:tampered.index("</tr>")]
    drifted = section[section.index("drift-extra"):]
    assert "revoked: key pk-2025-0003 (holder svc:access-bot)" in drifted[:drifted.index("</tr>")]
    # A finding on an active grant stays in its row, not here (the near miss).
    assert "inactive-principal" not in section
    grants = html[html.index("<h2>Grants to certify"):]
    assert "inactive-principal" in grants


def test_critical_and_unexplained_findings_come_first(pack: Path) -> None:
    _, html = fingerprints(pack)
    section = html[html.index('<table class="findings">'):html.index("<h2>Grants to certify")]
    severities = re.findall(r'<span class="sev (\w+)">', section)
    categories = re.findall(r'<br><span class="note">(sprawl|orphaned|unexplained|policy)</span>', section)
    assert severities[0] == "critical" and severities.count("critical") == 3
    first_other = next(i for i, (s, c) in enumerate(zip(severities, categories, strict=True))
                       if s != "critical" and c != "unexplained")
    assert all(s == "critical" or c == "unexplained"
               for s, c in zip(severities[:first_other], categories[:first_other], strict=True))
    assert all(s != "critical" and c != "unexplained"
               for s, c in zip(severities[first_other:], categories[first_other:], strict=True))


def test_findings_on_rows_the_page_cuts_are_still_in_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # A reviewer with more grants than the page lists: the findings on the cut rows move to
    # the findings section, with the worksheet that lists their grant.
    monkeypatch.setattr(review_pack, "rows_per_reviewer", lambda sections: 1)
    out = review(ACME, tmp_path / "pack", capsys)
    expected, html = fingerprints(out)
    assert sorted(FINGERPRINT.findall(html)) == sorted(expected)
    section = html[html.index('<h2 id="findings">'):html.index("<h2>Grants to certify")]
    assert "grant listed in <code>worksheets/" in section


# -- 3. people, not only ids ---------------------------------------------------------------

def test_worksheets_show_who_each_person_is(pack: Path) -> None:
    rows = rows_of(pack / "worksheets" / "user_tomas.kral.csv")
    assert list(rows[0]) == list(WORKSHEET_COLUMNS)
    dmitri = next(r for r in rows if r["subject"] == "user:dmitri.volkov" and r["target"] == "group:payments-eng")
    assert (dmitri["subject_name"], dmitri["subject_title"], dmitri["subject_department"]) == \
        ("Dmitri Volkov", "Senior Software Engineer", "payments")
    assert (dmitri["subject_manager"], dmitri["subject_manager_name"]) == ("user:tomas.kral", "Tomáš Král")
    assert dmitri["subject_status"] == "terminated 2026-06-19"
    assert dmitri["reviewer_name"] == "Tomáš Král" and dmitri["reviewer_title"] == "Engineering Manager, Payments"
    assert dmitri["last_change"] and dmitri["granted_by_name"]
    # An active colleague reads as active (the near miss).
    active = [r for r in rows if r["subject"] == "user:priya.shah"]
    assert active and all(r["subject_status"] == "active" and r["subject_name"] == "Priya Shah" for r in active)


def test_the_page_shows_who_each_person_is(pack: Path) -> None:
    html = (pack / "index.html").read_text(encoding="utf-8")
    assert "Dmitri Volkov · Senior Software Engineer · payments · manager Tomáš Král (user:tomas.kral) · " \
           "terminated 2026-06-19" in html
    assert "user:tomas.kral · Tomáš Král · Engineering Manager, Payments" in html  # a reviewer's section


@pytest.fixture
def hostile_people(make_project: Any) -> Path:
    directory = {"principals": [
        {"id": "user:boss", "name": "<b>Boss</b>", "attributes": {"title": "=HYPERLINK(\"http://evil\")"}},
        {"id": "user:eve", "name": "Eve\u202eevil", "manager": "user:boss",
         "attributes": {"title": "+1", "department": "<i>ops</i>"}},
        {"id": "svc:bot", "owner": "user:boss"}],
        "roles": [{"id": "role:r", "owner": "user:boss"}]}
    keys = [{"id": "pk-1", "holder": "svc:bot", "scope": ["*"]}]
    events = [{"time": "2026-08-01T00:00:00Z", "action": "grant", "subject": "user:eve",
               "target": "role:r", "actor": "svc:bot", "key": "pk-1", "approver": "user:boss",
               "ticket": "T-1", "reason": "needed"}]
    return make_project(directory=directory, keys=keys, events=events)


def test_names_and_titles_are_inert(hostile_people: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = review(hostile_people, tmp_path / "pack", capsys)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<b>Boss" not in html and "<i>ops" not in html and "\u202e" not in html
    assert "&lt;i&gt;ops&lt;/i&gt;" in html and "Eve\\u202eevil" in html
    row = rows_of(out / "worksheets" / "user_boss.csv")[0]
    assert row["reviewer_title"] == "'=HYPERLINK(\"http://evil\")" and row["subject_title"] == "'+1"
    assert row["subject_name"] == "Eve\\u202eevil"  # the bidi control is shown, not obeyed


def test_decisions_ignore_the_people_columns(pack: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_of(pack / "worksheets" / "user_tomas.kral.csv")
    rows[0]["decision"] = "revoke"
    rows[0]["subject_name"] = "someone else entirely"  # edited people columns change nothing
    sheet = tmp_path / "ws.csv"
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(WORKSHEET_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "decisions.jsonl"
    code = main(["decisions", str(sheet), "--dir", str(ACME), "--key", "pk-2026-0008", "--actor",
                 "svc:access-bot", "--out", str(out), "--time", "2026-10-02T10:00:00Z", "--pack", str(pack)])
    _, err = capsys.readouterr()
    assert code == 0, err
    event = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert event["action"] == "revoke" and event["subject"] == rows[0]["subject"]
    assert "someone else" not in out.read_text(encoding="utf-8")


# -- 4. why a grant is unassigned ----------------------------------------------------------

def test_unassigned_rows_say_why(pack: Path) -> None:
    rows = rows_of(pack / "worksheets" / "unassigned.csv")
    assert rows and all(r["unassigned_reason"] in UNASSIGNED_REASONS and r["reviewer_note"] for r in rows)
    by_key = {(r["subject"], r["target"]): r for r in rows}
    assert by_key[("user:daniel.cohen", "role:legacy-vpn")]["unassigned_reason"] == "target-not-in-directory"
    assert by_key[("user:mei.lin", "group:data-analysts")]["unassigned_reason"] == "reviewer-inactive"
    # Assigned rows have no such reason (the near miss), even an escalated self-review.
    assigned = rows_of(pack / "worksheets" / "user_tomas.kral.csv")
    assert all(r["unassigned_reason"] == "" for r in assigned)
    assert any(r["reviewer_note"].startswith("self-review escalated") for r in assigned)


def test_every_finding_of_a_generated_organisation_is_in_its_page(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    org = tmp_path / "org"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--principals", "150",
                           "--events", "2000", "--seed", "7", "--out", str(org)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = review(org, tmp_path / "pack", capsys)
    expected, html = fingerprints(out)
    assert len(expected) > 50
    assert sorted(FINGERPRINT.findall(html)) == sorted(expected)
