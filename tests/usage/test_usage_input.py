"""The native usage input: ``usage:`` in keytrail.yaml, its schema, located errors, lint, and the
report's notes saying which usage was relied on, left out, or missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.errors import InputError
from keytrail.report import to_data
from tests.conftest import report_of, write_project

GRANTS = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a", "target": "role:r",
           "resource": "aws:1"},
          {"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:b", "target": "role:r",
           "resource": "github:acme/api"}]
POLICY = [{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
           "rules": [{"id": "unused", "use": "sprawl.unused-access"}]}]


def record(**over: Any) -> dict[str, Any]:
    base = {"subject": "user:a", "target": "role:r", "resource": "aws:1", "last_used": None,
            "source": "test", "collected_at": "2026-09-30T00:00:00Z"}
    return {k: v for k, v in {**base, **over}.items() if v is not ...}


def project(tmp_path: Path, usage: list[Any] | None, text: str | None = None) -> Path:
    root = write_project(tmp_path / "org", directory={"principals": [{"id": "user:a"}, {"id": "user:b"}],
                                                      "roles": [{"id": "role:r"}]},
                         events=GRANTS, policies=POLICY, usage=usage)
    if text is not None:
        (root / "usage.jsonl").write_text(text)
    return root


def notes(root: Path, as_of: str = "2026-09-30T23:59:59Z") -> list[str]:
    return [n["message"] for n in to_data(report_of(root, as_of))["notes"] if n["kind"] == "usage"]


def test_usage_records_load_and_are_relied_on(tmp_path: Path) -> None:
    root = project(tmp_path, [record()])
    loaded = pipeline.load(root)
    assert loaded.usage is not None and len(loaded.usage) == 1
    assert loaded.usage[0].last_used is None and loaded.usage[0].line == 1
    said = notes(root)
    assert said[0] == ("rule unused: used 1 usage record(s) from test collected 2026-09-30T00:00:00Z "
                       "(23h 59m before 2026-09-30T23:59:59Z)")
    # user:b's grant on GitHub is not covered: counted, never judged.
    assert said[1] == ("rule unused: 1 held grant(s) have no usage data that fits, so whether they are used "
                       "was not judged (github:acme/api 1)")


def test_stale_usage_is_left_out_and_said(tmp_path: Path) -> None:
    root = project(tmp_path, [record(collected_at="2026-06-01T00:00:00Z")])
    report = report_of(root)
    assert report.findings == []
    said = notes(root)
    assert said[0].startswith("rule unused: left out 1 usage record(s) from test collected 2026-06-01T00:00:00Z, "
                              "121d 23h before 2026-09-30T23:59:59Z (max_staleness 7d)")
    assert said[1].endswith("(aws:1 1, github:acme/api 1)")


def test_stale_usage_is_a_github_notice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, [record(collected_at="2026-06-01T00:00:00Z")])
    main(["check", str(root), "--as-of", "2026-09-30T23:59:59Z", "--format", "github"])
    out = capsys.readouterr().out
    assert "::notice title=keytrail usage::rule unused: left out 1 usage record(s) from test" in out
    # Fresh usage is relied on, not announced.
    fresh = project(tmp_path / "fresh", [record()])
    main(["check", str(fresh), "--as-of", "2026-09-30T23:59:59Z", "--format", "github"])
    assert "keytrail usage" not in capsys.readouterr().out


def test_usage_collected_after_as_of_is_left_out(tmp_path: Path) -> None:
    root = project(tmp_path, [record(collected_at="2026-10-02T00:00:00Z")])
    assert "collected 2026-10-02T00:00:00Z, after 2026-09-30T23:59:59Z" in notes(root)[0]


def test_no_usage_configured_is_said_in_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, None)
    assert notes(root) == ["rule unused: no usage data configured (usage: in keytrail.yaml): unused access "
                           "was not checked"]
    main(["check", str(root), "--as-of", "2026-09-30T23:59:59Z", "--format", "text"])
    assert "rule unused: no usage data configured" in capsys.readouterr().out


def test_a_rule_that_reads_no_usage_gets_no_note(tmp_path: Path) -> None:
    root = write_project(tmp_path / "org", events=GRANTS, policies=[{**POLICY[0], "rules": [
        {"id": "expired", "use": "sprawl.expired-grant"}]}])
    assert notes(root) == []


@pytest.mark.parametrize(("line", "message"), [
    ('{"subject": "user:a"', "2:21: invalid JSON"),
    (json.dumps(record(last_used="2026-05-01T00:00:00")), "2: last_used: time '2026-05-01T00:00:00' has no zone"),
    (json.dumps(record(last_used="2026-10-01T00:00:00Z")), "after collected_at 2026-09-30T00:00:00Z"),
    (json.dumps(record(collected_at=...)), "2: missing required 'collected_at'"),
    (json.dumps(record(service="s3")), "2: service: a record is about one target or one service"),
    (json.dumps(record(subject="alice")), "subject"),
    ('{"subject": "user:a", "subject": "user:b"}', "subject"),
])
def test_bad_usage_is_a_located_error(tmp_path: Path, line: str, message: str) -> None:
    root = project(tmp_path, [], text=json.dumps(record(subject="user:b")) + "\n" + line + "\n")
    with pytest.raises(InputError) as caught:
        pipeline.load(root)
    shown = [str(p) for p in caught.value.problems]
    assert all(s.startswith("usage.jsonl:2") for s in shown), shown
    assert any(message in s for s in shown), shown


def test_a_good_line_beside_it_loads(tmp_path: Path) -> None:
    """The near miss: a zone-qualified time, a use at the collection instant, a service record
    without a target, a sign-in."""
    lines = [record(last_used="2026-05-01T00:00:00+02:00"), record(last_used="2026-09-30T00:00:00Z"),
             record(target=..., service="s3"), record(target=..., targets=["group:okta/*"], resource="")]
    loaded = pipeline.load(project(tmp_path, lines))
    assert [r.level for r in loaded.usage or []] == ["entitlement", "entitlement", "service", "sign-in"]


def test_check_exits_2_on_bad_usage_and_lint_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, [], text='{"subject": "user:a"}\n')
    assert main(["check", str(root)]) == 2
    err = capsys.readouterr().err
    assert "usage.jsonl:1" in err and "Traceback" not in err
    assert main(["lint", str(root)]) == 1
    assert "usage.jsonl:1: missing required 'last_used', 'source', 'collected_at'" in capsys.readouterr().out


def test_usage_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path, None)
    config = root / "keytrail.yaml"
    config.write_text(config.read_text() + "usage: [usage/*.jsonl]\n")
    with pytest.raises(InputError) as caught:
        pipeline.load(root)
    assert any("'usage/*.jsonl' matches no file" in str(p) for p in caught.value.problems)


def test_usage_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, None)
    (tmp_path / "outside.jsonl").write_text(json.dumps(record()) + "\n")
    config = root / "keytrail.yaml"
    config.write_text(config.read_text() + "usage: ../outside.jsonl\n")
    with pytest.raises(InputError) as caught:
        pipeline.load(root)
    assert any(p.message and "outside" in p.message for p in caught.value.problems)


def test_schema_usage_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "usage"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$id"] == "urn:keytrail:schema:usage"
    assert schema["required"] == ["subject", "last_used", "source", "collected_at"]
