"""`keytrail prove` and `keytrail verify --proof`: one event, proven with only the proof and a public key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.integrity.conftest import Sealed


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _prove(sealed: Sealed, capsys: pytest.CaptureFixture[str], event: str, *more: str) -> dict:
    code, out, err = _run(capsys, "prove", event, "--dir", str(sealed.root), *more)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture
def elsewhere(tmp_path: Path, sealed: Sealed, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An auditor's folder: no project, only the public key they were given."""
    folder = tmp_path / "auditor"
    folder.mkdir()
    (folder / "signer.pub").write_bytes(sealed.public.read_bytes())
    monkeypatch.chdir(folder)
    return folder


def test_a_proof_verifies_with_only_the_proof_and_the_public_key(
        sealed: Sealed, elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proof = _prove(sealed, capsys, "ev-000117")
    assert proof["event"] == {"id": "ev-000117", "path": "history/2025-H2.jsonl", "line": 117}
    assert proof["index"] == 116 and proof["checkpoint"]["size"] == 371
    assert len(proof["hashes"]) == 9   # ceil(log2(371))
    (elsewhere / "proof.json").write_text(json.dumps(proof))
    code, out, _ = _run(capsys, "verify", "--proof", "proof.json", "--trusted-key", "signer.pub")
    assert code == 0
    assert out.startswith("verified: event ev-000117 is entry 116 of the 371 events sealed by checkpoint 1")


@pytest.mark.parametrize("tamper", [
    lambda p: p.update(leaf=p["leaf"].replace("Baseline", "Forged")),
    lambda p: p.update(index=p["index"] + 1),
    lambda p: p["hashes"].__setitem__(0, "0" * 64),
    lambda p: p["hashes"].pop(),
    lambda p: p["checkpoint"].update(root="0" * 64),
    lambda p: p["checkpoint"].update(time="2026-01-01T00:00:00Z"),
    lambda p: p["event"].update(id="ev-000118"),
], ids=["leaf", "index", "hash", "short path", "root", "signed time", "event id"])
def test_a_tampered_proof_fails(sealed: Sealed, elsewhere: Path, capsys: pytest.CaptureFixture[str], tamper: object) -> None:
    proof = _prove(sealed, capsys, "ev-000117")
    tamper(proof)  # type: ignore[operator]
    (elsewhere / "proof.json").write_text(json.dumps(proof))
    code, out, err = _run(capsys, "verify", "--proof", "proof.json", "--trusted-key", "signer.pub")
    assert code == 1, out + err
    assert out.startswith("proof.json: ") and "the proof does not hold" in err


def test_a_proof_signed_by_a_key_the_auditor_does_not_hold_fails(
        sealed: Sealed, elsewhere: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integrity.conftest import public_pem, write_key

    proof = _prove(sealed, capsys, "ev-000117")
    (elsewhere / "proof.json").write_text(json.dumps(proof))
    public_pem(write_key(tmp_path / "other.pem"), elsewhere / "other.pub")
    code, out, _ = _run(capsys, "verify", "--proof", "proof.json", "--trusted-key", "other.pub")
    assert code == 1 and "which is not a trusted key" in out


def test_a_proof_against_an_older_checkpoint_still_holds_after_more_seals(
        sealed: Sealed, elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h2 = sealed.history("2026-H2.jsonl")
    h2.write_bytes(h2.read_bytes() + b'{"id":"ev-000600","time":"2026-11-30T10:00:00Z","action":"leave","subject":"user:x"}\n')
    assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    capsys.readouterr()
    newest = _prove(sealed, capsys, "ev-000600")
    assert newest["index"] == 371 and newest["checkpoint"]["seq"] == 2   # appended: the last leaf
    old = _prove(sealed, capsys, "ev-000117", "--checkpoint", "1")
    assert old["checkpoint"]["seq"] == 1 and old["index"] == 116
    for name, proof in (("new.json", newest), ("old.json", old)):
        (elsewhere / name).write_text(json.dumps(proof))
        assert _run(capsys, "verify", "--proof", name, "--trusted-key", "signer.pub")[0] == 0


def test_proving_an_unknown_or_unsealed_event_is_a_usage_error(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "prove", "ev-999999", "--dir", str(sealed.root))
    assert code == 2 and "no event 'ev-999999' is covered by checkpoint 1" in err


def test_proving_a_duplicated_id_names_every_place(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "prove", "ev-000213", "--dir", str(sealed.root))
    assert code == 2
    assert "is used by 2 events (history/2026-H1.jsonl:22, history/2026-H1.jsonl:23)" in err


def test_no_proof_is_given_for_a_history_that_fails_verification(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    h1 = sealed.history("2026-H1.jsonl")
    h1.write_bytes(h1.read_bytes().replace(b"Temporary grant expired", b"Temporary grant kept", 1))
    code, _, err = _run(capsys, "prove", "ev-000117", "--dir", str(sealed.root))
    assert code == 2 and "the history does not verify" in err
