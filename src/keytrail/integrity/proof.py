"""Inclusion proofs: one event, its audit path and the signed checkpoint it leads to.

A proof (``schemas/proof.schema.json``) carries the event's exact line, its
index in the checkpoint's Merkle tree, the RFC 6962 audit path and the whole
signed checkpoint. Whoever holds the proof and the signer's public key can
check that the event was part of the sealed history without the history
itself: the line's leaf hash, folded with the path, must give the signed root.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from keytrail.errors import InputError, Problem, UsageError
from keytrail.integrity.checkpoint import check_record, signed_bytes
from keytrail.integrity.merkle import leaf_hashes, root_from_path
from keytrail.integrity.verify import verify_config
from keytrail.project import ProjectConfig
from keytrail.textsafe import inline

PROOF_FORMAT = "keytrail.inclusion-proof/1"


def prove(cfg: ProjectConfig, event_id: str, seq: int | None = None) -> dict[str, Any]:
    """An inclusion proof of event ``event_id`` against checkpoint ``seq`` (default: the latest)."""
    needle = json.dumps(event_id, ensure_ascii=False).encode("utf-8")
    # The walk records the audit path of every line holding the id as it goes (no leaf kept).
    verification = verify_config(cfg, unsealed=False, upto=seq, watch=needle)
    checkpoints = verification.checkpoints
    if not checkpoints:
        raise UsageError(f"{verification.log}: no checkpoint to prove against; run `keytrail seal` first")
    chosen = checkpoints[-1] if seq is None else next((c for c in checkpoints if c.seq == seq), None)
    if chosen is None:
        raise UsageError(f"--checkpoint {seq}: {verification.log} has checkpoints 1-{checkpoints[-1].seq}")
    if verification.violations:
        raise UsageError(f"the history does not verify against {verification.log} "
                         f"({len(verification.violations)} violations; run `keytrail verify`): "
                         "no proof is given for a history that fails verification")
    walk = verification.state
    matches = []
    for path, line, index, raw in walk.found:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("id") == event_id:
            matches.append((path, line, index, raw))
    if not matches:
        raise UsageError(f"no event {inline(event_id)!r} is covered by checkpoint {chosen.seq} "
                         "(is it newer than the checkpoint? run `keytrail seal`)")
    if len(matches) > 1:
        where = ", ".join(f"{p}:{n}" for p, n, _, _ in matches)
        raise UsageError(f"event id {inline(event_id)!r} is used by {len(matches)} events ({where}): "
                         "a proof must name one event")
    path, line, index, raw = matches[0]
    hashes = walk.tree.path(index)
    if hashes is None or walk.tree.size != chosen.data["size"]:
        raise UsageError(f"the audit path of {inline(event_id)!r} could not be built against checkpoint "
                         f"{chosen.seq}: the history does not verify against {verification.log}")
    return {"format": PROOF_FORMAT, "event": {"id": event_id, "path": path, "line": line},
            "leaf": raw.decode("utf-8"), "index": index,
            "hashes": [h.hex() for h in hashes], "checkpoint": chosen.data}


def check_proof(proof: Any, display: str, trusted: dict[str, tuple[str, Any]]) -> list[str]:
    """Why a proof does not hold (empty when it does): schema, signature, path to the signed root."""
    from keytrail.integrity.keys import signature_ok
    from keytrail.schemas import validate
    from keytrail.yamlload import Locator

    problems = validate(proof, "proof", Locator(display, {(): (1, 0)}))
    if problems:
        raise InputError(f"{display}: not an inclusion proof", problems)
    cp = proof["checkpoint"]
    found = check_record(cp, display, 1)
    if found:
        raise InputError(f"{display}: invalid checkpoint", found)
    failures = []
    signer = trusted.get(cp["key_id"])
    if signer is None:
        failures.append(f"the checkpoint is signed by key {cp['key_id']}, which is not a trusted key")
    elif not signature_ok(signer[1], cp["signature"], signed_bytes(cp)):
        failures.append(f"bad signature: the checkpoint is not what key {cp['key_id']} ({signer[0]}) signed")
    leaf = proof["leaf"].encode("utf-8")
    try:
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
    except ValueError:
        hashes = []
        failures.append("an audit path hash is not hex")
    got = root_from_path(leaf_hashes([leaf])[0], proof["index"], cp["size"], hashes)
    if got is None or got.hex() != cp["root"]:
        failures.append(f"the audit path does not lead from the event to the checkpoint's root: the event "
                        f"is not entry {proof['index']} of the {cp['size']} events checkpoint {cp['seq']} sealed")
    try:
        obj = orjson.loads(leaf)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict) or obj.get("id") != proof["event"]["id"]:
        failures.append("the proven line is not the event the proof names")
    return failures


def load_proof(path: Any, display: str) -> Any:
    """Read a proof file (JSON)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{display}: invalid JSON", [Problem(display, getattr(exc, "lineno", 0) or 0,
                                                              getattr(exc, "colno", 0) or 0, "",
                                                              "not an inclusion proof: invalid JSON")]) from None
