"""--format github: annotations within GitHub's limits, and the Markdown step summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF


def _org(make_project, leavers: int, name: str = "user:u{n}"):  # type: ignore[no-untyped-def]
    principals = [{"id": name.format(n=n), "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}
                  for n in range(leavers)]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": name.format(n=n),
               "target": "role:r", "key": "pk-1", "actor": "svc:bot"} for n in range(leavers)]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    return make_project(directory={"principals": principals, "roles": [{"id": "role:r"}]},
                        events=events, policies=[policy])


def test_at_most_ten_annotations_per_level_then_a_note(make_project, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    root = _org(make_project, 14)
    assert main(["check", str(root), "--as-of", AS_OF, "-f", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == 10
    assert errors[0].startswith(f"::error file={root.as_posix()}/history/h.jsonl,line=")
    assert "title=keytrail high%3A leavers::" in errors[0]
    assert lines[-1].startswith("::notice title=keytrail::4 more findings are not annotated")


def test_messages_and_properties_are_escaped(make_project, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    root = _org(make_project, 1, name="user:100%,sure")
    main(["check", str(root), "--as-of", AS_OF, "-f", "github"])
    out = capsys.readouterr().out
    assert "user:100%25,sure (terminated" in out  # message data: % escaped, ',' and ':' kept


def test_the_step_summary_gets_the_markdown_report(make_project, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    root = _org(make_project, 2)
    main(["check", str(root), "--as-of", AS_OF, "-f", "github"])
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "leavers" in text and "|" in text


def test_a_value_cannot_add_a_workflow_command(make_project) -> None:  # type: ignore[no-untyped-def]
    """An id with CR (GitHub splits lines on CR too) or ESC is shown escaped: one annotation, one line.

    Input refuses such ids (tests/test_ids.py); the format must stay safe all the same, so
    the value is put into the evaluated findings directly."""
    from dataclasses import replace

    from keytrail.formats import github
    from tests.conftest import report_of

    hostile = "user:x\r::stop-commands::t0k3n\x1b[8m"
    report = report_of(_org(make_project, 1, name="user:x"))
    report = replace(report, findings=[
        replace(i, finding=replace(i.finding, subject=hostile, message=i.finding.message.replace("user:x", hostile)))
        for i in report.findings])
    out = github.render(report)
    assert out.count("\n") == 1 and "\r" not in out and "\x1b" not in out
    assert out.startswith("::error ")
    assert "user:x\\r::stop-commands::t0k3n\\x1b[8m (terminated" in out


def test_a_colon_in_a_value_stays_in_the_message(make_project, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    root = _org(make_project, 1, name="user:ops::on-call")
    main(["check", str(root), "--as-of", AS_OF, "-f", "github"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "::user:ops::on-call (terminated" in out
