"""The snapshot's capture time: drift is checked only against a snapshot that fits ``as_of``.

A snapshot captured after ``as_of``, or longer than ``max_snapshot_age`` before it, or
with no ``snapshot_time`` at all, is not compared (the drift checks do not run), and
every report says which snapshot was used or why none was: never a silent skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import REPO

ACME = REPO / "examples" / "acme"
DRIFT = ("unexplained.drift-extra", "unexplained.drift-missing")


def check_json(capsys: pytest.CaptureFixture[str], root: Path, as_of: str) -> dict[str, Any]:
    main(["check", str(root), "--as-of", as_of, "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return json.loads(out)


def drift(report: dict[str, Any]) -> list[str]:
    return [f["check"] for f in report["findings"] if f["check"] in DRIFT]


def test_a_past_as_of_is_not_compared_with_a_later_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    report = check_json(capsys, ACME, "2026-01-01T00:00:00Z")
    assert drift(report) == []
    assert report["summary"]["by_severity"].get("critical", 0) <= 1  # was 19, all drift
    assert report["notes"][-1] == {
        "kind": "snapshot", "event": None, "location": None,
        "message": "snapshot snapshot.jsonl not used: captured 2026-09-30T18:00:00Z, after "
                   "2026-01-01T00:00:00Z; drift was not checked"}


def test_a_snapshot_captured_just_before_as_of_is_compared(capsys: pytest.CaptureFixture[str]) -> None:
    report = check_json(capsys, ACME, "2026-09-30T23:59:59Z")
    assert "unexplained.drift-extra" in drift(report)
    assert report["notes"][-1]["message"] == (
        "drift checked against snapshot snapshot.jsonl captured 2026-09-30T18:00:00Z "
        "(5h 59m before 2026-09-30T23:59:59Z; max_snapshot_age 7d)")
    # At exactly the capture time it still fits (the edge).
    assert "unexplained.drift-extra" in drift(check_json(capsys, ACME, "2026-09-30T18:00:00Z"))


def test_a_snapshot_older_than_max_snapshot_age_is_not_compared(capsys: pytest.CaptureFixture[str]) -> None:
    report = check_json(capsys, ACME, "2026-10-07T18:00:01Z")  # 7 days and a second
    assert drift(report) == []
    assert "7d 0h" not in report["notes"][-1]["message"]
    assert "(max_snapshot_age 7d); drift was not checked" in report["notes"][-1]["message"]
    # Seven days exactly still fits (the near miss).
    assert drift(check_json(capsys, ACME, "2026-10-07T18:00:00Z"))


SNAPSHOT = [{"subject": "user:a", "target": "role:r", "resource": ""}]


def project(make_project: Any, **parts: Any) -> Path:
    """A small project checked with the packaged default pack."""
    root: Path = make_project(**parts)
    config = root / "keytrail.yaml"
    config.write_text(config.read_text().replace("- policies/", "- keytrail:default"))
    return root


def test_max_snapshot_age_is_a_parameter(make_project: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(make_project, snapshot=SNAPSHOT, snapshot_time="2026-08-01T00:00:00Z")
    assert drift(check_json(capsys, root, "2026-09-01T00:00:00Z")) == []
    config = root / "keytrail.yaml"
    config.write_text(config.read_text() + "max_snapshot_age: 45d\n")
    report = check_json(capsys, root, "2026-09-01T00:00:00Z")
    assert drift(report) == ["unexplained.drift-extra"]
    assert "max_snapshot_age 45d" in report["notes"][-1]["message"]


def test_a_snapshot_without_capture_time_is_never_compared(make_project: Any,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = project(make_project, snapshot=SNAPSHOT, snapshot_time=None)
    report = check_json(capsys, root, "2026-09-01T00:00:00Z")
    assert drift(report) == []
    message = report["notes"][-1]["message"]
    assert message == ("snapshot snapshot.jsonl not used: it has no capture time "
                       "(set snapshot_time: in keytrail.yaml); drift was not checked")
    # Said in every format, never silent.
    for fmt in ("text", "markdown", "html", "sarif", "junit", "github"):
        main(["check", str(root), "--as-of", "2026-09-01T00:00:00Z", "--format", fmt])
        out = capsys.readouterr().out
        assert "has no capture time" in out, fmt


def test_no_snapshot_is_said_too(make_project: Any, capsys: pytest.CaptureFixture[str]) -> None:
    report = check_json(capsys, project(make_project), "2026-09-01T00:00:00Z")
    assert report["notes"][-1]["message"] == "no snapshot configured: drift against the real system was not checked"


@pytest.mark.parametrize(("line", "message"), [
    ("snapshot_time: yesterday\n", "snapshot_time: 'yesterday'"),
    ("max_snapshot_age: 3 months\n", "max_snapshot_age"),
    ("max_snapshot_age: 0d\n", "max_snapshot_age: must be longer than zero"),
])
def test_bad_snapshot_settings_are_located_errors(line: str, message: str, make_project: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = project(make_project, snapshot=SNAPSHOT)
    config = root / "keytrail.yaml"
    text = "".join(x for x in config.read_text().splitlines(keepends=True)
                   if not x.startswith(line.split(":")[0]))
    config.write_text(text + line)
    code = main(["check", str(root), "--as-of", "2026-09-01T00:00:00Z"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "keytrail.yaml:" in err and message in err


def test_snapshot_time_without_a_snapshot_is_an_error(make_project: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(make_project)
    config = root / "keytrail.yaml"
    config.write_text(config.read_text() + "snapshot_time: 2026-08-01T00:00:00Z\n")
    assert main(["check", str(root)]) == 2
    assert "snapshot_time is set but no snapshot is" in capsys.readouterr().err


def test_the_review_pack_says_which_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q2"
    assert main(["review", str(ACME), "--period", "2026-Q2", "--out", str(out)]) == 0
    capsys.readouterr()
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Snapshot snapshot.jsonl not used: captured 2026-09-30T18:00:00Z, after 2026-06-30T23:59:59Z" in html
    assert "drift-extra" not in html
    assert "not used: captured 2026-09-30T18:00:00Z" in (out / "summary.md").read_text(encoding="utf-8")
