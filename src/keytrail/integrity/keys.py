"""Ed25519 keys: the signing key ``seal`` reads, the public keys ``verify`` trusts.

A private key is read from its file and used; it is never printed, logged or
written, and no message about it quotes the file (only its path and what kind
of key it is). Formats accepted are the ones users already have: PEM PKCS#8
(``openssl genpkey -algorithm ed25519``) and OpenSSH (``ssh-keygen -t
ed25519``) for private keys; PEM SubjectPublicKeyInfo (``openssl pkey
-pubout``) and OpenSSH ``ssh-ed25519 AAAA...`` lines for public keys. An
encrypted private key is decrypted with the passphrase in
``KEYTRAIL_SIGNING_KEY_PASSPHRASE`` (an environment variable, never a
command-line argument, which other users of the machine can see).

``cryptography`` is imported here, lazily: only commands that seal or verify
load it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem

PASSPHRASE_VARIABLE = "KEYTRAIL_SIGNING_KEY_PASSPHRASE"
#: A key file larger than this is not a key (and is not read whole).
MAX_KEY_BYTES = 64 << 10

_KINDS = {"RSAPrivateKey": "an RSA", "RSAPublicKey": "an RSA", "EllipticCurvePrivateKey": "an ECDSA",
          "EllipticCurvePublicKey": "an ECDSA", "DSAPrivateKey": "a DSA", "DSAPublicKey": "a DSA",
          "Ed448PrivateKey": "an Ed448", "Ed448PublicKey": "an Ed448"}


def _fail(display: str, message: str) -> InputError:
    return InputError(f"{display}: {message}", [Problem(display, 0, 0, "", message)])


def _read(path: Path, display: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_KEY_BYTES:
            raise _fail(display, f"is {size:,} bytes: not a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(display, "key file not found") from None
    except IsADirectoryError:
        raise _fail(display, "is a folder, not a key file") from None
    except OSError as exc:
        raise _fail(display, f"cannot read: {exc.strerror}") from None


def _kind(key: Any) -> str:
    for cls in type(key).__mro__:
        if cls.__name__ in _KINDS:
            return _KINDS[cls.__name__]
    return "a non-Ed25519"


def load_signing_key(path: Path, display: str) -> Any:
    """The Ed25519 private key in ``path`` (PEM PKCS#8 or OpenSSH)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read(path, display)
    secret = os.environ.get(PASSPHRASE_VARIABLE)
    password = secret.encode("utf-8") if secret else None
    if b"PUBLIC KEY" in data[:64] or data.lstrip().startswith(b"ssh-"):
        raise _fail(display, "holds a public key; --signing-key needs the private key")
    key: Any
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            key = serialization.load_ssh_private_key(data, password)
        elif b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:
        # cryptography says whether a password was missing or not wanted; neither quotes the key.
        if password is None:
            raise _fail(display, f"the key is encrypted: put its passphrase in {PASSPHRASE_VARIABLE}") from None
        raise _fail(display, f"the key is not encrypted: unset {PASSPHRASE_VARIABLE}") from None
    except ValueError:
        if password is not None:
            raise _fail(display, "is not a private key keytrail can read, or the passphrase in "
                        f"{PASSPHRASE_VARIABLE} does not decrypt it") from None
        raise _fail(display, "is not a private key keytrail can read (expected an Ed25519 key: "
                    "`openssl genpkey -algorithm ed25519` or `ssh-keygen -t ed25519`)") from None
    except Exception:  # UnsupportedAlgorithm and friends: never let a message quote the file
        raise _fail(display, "is not a private key keytrail can read") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _fail(display, f"is {_kind(key)} key; keytrail signs with Ed25519 "
                    "(`openssl genpkey -algorithm ed25519` or `ssh-keygen -t ed25519`)")
    return key


def load_public_key(path: Path, display: str) -> Any:
    """The Ed25519 public key in ``path`` (PEM SubjectPublicKeyInfo or one OpenSSH line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read(path, display)
    if b"PRIVATE KEY" in data:
        # Saying so matters more than the path: a private key was committed with the project.
        raise _fail(display, "holds a PRIVATE key: trusted_keys lists public keys only "
                    "(derive one with `openssl pkey -in KEY -pubout`; remove the private key "
                    "from the project and replace it)")
    lines = [line for line in data.splitlines() if line.strip() and not line.lstrip().startswith(b"#")]
    key: Any
    try:
        if lines and lines[0].lstrip().startswith(b"ssh-"):
            if len(lines) > 1:
                raise _fail(display, f"holds {len(lines)} lines; list one public key per file")
            key = serialization.load_ssh_public_key(lines[0].strip())
        elif b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except InputError:
        raise
    except Exception:
        raise _fail(display, "is not a public key keytrail can read (expected PEM "
                    "`-----BEGIN PUBLIC KEY-----` or an OpenSSH `ssh-ed25519 AAAA...` line)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise _fail(display, f"is {_kind(key)} public key; keytrail checkpoints are signed with Ed25519")
    return key


def raw_public(key: Any) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def key_id(public_key: Any) -> str:
    """The key id: the first 16 bytes of SHA-256 over the raw public key, in hex."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:32]


def sign(private_key: Any, message: bytes) -> str:
    """The Ed25519 signature of ``message``, base64."""
    return base64.b64encode(private_key.sign(message)).decode("ascii")


def signature_ok(public_key: Any, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (base64) is ``public_key``'s signature of ``message``."""
    from cryptography.exceptions import InvalidSignature

    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message)
    except (InvalidSignature, ValueError):
        return False
    return True
