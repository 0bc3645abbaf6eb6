"""Reviews attest what they read (issue 11, item 4): the checkpoint verified, the hash of every
input, and with --previous that today's history extends the previous review's checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.project import packaged_pack
from tests.conftest import REPO
from tests.integrity.conftest import Sealed, write_key

ACME = REPO / "examples" / "acme"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def review(capsys: pytest.CaptureFixture[str], root: Path, out: Path, period: str = "2026-Q3",
           *more: str) -> tuple[int, str]:
    code, _, err = run(capsys, "review", str(root), "--period", period, "--out", str(out), *more)
    return code, err


def attestation(pack: Path) -> dict:
    return json.loads((pack / "pack.json").read_text(encoding="utf-8"))["attestation"]


def rewrite_and_reseal(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    """What someone holding the signing key does to hide an edit: change a line, start the log
    again, seal. The history verifies against its (new) log."""
    lines = sealed.lines("2026-H1.jsonl")
    lines[4] = lines[4].replace(b'"ticket":"', b'"ticket":"X', 1)
    sealed.write_lines("2026-H1.jsonl", lines)
    (sealed.root / "checkpoints.jsonl").unlink()
    assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    assert main(["verify", str(sealed.root), "--max-unsealed", "off"]) == 0
    capsys.readouterr()


# -- what the pack records -----------------------------------------------------------------------

def test_a_sealed_review_records_the_checkpoint_it_verified(sealed: Sealed, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, err = review(capsys, sealed.root, tmp_path / "q3")
    assert code == 0, err
    att = attestation(tmp_path / "q3")
    assert att["verified"] is True
    history = att["history"]
    line = (sealed.root / "checkpoints.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    assert history["status"] == "verified" and history["log"] == "checkpoints.jsonl"
    assert history["checkpoint"]["line"] == line
    saved = json.loads(line)
    for name in ("seq", "time", "root", "size", "key_id"):
        assert history["checkpoint"][name] == saved[name]
    assert history["checkpoint"]["signer"] == "keys/auditor.pub"
    assert history["unsealed_events"] == 0
    summary = (tmp_path / "q3" / "summary.md").read_text(encoding="utf-8")
    assert f"verifies against checkpoint 1 of checkpoints.jsonl ({saved['time']}): {saved['size']} events, " \
           f"root {saved['root']}" in summary
    page = (tmp_path / "q3" / "index.html").read_text(encoding="utf-8")
    assert page.index('id="attestation"') < page.index("<h2>Summary</h2>")  # the first screen
    assert "Evidence NOT verified" not in page


def test_the_pack_hashes_every_input_it_read(sealed: Sealed, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    inputs = {i["path"]: i["sha256"] for i in attestation(tmp_path / "q3")["inputs"]}
    expected = ["keytrail.yaml", "directory.yaml", "keys.yaml", "history/2025-H2.jsonl", "history/2026-H1.jsonl",
                "history/2026-H2.jsonl", "snapshot.jsonl", "usage/aws-last-accessed.jsonl",
                "usage/zendesk-sign-ins.jsonl", "keytrail:default", "policies/acme.yaml",
                "checkpoints.jsonl", "keys/auditor.pub"]
    assert sorted(inputs) == sorted(expected)
    for name in expected:
        path = packaged_pack("default") if name == "keytrail:default" else sealed.root / name
        assert path is not None
        assert inputs[name] == hashlib.sha256(path.read_bytes()).hexdigest(), name


def test_an_unanchored_review_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, ACME, tmp_path / "q3")[0] == 0
    att = attestation(tmp_path / "q3")
    assert att["history"]["status"] == "no checkpoints configured" and att["history"]["checkpoint"] is None
    assert att["verified"] is True
    assert "The history is not anchored" in (tmp_path / "q3" / "summary.md").read_text(encoding="utf-8")


def test_the_attestation_is_deterministic(sealed: Sealed, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "a")[0] == 0
    assert review(capsys, sealed.root, tmp_path / "elsewhere" / "b")[0] == 0
    for name in ("pack.json", "index.html", "summary.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "elsewhere" / "b" / name).read_bytes()


def test_unsealed_events_are_counted(sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines("2026-H2.jsonl")
    extra = lines[-1].replace(b'"id":"', b'"id":"x', 1)
    sealed.write_lines("2026-H2.jsonl", [*lines, extra])
    code, err = review(capsys, sealed.root, tmp_path / "q3")
    assert attestation(tmp_path / "q3")["history"]["unsealed_events"] == 1
    assert "1 event read by this review is newer than that checkpoint (unsealed)" in \
        (tmp_path / "q3" / "summary.md").read_text(encoding="utf-8")


# -- a history that fails verification today ---------------------------------------------------------

def test_a_review_of_a_history_that_fails_verification_fails(sealed: Sealed, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    lines = sealed.lines("2026-H1.jsonl")
    lines[4] = lines[4].replace(b'"ticket":"', b'"ticket":"X', 1)
    sealed.write_lines("2026-H1.jsonl", lines)
    code, err = review(capsys, sealed.root, tmp_path / "q3")
    assert code == 1
    assert "history/2026-H1.jsonl:5: line 5 differs from what checkpoint 1" in err
    assert "the evidence is NOT verified" in err
    att = attestation(tmp_path / "q3")
    assert att["verified"] is False and att["history"]["status"] == "violations"
    assert att["history"]["violations"][0].startswith("history/2026-H1.jsonl:5: line 5 differs")
    page = (tmp_path / "q3" / "index.html").read_text(encoding="utf-8")
    assert page.index("Evidence NOT verified") < page.index("<h2>Summary</h2>")
    summary = (tmp_path / "q3" / "summary.md").read_text(encoding="utf-8")
    assert summary.index("**Evidence NOT verified.**") < summary.index("active direct grant")


# -- --previous: the history between two reviews ------------------------------------------------------

def test_a_history_rewritten_between_two_reviews_is_caught(sealed: Sealed, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    rewrite_and_reseal(sealed, capsys)
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 1
    assert "checkpoint 1 (the previous review's pack.json) is not in the log" in err
    assert "history/2026-H1.jsonl: no longer begins with the 111 lines checkpoint 1" in err
    att = attestation(tmp_path / "q4")
    assert att["verified"] is False
    assert att["history"]["status"] == "verified"  # the new log alone does not show it
    assert att["previous"]["period"] == "2026-Q3"
    assert att["previous"]["status"] == "the history was rewritten since the previous review"
    assert att["previous"]["pack_sha256"] == hashlib.sha256((tmp_path / "q3" / "pack.json").read_bytes()).hexdigest()
    page = (tmp_path / "q4" / "index.html").read_text(encoding="utf-8")
    top = page[:page.index("<h2>Summary</h2>")]
    assert "Evidence NOT verified" in top and "no longer begins with the 111 lines" in top
    summary = (tmp_path / "q4" / "summary.md").read_text(encoding="utf-8")
    assert "Previous review (2026-Q3): the history was rewritten since the previous review." in summary
    # The reason comes first; the new log verifying on its own is said to be no comfort.
    assert summary.index("the history was rewritten") < summary.index("Its own checkpoint log alone cannot show that")


def test_a_history_that_grew_between_two_reviews_passes(sealed: Sealed, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: events appended and sealed between the reviews extend the old checkpoint.
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    lines = sealed.lines("2026-H2.jsonl")
    sealed.write_lines("2026-H2.jsonl", [*lines, lines[-1].replace(b'"id":"', b'"id":"x', 1)])
    assert main(["seal", str(sealed.root), "--signing-key", str(sealed.key)]) == 0
    capsys.readouterr()
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 0, err
    att = attestation(tmp_path / "q4")
    assert att["verified"] is True and att["history"]["checkpoint"]["seq"] == 2
    assert att["previous"]["status"] == "the history extends checkpoint 1, which the previous review read"
    assert att["previous"]["checkpoint"]["seq"] == 1 and att["previous"]["violations"] == []
    # A sealed pack, and one compared with a previous review, are described by `keytrail schema pack`.
    from jsonschema import Draft202012Validator

    from keytrail.schemas import load_schema

    validator = Draft202012Validator(load_schema("pack"))
    for pack in ("q3", "q4"):
        data = json.loads((tmp_path / pack / "pack.json").read_text(encoding="utf-8"))
        assert list(validator.iter_errors(data)) == [], pack


def test_an_untouched_history_passes(sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 0, err
    assert attestation(tmp_path / "q4")["previous"]["violations"] == []


def test_an_edited_previous_checkpoint_does_not_vouch(sealed: Sealed, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    manifest = tmp_path / "q3" / "pack.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    line = json.loads(data["attestation"]["history"]["checkpoint"]["line"])
    line["root"] = "0" * 64
    data["attestation"]["history"]["checkpoint"]["line"] = json.dumps(line, separators=(",", ":"))
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 1
    assert "checkpoint 1 is not signed by a trusted key: it cannot vouch for anything" in err


def test_a_malformed_previous_checkpoint_is_a_located_error(sealed: Sealed, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    manifest = tmp_path / "q3" / "pack.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["attestation"]["history"]["checkpoint"]["line"] = '{"format":"keytrail.checkpoint/1"}'
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 2
    assert f"{manifest}" in err and "attestation.history.checkpoint.line" in err
    assert not (tmp_path / "q4").exists()


def test_removing_the_anchoring_between_reviews_is_caught(sealed: Sealed, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    config = sealed.root / "keytrail.yaml"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if not line.startswith(("checkpoints:", "trusted_keys:"))))
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "q3" / "findings.json"))
    assert code == 1
    assert "names no checkpoint log (`checkpoints:`), but the previous review read checkpoint 1" in err


def test_a_previous_findings_file_without_a_pack_is_not_compared(sealed: Sealed, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(sealed.root), "--format", "json", "--as-of", "2026-09-30T23:59:59Z",
                       "--fail-on", "critical")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "findings.json").write_text(out, encoding="utf-8")
    code, err = review(capsys, sealed.root, tmp_path / "q4", "2026-Q4", "--previous",
                       str(tmp_path / "old" / "findings.json"))
    assert code == 0, err
    previous = attestation(tmp_path / "q4")["previous"]
    assert previous["status"].startswith("not compared: there is no pack.json beside the previous findings.json")
    assert "not compared" in (tmp_path / "q4" / "summary.md").read_text(encoding="utf-8")


def test_a_file_changed_while_the_review_read_it_is_refused(tmp_path: Path) -> None:
    from keytrail.errors import UsageError
    from keytrail.review.attest import check_unchanged, stat_inputs

    a = tmp_path / "a.jsonl"
    a.write_text("one\n")
    before = stat_inputs([a])
    check_unchanged(before, [a], tmp_path)  # near miss: untouched
    a.write_text("one\ntwo\n")
    os.utime(a, ns=(1, 1))
    with pytest.raises(UsageError, match="a.jsonl changed while the review read it"):
        check_unchanged(before, [a], tmp_path)


def test_a_wrong_key_type_for_trusted_keys_is_a_located_error(sealed: Sealed, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # A private key where the public key belongs: bad input, and the key never printed.
    secret = write_key(tmp_path / "other.pem")
    (sealed.root / "keys" / "auditor.pub").write_bytes(secret.read_bytes())
    code, err = review(capsys, sealed.root, tmp_path / "q3")
    assert code == 2
    assert "keys/auditor.pub" in err
    body = b"".join(secret.read_bytes().splitlines()[1:-1]).decode()
    assert body[:20] not in err


def test_the_packs_checkpoint_line_works_with_verify_against(sealed: Sealed, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert review(capsys, sealed.root, tmp_path / "q3")[0] == 0
    saved = tmp_path / "q3-checkpoint.jsonl"
    saved.write_text(attestation(tmp_path / "q3")["history"]["checkpoint"]["line"] + "\n", encoding="utf-8")
    argv = ["verify", str(sealed.root), "--against", str(saved), "--trusted-key", str(sealed.public),
            "--max-unsealed", "off"]
    assert main(argv) == 0  # near miss: the same history
    rewrite_and_reseal(sealed, capsys)
    assert main(argv) == 1
    assert "no longer begins with the 111 lines" in capsys.readouterr().out


def test_file_names_from_keytrail_yaml_are_inert_in_seal_verify_and_review(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from tests.integrity.conftest import NOW, anchor, public_pem

    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    hidden = "\u202e"
    root = tmp_path / "acme"
    shutil.copytree(ACME, root)
    key = write_key(tmp_path / "signing.pem")
    public_pem(key, root / "keys" / f"a{hidden}b.pub")
    anchor(root, f"keys/a{hidden}b.pub")
    for argv in (["seal", str(root), "--signing-key", str(key)], ["verify", str(root)],
                 ["verify", str(root), "--format", "json"]):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert hidden not in out + err, argv
        assert "a\\u202eb.pub" in out, argv
    assert review(capsys, root, tmp_path / "q3")[0] == 0
    for name in ("index.html", "summary.md", "pack.json"):
        text = (tmp_path / "q3" / name).read_text(encoding="utf-8")
        assert hidden not in text and "u202eb.pub" in text, name


def _malformed_log(sealed: Sealed, tmp_path: Path) -> None:
    (sealed.root / "checkpoints.jsonl").write_text('{"format": "keytrail.checkpoint/1"\n')


def _missing_trusted_key(sealed: Sealed, tmp_path: Path) -> None:
    sealed.public.unlink()


def _unknown_signer(sealed: Sealed, tmp_path: Path) -> None:
    from tests.integrity.conftest import public_pem

    public_pem(write_key(tmp_path / "other.pem"), sealed.public)


def _bad_signature(sealed: Sealed, tmp_path: Path) -> None:
    log = sealed.root / "checkpoints.jsonl"
    log.write_text(log.read_text().replace('"time":"2026-12-01T00:00:00Z"', '"time":"2026-12-01T00:00:01Z"'))


@pytest.mark.parametrize(("spoil", "code", "says"), [
    (_malformed_log, 2, "checkpoints.jsonl:1"),
    (_missing_trusted_key, 2, "key file not found"),
    (_unknown_signer, 1, "which is not among the trusted keys"),
    (_bad_signature, 1, "bad signature: the checkpoint is not what key"),
])
def test_a_broken_anchor_is_a_located_error_or_a_failed_review(
        sealed: Sealed, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil: object, code: int,
        says: str) -> None:
    spoil(sealed, tmp_path)  # type: ignore[operator]
    got, err = review(capsys, sealed.root, tmp_path / "q3")
    assert got == code
    assert says in err
    assert (tmp_path / "q3").exists() == (code == 1)  # 1: the pack is written, marked NOT verified
