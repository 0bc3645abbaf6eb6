"""Leaves are the event lines as the history reader sees them: no line ending, no byte order
mark, blank lines left out; an unfinished last line waits for the next seal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.integrity.merkle import root
from tests.conftest import write_project
from tests.integrity.conftest import NOW, anchor, public_pem, write_key

A = b'{"id":"ev-1","time":"2026-01-01T00:00:00Z","action":"leave","subject":"user:a"}'
B = b'{"id":"ev-2","time":"2026-01-02T00:00:00Z","action":"leave","subject":"user:b"}'
C = b'{"id":"ev-3","time":"2026-01-03T00:00:00Z","action":"leave","subject":"user:c"}'


def _leaf(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("KEYTRAIL_NOW", NOW)
    root_dir = write_project(tmp_path / "p", history_text="")
    key = write_key(tmp_path / "k.pem")
    public_pem(key, root_dir / "keys" / "auditor.pub")
    anchor(root_dir)
    return root_dir, key


def _seal(root_dir: Path, key: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["seal", str(root_dir), "--signing-key", str(key)]) == 0
    capsys.readouterr()
    return json.loads((root_dir / "checkpoints.jsonl").read_bytes().splitlines()[-1])  # type: ignore[no-any-return]


def test_crlf_bom_and_blank_lines_are_not_part_of_the_leaves(project: tuple[Path, Path],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    root_dir, key = project
    (root_dir / "history" / "h.jsonl").write_bytes(b"\xef\xbb\xbf" + A + b"\r\n\n  \n" + B + b"\r\n" + C + b"\n")
    cp = _seal(root_dir, key, capsys)
    assert cp["size"] == 3 and cp["files"][0]["lines"] == 5 and cp["files"][0]["events"] == 3
    assert cp["root"] == root([_leaf(A), _leaf(B), _leaf(C)]).hex()
    assert main(["verify", str(root_dir)]) == 0


def test_plain_lines_give_the_same_root_as_the_rfc_tree(project: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root_dir, key = project
    (root_dir / "history" / "h.jsonl").write_bytes(A + b"\n" + B + b"\n" + C + b"\n")
    cp = _seal(root_dir, key, capsys)
    assert cp["root"] == root([_leaf(A), _leaf(B), _leaf(C)]).hex()


def test_an_unfinished_last_line_is_left_for_the_next_seal(project: tuple[Path, Path],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root_dir, key = project
    history = root_dir / "history" / "h.jsonl"
    history.write_bytes(A + b"\n" + B)
    assert main(["seal", str(root_dir), "--signing-key", str(key)]) == 0
    err = capsys.readouterr().err
    assert "history/h.jsonl: the last line has no line ending yet; it is left for the next seal" in err
    cp = json.loads((root_dir / "checkpoints.jsonl").read_bytes())
    assert cp["size"] == 1 and cp["files"][0]["bytes"] == len(A) + 1
    history.write_bytes(A + b"\n" + B + b"\n")   # the writer finishes its line
    cp2 = _seal(root_dir, key, capsys)
    assert cp2["size"] == 2 and cp2["root"] == root([_leaf(A), _leaf(B)]).hex()
    assert main(["verify", str(root_dir)]) == 0


def test_large_segments_are_located_to_a_block_of_lines(project: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root_dir, key = project
    lines = [b'{"id":"ev-%d","time":"2026-01-01T00:00:00Z","action":"leave","subject":"user:a"}\n' % i
             for i in range(1, 1001)]
    history = root_dir / "history" / "h.jsonl"
    history.write_bytes(b"".join(lines))
    cp = _seal(root_dir, key, capsys)
    assert cp["files"][0]["block"] == 4 and len(cp["files"][0]["blocks"]) == 250
    lines[501] = lines[501].replace(b"user:a", b"user:z")   # line 502
    history.write_bytes(b"".join(lines))
    assert main(["verify", str(root_dir), "--max-unsealed", "off"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("history/h.jsonl:501: the first difference from what checkpoint 1 "
                          "(checkpoints.jsonl:1) sealed is in lines 501-504")
