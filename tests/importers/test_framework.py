"""The import command's framework: usage errors, mapping, reading records, the summary."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.errors import InputError
from keytrail.importers.base import Context, Field, Mapping, Record, dig, read_records


def test_an_unknown_format_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.json"
    src.write_text("{}")
    assert main(["import", "cloudtrial", str(src), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert 'did you mean "cloudtrail"' in capsys.readouterr().err


def test_a_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "cloudtrail", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_pattern_needs_its_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.json"
    src.write_text("{}")
    assert main(["import", "cloudtrail", str(src), "--out", str(tmp_path / "o"), "--key-pattern", "x"]) == 2
    assert "--key-pattern needs --key-from" in capsys.readouterr().err


def test_a_bad_regex_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.json"
    src.write_text("{}")
    assert main(["import", "cloudtrail", str(src), "--out", str(tmp_path / "o"),
                 "--key-from", "userAgent", "--key-pattern", "("]) == 2
    assert "--key-pattern '('" in capsys.readouterr().err


def test_a_bad_mapping_file_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.json"
    src.write_text("{}")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("key: {from: userAgent}\nticket: {pattern: x}\n")
    assert main(["import", "cloudtrail", str(src), "--out", str(tmp_path / "o"), "--mapping", str(mapping)]) == 2
    assert "map.yaml:2:1: ticket:" in capsys.readouterr().err


def test_fields_dig_and_match() -> None:
    raw = {"userAgent": "aws-cli/2 exec-env/stratus-red-team_abc-123 x", "a": {"b": [{"c": 7}]}}
    assert dig(raw, "a.b.0.c") == 7 and dig(raw, "a.x") is None
    import re

    assert Field("userAgent", re.compile(r"stratus-red-team_([0-9a-f-]+)")).extract(raw) == "abc-123"
    assert Field("userAgent", re.compile("nomatch")).extract(raw) is None
    event: dict = {"ticket": "set by the importer"}
    Mapping(key=Field("a.b.0.c"), ticket=Field("userAgent")).apply(raw, event)
    assert event == {"ticket": "set by the importer", "key": "7"}


def test_records_from_documents_lines_and_gzip(tmp_path: Path) -> None:
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"Records": [{"n": 1}, {"n": 2}]}))
    lines = tmp_path / "lines.jsonl"
    lines.write_text('{"n": 3}\n\n{"n": 4}\n')
    packed = tmp_path / "doc.json.gz"
    packed.write_bytes(gzip.compress(json.dumps([{"n": 5}]).encode()))
    records = list(read_records([doc, lines, packed], records_key="Records"))
    assert [r.data["n"] for r in records] == [1, 2, 3, 4, 5]
    assert [r.where() for r in records] == [f"{doc}[0]", f"{doc}[1]", f"{lines}:1", f"{lines}:3", f"{packed}[0]"]


def test_malformed_json_lines_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\n{"n": \n')
    with pytest.raises(InputError) as caught:
        list(read_records([bad]))
    assert str(caught.value.problems[0]).startswith(f"{bad}:2:")


def test_the_summary_counts_converted_and_skipped_by_kind() -> None:
    ctx = Context("cloudtrail")
    record = Record({}, "f.json", 0, 3)
    for _ in range(3):
        ctx.count("AttachRolePolicy")
    ctx.skip(record, "read-only", "GetUser")
    ctx.skip(record, "read-only", "GetUser")
    ctx.skip(record, "read-only", "ListRoles")
    assert ctx.summary() == ("converted 3: AttachRolePolicy 3\n"
                             "skipped 3 (read-only): GetUser 2, ListRoles 1")
    strict = Context("cloudtrail", strict=True)
    strict.skip(record, "read-only", "GetUser")
    assert "f.json" in str(strict.problems[0]) and "--strict" in str(strict.problems[0])


def test_dig_picks_list_items_by_a_field() -> None:
    """Name/value lists (Google parameters, Entra additionalDetails) are reachable by --key-from."""
    raw = {"events": [{"parameters": [{"name": "GROUP_EMAIL", "value": "g@x"},
                                      {"name": "TICKET", "value": "CHG-9"}]}],
           "additionalDetails": [{"key": "Justification", "value": "on-call"}]}
    assert dig(raw, "events.0.parameters[name=TICKET].value") == "CHG-9"
    assert dig(raw, "additionalDetails[key=Justification].value") == "on-call"
    assert dig(raw, "events.0.parameters[name=NOPE].value") is None
    assert dig(raw, "events[name=x].value") is None  # not a list of mappings with that field
    event: dict = {}
    Mapping(ticket=Field("events.0.parameters[name=TICKET].value")).apply(raw, event)
    assert event == {"ticket": "CHG-9"}
