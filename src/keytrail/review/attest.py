"""What a review attests it read: the checkpoint it verified, the hash of every input, the previous review.

A review pack is evidence: an auditor must be able to tell, from the pack
alone, which history and which policies the reviewers certified against. So
``keytrail review`` records in ``pack.json`` (and says in words at the top of
``index.html`` and ``summary.md``):

- the history's verification: the latest checkpoint of the log as verified
  (number, time, root, size, signer, and the checkpoint line itself, so that
  ``verify --against`` can check a later history against it), the violations
  when the history fails verification, or that no checkpoints are configured;
- the SHA-256 of every file the review read (keytrail.yaml, directory, keys,
  history, snapshot, every policy file including packaged packs, the
  checkpoint log and the trusted keys);
- with ``--previous``, whether today's history still extends the checkpoint
  the previous review attested (:func:`~keytrail.integrity.against.check_extends`):
  a history rewritten between two reviews is caught even when the log was
  rewritten and resealed with it.

Everything here is deterministic: the same inputs give the same bytes (no
clock, no absolute path).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem, UsageError
from keytrail.project import Project, ProjectConfig, display_path
from keytrail.textsafe import inline

#: How the previous pack is named in messages (a fixed name: the pack's bytes must not
#: depend on where the previous pack was kept).
PREVIOUS = "the previous review's pack.json"


@dataclass
class Attestation:
    """What one review read, and whether the history it read verifies."""

    anchored: bool                                  # keytrail.yaml names a checkpoint log
    log: str | None = None
    checkpoint: dict[str, Any] | None = None        # the latest checkpoint, as verified
    violations: list[str] = field(default_factory=list)
    unsealed: int = 0                               # events read that no checkpoint covers
    inputs: list[dict[str, Any]] = field(default_factory=list)
    previous: dict[str, Any] | None = None          # the --previous comparison

    @property
    def failed(self) -> bool:
        """The history fails verification, or does not extend the previous review's checkpoint."""
        return bool(self.violations or (self.previous and self.previous["violations"]))

    def problems(self) -> list[str]:
        """Every reason the evidence cannot be relied on, one located line each."""
        return [*self.violations, *(self.previous["violations"] if self.previous else [])]


def stat_inputs(paths: list[Path]) -> dict[Path, tuple[int, int] | None]:
    """Size and modification time of each file (None: missing), to tell a file changed during a run."""
    out: dict[Path, tuple[int, int] | None] = {}
    for path in paths:
        try:
            st = path.stat()
            out[path] = (st.st_size, st.st_mtime_ns)
        except OSError:
            out[path] = None
    return out


def check_unchanged(before: dict[Path, tuple[int, int] | None], paths: list[Path], root: Path) -> None:
    """Refuse when the files read are not the files stat'ed before reading (one was written meanwhile)."""
    after = stat_inputs(paths)
    changed = sorted(display_path(p, root) for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        shown = ", ".join(inline(c) for c in changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise UsageError(f"{shown} changed while the review read {'them' if len(changed) > 1 else 'it'}: "
                         "the pack could not attest what it read; run the review again")


def sha256_file(path: Path) -> str | None:
    """Hex SHA-256 of a file's bytes, read in large pieces (None: the file does not exist)."""
    import os
    import stat

    hasher = hashlib.sha256()
    shown = str(path)
    try:
        # O_NONBLOCK: a FIFO planted where a file was (a pack's worksheet) must not hang the run.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{shown}: cannot read", [Problem(shown, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{shown}: cannot read", [Problem(shown, 0, 0, "", "cannot read: not a plain file")])
    try:
        with os.fdopen(fd, "rb") as handle:
            while chunk := handle.read(8 << 20):
                hasher.update(chunk)
    except OSError as exc:
        raise InputError(f"{shown}: cannot read", [Problem(shown, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    return hasher.hexdigest()


def attest(project: Project, cfg: ProjectConfig) -> Attestation:
    """The attestation of a loaded project: its verification (already done while loading) and its inputs."""
    att = Attestation(anchored=cfg.checkpoints is not None)
    att.inputs = [{"path": display_path(p, project.root), "sha256": sha256_file(p)} for p in project.inputs]
    result = project.anchor
    if result is None:
        return att
    att.log = result.log
    att.violations = [inline(str(v)) for v in result.violations]
    latest = result.latest
    if latest is not None:
        data = latest.data
        att.checkpoint = {"seq": data["seq"], "time": data["time"], "root": data["root"], "size": data["size"],
                          "key_id": data["key_id"], "signer": result.signers.get(data["key_id"]),
                          "line": latest.raw.decode("utf-8")}
    if not result.violations:
        sealed = result.sealed_lines
        files = project.history_files
        att.unsealed = sum(1 for e in project.events if e.line > sealed.get(files[e.file], 0))
    return att


def compare_previous(att: Attestation, findings: Path, cfg: ProjectConfig, verification: Any) -> None:
    """Whether today's history extends the checkpoint the previous review attested (its pack.json,
    beside ``findings``); the outcome goes into ``att.previous``."""
    pack = findings.parent / "pack.json"
    previous: dict[str, Any] = {"period": None, "findings_sha256": sha256_file(findings), "pack_sha256": None,
                                "checkpoint": None, "status": "", "violations": []}
    att.previous = previous
    if not pack.is_file():
        previous["status"] = ("not compared: there is no pack.json beside the previous findings.json, so "
                              "nothing says which checkpoint the previous review read")
        return
    previous["pack_sha256"] = sha256_file(pack)
    shown = str(pack)
    try:
        data: Any = orjson.loads(pack.read_bytes())
    except OSError as exc:
        raise InputError(f"{shown}: cannot read", [Problem(shown, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, "", f"not a review pack manifest: {exc}")]) from None
    if not isinstance(data, dict):
        raise InputError(f"{shown}: invalid", [Problem(shown, 1, 1, "", "not a review pack manifest")])
    previous["period"] = inline(data["period"]) if isinstance(data.get("period"), str) else None
    section = data.get("attestation")
    if section is None:
        previous["status"] = ("not compared: the previous pack records no attestation (it was written "
                              "before keytrail recorded one)")
        return
    history = section.get("history") if isinstance(section, dict) else None
    if not isinstance(history, dict) or not (history.get("checkpoint") is None
                                             or isinstance(history["checkpoint"], dict)):
        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, "attestation.history",
                                                       "expected the history's verification (checkpoint or null)")])
    saved = _saved_checkpoint(history["checkpoint"], shown)
    if saved is None:
        previous["status"] = ("not compared: the previous review read a history with no checkpoint "
                              "(none was configured or sealed then)")
        return
    previous["checkpoint"] = {k: saved.data[k] for k in ("seq", "time", "root", "size", "key_id")}
    if cfg.checkpoints is None or verification is None:
        previous["violations"] = [inline(f"{cfg.file}: names no checkpoint log (`checkpoints:`), but the previous "
                                         f"review read checkpoint {saved.seq}: the anchoring was removed since")]
        previous["status"] = "the history cannot be shown to extend the previous review's checkpoint"
        return
    from keytrail.integrity.against import check_extends
    from keytrail.integrity.verify import load_trusted

    found = check_extends(cfg, saved, load_trusted(cfg), verification, PREVIOUS)
    previous["violations"] = [inline(str(v)) for v in sorted(set(found))]
    previous["status"] = ("the history was rewritten since the previous review" if found else
                          f"the history extends checkpoint {saved.seq}, which the previous review read")


def _saved_checkpoint(entry: dict[str, Any] | None, shown: str) -> Any:
    """The checkpoint line a previous pack recorded, parsed and checked as a log line is."""
    if entry is None:
        return None
    from keytrail.integrity.checkpoint import Checkpoint, check_record

    line = entry.get("line")
    where = "attestation.history.checkpoint.line"
    if not isinstance(line, str):
        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, where, "expected the checkpoint line (a string)")])
    raw = line.encode("utf-8")
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, where, f"not a checkpoint: {exc}")]) from None
    problems = check_record(record, shown, 0)
    if problems:
        raise InputError(f"{shown}: invalid checkpoint", [Problem(p.file, p.line, p.column, where, p.message)
                                                          for p in problems])
    return Checkpoint(0, raw, record)


def as_json(att: Attestation) -> dict[str, Any]:
    """The ``attestation`` object of pack.json."""
    from keytrail import __version__

    if not att.anchored:
        history: dict[str, Any] = {"status": "no checkpoints configured", "log": None, "checkpoint": None,
                                   "violations": [], "unsealed_events": None}
    else:
        history = {"status": "violations" if att.violations else "verified", "log": att.log,
                   "checkpoint": att.checkpoint, "violations": att.violations, "unsealed_events": att.unsealed}
    return {"verified": not att.failed, "keytrail": __version__, "history": history, "inputs": att.inputs,
            "previous": att.previous}


def words(att: Attestation) -> dict[str, Any]:
    """What the first screen of index.html and summary.md say (plain text; the renderers escape it)."""
    cp = att.checkpoint
    if not att.anchored:
        history = ("The history is not anchored: keytrail.yaml names no checkpoint log, so nothing shows "
                   "whether it was changed after it was written.")
    elif att.violations:
        history = (f"The history FAILS verification against {att.log}: {len(att.violations)} violation"
                   f"{'s' if len(att.violations) != 1 else ''}. Do not rely on this review until it is explained.")
    elif cp is None:
        history = f"The checkpoint log {att.log} holds no checkpoint."
    else:
        history = (f"The history verifies against checkpoint {cp['seq']} of {att.log} ({cp['time']}): "
                   f"{cp['size']} events, root {cp['root']}, signed by key {cp['key_id']} "
                   f"({cp['signer'] or 'an untrusted key'}).")
        if att.unsealed:
            history += (f" {att.unsealed} event{'s' if att.unsealed != 1 else ''} read by this review "
                        f"{'are' if att.unsealed != 1 else 'is'} newer than that checkpoint (unsealed).")
    previous = None
    if att.previous is not None:
        previous = "Previous review" + (f" ({att.previous['period']})" if att.previous["period"] else "") + \
            ": " + att.previous["status"] + "."
    # The reason the evidence fails comes first; paths from keytrail.yaml and the previous pack
    # reach these sentences: inert, on one line.
    sentences = [history, *([previous] if previous else [])]
    if att.previous is not None and att.previous["violations"] and not att.violations:
        # A log started again after a rewrite verifies on its own: say why that is no comfort.
        sentences = [sentences[1], "Its own checkpoint log alone cannot show that: " + history[0].lower() + history[1:]]
    return {"failed": att.failed, "sentences": [inline(t) for t in sentences], "problems": att.problems(),
            "inputs": len(att.inputs)}


def refuse_unverified(pack: Path, certifies: bool) -> None:
    """Refuse keep decisions from a review pack whose own attestation says its evidence did not
    verify: they would certify access from a history nobody can vouch for. Revocations only
    take access away, so they may still be recorded."""
    if not certifies:
        return
    path = pack / "pack.json" if pack.is_dir() else pack
    try:
        data: Any = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return  # read_manifest reports an unreadable manifest, located
    att = data.get("attestation") if isinstance(data, dict) else None
    if isinstance(att, dict) and att.get("verified") is False:
        shown = str(path)
        raise InputError(f"{shown}: evidence not verified", [Problem(
            shown, 0, 0, "attestation.verified", "this pack was written from a history that fails verification "
            "or was rewritten since the previous review (see the top of its index.html): its keep decisions "
            "would certify access nobody can trace; record only the revoke decisions, or resolve the "
            "violations, review again, and record the decisions from the new pack")])
