"""Checking the history against one checkpoint kept apart from the log (``verify --against``).

A log can be cut back together with the history behind it: the last
checkpoints and the events after the one kept. Nothing inside the project
shows that; a copy of a later checkpoint kept elsewhere (a CI artifact, a
review pack, an auditor's mailbox) does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from keytrail.errors import InputError, Problem
from keytrail.integrity.checkpoint import Checkpoint, signed_bytes
from keytrail.integrity.verify import Verification, Violation
from keytrail.project import ProjectConfig


def check_extends(cfg: ProjectConfig, saved: Checkpoint, trusted: dict[str, tuple[str, Any]],
                  result: Verification, display: str) -> list[Violation]:
    """Whether the history today extends a checkpoint kept apart from the log (a review's, a CI
    artifact's): signed by a trusted key, still in the log, and every file it covers still
    begins with exactly the bytes it covered. This holds even when the log was cut back."""
    from keytrail.integrity.keys import signature_ok

    data = saved.data
    out: list[Violation] = []
    signer = trusted.get(data["key_id"])
    if signer is None or not signature_ok(signer[1], data["signature"], signed_bytes(data)):
        out.append(Violation(display, saved.line, f"checkpoint {data['seq']} is not signed by a trusted key: "
                             "it cannot vouch for anything", "signature"))
        return out
    in_log = next((c for c in result.checkpoints if c.seq == data["seq"]), None)
    if in_log is None or in_log.line_hash() != saved.line_hash():
        out.append(Violation(result.log, 0, f"checkpoint {data['seq']} ({display}) is not in the log: the "
                             "log was cut back or rewritten since it was saved", "log"))
    where = f"checkpoint {data['seq']} ({display})"
    for entry in data["files"]:
        path = cfg.root / entry["path"]
        try:
            with path.open("rb") as handle:
                hasher, left = hashlib.sha256(), entry["bytes"]
                while left > 0 and (chunk := handle.read(min(8 << 20, left))):
                    hasher.update(chunk)
                    left -= len(chunk)
        except FileNotFoundError:
            out.append(Violation(entry["path"], 0, f"the file is missing: {where} covered its "
                                 f"{entry['lines']} lines", "missing"))
            continue
        except OSError as exc:
            raise InputError(f"{entry['path']}: cannot read", [Problem(
                entry["path"], 0, 0, "", f"cannot read: {exc.strerror}")]) from None
        if left > 0 or hasher.hexdigest() != entry["sha256"]:
            out.append(Violation(entry["path"], 0, f"no longer begins with the {entry['lines']} lines "
                                 f"{where} covered: they were changed, cut or removed", "changed"))
    return out
