"""The JSON-lines reader of the snapshot and usage files: blocks parsed at once where that
stands for line by line, exactly line by line elsewhere, the same values and problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keytrail import history, jsonlines
from keytrail.errors import Problem


def read(path: Path) -> tuple[list[tuple[int, Any]], list[Problem]]:
    problems: list[Problem] = []
    values = list(jsonlines.json_lines(path, "s.jsonl", problems))
    return values, problems


def line_by_line(path: Path) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """The reference: every line through the exact path."""
    problems: list[Problem] = []
    values = list(jsonlines._exact_lines(history.iter_lines(path, "s.jsonl"), "s.jsonl", problems))
    return values, problems


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Blocks of a few lines, and a record of which blocks were parsed at once."""
    monkeypatch.setattr(jsonlines, "_BLOCK", 64)
    bulk = jsonlines._bulk
    seen: list[bool] = []

    def spy(data: bytes) -> Any:
        found = bulk(data)
        seen.append(found is not None)
        return found

    monkeypatch.setattr(jsonlines, "_bulk", spy)
    return seen


def entry(n: int) -> str:
    return json.dumps({"subject": f"user:u{n}", "target": "role:r", "resource": "aws:1"}, separators=(",", ":"))


def test_plain_lines_are_parsed_in_blocks_with_their_line_numbers(tmp_path: Path, small_blocks: list[bool]) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(entry(n) + "\n" for n in range(40)), encoding="utf-8")
    values, problems = read(path)
    assert (values, problems) == line_by_line(path)
    assert [line for line, _ in values] == list(range(1, 41))
    assert values[39][1]["subject"] == "user:u39"
    assert len(small_blocks) > 5 and all(small_blocks)


def test_a_last_line_without_its_line_break_and_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (entry(1) + "\n" + entry(2)).encode())
    values, problems = read(path)
    assert (values, problems) == line_by_line(path)
    assert [line for line, _ in values] == [1, 2] and not problems


@pytest.mark.parametrize("text", [
    "{a}\n" + entry(2) + "\n",                                             # not JSON
    entry(1) + "\n\n   \n" + entry(2) + "\n",                             # blank lines
    entry(1) + "\r\n" + entry(2) + "\r\n",                                # Windows line breaks
    entry(1) + entry(2) + "\n" + entry(3) + "\n",                         # two objects on a line
    entry(1) + "," + entry(2) + "\n" + entry(3) + "\n",                   # two values on a line
    '{"subject":"user:a","subject":"user:b","target":"role:r"}\n',         # a key twice
    # a key twice, its extra colon made up for by a spaced colon on the next line
    '{"subject":"user:a","subject":"user:b","target":"role:r"}\n{"subject" :"user:c","target":"role:r"}\n',
    '{"subject":"user:a","target":"role:r","meta":{"k":1,"k":2}}\n',       # a nested key twice
    '[1, 2]\n"text"\n' + entry(3) + "\n",                                 # not objects
    entry(1) + "\n" + json.dumps({"subject": "user:x", "target": "role:r", "reason": "y" * (1 << 20)}) + "\n",
    '{"subject":"user:a","target":"role:r","n":123456789012345678901234567890}\n',
], ids=["not-json", "blank-lines", "crlf", "two-objects", "two-values", "repeated-key",
        "repeated-key-hidden-by-spacing", "nested-repeated-key", "not-objects", "long-line", "huge-number"])
def test_odd_files_give_what_line_by_line_gives(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(text, encoding="utf-8")
    assert read(path) == line_by_line(path)


def test_a_repeated_key_hidden_by_spacing_is_still_reported(tmp_path: Path) -> None:
    """The block's colon count equals its keys, but only because a spaced colon on another
    line hides the extra one: the spacing sends the block line by line, which finds it."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"subject":"user:a","subject":"user:b","target":"role:r"}\n'
                    '{"subject" :"user:c","target":"role:r"}\n', encoding="utf-8")
    values, problems = read(path)
    assert [line for line, _ in values] == [2]
    assert [(p.line, p.path) for p in problems] == [(1, "subject")]


def test_a_bad_block_is_read_line_by_line_and_the_others_in_bulk(tmp_path: Path, small_blocks: list[bool]) -> None:
    lines = [entry(n) for n in range(30)]
    lines[17] = '{"subject":"user:a",}'
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    values, problems = read(path)
    assert (values, problems) == line_by_line(path)
    assert [p.line for p in problems] == [18]
    assert small_blocks.count(False) == 1 and small_blocks.count(True) >= 5


def test_a_line_longer_than_a_block_is_read_whole(tmp_path: Path, small_blocks: list[bool]) -> None:
    long = json.dumps({"subject": "user:a", "target": "role:r", "note": "n" * 500})
    path = tmp_path / "s.jsonl"
    path.write_text(entry(1) + "\n" + long + "\n" + entry(3) + "\n", encoding="utf-8")
    values, problems = read(path)
    assert (values, problems) == line_by_line(path)
    assert [line for line, _ in values] == [1, 2, 3]
