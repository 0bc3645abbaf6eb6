"""Key owners review their keys: the pack's key sections, key worksheets and their decisions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from keytrail.model import Key
from keytrail.review.keys import KEY_COLUMNS, owner_of, status, valid_in
from keytrail.timeutil import parse_time
from tests.test_review import ACME, decide, review, rows_of, run, write_rows

START = parse_time("2026-07-01T00:00:00Z")
END = parse_time("2026-09-30T23:59:59Z")
MARTA = "worksheets/keys-user_marta.nowak.csv"
NINA = "worksheets/keys-user_nina.petrova.csv"


class _Directory:
    def __init__(self, *ids: str) -> None:
        self.principals = {i: object() for i in ids}


class _View:
    def __init__(self, gone: str = "") -> None:
        self.gone = gone

    def inactive(self, ident: str) -> str | None:
        return "left 2026-08-01" if ident == self.gone else None


# -- which keys, under whom ---------------------------------------------------------------

def test_a_key_revoked_before_the_period_is_not_listed_but_one_revoked_during_it_is() -> None:
    before = Key("k1", "svc:bot", revoked_at=parse_time("2026-06-30T12:00:00Z"))
    during = Key("k2", "svc:bot", revoked_at=parse_time("2026-08-01T00:00:00Z"))
    assert not valid_in(before, START, END)
    assert valid_in(during, START, END)
    assert status(during, END) == "revoked 2026-08-01T00:00:00Z"


def test_a_key_expired_before_or_starting_after_the_period_is_not_listed() -> None:
    assert not valid_in(Key("k", "svc:bot", expires=parse_time("2026-06-30T23:59:59Z")), START, END)
    assert not valid_in(Key("k", "svc:bot", not_before=parse_time("2026-10-01T00:00:00Z")), START, END)
    # Near misses: expiring on the period's first second, starting on its last, are listed.
    assert valid_in(Key("k", "svc:bot", expires=START), START, END)
    assert valid_in(Key("k", "svc:bot", not_before=END), START, END)


def test_a_key_goes_to_its_owner_else_its_holder_when_a_person_else_unowned() -> None:
    d = _Directory("user:ana", "user:bo")
    assert owner_of(Key("k", "svc:bot", owner="user:ana"), d, _View()) == ("user:ana", "")
    assert owner_of(Key("k", "user:bo"), d, _View()) == ("user:bo", "")
    assert owner_of(Key("k", "svc:bot"), d, _View()) == (None, "no-owner")
    assert owner_of(Key("k", "svc:bot", owner="user:zed"), d, _View()) == (None, "owner-not-in-directory")
    assert owner_of(Key("k", "svc:bot", owner="user:ana"), d, _View("user:ana")) == (None, "owner-inactive")


def test_a_key_owned_by_a_service_is_unowned_not_sent_to_the_service() -> None:
    """A service named as a key's owner cannot review it: the key is unowned, with the reason."""
    d = _Directory("user:ana", "svc:bot", "svc:ci")
    assert owner_of(Key("k", "svc:ci", owner="svc:ci"), d, _View()) == (None, "owner-not-a-person")
    assert owner_of(Key("k", "svc:ci", owner="svc:bot"), d, _View()) == (None, "owner-not-a-person")
    # Near miss: a person owning the same service's key reviews it.
    assert owner_of(Key("k", "svc:ci", owner="user:ana"), d, _View()) == ("user:ana", "")


def test_each_owner_gets_their_keys_and_not_someone_elses(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    pack = review(capsys, ACME, tmp_path / "pack")
    marta = {r["key_id"]: r for r in rows_of(pack / MARTA)}
    nina = {r["key_id"] for r in rows_of(pack / NINA)}
    assert "pk-2026-0012" in marta and "pk-2026-0012" not in nina   # owned by Marta
    assert "pk-2025-0010" in nina and "pk-2025-0010" not in marta   # owned by Nina
    row = marta["pk-2026-0012"]
    assert (row["holder"], row["status"], row["changes"], row["targets"]) == \
        ("user:marta.nowak", "active", "1 grant, 1 revoke", "role:warehouse-reader")
    assert (row["first_use"], row["last_use"]) == ("2026-09-02T11:00:00Z", "2026-09-14T17:30:00Z")
    assert (pack / MARTA).read_text(encoding="utf-8").splitlines()[0] == ",".join(KEY_COLUMNS)
    manifest = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    entry = next(s for s in manifest["worksheets"] if s["file"] == MARTA)
    assert entry["reviewer"] == "user:marta.nowak" and "key:pk-2026-0012" in entry["grants"]
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert "Keys to review, by key owner" in page and 'id="worksheets/keys-user_marta.nowak.csv"' in page
    # The key's findings are counted by rule, most severe first, never repeated with their
    # fingerprints (each finding is detailed once in the page).
    assert ('<span class="sev critical">critical</span> broken-chain</div>'
            '<div><span class="sev high">high</span> key-out-of-scope</div>') in page
    assert marta["pk-2025-0003"]["findings"] == \
        "sprawl.expired-grant;sprawl.long-lived-key;sprawl.redundant-grant;sprawl.unused-access;unexplained.broken-chain;" \
        "unexplained.key-out-of-scope"


# -- decisions on keys --------------------------------------------------------------------

def _decide_key(pack: Path, sheet: str, key_id: str, word: str, **cells: str) -> Path:
    path = pack / sheet
    rows = rows_of(path)
    for row in rows:
        if row["key_id"] == key_id:
            row.update(decision=word, **cells)
    return write_rows(path, rows, KEY_COLUMNS)


def test_a_key_revoke_becomes_a_registry_proposal_not_an_event(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    _decide_key(pack, MARTA, "pk-2026-0012", "Revoke", comment="no longer needed")
    _decide_key(pack, MARTA, "pk-2025-0002", "keep")
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / MARTA)
    assert code == 0, err
    assert out.read_text(encoding="utf-8") == ""            # no grant decided: no event
    proposal = (out.parent / "review.jsonl.keys-proposal.yaml").read_text(encoding="utf-8")
    import yaml

    assert yaml.safe_load(proposal)["keys"] == [{
        "id": "pk-2026-0012", "revoked_at": "2026-10-02T10:00:00Z", "decided_by": "user:marta.nowak",
        "reason": "no longer needed", "worksheet": f"{pack / MARTA}:{5}"}]
    # The registry itself is never edited.
    assert (ACME / "keys.yaml").read_bytes() == (project / "keys.yaml").read_bytes()


def test_keeping_every_key_writes_no_proposal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    _decide_key(pack, MARTA, "pk-2026-0012", "keep")
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / MARTA)
    assert code == 0, err
    assert not (out.parent / "review.jsonl.keys-proposal.yaml").exists()
    assert "1 key kept, none revoked" in err


def test_a_key_row_moved_to_another_owner_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    rows = rows_of(pack / MARTA)
    claimed = next(r for r in rows if r["key_id"] == "pk-2026-0012")
    claimed.update(owner="user:nina.petrova", decision="revoke")
    nina = rows_of(pack / NINA) + [claimed]
    write_rows(pack / NINA, nina, KEY_COLUMNS)
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / NINA)
    assert code == 2
    assert "the pack issued this key to 'user:marta.nowak'" in err
    assert not out.exists() and not (out.parent / "review.jsonl.keys-proposal.yaml").exists()


def test_a_key_not_issued_by_the_pack_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    rows = rows_of(pack / NINA)
    rows[0].update(key_id="pk-9999-0001", decision="revoke")
    write_rows(pack / NINA, rows, KEY_COLUMNS)
    code, _, err = decide(capsys, project, project / "history" / "r.jsonl", pack / NINA)
    assert code == 2 and "'pk-9999-0001' is not a key this review pack issued" in err


def test_review_status_counts_key_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = review(capsys, ACME, tmp_path / "pack")
    before = json.loads(run(capsys, "review", "status", str(pack), "--format", "json")[1])
    _decide_key(pack, MARTA, "pk-2026-0012", "revoke")
    code, out, err = run(capsys, "review", "status", str(pack), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    sheet = next(s for s in data["reviewers"] if s["worksheet"] == MARTA)
    assert (sheet["total"], sheet["decided"], sheet["revoke"]) == (4, 1, 1)
    assert data["decided"] == before["decided"] + 1 and data["total"] == before["total"]


def test_an_unowned_key_is_listed_with_its_reason_and_its_text_stays_inert(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    with (project / "keys.yaml").open("a", encoding="utf-8") as handle:
        handle.write('\n  - id: pk-hostile\n    holder: svc:okta-sync\n'
                     '    purpose: "=HYPERLINK(\\"http://x\\")\\u202e<b>x</b>"\n'
                     '    scope: [group:*]\n    not_before: 2026-01-01T00:00:00Z\n')
    pack = review(capsys, project, tmp_path / "pack")
    rows = rows_of(pack / "worksheets/keys-unowned.csv")
    # The example's own unowned keys: a leaver's key, and the CI key that names itself its owner.
    assert [(r["key_id"], r["owner"], r["unowned_reason"]) for r in rows] == [
        ("pk-2026-0006", "", "owner-inactive"), ("pk-2026-0021", "", "owner-not-a-person"),
        ("pk-hostile", "", "no-owner")]
    assert rows[2]["purpose"].startswith("'=HYPERLINK") and "\u202e" not in rows[2]["purpose"]
    page = (pack / "index.html").read_text(encoding="utf-8")
    assert "<b>x</b>" not in page and "\u202e" not in page and "Unowned keys" in page
    # A key with an owner (near miss) is not in the unowned list.
    assert "pk-2026-0012" not in {r["key_id"] for r in rows}
    code, out, _ = run(capsys, "review", "status", str(pack))
    assert code == 0 and "unowned keys: 3 keys nobody can decide until they have an active owner" in out


def test_grant_and_key_worksheets_are_decided_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    grants = rows_of(pack / "worksheets/user_tomas.kral.csv")
    grants[0]["decision"] = "keep"
    write_rows(pack / "worksheets/user_tomas.kral.csv", grants)
    _decide_key(pack, NINA, "pk-2025-0010", "revoke")
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / "worksheets/user_tomas.kral.csv", pack / NINA)
    assert code == 0, err
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(e["action"], e["subject"]) for e in events] == [("certify", grants[0]["subject"])]
    proposal = (out.parent / "review.jsonl.keys-proposal.yaml").read_text(encoding="utf-8")
    assert '- id: "pk-2025-0010"' in proposal and "pk-2026-0014" not in proposal


def test_a_key_decided_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = Path(shutil.copytree(ACME, tmp_path / "acme"))
    pack = review(capsys, project, tmp_path / "pack")
    rows = rows_of(pack / NINA)
    rows[0]["decision"] = "keep"
    write_rows(pack / NINA, rows + [dict(rows[0], decision="revoke")], KEY_COLUMNS)
    code, _, err = decide(capsys, project, project / "history" / "r.jsonl", pack / NINA)
    assert code == 2 and f"{pack / NINA}:4: key {rows[0]['key_id']} is decided twice" in err
