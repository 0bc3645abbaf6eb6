"""keytrail test: policy unit tests pass and fail for the right reasons, and say why."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from keytrail.cli import main
from tests.conftest import REPO

POLICY = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
          "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"},
                    {"id": "nokey", "use": "unexplained.missing-key"}]}
LEAVER = {"directory": {"principals": [{"id": "user:gone", "status": "terminated",
                                        "terminated_at": "2026-05-01T00:00:00Z"}]},
          "events": [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:gone",
                      "target": "role:r", "key": "pk-1"}]}


def _suite(tmp_path: Path, tests: list[dict], **extra) -> Path:  # type: ignore[no-untyped-def]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(POLICY, sort_keys=False))
    suite = {"apiVersion": "keytrail/v1", "kind": "PolicyTest", "policies": ["p.yaml"], "tests": tests, **extra}
    path = tmp_path / "p.test.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["test", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_default_pack_passes_its_tests_with_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(REPO / "policies"), "--require-coverage")
    assert code == 0, out
    assert "Coverage: 32 of 32 rules" in out


def test_a_passing_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "leaver", **LEAVER, "expect": [{"rule": "leavers", "subject": "user:gone"}]}])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 0 and "✓ leaver" in out and "1 passed, 0 failed" in out
    assert "not covered: nokey" in out  # reported, but only --require-coverage fails on it


def test_a_missing_finding_fails_and_says_what_the_rule_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "wrong subject", **LEAVER,
                       "expect": [{"rule": "leavers", "subject": "user:other"}]}])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 1
    assert "missing finding {rule: leavers, subject: user:other}" in out
    assert "the rule found: user:gone (terminated 2026-05-01) still holds role:r" in out
    assert "unexpected finding leavers: user:gone" in out


def test_an_unexpected_finding_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "expects nothing", **LEAVER, "expect": []}])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 1 and "unexpected finding leavers" in out


def test_expect_not_fails_when_the_finding_appears(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "forbidden", **LEAVER, "rules": ["leavers"],
                       "expect": [{"rule": "leavers"}], "expect_not": [{"subject": "user:gone"}]}])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 1 and "finding that must not appear {subject: user:gone}" in out


def test_rules_restrict_what_is_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:gone", "target": "role:r"}]
    _suite(tmp_path, [{"name": "only leavers", "rules": ["leavers"], "directory": LEAVER["directory"],
                       "events": events, "expect": [{"rule": "leavers"}]}])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 0, out  # the missing key is another rule's business here


def test_require_coverage_fails_on_an_untested_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "leaver", **LEAVER, "expect": [{"rule": "leavers"}]}])
    code, out, _ = _run(capsys, str(tmp_path), "--require-coverage")
    assert code == 1 and "--require-coverage: 1 rule(s) without a test" in out


def test_an_empty_suite_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [])
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 1 and "no tests (an empty suite fails)" in out


def test_no_test_files_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(tmp_path))
    assert code == 1 and "No policy tests found" in out


def test_bad_suites_exit_2_with_locations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "bad", "expect": [{"rule": "leavers", "subjekt": "user:x"}]}])
    code, _, err = _run(capsys, str(tmp_path))
    assert code == 2
    assert "p.test.yaml:" in err and "tests[0].expect[0]" in err and "subjekt" in err


def test_an_unknown_rule_under_test_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "x", "expect": []}], rules=["leaver"])
    code, _, err = _run(capsys, str(tmp_path))
    assert code == 2 and "no rule 'leaver' in the policies under test" in err


def test_inline_events_are_validated_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _suite(tmp_path, [{"name": "naive time", "events": [{"time": "2026-01-01T00:00:00", "action": "grant",
                                                          "subject": "user:a", "target": "role:r"}],
                       "expect": []}])
    code, _, err = _run(capsys, str(tmp_path))
    assert code == 2 and "tests[0].events[0].time" in err and "no zone" in err


def test_policy_folders_may_hold_their_tests(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """A project loading `policies/` skips the PolicyTest files in it rather than failing on them."""
    root = make_project(policies=[POLICY], **LEAVER)
    tests = root / "policies" / "tests"
    tests.mkdir()
    suite = {"apiVersion": "keytrail/v1", "kind": "PolicyTest", "policies": ["../p0.yaml"],
             "tests": [{"name": "leaver", **LEAVER, "rules": ["leavers"], "expect": [{"rule": "leavers"}]}]}
    (tests / "p.test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    assert main(["check", str(root), "--as-of", "2026-09-30T23:59:59Z"]) == 1
    capsys.readouterr()
    code, out, _ = _run(capsys, str(root / "policies"))
    assert code == 0, out
