"""``decisions`` and ``import`` seal what they write (issue 11, item 6): everything a seal needs is
checked before the write; a seal that fails after it says what was written and that it is unsealed."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.integrity.conftest import Sealed, public_pem, write_key
from tests.test_review import DECIDED_AT, REVIEW_ACTOR, REVIEW_KEY, rows_of, write_rows

OKTA = REPO / "tests" / "importers" / "fixtures" / "okta" / "events.jsonl"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def log_lines(sealed: Sealed) -> list[str]:
    return (sealed.root / "checkpoints.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.fixture
def sheet(sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A worksheet of the sealed project's Q3 pack with one decision filled in."""
    assert main(["review", str(sealed.root), "--period", "2026-Q3", "--out", str(tmp_path / "pack")]) == 0
    capsys.readouterr()
    path = tmp_path / "pack" / "worksheets" / "user_tomas.kral.csv"
    rows = rows_of(path)
    rows[0]["decision"] = "keep"
    write_rows(path, rows)
    return path


def decide(capsys: pytest.CaptureFixture[str], sealed: Sealed, sheet: Path, out: Path,
           *more: str) -> tuple[int, str, str]:
    return run(capsys, "decisions", str(sheet), "--dir", str(sealed.root), "--key", REVIEW_KEY,
               "--actor", REVIEW_ACTOR, "--time", DECIDED_AT, "--out", str(out), *more)


# -- decisions --------------------------------------------------------------------------------------

def test_decisions_seal_what_they_write(sealed: Sealed, sheet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("review-2026-Q3.jsonl")
    code, _, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(sealed.key))
    assert code == 0, err
    assert "sealed checkpoint 2 in checkpoints.jsonl: 372 events (1 new)" in err
    latest = json.loads(log_lines(sealed)[-1])
    assert "history/review-2026-Q3.jsonl" in [f["path"] for f in latest["files"]]
    assert main(["verify", str(sealed.root), "--max-unsealed", "off"]) == 0


def test_decisions_without_seal_leave_the_log_alone(sealed: Sealed, sheet: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: no --seal, no seal.
    before = log_lines(sealed)
    code, _, err = decide(capsys, sealed, sheet, sealed.history("review-2026-Q3.jsonl"))
    assert code == 0, err
    assert log_lines(sealed) == before


def test_an_output_the_seal_would_not_cover_is_refused_before_writing(sealed: Sealed, sheet: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.root / "decisions.jsonl"  # not matched by `history: [history/*.jsonl]`
    code, _, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(sealed.key))
    assert code == 2
    assert "is not one of the history files `history:`" in err and "nothing was written" in err
    assert not out.exists()


def test_a_public_key_as_signing_key_is_refused_before_writing(sealed: Sealed, sheet: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("review-2026-Q3.jsonl")
    code, _, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(sealed.public))
    assert code == 2
    assert "holds a public key; --signing-key needs the private key" in err
    assert not out.exists()


def test_an_untrusted_signing_key_is_refused_before_writing(sealed: Sealed, sheet: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = write_key(tmp_path / "other.pem")
    out = sealed.history("review-2026-Q3.jsonl")
    code, _, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(other))
    assert code == 2
    assert "is not among `trusted_keys:`" in err and "nothing was written" in err
    assert not out.exists()
    secret = b"".join(other.read_bytes().splitlines()[1:-1]).decode()
    assert secret[:16] not in err  # the private key is never printed


def test_a_history_that_already_fails_verification_is_not_added_to(sealed: Sealed, sheet: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines("2026-H1.jsonl")
    lines[2] = lines[2].replace(b'"ticket":"', b'"ticket":"X', 1)
    sealed.write_lines("2026-H1.jsonl", lines)
    out = sealed.history("review-2026-Q3.jsonl")
    code, stdout, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(sealed.key))
    assert code == 2
    assert "history/2026-H1.jsonl:3: line 3 differs" in stdout
    assert "the history already fails verification" in err and not out.exists()


def test_a_seal_that_fails_after_the_write_says_what_is_unsealed(sealed: Sealed, sheet: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("review-2026-Q3.jsonl")
    before = log_lines(sealed)
    fd = os.open(sealed.root / "checkpoints.jsonl", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another seal holds the log
        code, _, err = decide(capsys, sealed, sheet, out, "--seal", "--signing-key", str(sealed.key))
    finally:
        os.close(fd)
    assert code == 2
    assert "another `keytrail seal` is appending to this log" in err
    assert f"{out} was written but is NOT sealed" in err
    assert out.exists() and log_lines(sealed) == before


def test_signing_key_without_seal_is_a_usage_error(sealed: Sealed, sheet: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("review-2026-Q3.jsonl")
    code, _, err = decide(capsys, sealed, sheet, out, "--signing-key", str(sealed.key))
    assert code == 2 and "--signing-key is used only with --seal" in err and not out.exists()
    code, _, err = decide(capsys, sealed, sheet, out, "--seal")
    assert code == 2 and "--seal needs --signing-key FILE" in err and not out.exists()


# -- import -------------------------------------------------------------------------------------------

def test_import_seals_the_project_above_its_output(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("okta.jsonl")
    code, _, err = run(capsys, "import", "okta", str(OKTA), "--out", str(out), "--seal",
                       "--signing-key", str(sealed.key))
    assert code == 0, err
    assert "sealed checkpoint 2 in checkpoints.jsonl" in err
    assert "history/okta.jsonl" in [f["path"] for f in json.loads(log_lines(sealed)[-1])["files"]]
    assert main(["verify", str(sealed.root), "--max-unsealed", "off"]) == 0


def test_import_outside_any_project_cannot_seal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = write_key(tmp_path / "k.pem")
    out = tmp_path / "loose" / "okta.jsonl"
    code, _, err = run(capsys, "import", "okta", str(OKTA), "--out", str(out), "--seal", "--signing-key", str(key))
    assert code == 2
    assert "--seal: no keytrail.yaml in any folder above --out" in err
    assert not out.exists()


def test_import_into_an_unanchored_project_cannot_seal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    key = write_key(tmp_path / "k.pem")
    public_pem(key, root / "keys" / "auditor.pub")
    out = root / "history" / "okta.jsonl"
    code, _, err = run(capsys, "import", "okta", str(OKTA), "--out", str(out), "--seal", "--signing-key", str(key))
    assert code == 2
    assert "no `checkpoints:` here" in err and not out.exists()


def test_import_never_replaces_a_sealed_file(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    out = sealed.history("2026-H2.jsonl")
    before = out.read_bytes()
    code, _, err = run(capsys, "import", "okta", str(OKTA), "--out", str(out), "--force", "--seal",
                       "--signing-key", str(sealed.key))
    assert code == 2
    assert "checkpoint 1 covers this file; replacing it would break the seal" in err
    assert out.read_bytes() == before


def test_a_state_import_cannot_seal(sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = REPO / "tests" / "importers" / "fixtures" / "aws-authz"
    inputs = sorted(p for p in source.iterdir() if p.is_file())
    out = tmp_path / "acct"
    code, _, err = run(capsys, "import", "aws-authz", str(inputs[0]), "--out", str(out), "--seal",
                       "--signing-key", str(sealed.key))
    assert code == 2
    assert "--seal: aws-authz writes a project folder, not history" in err and not out.exists()


def test_an_unknown_format_is_named_before_the_seal_is_checked(sealed: Sealed,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "import", "okat", str(OKTA), "--out", str(sealed.history("x.jsonl")), "--seal",
                       "--signing-key", str(sealed.key))
    assert code == 2 and "unknown import format 'okat'" in err


def test_decisions_from_a_pack_whose_evidence_did_not_verify_are_refused(
        sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines("2026-H1.jsonl")
    lines[2] = lines[2].replace(b'"ticket":"', b'"ticket":"X', 1)
    sealed.write_lines("2026-H1.jsonl", lines)
    code, _, _ = run(capsys, "review", str(sealed.root), "--period", "2026-Q3", "--out", str(tmp_path / "pack"))
    assert code == 1
    path = tmp_path / "pack" / "worksheets" / "user_tomas.kral.csv"
    rows = rows_of(path)
    rows[0]["decision"] = "keep"
    write_rows(path, rows)
    out = tmp_path / "decided.jsonl"
    code, _, err = decide(capsys, sealed, path, out)
    assert code == 2
    assert f"{tmp_path / 'pack' / 'pack.json'}: attestation.verified: this pack was written from a history " \
           "that fails verification" in err
    assert "nothing was written" in err and not out.exists()
    # near miss: revocations only take access away, and are recorded from the same pack
    rows[0]["decision"] = "revoke"
    write_rows(path, rows)
    code, _, err = decide(capsys, sealed, path, out)
    assert code == 0 and b'"action":"revoke"' in out.read_bytes()
