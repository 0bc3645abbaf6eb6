"""``keytrail review`` (the review pack) and ``keytrail decisions`` (worksheets back to history).

The pack of examples/acme is checked file by file; escaping and formula
safety with a hostile project; ``--previous`` and ``--reviewer manager``; the
pack is the same bytes on every run and matches ``reports/2026-Q3``; every
worksheet problem is reported as file:line with nothing written; and the round
trip: review, fill a worksheet, decisions, check again.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from keytrail import pipeline
from keytrail.cli import main
from keytrail.review import WORKSHEET_COLUMNS, grant_id, parse_period, worksheet_name
from keytrail.schemas import load_schema
from keytrail.selectors import glob_match
from keytrail.timeutil import parse_time
from tests.conftest import REPO

ACME = REPO / "examples" / "acme"
REPORTS = REPO / "reports" / "2026-Q3"
HOSTILE = "user:<script>alert(1)</script>"
DECIDED_AT = "2026-10-02T10:00:00Z"
AFTER = "2026-10-03T00:00:00Z"
REVIEW_KEY, REVIEW_ACTOR = "pk-2026-0008", "svc:access-bot"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def review(capsys: pytest.CaptureFixture[str], project: Path, out: Path, *more: str) -> Path:
    code, _, err = run(capsys, "review", str(project), "--period", "2026-Q3", "--out", str(out), *more)
    assert code == 0, err
    return out


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def write_rows(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = WORKSHEET_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


# -- periods ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-Q3", "2026-07-01T00:00:00Z", "2026-09-30T23:59:59Z"),
    ("2026-Q1", "2026-01-01T00:00:00Z", "2026-03-31T23:59:59Z"),
    ("2026-H2", "2026-07-01T00:00:00Z", "2026-12-31T23:59:59Z"),
    ("2026-H1", "2026-01-01T00:00:00Z", "2026-06-30T23:59:59Z"),
    ("2026-09", "2026-09-01T00:00:00Z", "2026-09-30T23:59:59Z"),
    ("2028-02", "2028-02-01T00:00:00Z", "2028-02-29T23:59:59Z"),
    ("2026", "2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z"),
])
def test_periods(text: str, start: str, end: str) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (parse_time(start), parse_time(end))
    assert period.since == period.start - 1_000_000  # the previous period's last second


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "2026-00", "26-Q1", "2026Q3", "2026-q3", "Q3", ""])
def test_bad_periods_are_usage_errors(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", str(ACME), "--period", text, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "--period" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("as_of", ["2026-06-30T23:59:59Z", "2026-10-01T00:00:00Z"])
def test_as_of_outside_the_period_is_refused(as_of: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "o"),
                       "--as-of", as_of)
    assert code == 2
    assert "is outside the period 2026-Q3" in err


# -- the pack of examples/acme ----------------------------------------------------------

def test_review_writes_every_file(acme_pack: Path) -> None:
    names = set(files_of(acme_pack))
    assert {"index.html", "findings.json", "summary.md", "worksheets/unassigned.csv",
            "worksheets/user_nina.petrova.csv", "worksheets/user_tomas.kral.csv"} <= names
    data = json.loads((acme_pack / "findings.json").read_text(encoding="utf-8"))
    grants = data["review"]["grants"]
    sheets = [p for p in sorted((acme_pack / "worksheets").glob("*.csv")) if not p.name.startswith("keys-")]
    rows = [r for p in sheets for r in rows_of(p)]
    # Every active direct grant exactly once, in exactly one worksheet.
    assert sorted((r["subject"], r["target"], r["resource"]) for r in rows) == \
        sorted((g["subject"], g["target"], g["resource"]) for g in grants)
    assert len({r["grant_id"] for r in rows}) == len(rows)
    for path in sheets:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(WORKSHEET_COLUMNS)
        for row in rows_of(path):
            assert path.name == worksheet_name(row["reviewer"] or None)
            assert row["grant_id"] == grant_id(row["subject"], row["target"], row["resource"])
            assert row["decision"] == row["comment"] == ""
    summary = (acme_pack / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## Access review 2026-Q3 · acme")


def test_reviewers_are_target_owners_with_exceptions_explained(acme_pack: Path) -> None:
    directory = pipeline.load(ACME).directory
    by_key = {(r["subject"], r["target"], r["resource"]): r
              for p in (acme_pack / "worksheets").glob("[!k]*.csv") for r in rows_of(p)}
    for (subject, target, _), row in by_key.items():
        owner = directory.target(target).owner if directory.target(target) else None
        if row["reviewer"] and owner != subject:
            assert row["reviewer"] == owner
    # The owner of a group reviewing her own membership is escalated to her manager.
    assert by_key[("user:fatima.haddad", "group:payments-ops", "")]["reviewer"] == "user:tomas.kral"
    # The owner of group:data-analysts has left: nobody can review its memberships.
    assert by_key[("user:mei.lin", "group:data-analysts", "")]["reviewer"] == ""
    # ... and the worksheets say why, row by row, as the page does.
    assert by_key[("user:mei.lin", "group:data-analysts", "")]["reviewer_note"] == \
        "reviewer user:hannah.schmidt (owner of group:data-analysts) is terminated 2026-04-30"
    assert by_key[("user:fatima.haddad", "group:payments-ops", "")]["reviewer_note"] == \
        "self-review escalated: user:fatima.haddad owns group:payments-ops"
    assert all(row["reviewer_note"] for row in rows_of(acme_pack / "worksheets" / "unassigned.csv"))
    html = (acme_pack / "index.html").read_text(encoding="utf-8")
    assert "reviewer user:hannah.schmidt (owner of group:data-analysts) is terminated 2026-04-30" in html
    assert "self-review escalated: user:fatima.haddad owns group:payments-ops" in html


def test_index_html_shows_chain_certification_and_findings(acme_pack: Path) -> None:
    html = (acme_pack / "index.html").read_text(encoding="utf-8")
    assert html.count("<details") >= 12 and "<h2>Summary</h2>" in html
    # A flagged grant: the terminated user's membership, with its finding and last certification.
    start = re.search(r"<td>user:dmitri\.volkov<br><span[^<]*</span></td><td>group:payments-eng<br>", html)
    assert start is not None
    row = html[start.start():]
    row = row[:row.index("</tr>")]
    assert "inactive-principal" in row and "2026-07-13T09:42:00Z" in row
    assert "key pk-2025-0100" in row and "ticket CHG-0998" in row
    # A group-held role shows who holds it through the group.
    assert "held through group:sre by" in html
    assert "gives group:sre → " in html or "gives group:platform-eng → " in html


def test_index_html_is_self_contained(acme_pack: Path) -> None:
    html = (acme_pack / "index.html").read_text(encoding="utf-8").lower()
    for bad in ("<script", "<link", "src=", "http://", "https://", "url(", "@import"):
        assert bad not in html


def test_findings_json_is_the_contract_plus_the_review(acme_pack: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((acme_pack / "findings.json").read_text(encoding="utf-8"))
    Draft202012Validator(load_schema("findings")).validate(data)
    review_part = data.pop("review")
    code, out, _ = run(capsys, "check", str(ACME), "--as-of", "2026-09-30T23:59:59Z",
                       "--since", "2026-06-30T23:59:59Z", "--format", "json")
    assert code == 1
    assert data == json.loads(out)
    assert review_part["period"] == "2026-Q3" and review_part["reviewer"] == "owner"
    assert set(review_part["grants"][0]) == {"subject", "target", "resource", "event", "reviewer"}


def test_the_pack_is_the_same_bytes_every_time(acme_pack: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    again = review(capsys, ACME, tmp_path / "again")
    assert files_of(again) == files_of(acme_pack)


def test_reports_folder_is_reproducible(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """reports/2026-Q3 is exactly what reports/README.md's command writes."""
    assert "keytrail review examples/acme --period 2026-Q3 --out reports/2026-Q3" in \
        (REPO / "reports" / "README.md").read_text(encoding="utf-8")
    fresh = files_of(review(capsys, ACME, tmp_path / "2026-Q3"))
    kept = files_of(REPORTS)
    assert sorted(fresh) == sorted(kept)
    for name in fresh:
        assert fresh[name] == kept[name], f"reports/2026-Q3/{name} differs: re-run the command"


@pytest.mark.parametrize("command", ["keytrail review status reports/2026-Q3 --dir examples/acme",
                                     "keytrail review verify reports/2026-Q3 examples/acme"])
def test_reports_readme_shows_the_real_output(command: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The output reports/README.md shows for the committed pack is what the command prints."""
    readme = (REPO / "reports" / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"$ {command}\n") + len(command) + 3
    shown = readme[start:readme.index("```", start)]
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, *command.split()[1:])
    assert code == 0
    assert out == shown


def test_rerunning_replaces_the_pack_whole(acme_pack: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = review(capsys, ACME, tmp_path / "pack")
    review(capsys, ACME, out)  # a pack nobody has worked on yet is simply replaced
    assert files_of(out) == files_of(acme_pack)
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]  # no temporary folder left


def test_a_folder_holding_other_files_is_never_replaced(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path))
    assert code == 2
    assert "holds files that are not part of a review pack (notes.txt)" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# -- hostile input ----------------------------------------------------------------------

@pytest.fixture
def hostile(make_project: Any) -> Path:
    directory = {"principals": [{"id": "user:boss", "name": "<b>Boss</b>"}, {"id": HOSTILE},
                                {"id": "svc:bot", "owner": "user:boss"}],
                 "roles": [{"id": "role:r", "owner": "user:boss"}]}
    keys = [{"id": "pk-1", "holder": "svc:bot", "scope": ["*"]}]
    events = [{"time": "2026-08-01T00:00:00Z", "action": "grant", "subject": HOSTILE,
               "target": "role:r", "resource": "=HYPERLINK(\"http://evil\")", "actor": "svc:bot",
               "key": "pk-1", "approver": "user:boss", "ticket": "+1", "reason": "@SUM(1)"}]
    return make_project(directory=directory, keys=keys, events=events)


def test_hostile_names_render_as_text(hostile: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = review(capsys, hostile, tmp_path / "pack")
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<b>Boss" not in html
    assert "user:&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Boss&lt;/b&gt;" in html
    text = (out / "worksheets" / "user_boss.csv").read_text(encoding="utf-8")
    row = next(csv.reader(io.StringIO(text.splitlines()[1])))
    cells = dict(zip(WORKSHEET_COLUMNS, row, strict=True))
    assert cells["resource"] == "'=HYPERLINK(\"http://evil\")"
    assert cells["ticket"] == "'+1" and cells["reason"] == "'@SUM(1)"
    assert cells["subject"] == HOSTILE
    assert "\\<script\\>" not in (out / "summary.md").read_text(encoding="utf-8")


def test_a_guarded_cell_reads_back_as_its_value(hostile: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = review(capsys, hostile, tmp_path / "pack")
    rows = rows_of(out / "worksheets" / "user_boss.csv")
    rows[0]["decision"] = "revoke"
    filled = write_rows(tmp_path / "filled.csv", rows)
    target = hostile / "history" / "review.jsonl"
    code, _, err = run(capsys, "decisions", str(filled), "--dir", str(hostile), "--key", "pk-1",
                       "--actor", "svc:bot", "--out", str(target), "--time", DECIDED_AT, "--pack", str(out))
    assert code == 0, err
    event = json.loads(target.read_text(encoding="utf-8"))
    assert event["resource"] == "=HYPERLINK(\"http://evil\")"


# -- --previous and --reviewer manager ----------------------------------------------------

def test_previous_review_shows_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    q2 = tmp_path / "2026-Q2"
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q2", "--out", str(q2))
    assert code == 0, err
    q3 = review(capsys, ACME, tmp_path / "2026-Q3", "--previous", str(q2 / "findings.json"))
    old = json.loads((q2 / "findings.json").read_text(encoding="utf-8"))
    new = json.loads((q3 / "findings.json").read_text(encoding="utf-8"))
    fp_old = {f["fingerprint"] for f in old["findings"]}
    fp_new = {f["fingerprint"] for f in new["findings"]}
    keys_old = {(g["subject"], g["target"], g["resource"]) for g in old["review"]["grants"]}
    keys_new = {(g["subject"], g["target"], g["resource"]) for g in new["review"]["grants"]}
    added, removed = keys_new - keys_old, keys_old - keys_new
    assert added and removed and fp_new - fp_old and fp_old - fp_new
    html = (q3 / "index.html").read_text(encoding="utf-8")
    assert "What changed since the previous review (2026-Q2)" in html
    n_new, n_resolved = len(fp_new - fp_old), len(fp_old - fp_new)
    assert f"{n_new} new finding{'' if n_new == 1 else 's'}</summary>" in html
    assert f"{n_resolved} resolved finding{'' if n_resolved == 1 else 's'}</summary>" in html
    assert f"{len(added)} grant{'' if len(added) == 1 else 's'} added</summary>" in html
    assert f"{len(removed)} grant{'' if len(removed) == 1 else 's'} removed</summary>" in html
    subject, target, resource = sorted(removed)[0]
    assert f"{subject} → {target}" + (f" on {resource}" if resource else "") in html
    md = (q3 / "summary.md").read_text(encoding="utf-8")
    assert f"- {n_new} new finding" in md


def test_previous_plain_findings_json_compares_findings_only(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "check.json"
    code, out, _ = run(capsys, "check", str(ACME), "--as-of", "2026-06-30T23:59:59Z", "--format", "json")
    plain.write_text(out, encoding="utf-8")
    q3 = review(capsys, ACME, tmp_path / "pack", "--previous", str(plain))
    assert "grants were not compared" in (q3 / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"findings": [{"rule": "x"}]}', "not a findings JSON file"),
    ('{"findings": [], "review": {"grants": [{"subject": 1}]}}', "review.grants is not a list of grants"),
])
def test_a_bad_previous_file_is_a_usage_error(content: str, message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "o"),
                       "--previous", str(bad))
    assert code == 2 and message in err
    assert not (tmp_path / "o").exists()


def test_reviewer_manager_assigns_by_the_subjects_manager(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = review(capsys, ACME, tmp_path / "pack", "--reviewer", "manager")
    directory = pipeline.load(ACME).directory
    data = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert data["review"]["reviewer"] == "manager"
    for path in (out / "worksheets").glob("[!k]*.csv"):  # grant worksheets (keys-*.csv: key owners)
        for row in rows_of(path):
            subject = directory.principals.get(row["subject"])
            if row["reviewer"] and subject is not None and subject.kind == "user":
                assert row["reviewer"] == subject.manager
            elif row["reviewer"] and subject is not None:
                assert row["reviewer"] == subject.owner          # a service: its accountable owner
            elif row["reviewer"] and row["subject"] in directory.groups:
                assert row["reviewer"] == directory.groups[row["subject"]].owner
    raj = {r["target"] for r in rows_of(out / "worksheets" / "user_nina.petrova.csv")
           if r["subject"] == "user:raj.patel"}
    assert "group:sre" in raj


# -- decisions: every problem named, nothing written -------------------------------------

@pytest.fixture
def filled(acme_pack: Path, tmp_path: Path) -> list[dict[str, str]]:
    """tomas.kral's worksheet (the rows of group:payments-eng and payments-ops)."""
    return rows_of(acme_pack / "worksheets" / "user_tomas.kral.csv")


def decide(capsys: pytest.CaptureFixture[str], project: Path, out: Path, *sheets: Path,
           time: str = DECIDED_AT, pack: Path | None = None, key: str = REVIEW_KEY,
           actor: str = REVIEW_ACTOR) -> tuple[int, str, str]:
    more = ["--pack", str(pack)] if pack is not None else []
    return run(capsys, "decisions", *map(str, sheets), "--dir", str(project), "--key", key,
               "--actor", actor, "--out", str(out), "--time", time, *more)


def _set(rows: list[dict[str, str]], n: int, **cells: str) -> list[dict[str, str]]:
    rows[n] = {**rows[n], **cells}
    return rows


NOBODY = {"subject": "user:nobody", "target": "group:payments-eng", "resource": "",
          "grant_id": grant_id("user:nobody", "group:payments-eng", "")}

DECISION_ERRORS = [
    ("unknown word", lambda rows: _set(rows, 1, decision="maybe"),
     "{f}:3: decision: unknown decision 'maybe' (write keep or revoke, or leave it blank)"),
    ("not issued by the pack", lambda rows: _set(rows, 0, decision="keep", **NOBODY),
     "{f}:2: grant_id: '" + NOBODY["grant_id"] + "' is not a grant this review pack issued "
     "(a row from another review, or edited?)"),
    ("edited row", lambda rows: _set(rows, 2, decision="revoke", subject="user:priya.shah"),
     "{f}:4: grant_id: '" + "{gid}" + "' does not match user:priya.shah → group:payments-eng "
     "(was the row edited?)"),
    ("decided twice", lambda rows: _set(rows, 0, decision="revoke") + [{**rows[0], "decision": "keep"}],
     "{f}:8: user:dmitri.volkov → group:payments-eng is decided twice (first at {f}:2)"),
]


@pytest.mark.parametrize(("edit", "message"), [(e, m) for _, e, m in DECISION_ERRORS],
                         ids=[n for n, _, _ in DECISION_ERRORS])
def test_decision_errors_name_file_and_line(edit: Any, message: str, filled: list[dict[str, str]], acme_pack: Path,
                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gid = filled[2]["grant_id"]
    sheet = write_rows(tmp_path / "ws.csv", edit(filled))
    out = tmp_path / "decisions.jsonl"
    code, _, err = decide(capsys, ACME, out, sheet, pack=acme_pack)
    assert code == 2
    assert message.format(f=sheet, gid=gid) in err.splitlines()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ws.csv"]


def test_a_missing_column_is_an_error(filled: list[dict[str, str]], acme_pack: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    columns = tuple(c for c in WORKSHEET_COLUMNS if c != "decision")
    sheet = write_rows(tmp_path / "ws.csv", filled, columns)
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", sheet, pack=acme_pack)
    assert code == 2
    assert f"{sheet}:1: missing column decision (a worksheet of `keytrail review` has grant_id, " \
           "subject, target, resource, decision, comment)" in err
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(("text", "message"), [
    ('a,"b"c\n', "{f}:2: malformed CSV: ',' expected after '\"'"),
    ("x,y\n", "{f}:1: 2 cells, the header has"),
])
def test_a_malformed_csv_is_an_error(text: str, message: str, filled: list[dict[str, str]], acme_pack: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    sheet = write_rows(tmp_path / "ws.csv", filled)
    with sheet.open("a", encoding="utf-8", newline="") as handle:
        handle.write(text)
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", sheet, pack=acme_pack)
    assert code == 2
    lines = len(filled) + 2
    expected = message.format(f=sheet).replace(":1:", f":{lines}:").replace(":2:", f":{lines}:")
    assert any(line.startswith(expected) for line in err.splitlines()), err
    assert not (tmp_path / "out.jsonl").exists()


def test_every_problem_of_every_worksheet_is_reported(filled: list[dict[str, str]], acme_pack: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    one = write_rows(tmp_path / "one.csv", _set([dict(r) for r in filled], 0, decision="nope"))
    two = write_rows(tmp_path / "two.csv", _set([dict(r) for r in filled], 1, decision="drop"))
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", one, two, pack=acme_pack)
    assert code == 2
    assert f"{one}:2: decision: unknown decision 'nope'" in err
    assert f"{two}:3: decision: unknown decision 'drop'" in err
    assert "keytrail: 2 errors; nothing was written" in err


def test_decisions_never_overwrite(filled: list[dict[str, str]], acme_pack: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    sheet = write_rows(tmp_path / "ws.csv", _set(filled, 0, decision="keep"))
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")
    code, _, err = decide(capsys, ACME, out, sheet, pack=acme_pack)
    assert code == 2 and "already exists" in err
    assert out.read_text() == "precious\n"


# -- the round trip ---------------------------------------------------------------------

def test_round_trip_review_fill_decide_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    rows = rows_of(pack / "worksheets" / "user_tomas.kral.csv")
    gone, kept = ("user:dmitri.volkov", "group:payments-eng"), ("user:ana.ribeiro", "group:payments-eng")
    for row in rows:
        if (row["subject"], row["target"]) == gone:
            row.update(decision="Revoke", comment="Left the company in June")
        elif (row["subject"], row["target"]) == kept:
            row.update(decision=" keep ")
    sheet = write_rows(tmp_path / "filled.csv", rows)

    # The key is the review key of the registry: held by the actor, scoped to the targets.
    key = pipeline.load(project).keys[REVIEW_KEY]
    assert key.holder == REVIEW_ACTOR and any(glob_match(s, "group:payments-eng") for s in key.scope)

    out = project / "history" / "review-2026-Q3.jsonl"
    code, _, err = decide(capsys, project, out, sheet, pack=pack)
    assert code == 0, err
    undecided = len(rows) - 2
    assert f"1 revoke, 1 certify, {undecided} undecided (skipped)" in err
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(e["action"], e["subject"], e["approver"]) for e in events] == [
        ("revoke", gone[0], "user:tomas.kral"), ("certify", kept[0], "user:tomas.kral")]
    assert events[0]["reason"] == "Left the company in June"
    assert events[1]["reason"] == "Access review: keep"
    assert all(e["id"].startswith("rv-") and e["time"] == DECIDED_AT for e in events)

    # Check again, after the decisions: the history glob picked the file up.
    code, report_text, _ = run(capsys, "check", str(project), "--as-of", AFTER, "--format", "json")
    findings = json.loads(report_text)["findings"]
    on_gone = [f for f in findings if (f["subject"], f["target"]) == gone]
    assert [f["check"] for f in on_gone] == ["unexplained.drift-extra"]  # the real system still has it
    # The decisions themselves are clean: registered key, its holder, in scope, valid, no self-approval.
    ids = {e["id"] for e in events}
    assert not [f for f in findings if f["event"] in ids and f["check"] != "unexplained.drift-extra"]

    code, text, _ = run(capsys, "explain", gone[0], gone[1], "--dir", str(project), "--as-of", AFTER)
    assert text == f"{gone[0]} does not hold {gone[1]} as of {AFTER}.\n"
    code, text, _ = run(capsys, "explain", kept[0], kept[1], "--dir", str(project), "--as-of", AFTER)
    assert f"last certified {DECIDED_AT} by {REVIEW_ACTOR} (event {events[1]['id']})" in text

    # The next review shows the certification and no longer lists the revoked grant.
    q4 = tmp_path / "q4"
    code, _, err = run(capsys, "review", str(project), "--period", "2026-Q4", "--out", str(q4),
                       "--as-of", AFTER, "--previous", str(pack / "findings.json"))
    assert code == 0, err
    after = {(r["subject"], r["target"]): r for r in rows_of(q4 / "worksheets" / "user_tomas.kral.csv")}
    assert gone not in after
    assert after[kept]["last_certified"] == DECIDED_AT
    assert f"{gone[0]} → {gone[1]}" in (q4 / "index.html").read_text(encoding="utf-8")  # removed

    # Recording the same decisions again is refused: the file exists, and the grant is gone.
    code, _, err = decide(capsys, project, project / "history" / "again.jsonl", sheet, pack=pack)
    assert code == 2
    assert f"{sheet}:" in err and "is not an active grant as of" in err


def test_a_review_without_rules_says_it_checks_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The pack is still written (grants to certify), but its "0 findings" must not pass for "clean"."""
    root = tmp_path / "acme"
    shutil.copytree(ACME, root)
    config = root / "keytrail.yaml"
    config.write_text("".join(line for line in config.read_text(encoding="utf-8").splitlines(True)
                              if not line.startswith("policies:")), encoding="utf-8")
    assert main(["review", str(root), "--period", "2026-Q3", "--out", str(tmp_path / "pack")]) == 0
    assert "checks no rule: no rule to evaluate: keytrail.yaml names no policies" in capsys.readouterr().err
    # near miss: the example with its policies gives no such warning
    assert main(["review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "pack2")]) == 0
    assert "checks no rule" not in capsys.readouterr().err
