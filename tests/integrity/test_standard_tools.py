"""Checkpoint signatures verify with standard tools, exactly as docs/integrity.md shows.

Skipped cleanly where a tool is missing (Debian packages: openssl, jq, openssh-client).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.integrity.conftest import NOW, Sealed, anchor

needs = pytest.mark.skipif(not all(shutil.which(t) for t in ("openssl", "jq", "base64", "bash")),
                           reason="openssl, jq and base64 are needed")

# The commands docs/integrity.md gives, run as written (N is the checkpoint's line).
OPENSSL_STEPS = """
set -e
N=1
sed -n "${N}p" checkpoints.jsonl | jq -cSj 'del(.signature)' > checkpoint.body
sed -n "${N}p" checkpoints.jsonl | jq -r .signature | base64 -d > checkpoint.sig
openssl pkeyutl -verify -pubin -inkey "$KEY" -rawin -in checkpoint.body -sigfile checkpoint.sig
"""
SSH_TO_PEM = """
set -e
{ printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cut -d' ' -f2 "$1" | base64 -d | tail -c 32; } \\
  | openssl pkey -pubin -inform DER -out "$2"
"""


def _bash(script: str, cwd: Path, *args: str, key: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script, "bash", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "KEY": key})


def test_the_documented_commands_are_in_the_docs() -> None:
    docs = (REPO / "docs" / "integrity.md").read_text()
    for step in OPENSSL_STEPS.strip().splitlines()[2:] + SSH_TO_PEM.strip().splitlines()[1:]:
        assert step in docs, step


@needs
def test_openssl_verifies_a_checkpoint_signature(sealed: Sealed) -> None:
    done = _bash(OPENSSL_STEPS, sealed.root, key="keys/auditor.pub")
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


@needs
def test_openssl_rejects_an_edited_checkpoint(sealed: Sealed) -> None:
    log = sealed.root / "checkpoints.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"size":371', b'"size":370'))
    done = _bash(OPENSSL_STEPS, sealed.root, key="keys/auditor.pub")
    assert done.returncode != 0 and "Signature Verified Successfully" not in done.stdout


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen (openssh-client) is needed")
def test_an_openssh_key_seals_and_its_public_line_is_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    (root / "keys").mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "auditor@acme", "-f",
                    str(tmp_path / "id_ed25519")], check=True)
    shutil.copy(tmp_path / "id_ed25519.pub", root / "keys" / "auditor.pub")
    anchor(root)
    assert main(["seal", str(root), "--signing-key", str(tmp_path / "id_ed25519")]) == 0
    assert main(["verify", str(root)]) == 0
    out = capsys.readouterr().out
    assert "verified: the history extends every checkpoint" in out
    if all(shutil.which(t) for t in ("openssl", "jq", "base64")):
        converted = _bash(SSH_TO_PEM, tmp_path, str(root / "keys" / "auditor.pub"), str(tmp_path / "auditor.pem"))
        assert converted.returncode == 0, converted.stderr
        done = _bash(OPENSSL_STEPS, root, key=str(tmp_path / "auditor.pem"))
        assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stderr
