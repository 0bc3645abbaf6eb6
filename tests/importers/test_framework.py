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


def test_json_lines_stream_with_true_line_numbers_and_documents_per_line(tmp_path: Path) -> None:
    lines = tmp_path / "lines.jsonl"
    # a BOM, blank lines before, between and after; a line holding a whole CloudTrail document
    lines.write_bytes(b'\xef\xbb\xbf\n\n{"n": 1}\n\n\n{"Records": [{"n": 2}, {"n": 3}]}\n{"n": 4}\n\n')
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"Records": [{"n": 5}, {"n": 6}]}, indent=2))
    one = tmp_path / "one.json"
    one.write_text('\n  {"n": 7}\n\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    records = list(read_records([lines, pretty, one, empty], records_key="Records"))
    assert [r.data["n"] for r in records] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.where() for r in records] == [
        f"{lines}:3", f"{lines}:6[0]", f"{lines}:6[1]", f"{lines}:7", f"{pretty}[0]", f"{pretty}[1]", f"{one}[0]"]
    ctx = Context("cloudtrail")
    assert ctx.source(records[2]) == {"format": "cloudtrail", "file": str(lines), "line": 6, "item": 1}


def test_a_bad_line_after_good_ones_is_located_by_its_true_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\n\n{"n": 2}\n{"n": \n\n{oops}\n')
    with pytest.raises(InputError) as caught:
        list(read_records([bad]))
    assert [(p.line, p.message.split(":")[0]) for p in caught.value.problems] == [
        (4, "invalid JSON"), (6, "invalid JSON")]


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
    strict.skip(record, "read-only", "GetUser")  # not an access change: never an error
    assert not strict.problems and strict.skipped == {"read-only": {"GetUser": 1}}
    strict.unconverted(record, "policy content change", "CreatePolicyVersion")
    assert [str(p) for p in strict.problems] == [
        "f.json[3]: an access change not converted (policy content change: CreatePolicyVersion), and --strict is on"]


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


def _okta_event(n: int, **extra: object) -> dict:
    event = {"uuid": f"u{n}", "eventType": "group.user_membership.add", "published": "2026-03-01T10:00:00Z",
             "actor": {"type": "User", "alternateId": "admin@example.com"},
             "target": [{"type": "User", "alternateId": f"user{n}@example.com"},
                        {"type": "UserGroup", "displayName": "Ops"}]}
    event.update(extra)
    return event


def test_incomplete_records_are_listed_up_to_twenty_and_all_counted(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "okta.jsonl"
    records = [_okta_event(0)] + [_okta_event(n, published=None) for n in range(1, 26)]
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "converted 1: group.user_membership.add 1" in err
    assert "skipped 25 (incomplete): group.user_membership.add 25" in err
    assert "25 access change(s) could not be converted (give --strict to make them errors):" in err
    listed = [line for line in err.splitlines() if line.startswith(f"  {source}:")]
    assert [int(line.split(":")[1]) for line in listed] == list(range(2, 22))  # the first 20, in order
    assert "  and 5 more" in err
    assert len(out.read_text().splitlines()) == 1


def test_assume_time_fills_only_missing_times_and_marks_them(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "okta.jsonl"
    unreadable = _okta_event(2, published="last tuesday")
    source.write_text("".join(json.dumps(r) + "\n" for r in
                              (_okta_event(0), _okta_event(1, published=None), unreadable)))
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out), "--assume-time", "2026-05-01T12:00:00+02:00"]) == 0
    err = capsys.readouterr().err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["time"], e["source"].get("time_assumed")) for e in events] == [
        ("2026-03-01T10:00:00Z", None), ("2026-05-01T10:00:00Z", True)]
    assert "1 converted record(s) carried no time: given 2026-05-01T10:00:00Z (--assume-time)" in err
    # a time that is there but unreadable is not replaced: that record stays incomplete
    assert f"{source}:3: warning: group.user_membership.add: no readable published time ('last tuesday')" in err


def test_assume_time_must_have_a_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "okta.jsonl"
    source.write_text(json.dumps(_okta_event(0)) + "\n")
    assert main(["import", "okta", str(source), "--out", str(tmp_path / "h.jsonl"),
                 "--assume-time", "2026-05-01T12:00:00"]) == 2
    assert "--assume-time: " in capsys.readouterr().err and not (tmp_path / "h.jsonl").exists()


def test_folders_are_read_for_data_files_only_and_the_rest_is_named(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "export"
    (folder / "2026").mkdir(parents=True)
    (folder / "README.md").write_text("# how this export was made\n")
    (folder / "2026" / "a.jsonl").write_text(json.dumps(_okta_event(1)) + "\n")
    (folder / "2026" / "b.json.gz").write_bytes(gzip.compress(json.dumps([_okta_event(2)]).encode()))
    explicit = tmp_path / "notes.txt"
    explicit.write_text(json.dumps(_okta_event(3)) + "\n")
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(folder), str(explicit), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "converted 3" in err  # a file given by name is read whatever it is called
    assert f"ignored 1 file(s) in the input folders that are not JSON, JSON lines or YAML: {folder / 'README.md'}" \
        in err


def test_a_panther_scenario_of_another_log_type_is_refused(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.yml"
    scenario.write_text("---\nLogType: AWS.CloudTrail\nFormat: json\nLogs:\n  - eventName: CreateUser\n")
    assert main(["import", "okta", str(scenario), "--out", str(tmp_path / "h.jsonl")]) == 2
    assert f"{scenario}:2: a Panther test scenario of LogType AWS.CloudTrail, not Okta.SystemLog" \
        in capsys.readouterr().err


def _gzipped_lines(n: int) -> bytes:
    return gzip.compress(b"".join(json.dumps(_okta_event(i)).encode() + b"\n" for i in range(n)))


@pytest.mark.parametrize(("name", "content", "message"), [
    ("nul.jsonl", b"\x00\x00\n", "nul.jsonl:1: not JSON or YAML: unacceptable character #x0000"),
    ("latin1.jsonl", b'{"uuid": "caf\xe9"}\n', "latin1.jsonl:1:1: invalid JSON: str is not valid UTF-8"),
    ("deep.json", b"[" * 5000 + b"]" * 5000, "deep.json:1:1026: invalid JSON: depth limit exceeded"),
    ("cut.jsonl.gz", _gzipped_lines(2000)[:3000], "cut.jsonl.gz: cannot read: Compressed file ended"),
    ("header.jsonl.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 64, "header.jsonl.gz: cannot read: "),
])
def test_hostile_input_is_a_located_error_never_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            name: str, content: bytes, message: str) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "h.jsonl"
    assert main(["import", "okta", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/{message}" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".h.jsonl.*"))


def _import_lines(tmp_path: Path, *options: str, name: str = "h.jsonl") -> int:
    source = Path(__file__).parent / "fixtures" / "cloudtrail" / "lines.jsonl"
    return main(["import", "cloudtrail", str(source), "--out", str(tmp_path / name), *options])


def test_a_misspelt_key_field_is_warned_about_and_the_summary_counts_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import_lines(tmp_path, "--key-from", "userAgnet") == 0
    err = capsys.readouterr().err
    assert "warning: --key-from 'userAgnet': no converted record has this field, so no key was mapped" in err
    written = len((tmp_path / "h.jsonl").read_text().splitlines())
    assert f"keyed 0 of {written} converted changes, with a ticket 0, with a reason 0" in err
    # the right spelling: keys mapped, counted, and no warning
    assert _import_lines(tmp_path, "--key-from", "userAgent", "--reason-from", "eventName", name="k.jsonl") == 0
    err = capsys.readouterr().err
    events = [json.loads(line) for line in (tmp_path / "k.jsonl").read_text().splitlines()]
    keyed = sum(1 for e in events if e.get("key"))
    assert keyed and f"keyed {keyed} of {len(events)} converted changes, with a ticket 0, " \
                     f"with a reason {len(events)}" in err
    assert "warning:" not in err


def test_a_key_pattern_that_never_matches_is_warned_about(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _import_lines(tmp_path, "--key-from", "userAgent", "--key-pattern", r"ticket=(\d+)") == 0
    err = capsys.readouterr().err
    assert "warning: --key-pattern 'ticket=(\\\\d+)' matched none of the" in err and "values of 'userAgent'" in err
    assert _import_lines(tmp_path, "--key-from", "userAgent", "--key-pattern", r"(\S+)", name="k.jsonl") == 0
    assert "warning:" not in capsys.readouterr().err


def test_a_mapping_files_fields_are_checked_the_same_way(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("ticket: {from: requestParameters.tiket}\nkey: {from: userAgent}\n")
    assert _import_lines(tmp_path, "--mapping", str(mapping)) == 0
    err = capsys.readouterr().err
    assert f"warning: {mapping}: ticket.from 'requestParameters.tiket': no converted record has this field" in err
    assert "key.from" not in err


def test_strict_refuses_a_mapping_that_never_took(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _import_lines(tmp_path, "--key-from", "userAgnet", "--strict") == 2
    err = capsys.readouterr().err
    assert "--key-from 'userAgnet': no converted record has this field" in err and "(an error with --strict)" in err
    assert not (tmp_path / "h.jsonl").exists()
    assert _import_lines(tmp_path, "--key-from", "userAgent", "--strict") == 0


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_a_killed_import_are_removed_by_the_next_one(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    dead = tmp_path / f".h.jsonl.keytrail-tmp-{_dead_pid()}"  # what `kill -9` during an import leaves
    dead.write_text('{"id": "half', encoding="utf-8")
    state_dead = tmp_path / f".state.keytrail-tmp-{_dead_pid()}"
    (state_dead / "history").mkdir(parents=True)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as running:
        try:
            live = tmp_path / f".h.jsonl.keytrail-tmp-{running.pid}"  # an import running now: kept
            live.write_text("", encoding="utf-8")
            other = tmp_path / ".other.jsonl.keytrail-tmp-1"  # another target's: not this run's business
            other.write_text("", encoding="utf-8")
            assert _import_lines(tmp_path) == 0
            assert f"removed 1 temporary file(s) left by an interrupted import to the same place: {dead.name}" \
                in capsys.readouterr().err
            assert not dead.exists() and live.exists() and other.exists()
            rbac = Path(__file__).parent / "fixtures" / "k8s-rbac" / "multi.yaml"
            assert main(["import", "k8s-rbac", str(rbac), "--out", str(tmp_path / "state")]) == 0
            assert not state_dead.exists() and (tmp_path / "state" / "keytrail.yaml").is_file()
        finally:
            running.kill()


def test_a_temporary_is_named_for_its_target_and_process(tmp_path: Path) -> None:
    import os

    from keytrail.importers.runner import temporary

    assert temporary(tmp_path / "h.jsonl") == tmp_path / f".h.jsonl.keytrail-tmp-{os.getpid()}"
    link = tmp_path / f".x.jsonl.keytrail-tmp-{os.getpid()}"
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    link.symlink_to(target)
    assert temporary(tmp_path / "x.jsonl") == link and not link.exists() and target.read_text() == "keep"


def test_force_never_replaces_an_input_or_a_different_kind_of_thing(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes((Path(__file__).parent / "fixtures" / "okta" / "events.jsonl").read_bytes())
    before = events.read_bytes()
    assert main(["import", "okta", str(events), "--out", str(events), "--force"]) == 2
    assert f"--out {events} is, or holds, the input {events}" in capsys.readouterr().err
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "rbac.yaml").write_bytes((Path(__file__).parent / "fixtures" / "k8s-rbac" / "multi.yaml").read_bytes())
    assert main(["import", "k8s-rbac", str(manifests / "rbac.yaml"), "--out", str(manifests), "--force"]) == 2
    assert "keytrail import never overwrites what it reads" in capsys.readouterr().err
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main(["import", "okta", str(events), "--out", str(folder), "--force"]) == 2
    assert f"{folder} is a folder: okta writes history, one JSONL file" in capsys.readouterr().err
    assert events.read_bytes() == before and (manifests / "rbac.yaml").is_file() and folder.is_dir()
    # the near miss: --force replaces an earlier output of the same kind, and leaves nothing beside it
    out = tmp_path / "state"
    assert main(["import", "k8s-rbac", str(manifests / "rbac.yaml"), "--out", str(out)]) == 0
    (out / "mine.txt").write_text("from the earlier import's folder")
    assert main(["import", "k8s-rbac", str(manifests / "rbac.yaml"), "--out", str(out), "--force"]) == 0
    assert (out / "keytrail.yaml").is_file() and not (out / "mine.txt").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
