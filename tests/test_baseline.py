"""Baselines: only findings the baseline does not know fail the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.schemas import validator
from tests.conftest import AS_OF


def _org(make_project, leavers: int):  # type: ignore[no-untyped-def]
    principals = [{"id": f"user:u{n}", "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}
                  for n in range(leavers)]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": f"user:u{n}",
               "target": "role:r", "key": "pk-1", "actor": "svc:bot"} for n in range(leavers)]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    return make_project(directory={"principals": principals, "roles": [{"id": "role:r"}]},
                        events=events, policies=[policy])


def test_known_findings_do_not_fail_new_ones_do(make_project, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                capsys: pytest.CaptureFixture[str]) -> None:
    old = _org(make_project, 2)
    baseline = tmp_path / "baseline.json"
    # Writing a baseline accepts the findings it records: the run succeeded (exit 0) ...
    assert main(["check", str(old), "--as-of", AS_OF, "--write-baseline", str(baseline)]) == 0
    capsys.readouterr()
    # ... while the same run without it still fails on them (the near miss).
    assert main(["check", str(old), "--as-of", AS_OF]) == 1
    capsys.readouterr()
    assert main(["check", str(old), "--as-of", AS_OF, "--baseline", str(baseline)]) == 0
    assert "2 known from the baseline" in capsys.readouterr().out

    grown = _org(make_project, 3)  # one more leaver: the new finding fails the run
    assert main(["check", str(grown), "--as-of", AS_OF, "--baseline", str(baseline), "-f", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert sorted(f["baseline"] for f in report["findings"]) == ["known", "known", "new"]
    assert report["summary"]["known"] == 2 and report["summary"]["failing"] == 1
    assert not list(validator("findings").iter_errors(report))


def test_a_full_report_serves_as_a_baseline(make_project, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = _org(make_project, 2)
    report = tmp_path / "report.json"
    main(["check", str(root), "--as-of", AS_OF, "-f", "json", "-o", str(report)])
    assert main(["check", str(root), "--as-of", AS_OF, "--baseline", str(report)]) == 0


def test_the_written_baseline_is_compact_and_valid(make_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project, 2)
    baseline = tmp_path / "b.json"
    main(["check", str(root), "--as-of", AS_OF, "--write-baseline", str(baseline), "-o", str(tmp_path / "x")])
    data = json.loads(baseline.read_text())
    assert data["baseline"] is True
    assert [sorted(f) for f in data["findings"]] == [["fingerprint", "resource", "rule", "subject", "target"]] * 2


@pytest.mark.parametrize(("content", "words"), [
    ("not json", "not a findings JSON file"),
    ('{"tool": {}}', "with a `findings` list"),
    ('{"findings": [{"rule": "x"}]}', "findings[0].fingerprint"),
])
def test_a_bad_baseline_exits_2_before_checking(make_project, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 capsys: pytest.CaptureFixture[str], content: str, words: str) -> None:
    root = _org(make_project, 1)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["check", str(root), "--baseline", str(bad)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_missing_baseline_exits_2(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project, 1)
    assert main(["check", str(root), "--baseline", "/nonexistent/b.json"]) == 2
    assert "baseline file not found" in capsys.readouterr().err


def test_a_baseline_is_refreshed_in_place_but_never_written_over_an_input(
        make_project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project, 2)
    baseline = tmp_path / "b.json"
    assert main(["check", str(root), "--as-of", AS_OF, "--write-baseline", str(baseline)]) == 0
    grown = _org(make_project, 3)
    # Reading and rewriting the same baseline is how it is refreshed.
    assert main(["check", str(grown), "--as-of", AS_OF, "--baseline", str(baseline),
                 "--write-baseline", str(baseline)]) == 0
    assert len(json.loads(baseline.read_text())["findings"]) == 3
    keys = (grown / "keys.yaml").read_bytes()
    assert main(["check", str(grown), "--as-of", AS_OF, "--write-baseline", str(grown / "keys.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"--write-baseline {grown / 'keys.yaml'}: is " in err and "which this run reads" in err
    assert (grown / "keys.yaml").read_bytes() == keys
