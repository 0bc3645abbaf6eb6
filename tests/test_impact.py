"""--compare-policies: what a policy change adds and clears, against a git ref or a folder."""

from __future__ import annotations

import json
import re
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


# -- formats for a pull request ------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden" / "impact.md"


def _changed(make_project):  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    _change_policy(root)
    return root


def test_impact_markdown_matches_the_golden_file(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """Regenerate with KEYTRAIL_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    import os

    root = _changed(make_project)
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD", "-f", "markdown"]) == 1
    text = capsys.readouterr().out
    if os.environ.get("KEYTRAIL_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8", newline="")
    assert text == GOLDEN.read_text(encoding="utf-8")
    # what a reviewer of the policy PR reads: per rule, newly flagged and cleared, the first findings
    assert "| `contractors-off-prod` | `forbid` | policies/p0.yaml:" in text
    assert "Newly flagged:" in text and "Cleared:" in text
    assert "**2 newly flagged findings at or above high: failing.**" in text


def test_impact_markdown_lists_the_first_findings_and_says_how_many_more(
        make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from keytrail.formats.impact import FIRST

    people = [{"id": f"user:c{i:02}", "attributes": {"employment": "contractor"}} for i in range(FIRST + 3)]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": p["id"], "target": "role:prod-admin",
               "key": "pk-1", "actor": "svc:bot"} for p in people]
    root = make_project(directory={"principals": people, "roles": [{"id": "role:prod-admin"}]},
                        events=events, policies=[POLICY])
    _commit(root)
    _change_policy(root)
    main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD", "-f", "markdown"])
    text = capsys.readouterr().out
    assert f"Newly flagged (first {FIRST} of {FIRST + 3}):" in text
    assert text.count("- **high** `user:c") == FIRST
    assert "- … and 3 more (`--format json` lists them all)" in text


def test_impact_github_annotates_the_changed_rule_lines(
        make_project, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = _changed(make_project)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD", "-f", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    policy = (root / "policies" / "p0.yaml").read_text().splitlines()
    rule_line = next(i for i, line in enumerate(policy, 1) if "contractors-off-prod" in line)
    added = next(line for line in lines if "policy impact%3A contractors-off-prod" in line)
    assert added.startswith(f"::error file={root.as_posix()}/policies/p0.yaml,line={rule_line},")
    assert "::2 newly flagged." in added and "First: " in added
    # the removed rule has no line in the working tree: no file, and it says where it was
    removed = next(line for line in lines if "policy impact%3A leavers" in line)
    assert removed.startswith("::notice title=") and "file=" not in removed
    assert "1 cleared (rule removed; it was at policies/p0.yaml:" in removed and " at HEAD)" in removed
    assert lines[-1].startswith("::notice title=keytrail policy impact::2 newly flagged, 1 cleared")
    # the step summary gets the Markdown comment
    assert summary.read_text().startswith("## keytrail: what this policy change flags")


def test_impact_json_says_where_each_rule_is(make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _changed(make_project)
    main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD", "-f", "json"])
    rules = {r["rule"]: r for r in json.loads(capsys.readouterr().out)["rules"]}
    assert rules["contractors-off-prod"]["location"]["path"] == "policies/p0.yaml"
    assert "location_at" not in rules["contractors-off-prod"]
    assert rules["leavers"]["location_at"] == "HEAD"


def test_impact_renders_every_format_asked_for_and_refuses_the_others(
        make_project, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = _changed(make_project)
    md, js = tmp_path / "impact.md", tmp_path / "impact.json"
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD",
                 "-f", "markdown", "-o", str(md), "-f", "json", "-o", str(js)]) == 1
    assert md.read_text().startswith("## keytrail") and json.loads(js.read_text())["summary"]["added"] == 2
    # a format the impact has no form in is refused before anything runs, not silently ignored
    for fmt in ("sarif", "html", "csv"):
        code = main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD", "-f", fmt])
        err = capsys.readouterr().err
        assert code == 2 and f"--compare-policies renders text, json, markdown, github, not {fmt}" in err


# -- what the base is: exactly the policies of REF --------------------------------------------------

def _impact_json(root: Path, capsys: pytest.CaptureFixture[str], ref: str = "HEAD") -> dict:  # type: ignore[type-arg]
    main(["check", str(root), "--as-of", AS_OF, "--compare-policies", ref, "-f", "json"])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_a_policy_file_with_a_non_ascii_name_at_ref_is_compared_not_skipped(
        make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    (root / "policies" / "p0.yaml").rename(root / "policies" / "équipe.yaml")
    _commit(root)
    # Unchanged: nothing to report (git quotes such a name unless asked not to).
    assert _impact_json(root, capsys)["summary"]["added"] == 0
    # Deleted by the change: its finding is cleared, and the report says so.
    (root / "policies" / "équipe.yaml").unlink()
    (root / "policies" / "other.yaml").write_text(yaml.safe_dump(
        dict(POLICY, rules=[{"id": "ghosts", "use": "orphaned.unknown-principal"}])))
    assert _impact_json(root, capsys)["summary"]["removed"] == 1


def test_a_change_that_drops_the_policy_folder_from_keytrail_yaml_shows_what_it_clears(
        make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    config = (root / "keytrail.yaml").read_text()
    assert "policies/" in config
    (root / "keytrail.yaml").write_text(config.replace("policies/", "keytrail:default"))
    data = _impact_json(root, capsys)
    assert [r["rule"] for r in data["rules"] if r["removed"]] == ["leavers"]


def test_keytrail_yaml_unchanged_at_ref_compares_the_same_folders(
        make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    # Near miss: the same keytrail.yaml at REF and now, one policy changed: only that shows.
    root = _project(make_project)
    _commit(root)
    _change_policy(root)
    data = _impact_json(root, capsys)
    assert data["summary"]["added"] == 2 and data["summary"]["removed"] == 1


@pytest.mark.parametrize("ref", ["--output=pwned", "--upload-pack=touch pwned", "-h"])
def test_an_option_like_ref_is_refused_before_git_sees_it(
        make_project, capsys: pytest.CaptureFixture[str], ref: str) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    _commit(root)
    assert main(["check", str(root), f"--compare-policies={ref}"]) == 2
    assert "looks like an option" in capsys.readouterr().err
    assert not (root / "pwned").exists()


def test_a_folder_whose_name_starts_with_a_dash_is_still_a_folder(
        make_project, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = _project(make_project)
    shutil.copytree(root / "policies", tmp_path / "-old")
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies=-old", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["added"] == 0


def test_policies_outside_the_repository_count_the_same_at_ref_and_now(
        make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    # Policies read with --allow-outside are not versioned: at REF they held what they hold now.
    root = _project(make_project)
    shared = root.parent / "shared"
    shutil.move(str(root / "policies"), shared)
    config = root / "keytrail.yaml"
    config.write_text(config.read_text().replace("policies/", "../shared/"))
    _commit(root)
    assert main(["check", str(root), "--as-of", AS_OF, "--allow-outside", str(shared),
                 "--compare-policies", "HEAD", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["added"] == 0 and data["summary"]["removed"] == 0


@pytest.mark.parametrize("at", ["git", "folder"])
def test_a_policy_file_with_an_upper_case_extension_is_compared_not_skipped(
        make_project, tmp_path: Path, capsys: pytest.CaptureFixture[str], at: str) -> None:  # type: ignore[no-untyped-def]
    # The project reads `.YAML`; deleting such a policy must show what it clears.
    root = _project(make_project)
    (root / "policies" / "p0.yaml").rename(root / "policies" / "P0.YAML")
    _commit(root)
    old = tmp_path / "old"
    shutil.copytree(root / "policies", old)
    ref = "HEAD" if at == "git" else str(old)
    assert _impact_json(root, capsys, ref)["summary"]["removed"] == 0  # near miss: unchanged
    (root / "policies" / "P0.YAML").unlink()
    (root / "policies" / "other.yaml").write_text(yaml.safe_dump(
        dict(POLICY, rules=[{"id": "ghosts", "use": "orphaned.unknown-principal"}])))
    assert _impact_json(root, capsys, ref)["summary"]["removed"] == 1


def test_a_folder_named_like_the_base_ref_cannot_stand_in_for_it(
        make_project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # A pull request adding `HEAD/` (or `origin/main/`) with its own policies must not become
    # the base the change is compared with.
    root = _project(make_project)
    _commit(root)
    _change_policy(root)
    (root / "HEAD").mkdir()
    shutil.copy(root / "policies" / "p0.yaml", root / "HEAD" / "p0.yaml")
    monkeypatch.chdir(root)
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "HEAD"]) == 2
    assert "'HEAD' is both a folder and a git commit" in capsys.readouterr().err
    # Near miss: ./HEAD is the folder, without doubt (and compares the change with itself).
    assert main(["check", str(root), "--as-of", AS_OF, "--compare-policies", "./HEAD", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["added"] == 0


def _many_rules(n: int) -> dict:  # type: ignore[type-arg]
    finding = {"severity": "high", "subject": "user:a", "target": "role:b", "resource": "", "message": "m",
               "waived": None}
    rules = [{"rule": f"rule-{i:05d}-" + "x" * 60, "check": "forbid", "added": [finding], "removed": [],
              "newly_waived": [], "unwaived": [], "location": {"path": "policies/p.yaml", "line": i + 1}}
             for i in range(n)]
    summary = {"added": n, "removed": 0, "newly_waived": 0, "unwaived": 0, "failing": n, "fail_on": "high",
               "subjects_added": 1, "subjects_removed": 0}
    return {"base": "HEAD", "summary": summary, "rules": rules}


def test_the_impact_comment_of_a_change_to_many_rules_stays_under_the_limit() -> None:
    from keytrail.formats.impact import markdown
    from keytrail.formats.markdown import SIZE_LIMIT

    out = markdown(_many_rules(1500))
    assert len(out) <= SIZE_LIMIT
    assert re.search(r"… and \d+ more rules changed: `--compare-policies REF --format json` lists them all", out)
    assert out.endswith("**1500 newly flagged findings at or above high: failing.**\n")


def test_the_impact_comment_of_a_few_rules_has_every_row() -> None:
    # Near miss: what fits is shown whole, with no note.
    from keytrail.formats.impact import markdown

    out = markdown(_many_rules(3))
    assert out.count("| `rule-0000") == 3 and "more rules changed" not in out
