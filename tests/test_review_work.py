"""Reviewers' work is never lost, and decisions are signed by the reviewer the pack assigned
(issue 10, items 5, 6, 8 and 11): ``review --out`` onto a worked-on pack, the pack manifest,
the key and actor of ``decisions``, and worksheets saved by spreadsheets in other dialects."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_review import (
    ACME,
    REVIEW_ACTOR,
    decide,
    files_of,
    review,
    rows_of,
    run,
    write_rows,
)

SHEET = "worksheets/user_tomas.kral.csv"
GONE = ("user:dmitri.volkov", "group:payments-eng")


@pytest.fixture
def pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    return review(capsys, ACME, tmp_path / "pack")


def _fill(path: Path, **cells: str) -> list[dict[str, str]]:
    """Decide the row of GONE in the worksheet at ``path`` (in place)."""
    rows = rows_of(path)
    for row in rows:
        if (row["subject"], row["target"]) == GONE:
            row.update(decision="revoke", **cells)
    write_rows(path, rows)
    return rows


# -- review --out onto an existing pack -------------------------------------------------------

def test_a_pack_with_decisions_filled_in_is_not_replaced(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(pack / SHEET)
    before = files_of(pack)
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(pack))
    assert code == 2
    assert f"--out {pack}: the pack there holds reviewers' work: {SHEET} (decisions or comments filled in)" in err
    assert "--force" in err
    assert files_of(pack) == before


def test_a_file_the_pack_did_not_issue_is_not_deleted(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (pack / "worksheets" / "tomas-copy.csv").write_text("grant_id,decision\n")
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(pack))
    assert code == 2
    assert "worksheets/tomas-copy.csv (not issued by the pack)" in err
    assert (pack / "worksheets" / "tomas-copy.csv").exists()


def test_a_pack_nobody_worked_on_is_replaced(pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: an untouched pack is replaced without --force, and nothing is kept aside.
    before = files_of(pack)
    review(capsys, ACME, pack)
    assert files_of(pack) == before
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]


def test_force_keeps_the_old_pack_aside(pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _fill(pack / SHEET)
    worked = files_of(pack)
    monkeypatch.setenv("KEYTRAIL_NOW", "2026-10-05T08:30:00Z")
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(pack), "--force")
    assert code == 0, err
    aside = tmp_path / "pack.replaced-20261005T083000Z"
    assert f"kept the previous pack as {aside}" in err
    assert files_of(aside) == worked
    assert rows_of(pack / SHEET)[0]["decision"] == ""  # the new pack is fresh
    # A second forced run in the same second never overwrites the first aside.
    _fill(pack / SHEET, comment="second")
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(pack), "--force")
    assert code == 0, err
    assert files_of(aside) == worked
    assert any(r["comment"] == "second" for r in rows_of(tmp_path / "pack.replaced-20261005T083000Z-2" / SHEET))


def test_the_pack_never_replaces_the_project_or_its_inputs(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    for out, words in ((project, "is the project folder"), (project / "history", "which this run reads"),
                       (tmp_path, "which this run reads")):
        code, _, err = run(capsys, "review", str(project), "--period", "2026-Q3", "--out", str(out))
        assert code == 2 and words in err, err
    assert files_of(project) == files_of(ACME)
    # Near miss: a reports folder inside the project is where packs usually go.
    review(capsys, project, project / "reports" / "2026-Q3")


def test_previous_inside_the_pack_it_would_replace_is_refused(pack: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "review", str(ACME), "--period", "2026-Q3", "--out", str(pack),
                       "--previous", str(pack / "findings.json"))
    assert code == 2 and "which this run reads" in err


# -- decisions: the approver is the reviewer the pack assigned --------------------------------

def test_the_approver_comes_from_the_pack(pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    _fill(pack / SHEET)
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / SHEET)  # the pack is found from the worksheet
    assert code == 0, err
    assert json.loads(out.read_text())["approver"] == "user:tomas.kral"


@pytest.mark.parametrize("claimed", ["user:marcus.lindqvist", "user:dmitri.volkov", "user:bad\nname", ""])
def test_a_worksheet_claiming_another_reviewer_is_refused(claimed: str, pack: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    rows = _fill(pack / SHEET, reviewer=claimed)
    line = 2 + [(r["subject"], r["target"]) for r in rows].index(GONE)
    out = tmp_path / "out.jsonl"
    code, _, err = decide(capsys, ACME, out, pack / SHEET)
    assert code == 2
    assert f"{pack / SHEET}:{line}: reviewer: the worksheet says " in err
    assert "but the pack assigned this grant to 'user:tomas.kral'" in err
    assert "\nname" not in err  # shown escaped, on its line
    assert not out.exists()


def test_self_certification_is_refused(pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A pack whose manifest assigns a grant to its own subject (edited, or from a buggy tool).
    manifest = json.loads((pack / "pack.json").read_text())
    for sheet in manifest["worksheets"]:
        if sheet["file"] == SHEET:
            sheet["reviewer"] = GONE[0]
    (pack / "pack.json").write_text(json.dumps(manifest))
    write_rows(pack / SHEET, [{**r, "reviewer": GONE[0]} for r in rows_of(pack / SHEET)])
    _fill(pack / SHEET)
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", pack / SHEET)
    assert code == 2
    assert "'user:dmitri.volkov' would certify their own access" in err


def test_every_value_is_validated_before_writing(pack: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((pack / "pack.json").read_text())
    for sheet in manifest["worksheets"]:
        if sheet["file"] == SHEET:
            sheet["reviewer"] = "user:bad\nname"
    (pack / "pack.json").write_text(json.dumps(manifest))
    write_rows(pack / SHEET, [{**r, "reviewer": "user:bad\nname"} for r in rows_of(pack / SHEET)])
    _fill(pack / SHEET)
    out = tmp_path / "out.jsonl"
    code, _, err = decide(capsys, ACME, out, pack / SHEET)
    assert code == 2
    assert 'approver: "user:bad\\nname" contains U+000A LINE FEED' in err
    assert not out.exists()


def test_a_worksheet_outside_a_pack_needs_pack(tmp_path: Path, pack: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "mailed-back.csv"
    shutil.copy(pack / SHEET, sheet)
    _fill(sheet)
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", sheet)
    assert code == 2 and "give --pack DIR" in err
    # Near miss: naming the pack is enough.
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    code, _, err = decide(capsys, project, project / "history" / "r.jsonl", sheet, pack=pack)
    assert code == 0, err


# -- decisions: the key and its holder ----------------------------------------------------------

@pytest.mark.parametrize(("key", "actor", "words"), [
    ("pk-9999", REVIEW_ACTOR, "--key pk-9999: the key registry does not know this key"),
    ("pk-2026-0008", "user:tomas.kral", "--actor user:tomas.kral: key pk-2026-0008 is held by svc:access-bot"),
    ("pk-2025-0007", "user:marta.nowak", "--key pk-2025-0007: revoked 2026-04-02"),
])
def test_an_unknown_key_or_not_its_holder_is_refused(key: str, actor: str, words: str, pack: Path,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(pack / SHEET)
    out = tmp_path / "out.jsonl"
    code, _, err = decide(capsys, ACME, out, pack / SHEET, key=key, actor=actor)
    assert code == 2
    assert words in err and "nothing was written" in err
    assert not out.exists()


# -- worksheets saved by spreadsheets ---------------------------------------------------------

def _save_as(rows: list[dict[str, str]], path: Path, delimiter: str, encoding: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(("delimiter", "encoding"), [
    (";", "utf-8-sig"),   # Excel "CSV (semicolon)" in European locales, BOM included
    (";", "utf-8"),
    ("\t", "utf-16"),     # Excel "Unicode text": UTF-16 with a BOM, tabs
    (",", "utf-8-sig"),   # Excel "CSV UTF-8"
])
def test_worksheets_in_excels_dialects_are_read(delimiter: str, encoding: str, pack: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rows = _fill(pack / SHEET, comment="Left; in June, 2026")
    _save_as(rows, pack / SHEET, delimiter, encoding)
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    out = project / "history" / "r.jsonl"
    code, _, err = decide(capsys, project, out, pack / SHEET)
    assert code == 0, err
    event = json.loads(out.read_text())
    assert (event["subject"], event["target"], event["reason"]) == (*GONE, "Left; in June, 2026")


def test_a_header_no_delimiter_explains_is_a_missing_column(pack: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = _fill(pack / SHEET)
    _save_as(rows, pack / SHEET, "|", "utf-8")
    code, _, err = decide(capsys, ACME, tmp_path / "out.jsonl", pack / SHEET)
    assert code == 2 and f"{pack / SHEET}:1: missing columns grant_id, subject" in err


def test_decisions_never_write_onto_a_worksheet_or_input(pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(pack / SHEET)
    before = (pack / SHEET).read_bytes()
    os.link(pack / SHEET, pack / "alias.jsonl")
    code, _, err = decide(capsys, ACME, pack / "alias.jsonl", pack / SHEET)
    assert code == 2 and "already exists" in err
    assert (pack / SHEET).read_bytes() == before


def test_a_planted_link_at_the_temporary_pack_name_is_not_followed(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    os.symlink(victim, tmp_path / ".pack.partial")
    review(capsys, ACME, tmp_path / "pack")
    assert (victim / "keep.txt").read_text() == "mine" and len(list(victim.iterdir())) == 1
    assert (tmp_path / "pack" / "pack.json").is_file()


def test_cells_in_decision_errors_are_printed_inert(pack: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from keytrail.errors import InputError
    from keytrail.review import grant_id
    from keytrail.review.decisions import read_worksheets

    rows = rows_of(pack / SHEET)
    weird = "user:x\x1b[2J"
    gid = grant_id(weird, rows[0]["target"], rows[0]["resource"])
    rows[0].update(decision="keep", subject=weird, grant_id=gid)
    rows[1].update(decision="maybe\u202e")
    rows.append({**rows[0], "decision": "revoke"})  # the same grant decided twice
    write_rows(pack / SHEET, rows)
    with pytest.raises(InputError) as caught:
        read_worksheets([pack / SHEET])  # without a manifest: the cells are all there is
    text = str(caught.value)
    assert "user:x\\x1b[2J → group:" in text and "is decided twice" in text
    assert "unknown decision 'maybe\\u202e'" in text
    assert "\x1b" not in text and "\u202e" not in text
