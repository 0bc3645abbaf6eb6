"""Verifying the history against its checkpoint log: signatures, the log's own chain, every file.

:func:`verify_config` walks the checkpoints in order and the history files
with them, in one pass over the bytes: each checkpoint's signature must be by
a trusted key, its ``prev`` must be the hash of the line before it, each file
must still hold exactly the bytes it covered (so every earlier checkpoint's
bytes are a prefix of every later one's, and of the file today), no file may
disappear, and the Merkle root recomputed over the covered events must be the
signed one. Every violation is located (the first line that differs, the
missing lines, the missing file, the checkpoint line). What follows the latest
checkpoint is *unsealed*: counted and dated, judged by the caller.

The result is data (:class:`Verification`): ``keytrail verify`` prints it,
``unexplained.broken-chain`` turns it into findings, ``seal`` continues from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem
from keytrail.integrity.checkpoint import Checkpoint, read_log, signed_bytes
from keytrail.integrity.merkle import Accumulator
from keytrail.integrity.scan import Cursor
from keytrail.project import ProjectConfig, display_path
from keytrail.timeutil import TimeFormatError, parse_time


@dataclass(frozen=True, order=True)
class Violation:
    """One way the history or the log fails verification, at the place it shows."""

    path: str
    line: int
    message: str
    kind: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Unsealed:
    """An event line newer than the latest checkpoint."""

    path: str
    line: int
    time: int | None      # None: the line has no readable time
    id: str | None


@dataclass
class Verification:
    """What verifying a project's history against its checkpoint log found."""

    log: str
    checkpoints: list[Checkpoint]
    violations: list[Violation] = field(default_factory=list)
    #: Per history file (display path): how many of its lines the latest checkpoint covers.
    sealed_lines: dict[str, int] = field(default_factory=dict)
    #: The event lines after the latest checkpoint (None when not looked for).
    unsealed: list[Unsealed] | None = None
    signers: dict[str, str] = field(default_factory=dict)   # key id -> trusted key file
    #: Internal state ``seal`` continues from (cursors at the latest checkpoint, the tree).
    state: Any = None

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def ok(self) -> bool:
        return not self.violations


def load_trusted(cfg: ProjectConfig) -> dict[str, tuple[str, Any]]:
    """The trusted public keys by key id: (file, key)."""
    from keytrail.integrity.keys import key_id, load_public_key

    trusted: dict[str, tuple[str, Any]] = {}
    problems: list[Problem] = []
    for path in cfg.trusted_keys:
        display = display_path(path, cfg.root)
        try:
            key = load_public_key(path, display)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        trusted.setdefault(key_id(key), (display, key))
    if problems:
        raise InputError("invalid trusted key", problems)
    return trusted


def require_anchor(cfg: ProjectConfig) -> Path:
    """The checkpoint log of a project that has one configured; a located error otherwise."""
    if cfg.checkpoints is None:
        raise InputError(f"{cfg.file}: no checkpoint log", [Problem(
            cfg.file, 0, 0, "", "no `checkpoints:` here: name the checkpoint log (e.g. `checkpoints: "
            "checkpoints.jsonl`) and the public keys that sign it (`trusted_keys: [keys/auditor.pub]`)")])
    if not cfg.trusted_keys:
        raise InputError(f"{cfg.file}: no trusted keys", [Problem(
            cfg.file, 0, 0, "trusted_keys", "`checkpoints:` needs `trusted_keys:`, the public keys whose "
            "signatures keytrail accepts (e.g. `trusted_keys: [keys/auditor.pub]`)")])
    return cfg.checkpoints


class _Walk:
    """The state of one pass over the log and the files."""

    def __init__(self, cfg: ProjectConfig, keep_leaves: bool = False, watch: bytes | None = None) -> None:
        self.cfg = cfg
        self.watch = watch
        #: Lines holding ``watch``: (file, line, leaf index, line bytes).
        self.found: list[tuple[str, int, int, bytes]] = []
        self.log = display_path(require_anchor(cfg), cfg.root)
        self.cursors: dict[str, Cursor] = {}
        self.tree = Accumulator(keep=keep_leaves)
        self.tree_ok = True
        self.violations: list[Violation] = []

    def cursor(self, path: str) -> Cursor:
        found = self.cursors.get(path)
        if found is None:
            found = self.cursors[path] = Cursor(self.cfg.root / path, path)
        return found

    def add(self, path: str, line: int, message: str, kind: str) -> None:
        self.violations.append(Violation(path, line, message, kind))

    def close(self) -> None:
        for cursor in self.cursors.values():
            cursor.close()

    def log_checks(self, cp: Checkpoint, before: Checkpoint | None, trusted: dict[str, tuple[str, Any]]) -> None:
        """What the log alone shows: numbering, the `prev` chain, the signature, dropped files, the frontier."""
        from keytrail.integrity.keys import signature_ok

        data = cp.data
        expected_seq = before.seq + 1 if before else 1
        if cp.seq != expected_seq:
            self.add(self.log, cp.line, f"checkpoint number {cp.seq} where {expected_seq} was expected: "
                     "a checkpoint was removed or inserted", "log")
        expected_prev = before.line_hash() if before else None
        if data["prev"] != expected_prev:
            self.add(self.log, cp.line, "`prev` is not the hash of the checkpoint line before it: "
                     "a checkpoint was removed, inserted or edited" if before else
                     "the first checkpoint of the log names a previous one: the log was cut at its start",
                     "log")
        signer = trusted.get(data["key_id"])
        if signer is None:
            self.add(self.log, cp.line, f"signed by key {data['key_id']}, which is not among the trusted "
                     "keys (`trusted_keys:` in keytrail.yaml)", "signature")
        elif not signature_ok(signer[1], data["signature"], signed_bytes(data)):
            self.add(self.log, cp.line, f"bad signature: the checkpoint is not what key {data['key_id']} "
                     f"({signer[0]}) signed; it was edited after sealing", "signature")
        earlier = {f["path"]: f for f in before.files} if before else {}
        covered = {f["path"]: f for f in cp.files}
        for path in sorted(set(earlier) - set(covered)):
            self.add(self.log, cp.line, f"drops {path}, which checkpoint {before.seq if before else 0} "
                     "covered: a checkpoint may only extend the one before it", "log")
        for path in sorted(set(earlier) & set(covered)):
            if covered[path]["bytes"] < earlier[path]["bytes"]:
                self.add(self.log, cp.line, f"covers fewer bytes of {path} than the checkpoint before it", "log")
        if frontier_tree(data).root().hex() != data["root"]:
            self.add(self.log, cp.line, "its frontier does not fold to its root", "root")

    def prefixes(self, checkpoints: list[Checkpoint]) -> bool:
        """The fast check: every file still begins with exactly the bytes each checkpoint covered.

        One pass of SHA-256 over each file, at hashing speed, comparing the
        prefix hash at each checkpoint's offset. False at the first difference
        (the full walk then locates it); on success the cursors stand at the
        latest checkpoint, ready for the next seal.
        """
        marks: dict[str, list[dict[str, Any]]] = {}
        for cp in checkpoints:
            for entry in cp.files:
                marks.setdefault(entry["path"], []).append(entry)
        for path, entries in marks.items():
            cursor = self.cursor(path)
            size = cursor.size()
            for entry in sorted(entries, key=lambda e: e["bytes"]):
                if size is None or entry["bytes"] > size:
                    return False
                cursor.hash_to(entry["bytes"])
                if cursor.prefix_hash() != entry["sha256"]:
                    return False
                cursor.lines, cursor.events = entry["lines"], entry["events"]
        return True

    def checkpoint(self, cp: Checkpoint, before: Checkpoint | None, trusted: dict[str, tuple[str, Any]]) -> None:
        """Verify one checkpoint fully: the log, every file it covers, its root recomputed from the events."""
        self.log_checks(cp, before, trusted)
        where = f"checkpoint {cp.seq} ({self.log}:{cp.line})"
        earlier = {f["path"]: f for f in before.files} if before else {}
        for entry in cp.files:
            self._file(cp, entry, earlier.get(entry["path"]), where)
        data = cp.data
        if self.tree_ok:
            root = self.tree.root()
            if self.tree.size != data["size"] or root.hex() != data["root"]:
                self.add(self.log, cp.line, f"the Merkle root of the {self.tree.size} events it covers is "
                         f"{root.hex()}, not the signed {data['root']}", "root")
                self.tree_ok = False

    def _file(self, cp: Checkpoint, entry: dict[str, Any], earlier: dict[str, Any] | None, where: str) -> None:
        path = entry["path"]
        cursor = self.cursor(path)
        if cursor.diverged:
            return
        size = cursor.size()
        if size is None:
            self.add(path, 0, f"the file is missing: {where} covered its {entry['lines']} lines", "missing")
            cursor.diverged = True
            self.tree_ok = False
            return
        start_line = cursor.lines + 1
        seg = cursor.advance(min(entry["bytes"], size), entry["block"],
                             self.tree.extend if self.tree_ok else None, self.tree.size, self.watch,
                             self.tree.watch if self.tree_ok else None)
        self.found.extend((path, line, index, raw) for line, index, raw in seg.found)
        whole = size >= entry["bytes"]
        if whole and cursor.prefix_hash() == entry["sha256"]:
            if cursor.lines != entry["lines"] or cursor.events != entry["events"]:
                self.add(self.log, cp.line, f"records {entry['lines']} lines and {entry['events']} events "
                         f"of {path}, but those bytes hold {cursor.lines} and {cursor.events}", "log")
                self.tree_ok = False
            return
        cursor.diverged = True
        self.tree_ok = False
        block = entry["block"]
        expected = entry["blocks"]
        # Compare block by block; a last block cut short by a truncation is not a difference yet.
        usable = seg.blocks if whole else seg.blocks[:seg.complete // block]
        first = next((i for i, (a, b) in enumerate(zip(usable, expected, strict=False)) if a != b), None)
        if first is not None:
            lo = start_line + first * block
            hi = min(lo + block - 1, entry["lines"])
            if lo == hi:
                text = f"line {lo} differs from what {where} sealed"
            else:
                text = f"the first difference from what {where} sealed is in lines {lo}-{hi}"
            self.add(path, lo, text + ": it was changed, or lines were inserted or removed before it", "changed")
        elif not whole:
            have = start_line - 1 + seg.complete
            self.add(path, have + 1, f"lines {have + 1}-{entry['lines']} are missing: {where} sealed "
                     f"{entry['lines']} lines, the file now has {have} complete lines", "truncated")
        else:
            self.add(path, start_line, f"lines {start_line}-{entry['lines']} differ from what {where} sealed", "changed")


def frontier_tree(data: dict[str, Any]) -> Accumulator:
    """The tree a checkpoint describes, rebuilt from its size and frontier."""
    return Accumulator.from_frontier(data["size"], [bytes.fromhex(h) for h in data["frontier"]])


def _unsealed_lines(cursor: Cursor, display: str, out: list[Unsealed]) -> None:
    """The event lines after the cursor, each with its time when readable."""
    size = cursor.size() or 0
    seg = cursor.advance(size, 1 << 62, None, watch=b"")
    for line, _index, raw in seg.found:
        time: int | None = None
        ident: str | None = None
        try:
            obj = orjson.loads(raw)
            if isinstance(obj, dict):
                ident = obj.get("id") if isinstance(obj.get("id"), str) else None
                time = parse_time(obj["time"])
        except (orjson.JSONDecodeError, KeyError, TypeError, TimeFormatError):
            time = None
        out.append(Unsealed(display, line, time, ident))


def verify_config(cfg: ProjectConfig, unsealed: bool = True, keep_leaves: bool = False,
                  upto: int | None = None, watch: bytes | None = None,
                  trusted: dict[str, tuple[str, Any]] | None = None, full: bool = False) -> Verification:
    """Verify the history of the project ``cfg`` against its checkpoint log.

    Bad input (a malformed log, an unreadable or wrong trusted key, no trusted
    keys) raises :class:`~keytrail.errors.InputError`; everything that shows
    tampering is a :class:`Violation` in the result. ``upto`` stops after that
    checkpoint number (for proofs against an older checkpoint). ``trusted``
    (key id -> (file, key)) replaces the project's ``trusted_keys:``: keys an
    auditor pinned outside the repository.

    By default the files are checked against each checkpoint's prefix hashes
    (hashing speed) and the tree is rebuilt from the latest frontier; only when
    something differs, or with ``full`` (and for proofs), is every event hashed
    again and every Merkle root recomputed.
    """
    log_path = require_anchor(cfg)
    if trusted is None:
        trusted = load_trusted(cfg)
    walk = _Walk(cfg, keep_leaves, watch)
    checkpoints = read_log(log_path, walk.log)
    result = Verification(walk.log, checkpoints, signers={k: v[0] for k, v in trusted.items()})
    try:
        if not checkpoints:
            what = "is empty" if log_path.exists() else "does not exist"
            walk.add(walk.log, 0, f"the checkpoint log {what}: keytrail.yaml names it, so the history was "
                     "sealed (or was meant to be); run `keytrail seal` if this is a new project", "log")
        if upto is not None:
            checkpoints = [cp for cp in checkpoints if cp.seq <= upto]
        if watch is not None and checkpoints:
            # The audit paths of watched lines are recorded against the last checkpoint walked.
            walk.tree.prove_size = checkpoints[-1].data["size"]
        before: Checkpoint | None = None
        if not (full or keep_leaves or watch is not None) and checkpoints:
            for cp in checkpoints:
                walk.log_checks(cp, before, trusted)
                before = cp
            if walk.prefixes(checkpoints):
                walk.tree = frontier_tree(checkpoints[-1].data)
            else:
                # Something differs: walk every checkpoint line by line to say where.
                walk.close()
                walk = _Walk(cfg, keep_leaves, watch)
                before = None
        if before is None:
            for cp in checkpoints:
                walk.checkpoint(cp, before, trusted)
                before = cp
        displays = [display_path(p, cfg.root) for p in cfg.history]
        latest = {f["path"] for f in before.files} if before else set()
        for path in sorted(latest - set(displays)):
            if walk.cursor(path).size() is not None:
                walk.add(path, 0, f"checkpoint {before.seq if before else 0} covers this file, but "
                         "keytrail.yaml's `history:` no longer includes it", "missing")
        result.sealed_lines = {p: c.lines for p, c in walk.cursors.items() if not c.diverged}
        if unsealed and upto is None:
            found: list[Unsealed] = []
            for path, display in zip(cfg.history, displays, strict=True):
                cursor = walk.cursors.get(display) or Cursor(path, display)
                if not cursor.diverged:
                    _unsealed_lines(_copy(cursor), display, found)
            result.unsealed = found
    finally:
        walk.close()
    result.violations = sorted(set(walk.violations))
    result.state = walk
    return result


def _copy(cursor: Cursor) -> Cursor:
    """A cursor at the same place, so that reading on does not move the original."""
    twin = Cursor(cursor.path, cursor.display)
    twin.offset, twin.lines, twin.events = cursor.offset, cursor.lines, cursor.events
    twin.hasher = cursor.hasher.copy()
    return twin

