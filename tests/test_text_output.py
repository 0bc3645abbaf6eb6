"""The text report: grouped, counted, and capped per group without losing counts."""

from __future__ import annotations

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF


def _org(make_project):  # type: ignore[no-untyped-def]
    """Twelve leavers still holding a role: twelve high orphaned findings."""
    principals = [{"id": f"user:u{n:02d}", "status": "terminated",
                   "terminated_at": "2026-05-01T00:00:00Z"} for n in range(12)]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": f"user:u{n:02d}",
               "target": "role:r", "key": "pk-1", "actor": "svc:bot"} for n in range(12)]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    return make_project(directory={"principals": principals, "roles": [{"id": "role:r"}]},
                        events=events, policies=[policy])


def test_limit_caps_each_group_and_says_how_many_it_left_out(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project)
    assert main(["check", str(root), "--as-of", AS_OF, "--limit", "5"]) == 1
    out = capsys.readouterr().out
    assert "12 findings: 12 high" in out
    assert out.count("✗ leavers") == 5
    assert "… and 7 more high orphaned findings" in out
    assert "12 findings at or above high" in out


def test_limit_zero_lists_everything(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project)
    main(["check", str(root), "--as-of", AS_OF, "--limit", "0"])
    out = capsys.readouterr().out
    assert out.count("✗ leavers") == 12
    assert "more high" not in out


def test_limit_does_not_touch_json(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import json

    root = _org(make_project)
    main(["check", str(root), "--as-of", AS_OF, "--limit", "1", "--format", "json"])
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 12


@pytest.mark.parametrize("bad", ["-1", "x", "1.5"])
def test_limit_must_be_a_whole_number(make_project, capsys: pytest.CaptureFixture[str], bad: str) -> None:  # type: ignore[no-untyped-def]
    root = _org(make_project)
    assert main(["check", str(root), "--limit", bad]) == 2
    assert "whole number" in capsys.readouterr().err


# -- explain: who holds a role or group --------------------------------------------------

def _nested(make_project):  # type: ignore[no-untyped-def]
    events = [
        {"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "group:ops", "target": "role:admin", "resource": "aws:1"},
        {"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "group:oncall", "target": "group:ops"},
        {"time": "2026-01-02T00:00:00Z", "action": "grant", "subject": "user:ann", "target": "group:oncall"},
        {"time": "2026-01-02T00:00:00Z", "action": "grant", "subject": "user:bob", "target": "role:admin", "resource": "aws:1"},
        {"time": "2026-01-03T00:00:00Z", "action": "grant", "subject": "user:cy", "target": "group:ops"},
        {"time": "2026-01-04T00:00:00Z", "action": "revoke", "subject": "user:cy", "target": "group:ops"},
    ]
    return make_project(directory={"principals": [{"id": "user:ann"}, {"id": "user:bob"}, {"id": "user:cy"}],
                                   "groups": [{"id": "group:ops"}, {"id": "group:oncall"}],
                                   "roles": [{"id": "role:admin"}]}, events=events)


def test_explain_a_role_lists_who_reaches_it_and_how(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _nested(make_project)
    assert main(["explain", "role:admin", "--dir", str(root), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "role:admin is held by 2 principals as of" in out and "and by 2 groups (their members reach it through them):" in out
    # each heading counts the rows under it (it once said "2 principals" above 4 rows)
    heading, rest = out.split("and by 2 groups")
    assert sum(line.startswith("  user:") for line in heading.splitlines()) == 2
    assert sum(line.startswith("  group:") for line in rest.splitlines()) == 2
    assert "user:ann on aws:1  via user:ann -> group:oncall -> group:ops -> role:admin" in out
    assert "user:bob on aws:1  via user:bob -> role:admin" in out
    assert "user:cy" not in out  # revoked


def test_explain_holders_of_a_group(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _nested(make_project)
    assert main(["explain", "group:ops", "--holders", "--dir", str(root), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "group:ops is held by 1 principal as of" in out
    assert "and by 1 group (its members reach it through it):" in out  # group:oncall holds group:ops
    assert "user:ann  via user:ann -> group:oncall -> group:ops" in out


def test_explain_holders_with_a_target_is_a_usage_error(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _nested(make_project)
    assert main(["explain", "role:admin", "group:ops", "--dir", str(root)]) == 2
    assert "not both" in capsys.readouterr().err


# -- input values are inert in the text report (CI logs and terminals) ------------------------

def _reason_project(make_project, reason: str):  # type: ignore[no-untyped-def]
    """A leaver holding a role, granted with ``reason``."""
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:gone",
               "target": "role:r", "key": "pk-1", "actor": "svc:bot", "reason": reason}]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    directory = {"principals": [{"id": "user:gone", "status": "terminated",
                                 "terminated_at": "2026-05-01T00:00:00Z"}], "roles": [{"id": "role:r"}]}
    return make_project(directory=directory, events=events, policies=[policy])


def test_a_reason_cannot_start_a_workflow_command_line(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """GitHub Actions runs any stdout line that is ``::command`` (after leading spaces)."""
    root = _reason_project(make_project, "line1\n::error file=x.py,line=1::pwned")
    assert main(["check", str(root), "--as-of", AS_OF]) == 1
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::")]
    assert "“line1\\n::error file=x.py,line=1::pwned”" in out


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31mred", "\\x1b[31mred"), ("a\bb", "a\\x08b"), ("\x01x", "\\x01x"),
    ("abc\u202edef", "abc\\u202edef"), ("a\rb", "a\\rb"), ("a\u2028b", "a\\u2028b"),
    ("deploy ##[error]x", "deploy #\\x23[error]x"), ("x ##vso[task.complete]", "x #\\x23vso[task.complete]")])
def test_control_characters_in_a_reason_reach_the_terminal_as_escapes(make_project, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                                                       raw: str, shown: str) -> None:
    root = _reason_project(make_project, raw)
    main(["check", str(root), "--as-of", AS_OF])
    out = capsys.readouterr().out
    assert f"“{shown}”" in out
    assert raw not in out


@pytest.mark.parametrize("reason", ["see runbook::step 2", "Zoë Ångström 日本語 — ✓", "a # b ## c [d]",
                                    "tab-free, 100% plain"])
def test_a_printable_reason_is_printed_as_it_is(make_project, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                                reason: str) -> None:
    root = _reason_project(make_project, reason)
    main(["check", str(root), "--as-of", AS_OF])
    assert f"“{reason}”" in capsys.readouterr().out


def test_explain_shows_a_hostile_reason_on_its_own_line(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _reason_project(make_project, "x\n::error::pwned\x1b[2J")
    assert main(["explain", "user:gone", "role:r", "--dir", str(root), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert 'reason "x\\n::error::pwned\\x1b[2J"' in out
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::")]


def test_explain_keeps_a_plain_reason(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _reason_project(make_project, "on-call: rotation 2")
    main(["explain", "user:gone", "role:r", "--dir", str(root), "--as-of", AS_OF])
    assert 'reason "on-call: rotation 2"' in capsys.readouterr().out
