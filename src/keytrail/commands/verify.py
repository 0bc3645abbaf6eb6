"""``keytrail verify``: check the history against its signed checkpoints, or check one inclusion proof."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from keytrail.commands._args import EXIT_FINDINGS, EXIT_OK, now_us
from keytrail.commands._output import write
from keytrail.errors import UsageError
from keytrail.textsafe import inline, json_inert

#: Unsealed events listed one by one before the rest are counted.
LIST_LIMIT = 50


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("verify", help="verify the history against its signed checkpoints",
                            description="Check every checkpoint's signature against `trusted_keys:`, that "
                            "each checkpoint extends the one before it, and that the history files today "
                            "extend the latest one. Exit 0 verified, 1 violations found, 2 bad input.")
    parser.add_argument("dir", nargs="?", default=".", help="the project folder (holding keytrail.yaml)")
    parser.add_argument("--max-unsealed", default="7d", metavar="DURATION",
                        help="an event newer than the latest checkpoint and dated more than this before "
                             "now is a violation (default 7d; `off` only counts them)")
    parser.add_argument("--format", "-f", choices=("text", "json"), default="text")
    parser.add_argument("--full", action="store_true",
                        help="also hash every event again and recompute every checkpoint's Merkle root "
                             "(slower: by default the files are checked against the signed prefix hashes "
                             "at hashing speed, and events are hashed only to locate a difference)")
    parser.add_argument("--against", metavar="FILE",
                        help="also check that the history extends this checkpoint, kept apart from the "
                             "log (e.g. `tail -n 1 checkpoints.jsonl` saved by CI or a review): catches "
                             "a log cut back together with the history behind it")
    parser.add_argument("--proof", metavar="FILE",
                        help="check an inclusion proof (from `keytrail prove`) instead: needs only the "
                             "proof and the public keys (--trusted-key, or the project's trusted_keys:)")
    parser.add_argument("--trusted-key", action="append", default=[], metavar="FILE",
                        help="trust this public key instead of the project's `trusted_keys:` (a key "
                             "pinned outside the repository; repeatable); with --proof, the key that "
                             "signed the proof's checkpoint")


def run(args: argparse.Namespace) -> int:
    if args.proof:
        return _run_proof(args)
    from keytrail.integrity.verify import verify_config
    from keytrail.project import load_config

    max_age = _max_unsealed(args.max_unsealed)
    cfg = load_config(Path(args.dir))
    pinned = _pinned(args.trusted_key) or None
    result = verify_config(cfg, trusted=pinned, full=args.full)
    if args.against:
        from keytrail.integrity.against import check_extends
        from keytrail.integrity.checkpoint import read_log
        from keytrail.integrity.verify import load_trusted

        saved = read_log(Path(args.against), args.against)
        if len(saved) != 1:
            raise UsageError(f"--against {args.against}: expected one checkpoint line, found {len(saved)}")
        result.violations = sorted(set(result.violations) | set(check_extends(
            cfg, saved[0], pinned or load_trusted(cfg), result, args.against)))
    now = now_us()
    stale = [u for u in (result.unsealed or []) if max_age is not None and (u.time is None or u.time < now - max_age)]
    failed = bool(result.violations or stale)
    if args.format == "json":
        write(json_inert(json.dumps(_json(result, stale, failed), indent=2, ensure_ascii=False)) + "\n", None)
    else:
        write(_text(result, stale, args.max_unsealed), None)
    if failed:
        count = len(result.violations) + len(stale)
        print(f"keytrail: {count} violation{'s' if count != 1 else ''}: the history does not verify",
              file=sys.stderr)
    return EXIT_FINDINGS if failed else EXIT_OK


def _max_unsealed(text: str) -> int | None:
    from keytrail.timeutil import TimeFormatError, parse_duration

    if text == "off":
        return None
    try:
        return parse_duration(text)
    except TimeFormatError as exc:
        raise UsageError(f"--max-unsealed: {exc} (or `off`)") from None


def violation_lines(result: Any) -> str:
    """One line per violation, located."""
    return "".join(inline(str(v)) + "\n" for v in result.violations)


def _ranges(lines: list[int]) -> str:
    out: list[str] = []
    for n in sorted(lines):
        if out and out[-1].rpartition("-")[2].isdigit() and int(out[-1].rpartition("-")[2]) == n - 1:
            out[-1] = f"{out[-1].partition('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def _text(result: Any, stale: list[Any], max_unsealed: str) -> str:
    from keytrail.timeutil import format_time

    out = [violation_lines(result)]
    for u in stale[:LIST_LIMIT]:
        when = format_time(u.time) if u.time is not None else "no readable time"
        name = inline(u.id) if u.id else "the event"
        out.append(f"{u.path}:{u.line}: {name} ({when}) is newer than the latest checkpoint and older "
                   f"than --max-unsealed {max_unsealed}: it was written after the history was sealed, "
                   "or was never sealed\n")
    if len(stale) > LIST_LIMIT:
        out.append(f"... and {len(stale) - LIST_LIMIT} more such events\n")
    cp = result.latest
    count = len(result.checkpoints)
    if cp is not None:
        signer = inline(result.signers.get(cp.data["key_id"], "an untrusted key"))  # names from keytrail.yaml
        out.append(f"{inline(result.log)}: {count} checkpoint{'s' if count != 1 else ''}; the latest (number "
                   f"{cp.seq}, {cp.data['time']}, key {cp.data['key_id']}, {signer}) covers "
                   f"{cp.data['size']} events in {len(cp.files)} files, root {cp.data['root']}\n")
    unsealed = result.unsealed or []
    by_file: dict[str, list[int]] = {}
    for u in unsealed:
        by_file.setdefault(u.path, []).append(u.line)
    where = "; ".join(f"{path}: lines {_ranges(lines)}" if len(lines) > 1 else f"{path}:{lines[0]}"
                      for path, lines in by_file.items())
    n = len(unsealed)
    out.append(f"{n} event{'s are' if n != 1 else ' is'} newer than the latest checkpoint (unsealed)"
               + (f": {where}\n" if n else "\n"))
    if not result.violations and not stale:
        out.append("verified: the history extends every checkpoint\n")
    return "".join(out)


def _json(result: Any, stale: list[Any], failed: bool) -> dict[str, Any]:
    from keytrail.timeutil import format_time

    cp = result.latest
    return {
        "verified": not failed,
        "log": result.log,
        "checkpoints": len(result.checkpoints),
        "latest": None if cp is None else {
            "seq": cp.seq, "time": cp.data["time"], "size": cp.data["size"], "root": cp.data["root"],
            "key_id": cp.data["key_id"], "signer": result.signers.get(cp.data["key_id"])},
        "violations": [{"path": v.path, "line": v.line, "kind": v.kind, "message": v.message}
                       for v in result.violations],
        "unsealed": [{"path": u.path, "line": u.line, "id": u.id, "time": format_time(u.time),
                      "stale": u in stale} for u in (result.unsealed or [])],
    }


def _pinned(names: list[str]) -> dict[str, tuple[str, Any]]:
    """The public keys given with --trusted-key, by key id."""
    from keytrail.integrity.keys import key_id, load_public_key

    trusted: dict[str, tuple[str, Any]] = {}
    for name in names:
        key = load_public_key(Path(name), name)
        trusted.setdefault(key_id(key), (name, key))
    return trusted


def _run_proof(args: argparse.Namespace) -> int:
    from keytrail.integrity.proof import check_proof, load_proof

    trusted = _pinned(args.trusted_key)
    if not trusted:
        from keytrail.integrity.verify import load_trusted
        from keytrail.project import load_config

        cfg = load_config(Path(args.dir)) if (Path(args.dir) / "keytrail.yaml").is_file() else None
        trusted = load_trusted(cfg) if cfg is not None else {}
        if not trusted:
            raise UsageError("--proof needs the signer's public key: give --trusted-key FILE "
                             "(or run it in a project with `trusted_keys:`)")
    proof = load_proof(Path(args.proof), args.proof)
    failures = check_proof(proof, args.proof, trusted)
    event = proof["event"]
    cp = proof["checkpoint"]
    if failures:
        write("".join(f"{args.proof}: {inline(f)}\n" for f in failures), None)
        print("keytrail: the proof does not hold", file=sys.stderr)
        return EXIT_FINDINGS
    write(f"verified: event {inline(event['id'])} is entry {proof['index']} of the {cp['size']} events "
          f"sealed by checkpoint {cp['seq']} ({cp['time']}, root {cp['root']}, signed by key "
          f"{cp['key_id']}, {trusted[cp['key_id']][0]})\n"
          f"  {inline(proof['leaf'])}\n", None)
    return EXIT_OK
