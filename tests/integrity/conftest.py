"""A sealed copy of examples/acme, with a throwaway signing key outside the project."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO

NOW = "2026-12-01T00:00:00Z"


@dataclass
class Sealed:
    root: Path
    key: Path
    public: Path

    def history(self, name: str) -> Path:
        return self.root / "history" / name

    def lines(self, name: str) -> list[bytes]:
        return self.history(name).read_bytes().splitlines(keepends=True)

    def write_lines(self, name: str, lines: list[bytes]) -> None:
        self.history(name).write_bytes(b"".join(lines))


def write_key(path: Path) -> Path:
    """A fresh Ed25519 private key in PEM PKCS#8, readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def public_pem(private: Path, out: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private.read_bytes(), None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return out


def anchor(root: Path, public: str = "keys/auditor.pub") -> None:
    """Name a checkpoint log and a trusted key in the project's keytrail.yaml."""
    with (root / "keytrail.yaml").open("a") as handle:
        handle.write(f"checkpoints: checkpoints.jsonl\ntrusted_keys: [{public}]\n")


@pytest.fixture
def sealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Sealed:
    """examples/acme copied, anchored, and sealed once (at KEYTRAIL_NOW)."""
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    monkeypatch.delenv("KEYTRAIL_SIGNING_KEY_PASSPHRASE", raising=False)
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    key = write_key(tmp_path / "signing.pem")
    public = public_pem(key, root / "keys" / "auditor.pub")
    anchor(root)
    assert main(["seal", str(root), "--signing-key", str(key)]) == 0
    capsys.readouterr()
    return Sealed(root, key, public)
