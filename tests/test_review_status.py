"""``keytrail review status PACK`` (reviewers' progress) and ``keytrail review verify PACK [DIR]``
(whether a pack still matches its inputs), and the evidence manifest pack.json records."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.test_review import ACME, DECIDED_AT, REVIEW_ACTOR, REVIEW_KEY, rows_of, run, write_rows

SHEET = "worksheets/user_tomas.kral.csv"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ACME, tmp_path / "acme"))


@pytest.fixture
def pack(project: Path, tmp_path: Path) -> Path:
    out = tmp_path / "2026-Q3"
    assert main(["review", str(project), "--period", "2026-Q3", "--out", str(out)]) == 0
    return out


def fill(pack: Path, *decisions: str) -> Path:
    """tomas.kral's worksheet with ``decisions`` in its first rows."""
    path = pack / SHEET
    rows = rows_of(path)
    for row, word in zip(rows, decisions, strict=False):
        row["decision"] = word
    return write_rows(path, rows)


def status_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, "review", "status", *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def tomas(data: dict) -> dict:
    return next(r for r in data["reviewers"] if r["reviewer"] == "user:tomas.kral")


# -- status ----------------------------------------------------------------------------------

def test_status_of_a_fresh_pack_is_nothing_decided(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = status_json(capsys, str(pack))
    assert (data["decided"], data["total"], data["percent"], data["complete"]) == (0, 113, 0, False)  # 104 grants and 9 keys (2 unowned keys are not counted)
    assert data["applied"] is None  # no --dir: nobody looked at the history
    unassigned = next(r for r in data["reviewers"] if r["reviewer"] is None)
    assert unassigned["total"] == 3


def test_status_counts_revokes_and_keeps_per_reviewer(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "revoke", "KEEP ", "keep")
    data = status_json(capsys, str(pack))
    assert (tomas(data)["decided"], tomas(data)["total"], tomas(data)["revoke"], tomas(data)["keep"]) == (3, 6, 1, 2)
    assert (data["decided"], data["revoke"], data["keep"], data["problems"]) == (3, 1, 2, 0)
    code, out, _ = run(capsys, "review", "status", str(pack))
    assert code == 0
    assert "user:tomas.kral: 3/6 decided (1 revoke, 2 keep) worksheets/user_tomas.kral.csv" in out
    assert out.startswith("Review 2026-Q3 (as of 2026-09-30T23:59:59Z): 3/113 decided (2%)")


def test_status_names_rows_with_a_problem_as_decisions_would(pack: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "revoke", "maybe")
    code, out, _ = run(capsys, "review", "status", str(pack))
    assert code == 0  # a status report, not a gate
    assert f"{pack / SHEET}:3: decision: unknown decision 'maybe' (write keep or revoke, or leave it blank)" in out
    assert "1/6 decided (1 revoke, 0 keep, 1 with a problem)" in out
    data = status_json(capsys, str(pack))
    assert tomas(data)["problems"] == [{"file": str(pack / SHEET), "line": 3, "field": "decision",
                                        "message": "unknown decision 'maybe' (write keep or revoke, or leave it blank)"}]


def test_status_reads_a_worksheet_saved_by_a_european_spreadsheet(pack: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "revoke", "keep")
    path = pack / SHEET
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    data = status_json(capsys, str(pack))
    assert (tomas(data)["revoke"], tomas(data)["keep"], tomas(data)["problems"]) == (1, 1, [])


def test_status_shows_recorded_decisions_as_applied(pack: Path, project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "revoke", "keep")
    code, _, err = run(capsys, "decisions", str(pack / SHEET), "--dir", str(project), "--key", REVIEW_KEY,
                       "--actor", REVIEW_ACTOR, "--out", str(project / "history" / "review-2026-Q3.jsonl"),
                       "--time", DECIDED_AT)
    assert code == 0, err
    fill(pack, "revoke", "keep", "keep")  # a third decision, not recorded yet
    data = status_json(capsys, str(pack), "--dir", str(project))
    assert (tomas(data)["decided"], tomas(data)["applied"], data["applied"]) == (3, 2, 2)
    code, out, _ = run(capsys, "review", "status", str(pack), "--dir", str(project), "--format", "markdown")
    assert "| user:tomas.kral | worksheets/user\\_tomas.kral.csv | 3/6 | 1 | 2 | 2 | 0 |" in out


def test_status_refuses_a_manifest_naming_a_file_outside_the_pack(pack: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    manifest = pack / "pack.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["worksheets"][0]["file"] = "worksheets/../../acme/keytrail.yaml"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = run(capsys, "review", "status", str(pack))
    assert code == 2
    assert f"{manifest}: worksheets[0].file: 'worksheets/../../acme/keytrail.yaml' is not a worksheet " \
           "of this pack (worksheets/NAME.csv)" in err


def test_status_without_a_pack_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", "status", str(tmp_path))
    assert code == 2
    assert f"{tmp_path / 'pack.json'}: no review pack manifest here: give the folder" in err


def test_a_project_folder_named_status_is_still_reviewed(project: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`keytrail review status --period ...` where ./status is a project: the old form, unchanged."""
    monkeypatch.chdir(tmp_path)
    project.rename(tmp_path / "status")
    code, _, err = run(capsys, "review", "status", "--period", "2026-Q3", "--out", "out")
    assert code == 0, err
    assert (tmp_path / "out" / "pack.json").is_file()


# -- the evidence manifest ------------------------------------------------------------------------

def test_pack_json_records_the_evidence(pack: Path) -> None:
    data = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    ev = data["evidence"]
    assert ev["command"] == ["keytrail", "review", "DIR", "--period", "2026-Q3", "--out", "OUT"]
    assert (ev["period"], ev["as_of"], ev["snapshot_time"]) == ("2026-Q3", "2026-09-30T23:59:59Z",
                                                                "2026-09-30T18:00:00Z")
    assert ev["generated_at"] is None
    assert ev["counts"]["grants"] == 107 and ev["counts"]["reviewers"] == 11
    assert ev["counts"]["findings"]["total"] == 47
    for name in ("index.html", "summary.md", "findings.json"):
        assert ev["files"][name] == hashlib.sha256((pack / name).read_bytes()).hexdigest()
    html = (pack / "index.html").read_text(encoding="utf-8")
    assert '<p id="evidence">Written by keytrail' in html
    assert "107 active grants for 11 reviewers (3 with no reviewer), 47 findings" in html


def test_the_recorded_command_keeps_content_options(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert main(["review", str(project), "--period", "2026-Q3", "--out", str(out), "--reviewer", "manager",
                 "--as-of", "2026-09-15T00:00:00Z"]) == 0
    ev = json.loads((out / "pack.json").read_text(encoding="utf-8"))["evidence"]
    assert ev["command"][7:] == ["--as-of", "2026-09-15T00:00:00Z", "--reviewer", "manager"]
    assert ev["as_of"] == "2026-09-15T00:00:00Z"


# -- verify ------------------------------------------------------------------------------------

def test_verify_a_pack_that_matches(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 0
    assert "  match      history/2026-H2.jsonl" in out
    assert "  match      index.html" in out
    assert out.endswith("the pack matches its inputs: 14 files verified\n")


def test_verify_reports_filled_worksheets_without_failing(pack: Path, project: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "revoke")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 0
    assert f"  filled     {SHEET} (a reviewer's work" in out
    assert "  issued     worksheets/user_raj.patel.csv" in out


def test_verify_finds_a_changed_input(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = project / "history" / "2026-H2.jsonl"
    history.write_bytes(history.read_bytes() + b"\n")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 1
    assert "  DIFFERS    history/2026-H2.jsonl" in out
    assert "  match      history/2026-H1.jsonl" in out
    assert "the pack does NOT match its inputs: 1 file differ" in out


def test_verify_finds_a_new_input(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "history" / "late.jsonl").write_text("", encoding="utf-8")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 1
    assert "  NEW        history/late.jsonl (read by the project now, not recorded in the pack)" in out


def test_verify_finds_an_edited_page(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = pack / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("47 findings", "0 findings"), encoding="utf-8")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 1
    assert "  DIFFERS    index.html" in out
    assert "  match      summary.md" in out


def test_verify_an_older_pack_says_what_it_cannot_check(pack: Path, project: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    manifest = pack / "pack.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["evidence"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project))
    assert code == 1
    assert "  UNRECORDED index.html (pack.json records no hash of it)" in out


def test_verify_prints_json_for_a_ci_job(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["matches"], data["checked"], data["failing"]) == (True, 14, 0)
    assert data["pack"] == str(pack) and data["project"] == str(project)
    assert {"group": "input", "path": "history/2026-H2.jsonl", "state": "match"} in data["files"]
    assert {"group": "pack", "path": "index.html", "state": "match"} in data["files"]
    assert {"group": "worksheet", "path": SHEET, "state": "issued"} in data["files"]


def test_verify_json_says_what_differs(pack: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss of the above: the same output, with the verdict and the file that changed.
    fill(pack, "revoke")
    history = project / "history" / "2026-H2.jsonl"
    history.write_bytes(history.read_bytes() + b"\n")
    code, out, _ = run(capsys, "review", "verify", str(pack), str(project), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert (data["matches"], data["failing"]) == (False, 1)
    assert {"group": "input", "path": "history/2026-H2.jsonl", "state": "differs"} in data["files"]
    assert {"group": "worksheet", "path": SHEET, "state": "filled"} in data["files"]


def test_verify_json_keeps_paths_inert(pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = Path(shutil.copytree(pack, tmp_path / "q3\u202e##[error]"))
    code, out, _ = run(capsys, "review", "verify", str(odd), str(ACME), "--format", "json")
    assert code == 0 and "\u202e" not in out and "##[" not in out
    assert json.loads(out)["pack"] == str(odd)


# -- the pack.json schema ----------------------------------------------------------------------

def test_pack_json_validates_against_its_schema(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft202012Validator

    code, out, _ = run(capsys, "schema", "pack")
    assert code == 0
    validator = Draft202012Validator(json.loads(out))
    data = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(data)) == []
    committed = json.loads((REPO / "reports" / "2026-Q3" / "pack.json").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(committed)) == []


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["evidence"]["files"].update({"../index.html": "0" * 64}), ["evidence", "files"]),
    (lambda d: d["worksheets"][0].update(file="../x.csv"), ["worksheets", 0, "file"]),
    (lambda d: d["evidence"].update(generated_at="2026-10-01T00:00:00Z"), ["evidence", "generated_at"]),
    (lambda d: d["worksheets"][0].update(sha256="abc"), ["worksheets", 0, "sha256"]),
    (lambda d: d.update(extra=1), []),
], ids=["page-outside", "worksheet-outside", "clock", "short-hash", "unknown-key"])
def test_the_pack_schema_rejects_what_keytrail_never_writes(pack: Path, change: object, path: list) -> None:
    # Near misses of the above: each one small change the schema must catch.
    from jsonschema import Draft202012Validator

    from keytrail.schemas import load_schema

    data = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    errors = list(Draft202012Validator(load_schema("pack")).iter_errors(data))
    assert errors and list(errors[0].absolute_path)[:len(path)] == path


def test_verify_without_a_pack_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", "verify", str(tmp_path), str(ACME))
    assert code == 2
    assert "pack.json: no review pack manifest here" in err


def test_status_output_keeps_worksheet_text_inert(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(pack, "\x1b[2Jkeep\u202e")
    code, out, _ = run(capsys, "review", "status", str(pack))
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert ":2: decision: unknown decision '\\x1b[2Jkeep\\u202e'" in out
    code, out, _ = run(capsys, "review", "status", str(pack), "--format", "json")
    assert "\u202e" not in out and json.loads(out)["problems"] == 1


def test_status_counts_a_grant_decided_twice_once(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = fill(pack, "revoke")
    rows = rows_of(path)
    write_rows(path, [*rows, {**rows[0], "decision": "keep"}])
    data = status_json(capsys, str(pack))
    assert (tomas(data)["decided"], tomas(data)["revoke"], tomas(data)["keep"]) == (1, 1, 0)
    assert [p["line"] for p in tomas(data)["problems"]] == [8]
    assert "is decided twice (first at" in tomas(data)["problems"][0]["message"]
