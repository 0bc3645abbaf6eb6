"""--compare-policies: what a policy change adds and clears, against a git ref or a folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from keytrail.cli import main
from tests.conftest import AS_OF

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

POLICY = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
          "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}


def _project(make_project):  # type: ignore[no-untyped-def]
    directory = {"principals": [{"id": "user:ann", "attributes": {"employment": "contractor"}},
                                {"id": "user:bob", "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"},
                                {"id": "user:cy", "attributes": {"employment": "contractor"}}],
                 "roles": [{"id": "role:prod-admin"}, {"id": "role:dev"}]}
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": s, "target": "role:prod-admin",
               "key": "pk-1", "actor": "svc:bot"} for s in ("user:ann", "user:bob", "user:cy")]
    return make_project(directory=directory, events=events, policies=[POLICY])


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _commit(root: Path) -> None:
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "base")


def _change_policy(root: Path) -> None:
    """Drop the leavers rule, add a rule keeping contractors off prod."""
    changed = dict(POLICY, rules=[{"id": "contractors-off-prod", "severity": "high",
                                   "forbid": {"subject": {"attributes": {"employment": "contractor"}},
                                              "target": "role:prod-*"}}])
    (root / "policies" / "p0.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))


def test_against_a_git_ref(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    _change_policy(root)
    code = main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD"])
    out = capsys.readouterr().out
    assert code == 1  # two new high findings
    assert "This change newly flags 2 findings (on 2 subjects) and clears 1" in out
    assert "contractors-off-prod [forbid]: +2 -0" in out
    assert "leavers [orphaned.inactive-principal]: +0 -1" in out
    assert "- high: user:bob (terminated 2026-05-01) still holds role:prod-admin" in out


def test_against_a_folder_as_json(make_project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    old = tmp_path / "old-policies"
    shutil.copytree(root / "policies", old)
    _change_policy(root)
    main(["check", str(root), "--as-of", AS_OF, "--compare-policies", str(old), "-f", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["added"] == 2 and data["summary"]["removed"] == 1
    assert [r["rule"] for r in data["rules"]] == ["contractors-off-prod", "leavers"]


def test_no_change_reports_nothing_and_passes(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD"]) == 0
    assert "No finding changes" in capsys.readouterr().out


def test_a_new_waiver_shows_as_newly_waived(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    waived = dict(POLICY, waivers=[{"rule": "leavers", "subject": "user:bob", "reason": "legal hold",
                                    "approved_by": "user:ann", "expires": "2027-01-01T00:00:00Z"}])
    (root / "policies" / "p0.yaml").write_text(yaml.safe_dump(waived, sort_keys=False))
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD"]) == 0
    assert "1 newly waived" in capsys.readouterr().out


def test_an_unknown_ref_exits_2(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    assert main(["check", str(root), "--compare-policies", "no-such-branch"]) == 2
    assert "neither a folder nor a git commit" in capsys.readouterr().err
