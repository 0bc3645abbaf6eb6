"""The checkpoint log: one signed checkpoint per line, each naming the hash of the line before.

A checkpoint (``schemas/checkpoint.schema.json``) records, for every history
file, how many lines and bytes it covers and the SHA-256 of those bytes; the
number of events and the RFC 6962 Merkle root over them; the hash of the
previous checkpoint's line; the signer's key id and an Ed25519 signature over
:func:`signed_bytes`. The log is append-only: ``seal`` adds one line, and
``verify`` checks that each line names the hash of the one before it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson

from keytrail.errors import InputError, Problem, cap_problems
from keytrail.textsafe import excerpt

FORMAT = "keytrail.checkpoint/1"
#: The largest checkpoint line read (a checkpoint of a thousand files is ~300 KB).
MAX_CHECKPOINT_BYTES = 16 << 20


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the log, with the exact line it was read from."""

    line: int
    raw: bytes
    data: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.data["seq"])

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.data["files"])

    def line_hash(self) -> str:
        """What the next checkpoint's ``prev`` must be."""
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()


def signed_bytes(data: dict[str, Any]) -> bytes:
    """The canonical encoding a checkpoint's signature covers: every field but ``signature``,
    keys sorted, no whitespace, UTF-8 (what ``jq -cSj 'del(.signature)'`` prints)."""
    body = {k: v for k, v in data.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode(data: dict[str, Any]) -> bytes:
    """A checkpoint as one log line (without the line ending), fields in a fixed order."""
    order = ("format", "seq", "time", "prev", "files", "size", "root", "frontier", "key_id", "signature")
    return json.dumps({k: data[k] for k in order}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def path_problem(path: str) -> str | None:
    """Why a file path in a checkpoint cannot be a history file of the project, or None."""
    pure = PurePosixPath(path)
    if "\\" in path or pure.is_absolute() or ".." in pure.parts or path != pure.as_posix():
        return f"{excerpt(path)!s} is not a relative path inside the project (a checkpoint covers the project's own files)"
    return None


def check_record(data: Any, display: str, line: int) -> list[Problem]:
    """Every problem of one parsed checkpoint line: schema first, then what a schema cannot say."""
    from keytrail.schemas import validate
    from keytrail.yamlload import Locator

    problems = validate(data, "checkpoint", Locator(display, {(): (line, 0)}))
    if problems:
        return problems
    paths = [f["path"] for f in data["files"]]
    for path in paths:
        why = path_problem(path)
        if why:
            problems.append(Problem(display, line, 0, "files", why))
    if paths != sorted(set(paths)):
        problems.append(Problem(display, line, 0, "files", "files are not sorted by path, or one is listed twice"))
    for f in data["files"]:
        if f["events"] > f["lines"] or f["lines"] > f["bytes"]:
            problems.append(Problem(display, line, 0, "files", f"{excerpt(f['path'])}: impossible counts "
                                    f"({f['lines']} lines, {f['bytes']} bytes, {f['events']} events)"))
    if sum(f["events"] for f in data["files"]) != data["size"]:
        problems.append(Problem(display, line, 0, "size", "size is not the sum of the files' events"))
    if len(data["frontier"]) != bin(data["size"]).count("1"):
        problems.append(Problem(display, line, 0, "frontier", "the frontier needs one hash per bit set in size"))
    return problems


def read_log(path: Any, display: str) -> list[Checkpoint]:
    """Every checkpoint of the log at ``path``; an empty list when it does not exist.

    A malformed line is bad input (exit 2), located at its line: it is not
    something a signature could vouch for, and keytrail does not guess.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except IsADirectoryError:
        raise InputError(f"{display}: is a folder", [Problem(display, 0, 0, "", "expected the checkpoint "
                                                             "log file, found a folder")]) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    problems: list[Problem] = []
    checkpoints: list[Checkpoint] = []
    lines = data.split(b"\n")
    if lines[-1].strip():
        problems.append(Problem(display, len(lines), 0, "", "the last line has no line ending: a seal was "
                                "interrupted or the log was cut; restore the log from a trusted copy"))
    for number, raw in enumerate(lines[:-1], 1):
        if not raw.strip():
            problems.append(Problem(display, number, 0, "", "blank line in the checkpoint log"))
            continue
        if len(raw) > MAX_CHECKPOINT_BYTES:
            problems.append(Problem(display, number, 0, "", f"line is {len(raw):,} bytes long; at most "
                                    f"{MAX_CHECKPOINT_BYTES:,} allowed"))
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(Problem(display, number, getattr(exc, "colno", 0) or 0, "",
                                    f"not a checkpoint: invalid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"))
            continue
        found = check_record(record, display, number)
        if found:
            problems.extend(found)
            continue
        checkpoints.append(Checkpoint(number, raw, record))
    if problems:
        raise InputError(f"{display}: invalid checkpoint log", cap_problems(problems, display))
    return checkpoints
