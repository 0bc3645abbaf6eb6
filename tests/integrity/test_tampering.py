"""A sealed copy of examples/acme, tampered with the way an attacker would: `verify` exits 1
naming the place, and `check` reports an unexplained.broken-chain finding there.

The attacks are the ones the `prev` chain alone misses (issue 11), and a few more.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import report_of
from tests.integrity.conftest import Sealed, anchor, public_pem, write_key

H2 = "2026-H2.jsonl"
_PREV = re.compile(rb'"prev":"sha256:[0-9a-f]{64}"')


def _hash(line: bytes) -> bytes:
    return b"sha256:" + hashlib.sha256(line.rstrip(b"\r\n")).hexdigest().encode()


def _rechain(lines: list[bytes], start: int) -> list[bytes]:
    """Recompute every `prev` from line index ``start`` on, as a careful tamperer would."""
    out = list(lines)
    for i in range(max(start, 1), len(out)):
        out[i] = _PREV.sub(b'"prev":"' + _hash(out[i - 1]) + b'"', out[i])
    return out


def _event(ident: str, time: str, prev: bytes | None = None) -> bytes:
    event = {"id": ident, "time": time, "action": "grant", "subject": "user:eve.intruder",
             "target": "role:prod-admin", "resource": "aws:123456789012", "actor": "svc:access-bot",
             "key": "pk-2025-0003", "approver": "user:nina.petrova", "ticket": "ACC-9999",
             "reason": "forged"}
    if prev is not None:
        event["prev"] = prev.decode()
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def edit_first_line(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    lines[0] = lines[0].replace(b"Promotion", b"Promotion to admin")
    s.write_lines(H2, lines)
    return f"history/{H2}", 1


def edit_last_line(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    lines[-1] = lines[-1].replace(b'"time":"2026-', b'"time":"2025-')
    s.write_lines(H2, lines)
    return f"history/{H2}", len(lines)


def delete_last_lines(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    s.write_lines(H2, lines[:-2])
    return f"history/{H2}", len(lines) - 1


def truncate_mid_line(s: Sealed) -> tuple[str, int]:
    data = s.history(H2).read_bytes()
    s.history(H2).write_bytes(data[:-40])
    return f"history/{H2}", len(data.splitlines())


def append_forged_event(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    lines.append(_event("ev-009999", "2026-09-01T10:00:00Z", _hash(lines[-1])))
    s.write_lines(H2, lines)
    return f"history/{H2}", len(lines)


def edit_and_rechain(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    lines[9] = lines[9].replace(b'"subject":"user:', b'"subject":"user:x', 1)
    s.write_lines(H2, _rechain(lines, 10))
    return f"history/{H2}", 10


def remove_every_prev(s: Sealed) -> tuple[str, int]:
    lines = [_PREV.sub(b"", line).replace(b",}", b"}") for line in s.lines(H2)]
    s.write_lines(H2, lines)
    return f"history/{H2}", 2  # line 1 of the file never carried `prev`


def prepend_unchained_line(s: Sealed) -> tuple[str, int]:
    lines = s.lines(H2)
    s.write_lines(H2, [_event("ev-000299", "2026-06-30T10:00:00Z"), *lines])
    return f"history/{H2}", 1


def add_history_file(s: Sealed) -> tuple[str, int]:
    s.history("2026-H0.jsonl").write_bytes(_event("ev-000190", "2026-03-01T10:00:00Z"))
    return "history/2026-H0.jsonl", 1


def delete_history_file(s: Sealed) -> tuple[str, int]:
    s.history("2025-H2.jsonl").unlink()
    return "history/2025-H2.jsonl", 0


def swap_two_lines(s: Sealed) -> tuple[str, int]:
    lines = s.lines("2025-H2.jsonl")
    lines[4], lines[5] = lines[5], lines[4]
    s.write_lines("2025-H2.jsonl", lines)
    return "history/2025-H2.jsonl", 5


def change_a_line_ending(s: Sealed) -> tuple[str, int]:
    lines = s.lines("2025-H2.jsonl")
    lines[6] = lines[6].replace(b"\n", b"\r\n")
    s.write_lines("2025-H2.jsonl", lines)
    return "history/2025-H2.jsonl", 7


def leave_a_file_out_of_the_history(s: Sealed) -> tuple[str, int]:
    config = s.root / "keytrail.yaml"
    config.write_text(config.read_text().replace("history: [history/*.jsonl]", "history: [history/2026-*.jsonl]"))
    return "history/2025-H2.jsonl", 0


def edit_the_checkpoint(s: Sealed) -> tuple[str, int]:
    log = s.root / "checkpoints.jsonl"
    record = json.loads(log.read_bytes())
    record["root"] = record["root"][::-1]  # still a well-formed checkpoint, no longer the signed one
    log.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    return "checkpoints.jsonl", 1


def delete_the_checkpoint_log(s: Sealed) -> tuple[str, int]:
    (s.root / "checkpoints.jsonl").unlink()
    return "checkpoints.jsonl", 0


ATTACKS: list[Callable[[Sealed], tuple[str, int]]] = [
    edit_first_line, edit_last_line, delete_last_lines, truncate_mid_line, append_forged_event,
    edit_and_rechain, remove_every_prev, prepend_unchained_line, add_history_file, delete_history_file,
    swap_two_lines, change_a_line_ending, leave_a_file_out_of_the_history, edit_the_checkpoint,
    delete_the_checkpoint_log,
]


def _verify(capsys: pytest.CaptureFixture[str], root: Path, *more: str) -> tuple[int, str, str]:
    code = main(["verify", str(root), *more])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _anchor_findings(root: Path) -> list[tuple[str, int]]:
    report = report_of(root)
    return [(r.finding.location.path, r.finding.location.line) for r in report.findings
            if r.check == "unexplained.broken-chain" and r.finding.location is not None
            and r.finding.ident[:1] in (("checkpoint",), ("unsealed",))]


def test_an_untouched_sealed_copy_verifies(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, sealed.root)
    assert code == 0, out
    assert "0 events are newer than the latest checkpoint (unsealed)" in out
    assert "verified: the history extends every checkpoint" in out
    assert _anchor_findings(sealed.root) == []


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
def test_tampering_fails_verify_at_its_place_and_check_reports_it(
        attack: Callable[[Sealed], tuple[str, int]], sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    path, line = attack(sealed)
    code, out, err = _verify(capsys, sealed.root)
    assert code == 1, out + err
    place = f"{path}:{line}:" if line else f"{path}:"
    assert any(row.startswith(place) for row in out.splitlines()), f"{place!r} not in:\n{out}"
    if attack is truncate_mid_line:
        # A line cut in half is not JSON: `check` stops with a located error (exit 2), before any finding.
        from keytrail.errors import InputError

        with pytest.raises(InputError) as caught:
            report_of(sealed.root)
        assert str(caught.value).startswith(f"{path}:{line}:")
        return
    assert (path, line) in _anchor_findings(sealed.root)


def test_appending_keyed_events_then_sealing_again_verifies(sealed: Sealed,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines(H2)
    lines.append(_event("ev-000500", "2026-11-30T10:00:00Z", _hash(lines[-1])))
    sealed.write_lines(H2, lines)
    sealed.history("2026-H3.jsonl").write_bytes(_event("ev-000501", "2026-11-30T11:00:00Z"))
    code, out, _ = _verify(capsys, sealed.root)
    assert code == 0, out  # dated within --max-unsealed of now: counted, not failed
    assert f"2 events are newer than the latest checkpoint (unsealed): history/{H2}:70; history/2026-H3.jsonl:1" in out
    assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    assert "sealed checkpoint 2 in checkpoints.jsonl: 373 events (2 new) in 4 files" in capsys.readouterr().out
    code, out, _ = _verify(capsys, sealed.root)
    assert code == 0, out
    assert "2 checkpoints" in out and "0 events are newer" in out
    # The second seal extended the tree from the first one's frontier; recomputing it agrees.
    assert _verify(capsys, sealed.root, "--full")[0] == 0


def test_an_event_appended_after_a_seal_is_only_counted_while_recent(
        sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines(H2)
    lines.append(_event("ev-000500", "2026-11-20T10:00:00Z", _hash(lines[-1])))
    sealed.write_lines(H2, lines)
    assert _verify(capsys, sealed.root)[0] == 1                            # 11 days old, limit 7d
    assert _verify(capsys, sealed.root, "--max-unsealed", "30d")[0] == 0   # near miss: within 30d
    assert _verify(capsys, sealed.root, "--max-unsealed", "off")[0] == 0


def test_a_removed_middle_checkpoint_is_located(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    for n in (2, 3):
        lines = sealed.lines(H2)
        lines.append(_event(f"ev-00050{n}", "2026-11-30T10:00:00Z", _hash(lines[-1])))
        sealed.write_lines(H2, lines)
        assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    log = sealed.root / "checkpoints.jsonl"
    rows = log.read_bytes().splitlines(keepends=True)
    assert _verify(capsys, sealed.root)[0] == 0
    log.write_bytes(rows[0] + rows[2])
    code, out, _ = _verify(capsys, sealed.root)
    assert code == 1
    assert "checkpoints.jsonl:2: checkpoint number 3 where 2 was expected" in out
    assert "checkpoints.jsonl:2: `prev` is not the hash of the checkpoint line before it" in out


def test_a_history_resealed_with_another_key_fails_against_a_pinned_key(
        sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The tamperer rewrites a line, adds their own key to trusted_keys and seals afresh.
    lines = sealed.lines("2025-H2.jsonl")
    lines[2] = lines[2].replace(b"Baseline", b"Rewritten")
    sealed.write_lines("2025-H2.jsonl", lines)
    (sealed.root / "checkpoints.jsonl").unlink()
    rogue = write_key(tmp_path / "rogue.pem")
    public_pem(rogue, sealed.root / "keys" / "rogue.pub")
    config = sealed.root / "keytrail.yaml"
    config.write_text(config.read_text().replace("[keys/auditor.pub]", "[keys/rogue.pub]"))
    assert main(["seal", str(sealed.root), "--signing-key", str(rogue)]) == 0
    capsys.readouterr()
    # The project's own keys now vouch for the rewrite; the auditor's pinned key does not.
    assert _verify(capsys, sealed.root)[0] == 0
    pinned = tmp_path / "auditor.pub"
    pinned.write_bytes(sealed.public.read_bytes())
    code, out, _ = _verify(capsys, sealed.root, "--trusted-key", str(pinned))
    assert code == 1
    assert "checkpoints.jsonl:1: signed by key" in out and "not among the trusted keys" in out


def test_seal_refuses_a_history_that_fails_verification(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    log = sealed.root / "checkpoints.jsonl"
    before = log.read_bytes()
    edit_first_line(sealed)
    code = main(["seal", str(sealed.root), "--signing-key", str(sealed.key)])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"history/{H2}:1: line 1 differs" in out and "nothing was sealed" in err
    assert log.read_bytes() == before


def test_check_without_a_checkpoint_log_configured_reports_no_anchor_finding(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import REPO

    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    assert _anchor_findings(root) == []


def test_anchor_config_without_a_log_yet_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import REPO

    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    public_pem(write_key(tmp_path / "k.pem"), root / "keys" / "auditor.pub")
    anchor(root)
    assert ("checkpoints.jsonl", 0) in _anchor_findings(root)


def test_a_log_cut_back_with_the_history_is_caught_against_a_saved_checkpoint(
        sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = sealed.root / "checkpoints.jsonl"
    original = sealed.history(H2).read_bytes()
    first_log = log.read_bytes()
    lines = sealed.lines(H2)
    lines.append(_event("ev-000500", "2026-11-30T10:00:00Z", _hash(lines[-1])))
    sealed.write_lines(H2, lines)
    assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    saved = tmp_path / "saved-checkpoint.jsonl"
    saved.write_bytes(log.read_bytes().splitlines(keepends=True)[-1])
    capsys.readouterr()
    assert _verify(capsys, sealed.root, "--against", str(saved))[0] == 0   # near miss: untouched
    # The tamperer removes the last event and the checkpoint that covered it: consistent again.
    sealed.history(H2).write_bytes(original)
    log.write_bytes(first_log)
    assert _verify(capsys, sealed.root)[0] == 0
    code, out, _ = _verify(capsys, sealed.root, "--against", str(saved))
    assert code == 1
    assert f"checkpoints.jsonl: checkpoint 2 ({saved}) is not in the log" in out
    assert f"history/{H2}: no longer begins with the 70 lines checkpoint 2 ({saved}) covered" in out


def test_verify_json_names_every_violation(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    edit_last_line(sealed)
    code, out, _ = _verify(capsys, sealed.root, "--format", "json")
    result = json.loads(out)
    assert code == 1 and result["verified"] is False
    assert result["violations"] == [{"path": f"history/{H2}", "line": 69, "kind": "changed", "message":
                                     "line 69 differs from what checkpoint 1 (checkpoints.jsonl:1) sealed: it "
                                     "was changed, or lines were inserted or removed before it"}]
    assert result["latest"]["seq"] == 1 and result["latest"]["signer"] == "keys/auditor.pub"


def test_verify_full_recomputes_a_root_the_signer_got_wrong(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives import serialization

    from keytrail.integrity.checkpoint import encode, signed_bytes
    from keytrail.integrity.keys import sign
    from keytrail.integrity.merkle import Accumulator

    log = sealed.root / "checkpoints.jsonl"
    record = json.loads(log.read_bytes())
    # A checkpoint signed by the trusted key whose tree is not the tree of the events it covers.
    record["frontier"] = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(len(record["frontier"]))]
    record["root"] = Accumulator.from_frontier(record["size"], [bytes.fromhex(h) for h in record["frontier"]]).root().hex()
    private = serialization.load_pem_private_key(sealed.key.read_bytes(), None)
    record["signature"] = sign(private, signed_bytes(record))
    log.write_bytes(encode(record) + b"\n")
    assert _verify(capsys, sealed.root)[0] == 0        # the files are exactly what was signed
    code, out, _ = _verify(capsys, sealed.root, "--full")
    assert code == 1
    assert "checkpoints.jsonl:1: the Merkle root of the 371 events it covers is" in out
