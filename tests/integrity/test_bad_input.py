"""Bad keys, a bad checkpoint log, a bad project file: a located error (exit 2), never a traceback,
and never a private key quoted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.integrity.conftest import NOW, Sealed, anchor, public_pem, write_key


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _secret_lines(key: Path) -> list[str]:
    return [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]


def _rsa_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    monkeypatch.delenv("KEYTRAIL_SIGNING_KEY_PASSPHRASE", raising=False)
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    return root


def test_an_rsa_signing_key_is_refused_by_kind_without_quoting_it(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public_pem(write_key(tmp_path / "good.pem"), project / "keys" / "auditor.pub")
    anchor(project)
    rsa_key = _rsa_key(tmp_path / "rsa.pem")
    code, out, err = _run(capsys, "seal", str(project), "--signing-key", str(rsa_key))
    assert code == 2
    assert "is an RSA key; keytrail signs with Ed25519" in err
    assert not any(secret in out + err for secret in _secret_lines(rsa_key))
    assert not (project / "checkpoints.jsonl").exists()


def test_a_public_key_given_as_the_signing_key_is_named_as_such(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public = public_pem(write_key(tmp_path / "good.pem"), project / "keys" / "auditor.pub")
    anchor(project)
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(public))
    assert code == 2 and "holds a public key; --signing-key needs the private key" in err


def test_an_encrypted_key_needs_its_passphrase_from_the_environment(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path = tmp_path / "enc.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(b"correct horse")))
    (project / "keys").mkdir()
    (project / "keys" / "auditor.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    anchor(project)
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(path))
    assert code == 2 and "the key is encrypted: put its passphrase in KEYTRAIL_SIGNING_KEY_PASSPHRASE" in err
    monkeypatch.setenv("KEYTRAIL_SIGNING_KEY_PASSPHRASE", "wrong")
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(path))
    assert code == 2 and "does not decrypt it" in err and "wrong" not in err
    monkeypatch.setenv("KEYTRAIL_SIGNING_KEY_PASSPHRASE", "correct horse")
    assert _run(capsys, "seal", str(project), "--signing-key", str(path))[0] == 0
    assert _run(capsys, "verify", str(project))[0] == 0


def test_a_signing_key_the_project_does_not_trust_is_refused(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public_pem(write_key(tmp_path / "trusted.pem"), project / "keys" / "auditor.pub")
    anchor(project)
    other = write_key(tmp_path / "other.pem")
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(other))
    assert code == 2 and "is not among `trusted_keys:` in keytrail.yaml" in err
    assert not (project / "checkpoints.jsonl").exists()


def test_a_private_key_listed_as_trusted_is_refused_and_not_quoted(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = write_key(project / "keys.pem")
    anchor(project, "keys.pem")
    code, out, err = _run(capsys, "verify", str(project))
    assert code == 2 and "keys.pem: holds a PRIVATE key: trusted_keys lists public keys only" in err
    assert not any(secret in out + err for secret in _secret_lines(key))


def test_a_missing_trusted_key_file_is_located_in_keytrail_yaml(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    anchor(project, "keys/nobody.pub")
    code, _, err = _run(capsys, "verify", str(project))
    assert code == 2 and "keytrail.yaml:" in err and "'keys/nobody.pub': key file not found" in err


def test_checkpoints_without_trusted_keys_is_a_schema_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "keytrail.yaml").open("a") as handle:
        handle.write("checkpoints: checkpoints.jsonl\n")
    code, _, err = _run(capsys, "verify", str(project))
    assert code == 2 and "'checkpoints' is only allowed together with 'trusted_keys'" in err


def test_verify_without_checkpoints_configured_says_what_to_add(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "verify", str(project))
    assert code == 2 and "no `checkpoints:` here" in err


def test_the_checkpoint_log_may_not_be_an_input(project: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    public_pem(write_key(tmp_path / "k.pem"), project / "keys" / "auditor.pub")
    with (project / "keytrail.yaml").open("a") as handle:
        handle.write("checkpoints: history/2026-H2.jsonl\ntrusted_keys: [keys/auditor.pub]\n")
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(tmp_path / "k.pem"))
    assert code == 2 and "is an input of the project; the checkpoint log must be a file of its own" in err


@pytest.mark.parametrize(("damage", "message"), [
    (lambda raw: raw[:-1], "checkpoints.jsonl:1: the last line has no line ending"),
    (lambda raw: b"{not json\n" + raw, "checkpoints.jsonl:1:2: not a checkpoint: invalid JSON"),
    (lambda raw: raw + b"\n", "checkpoints.jsonl:2: blank line in the checkpoint log"),
    (lambda raw: raw.replace(b'"seq":1', b'"seq":"one"'), "checkpoints.jsonl:1: seq: expected an integer"),
    (lambda raw: raw.replace(b'"path":"history/2025-H2.jsonl"', b'"path":"../../etc/passwd"'),
     "checkpoints.jsonl:1: files: ../../etc/passwd is not a relative path inside the project"),
])
def test_a_malformed_checkpoint_log_is_a_located_error(sealed: Sealed, capsys: pytest.CaptureFixture[str],
                                                       damage: object, message: str) -> None:
    log = sealed.root / "checkpoints.jsonl"
    log.write_bytes(damage(log.read_bytes()))  # type: ignore[operator]
    code, _, err = _run(capsys, "verify", str(sealed.root))
    assert code == 2 and message in err, err
    code, _, err = _run(capsys, "check", str(sealed.root), "--as-of", "2026-09-30T23:59:59Z")
    assert code == 2 and message in err, err


def test_a_well_formed_log_is_not_an_error(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    record = json.loads((sealed.root / "checkpoints.jsonl").read_bytes())
    assert record["format"] == "keytrail.checkpoint/1" and record["seq"] == 1 and record["prev"] is None
    assert _run(capsys, "verify", str(sealed.root))[0] == 0


def test_check_on_a_project_without_checkpoints_does_not_import_cryptography() -> None:
    import subprocess
    import sys

    code = ("import sys; from keytrail.cli import main; "
            "main(['check', 'examples/acme', '--as-of', '2026-09-30T23:59:59Z', '--format', 'json']); "
            "print('\\nloaded' if any(m.startswith('cryptography') for m in sys.modules) else '\\nnot loaded', "
            "file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert done.stderr.strip().splitlines()[-1] == "not loaded", done.stderr


def test_a_checkpoint_log_the_history_glob_would_read_is_refused(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public_pem(write_key(tmp_path / "k.pem"), project / "keys" / "auditor.pub")
    with (project / "keytrail.yaml").open("a") as handle:
        handle.write("checkpoints: history/checkpoints.jsonl\ntrusted_keys: [keys/auditor.pub]\n")
    code, _, err = _run(capsys, "seal", str(project), "--signing-key", str(tmp_path / "k.pem"))
    assert code == 2 and "is an input of the project" in err
    assert not (project / "history" / "checkpoints.jsonl").exists()


def test_a_history_file_outside_the_project_is_never_sealed(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_bytes((project / "history" / "2026-H2.jsonl").read_bytes())
    (project / "history" / "2026-H2.jsonl").unlink()
    public_pem(write_key(tmp_path / "k.pem"), project / "keys" / "auditor.pub")
    config = project / "keytrail.yaml"
    config.write_text(config.read_text().replace("history: [history/*.jsonl]",
                                                 "history: [history/*.jsonl, ../elsewhere.jsonl]"))
    anchor(project)
    code, _, _ = _run(capsys, "seal", str(project), "--signing-key", str(tmp_path / "k.pem"))
    assert code == 2
    assert not (project / "checkpoints.jsonl").exists()


def test_a_proof_is_never_written_over_an_input(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    history = sealed.root / "history" / "2026-H2.jsonl"
    before = history.read_bytes()
    code, _, err = _run(capsys, "prove", "ev-000117", "--dir", str(sealed.root), "-o", str(history))
    assert code == 2 and "is an input of the project" in err
    assert history.read_bytes() == before
    out = sealed.root.parent / "ev-000117.proof.json"
    assert _run(capsys, "prove", "ev-000117", "--dir", str(sealed.root), "-o", str(out))[0] == 0
    assert json.loads(out.read_text())["event"]["id"] == "ev-000117"


def test_a_second_seal_at_the_same_time_is_refused(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    fcntl = pytest.importorskip("fcntl")
    log = sealed.root / "checkpoints.jsonl"
    before = log.read_bytes()
    with log.open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)   # as a seal in progress holds it
        code, _, err = _run(capsys, "seal", str(sealed.root), "--signing-key", str(sealed.key))
        assert code == 2 and "another `keytrail seal` is appending to this log" in err
    assert log.read_bytes() == before
    assert _run(capsys, "seal", str(sealed.root), "--signing-key", str(sealed.key))[0] == 0  # released
