"""Anchored history: signed checkpoints of the history files, and their verification.

- :mod:`.merkle` — RFC 6962 Merkle tree hashing and inclusion proofs;
- :mod:`.checkpoint` — the checkpoint format and the append-only checkpoint log;
- :mod:`.keys` — Ed25519 signing and trusted public keys (``cryptography``, imported lazily);
- :mod:`.scan` — reading history files as checkpoints cover them;
- :mod:`.verify` — :func:`~.verify.verify_config`: a structured :class:`~.verify.Verification`;
- :mod:`.against` — :func:`~.against.check_extends`: the history against a checkpoint kept elsewhere;
- :mod:`.seal` — :func:`~.seal.seal_config`: verify, then append a signed checkpoint;
- :mod:`.proof` — inclusion proofs of single events.

Nothing here is imported unless a project configures ``checkpoints:`` or a
command seals, verifies or proves.
"""
