"""Sealing: appending a signed checkpoint of the history as it is now to the checkpoint log.

Sealing first verifies everything already sealed (a seal never vouches for a
history that was changed behind an earlier checkpoint), then covers every
complete line of every history file: the lines added since the latest
checkpoint become the next leaves of the Merkle tree, file by file in path
order, so each checkpoint's tree is a prefix of the next one's. A last line
without its line ending (a writer still appending) is left for the next seal.
The new line is appended to the log in one write; nothing else is written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem
from keytrail.integrity.checkpoint import FORMAT, encode, path_problem, signed_bytes
from keytrail.integrity.scan import block_size
from keytrail.integrity.verify import Verification, require_anchor, verify_config
from keytrail.project import ProjectConfig, display_path
from keytrail.timeutil import format_time


@dataclass
class Sealed:
    """What a seal did: the checkpoint it appended, or the violations that stopped it."""

    verification: Verification
    checkpoint: dict[str, Any] | None = None
    new_events: int = 0
    notes: list[str] = field(default_factory=list)


class SealRefused(InputError):
    """The history already fails verification: sealing it would hide that."""

    consequence = "nothing was sealed"


def seal_config(cfg: ProjectConfig, signing_key: Path, now: int) -> Sealed:
    """Verify what is sealed, then append a checkpoint of the history signed with ``signing_key``.

    Returns without writing when verification finds violations (``checkpoint``
    is None); raises :class:`~keytrail.errors.InputError` on bad input.
    """
    from keytrail.integrity.keys import key_id, load_signing_key

    key_display = str(signing_key)
    private = load_signing_key(signing_key, key_display)
    kid = key_id(private.public_key())
    log_path = require_anchor(cfg)
    with _locked(log_path, display_path(log_path, cfg.root)) as fd:
        return _seal(cfg, private, kid, key_display, fd, now)


def _seal(cfg: ProjectConfig, private: Any, kid: str, key_display: str, fd: int, now: int) -> Sealed:
    """The seal itself, with the log held open and locked (``fd``)."""
    from keytrail.integrity.keys import sign

    log_path = require_anchor(cfg)
    result = verify_config(cfg, unsealed=False)
    if kid not in result.signers:
        raise InputError("signing key not trusted", [Problem(
            key_display, 0, 0, "", f"its public key (key id {kid}) is not among `trusted_keys:` in "
            f"{cfg.file}, so nothing it signs would verify; add its public key file there first "
            "(`openssl pkey -in KEY -pubout` or `ssh-keygen -y -f KEY` prints it)")])
    sealed = Sealed(result)
    # A log that does not exist yet is the one case that is not a violation for sealing.
    problems = [v for v in result.violations if not (v.kind == "log" and v.line == 0 and not result.checkpoints)]
    if problems:
        result.violations = problems
        return sealed
    walk = result.state
    before = result.latest
    displays = sorted(display_path(p, cfg.root) for p in cfg.history)
    outside = [Problem(cfg.file, 0, 0, "history", f"{d}: {why}") for d in displays if (why := path_problem(d))]
    if outside:
        raise InputError("history outside the project", outside)
    files: list[dict[str, Any]] = []
    for display in displays:
        cursor = walk.cursor(display)
        end = cursor.complete_end()
        if (cursor.size() or 0) > end:
            sealed.notes.append(f"{display}: the last line has no line ending yet; it is left for the next seal")
        lines = cursor.count_lines(end)
        block = block_size(lines)
        seg = cursor.advance(end, block, walk.tree.extend)
        sealed.new_events += seg.events
        files.append({"path": display, "lines": cursor.lines, "bytes": cursor.offset, "events": cursor.events,
                      "sha256": cursor.prefix_hash(), "block": block, "blocks": seg.blocks})
    walk.close()
    data: dict[str, Any] = {
        "format": FORMAT, "seq": before.seq + 1 if before else 1, "time": format_time(now - now % 1_000_000),
        "prev": before.line_hash() if before else None, "files": files, "size": walk.tree.size,
        "root": walk.tree.root().hex(), "frontier": [h.hex() for h in walk.tree.frontier()], "key_id": kid}
    data["signature"] = sign(private, signed_bytes(data))
    _append(fd, display_path(log_path, cfg.root), encode(data) + b"\n")
    sealed.checkpoint = data
    return sealed


@contextmanager
def _locked(path: Path, display: str) -> Iterator[int]:
    """The log opened for appending and locked against a second seal running at the same time
    (two seals from one state would fork the log). A log created here and left empty is removed."""
    existed = path.exists()
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"{display}: cannot open", [Problem(display, 0, 0, "", f"cannot open for appending: "
                                                             f"{exc.strerror}")]) from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no advisory lock to take
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise InputError(f"{display}: busy", [Problem(display, 0, 0, "", "another `keytrail seal` is "
                                                              "appending to this log; run one seal at a time")]) from None
        yield fd
    finally:
        if not existed and os.fstat(fd).st_size == 0:
            path.unlink(missing_ok=True)
        os.close(fd)


def _append(fd: int, display: str, line: bytes) -> None:
    """Append one line in a single write (O_APPEND): never rewriting what the log holds."""
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(0, "short write")
        os.fsync(fd)
    except OSError as exc:
        raise InputError(f"{display}: cannot append", [Problem(display, 0, 0, "", f"cannot append: "
                                                               f"{exc.strerror}")]) from None
