"""keytrail import github-state: GitHub REST API pages into a snapshot and a directory."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import github_state
from keytrail.importers.base import Context
from tests.importers.cassettes import replay_pages, write_pages

REPO = Path(__file__).resolve().parents[2]
REPLAY = REPO.parent / "shared" / "data" / "pygithub-replaydata" / "derived" / "replay_interactions.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "github-state"


def run(*paths: Path) -> tuple[github_state.State, Context]:
    ctx = Context("github-state")
    return github_state.convert(list(paths), ctx), ctx


def test_the_pygithub_recordings_every_page_is_read_or_skipped_by_reason(tmp_path: Path) -> None:
    if not REPLAY.exists():
        pytest.skip("the shared PyGithub replay data is absent")
    pages = replay_pages(REPLAY)
    state, ctx = run(write_pages(pages, tmp_path / "pages.jsonl"))
    assert not ctx.problems
    latest = {p["url"]: p for p in pages}  # file order is time order within each recording
    assert sum(ctx.skipped["superseded"].values()) == len(pages) - len(latest)
    final = list(latest.values())
    failed = [p for p in final if not 200 <= p["status"] < 300]
    assert sum(ctx.skipped["not a successful response"].values()) == len(failed)
    ok = {p["url"].removeprefix("https://api.github.com"): p["body"] for p in final if p not in failed}
    # /orgs/BeaverSoftware/members lists 3 (SOURCES.md §8): each is a member of the org
    assert [u["login"] for u in ok["/orgs/BeaverSoftware/members"]] == ["cjuniet", "jacquev6", "Lyloa"]
    members = {s["subject"] for s in state.snapshot if s["target"] == "group:github/BeaverSoftware"}
    assert members >= {"user:cjuniet", "user:jacquev6", "user:Lyloa"}
    # the authenticated user's six memberships, two of them as owner (role admin)
    orgs = ok["/user/memberships/orgs"]
    assert len(orgs) == 6
    owned = {m["organization"]["login"] for m in orgs if m["role"] == "admin" and m["state"] == "active"}
    assert {s["resource"] for s in state.snapshot if s["target"] == "role:github/org-owner"} == {
        "github:" + o for o in owned}
    # collaborators: the direct listing converts, the default (affiliation=all) one is skipped
    direct = ok["/repos/hegde5/PyGithub/collaborators?affiliation=direct"]
    assert ctx.converted["collaborator"] == len(direct)
    assert ctx.skipped["affiliation not direct"]["collaborator"] == len(ok["/repos/PyGithub/PyGithub/collaborators"])
    line = next(s for s in state.snapshot if s["subject"] == "user:" + direct[0]["login"])
    assert (line["target"], line["resource"], line["permission"]) == (
        "role:github/repo-access", "github:hegde5/PyGithub", "admin")
    # nested teams: the three children of team 12345678 (named by id) hold it, under its slug
    children = ok["/organizations/1234567/team/12345678/teams"]
    parent = ok["/teams/12345678"]
    assert {(s["subject"], s["target"]) for s in state.snapshot if s["via"] == "team parent"} == {
        ("group:github/BeaverSoftware/" + c["name"].lower(), "group:github/BeaverSoftware/" + parent["slug"])
        for c in children}
    assert ctx.converted["nested team"] == len(children)
    assert sum(ctx.skipped["invitation"].values()) == sum(1 for u in ok if u.endswith("/invitations"))


def test_history_and_state_of_one_org_line_up_and_show_the_drift(tmp_path: Path) -> None:
    out = tmp_path / "gh"
    assert main(["import", "github-state", str(FIXTURES / "pages.jsonl"), "--out", str(out)]) == 0
    assert main(["import", "github", str(FIXTURES / "auditlog.jsonl"), "--out", str(out / "history" / "gh.jsonl"),
                 "--force"]) == 0
    project = pipeline.load(out)
    state = pipeline.replay(project, "2026-03-02T12:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    drift = sorted((f.check.split(".")[1], f.subject, f.target, f.finding.resource) for f in report.findings
                   if "drift" in f.check)
    assert drift == [
        ("drift-extra", "user:dave", "group:github/acme/payments", ""),
        ("drift-extra", "user:erin", "group:github/acme", ""),
        ("drift-extra", "user:erin", "role:github/repo-access", "github:acme/api"),
        ("drift-missing", "user:dave", "role:github/repo-access", "github:acme/api"),
    ]


def test_the_fixture_maps_owners_nesting_team_repos_and_levels() -> None:
    state, ctx = run(FIXTURES / "pages.jsonl")
    assert not ctx.problems and not ctx.incomplete_at
    assert ctx.skipped == {"affiliation not direct": Counter({"collaborator": 4}),
                           "invitation": Counter({"invitations": 1})}
    lines = {(s["subject"], s["target"], s["resource"]): s for s in state.snapshot}
    assert ("user:carol", "role:github/org-owner", "github:acme") in lines
    assert ("user:bob", "role:github/org-owner", "github:acme") not in lines  # role=all lists members too
    assert ("group:github/acme/payments", "group:github/acme/engineering", "") in lines
    team_repo = lines[("group:github/acme/payments", "role:github/repo-access", "github:acme/api")]
    assert team_repo["permission"] == "write"
    assert lines[("user:erin", "role:github/repo-access", "github:acme/api")]["permission"] == "admin"
    assert state.roles["role:github/org-owner"]["privileged"] is True


def test_a_team_named_only_by_id_is_incomplete_until_a_team_page_names_it(tmp_path: Path) -> None:
    page = {"url": "https://api.github.com/teams/42/members", "body": [{"login": "ann"}]}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(page) + "\n")
    state, ctx = run(path)
    assert state.snapshot == [] and ctx.skipped["incomplete"] == Counter({"team member": 1})
    assert "team '42' is on no team page" in ctx.incomplete_at[0].message
    team = {"url": "https://api.github.com/orgs/acme/teams", "body": [{"id": 42, "slug": "ops", "name": "Ops"}]}
    path.write_text(json.dumps(page) + "\n" + json.dumps(team) + "\n")
    state, ctx = run(path)
    assert [(s["subject"], s["target"]) for s in state.snapshot] == [("user:ann", "group:github/acme/ops")]


def test_a_body_of_the_wrong_shape_is_a_located_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"url": "https://api.github.com/orgs/acme/members", "body": {"login": "ann"}}\n'
                    '{"url": "https://api.github.com/orgs/acme/teams", "body": ["ops"]}\n')
    assert main(["import", "github-state", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1: the body of https://api.github.com/orgs/acme/members must be a list, not an object" in err
    assert f"{path}:2: [0]: a team must be an object, not a string" in err
