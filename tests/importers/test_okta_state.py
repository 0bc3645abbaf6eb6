"""keytrail import okta-state: Okta Management API pages into a snapshot and a directory."""

from __future__ import annotations

import json
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import okta_state
from keytrail.importers.base import Context
from tests.importers.cassettes import vcr_pages, write_pages

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
TF = DATA / "okta-terraform-provider-okta"
DERIVED = TF / "derived" / "okta_state_list_responses.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "okta-state"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (shared data absent)")
    return path


def run(*paths: Path, strict: bool = False) -> tuple[okta_state.State, Context]:
    ctx = Context("okta-state", strict=strict)
    return okta_state.convert(list(paths), ctx), ctx


def test_the_real_list_responses_every_item_is_converted_or_skipped_by_reason() -> None:
    every = [json.loads(line) for line in need(DERIVED).read_text().splitlines()]
    state, ctx = run(DERIVED)
    assert not ctx.problems
    # a URL read again (the recordings re-read lists as tests change the org): the latest response is the state
    latest: dict[str, dict] = {}
    for row in every:
        if row["url"] not in latest or parsedate_to_datetime(row["date"]) >= parsedate_to_datetime(
                latest[row["url"]]["date"]):
            latest[row["url"]] = row
    rows = list(latest.values())
    assert sum(ctx.skipped["superseded"].values()) == len(every) - len(rows)
    by = Counter()
    for row in rows:
        by[row["endpoint"]] += len(row["body"])
    # objects: every user and group object on a page is read (member pages carry full objects)
    assert ctx.converted["user"] == by["/api/v1/users"] + by["/api/v1/groups/{id}/users"]
    assert ctx.converted["group"] == by["/api/v1/groups"] + by["/api/v1/users/{id}/groups"]
    # edges: converted, or incomplete because the page names a user or group no listing has
    edges = (by["/api/v1/groups/{id}/users"] + by["/api/v1/users/{id}/groups"])
    assert ctx.converted["membership"] + ctx.skipped["incomplete"]["membership"] == edges
    recorded = [r for row in every if row["endpoint"] == "/api/v1/users/{id}/roles" for r in row["body"]]
    user_roles = [r for row in rows if row["endpoint"] == "/api/v1/users/{id}/roles" for r in row["body"]]
    assert Counter(r["type"] for r in recorded) == {"APP_ADMIN": 15, "SUPER_ADMIN": 8, "GROUP_MEMBERSHIP_ADMIN": 3,
                                                       "USER_ADMIN": 2, "HELP_DESK_ADMIN": 1}  # SOURCES.md §10
    assert ctx.converted["admin role"] + ctx.skipped["incomplete"]["admin role"] == len(user_roles)
    app = by["/api/v1/apps/{id}/users"] + by["/api/v1/apps/{id}/groups"]
    assert ctx.skipped["incomplete"]["app assignment"] == app  # no /apps page in the list responses: no names
    assert sum(ctx.skipped["incomplete"].values()) == len(ctx.incomplete_at)
    # every snapshot line names users by login and groups by name, as the System Log importer does
    logins = {u["profile"]["login"] for row in rows for u in row["body"] if "login" in u.get("profile", {})}
    names = {g["profile"]["name"] for row in rows for g in row["body"] if "name" in g.get("profile", {})}
    for line in state.snapshot:
        assert line["subject"].removeprefix("user:") in logins
        assert line["target"].startswith("role:okta/") or line["target"].removeprefix("group:okta/") in names


def test_the_cassettes_of_one_org_resolve_names_from_single_object_pages(tmp_path: Path) -> None:
    cassettes = sorted(need(TF / "test").rglob("*.yaml"))
    pages = [p for c in cassettes for p in vcr_pages(c)]
    path = write_pages(pages, tmp_path / "pages.jsonl")
    state, ctx = run(DERIVED, path)
    assert not ctx.problems
    # the app pages are resolved now (GET /apps/{id} is in the cassettes): Okta's app labels appear
    apps = {p["body"]["label"] for p in pages if p["url"].split("?")[0].rstrip("/").count("/") == 6
            and "/api/v1/apps/" in p["url"] and isinstance(p["body"], dict)}
    assert apps and {r for r in state.roles if r.startswith("role:okta-app/")} == {
        "role:okta-app/" + a.replace(" ", "-") for a in apps}
    assert ctx.converted["app assignment"] > 0
    # a URL read twice is the state twice: only the latest response counts
    urls = Counter(p["url"] for p in pages) + Counter(json.loads(x)["url"] for x in DERIVED.read_text().splitlines())
    assert ctx.skipped["superseded"] == Counter({"a URL read again": sum(n - 1 for n in urls.values())})


def test_the_fixture_maps_roles_apps_owners_managers_and_status() -> None:
    state, ctx = run(FIXTURES / "pages.jsonl")
    assert not ctx.problems and not ctx.incomplete_at
    assert ctx.skipped == {"through a group": Counter({"app assignment": 1})}  # dave's Salesforce via Engineering
    lines = {(s["subject"], s["target"]) for s in state.snapshot}
    assert ("user:bob@acme.example", "role:okta/Super-administrator") in lines      # SUPER_ADMIN, as the log says it
    assert ("user:carol@acme.example", "role:okta/Read-only-admin") in lines        # READ_ONLY_ADMIN
    assert ("group:okta/Engineering", "role:okta-app/GitHub-Enterprise") in lines
    assert ("user:bob@acme.example", "role:okta-app/Salesforce") in lines
    assert ("user:dave@acme.example", "role:okta-app/Salesforce") not in lines
    bob = state.principals["user:bob@acme.example"]
    assert bob["manager"] == "user:carol@acme.example" and bob["name"] == "Bob Ng"
    assert bob["attributes"]["title"] == "Engineer" and "lastLogin" not in bob["attributes"]
    assert state.principals["user:dave@acme.example"]["status"] == "suspended"
    assert state.groups["group:okta/Engineering"]["owner"] == "user:carol@acme.example"
    assert state.roles["role:okta/Super-administrator"]["privileged"] is True
    assert state.captured == "2026-03-02T10:45:01Z"


def test_history_and_state_of_one_org_line_up_and_show_the_drift(tmp_path: Path) -> None:
    out = tmp_path / "okta"
    assert main(["import", "okta-state", str(FIXTURES / "pages.jsonl"), "--out", str(out)]) == 0
    assert main(["import", "okta", str(FIXTURES / "systemlog.jsonl"), "--out", str(out / "history" / "okta.jsonl"),
                 "--force"]) == 0
    project = pipeline.load(out)
    state = pipeline.replay(project, "2026-03-02T12:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    drift = sorted((f.check.split(".")[1], f.subject, f.target) for f in report.findings if "drift" in f.check)
    assert drift == [
        ("drift-extra", "group:okta/Engineering", "role:okta-app/Salesforce"),
        ("drift-extra", "user:bob@acme.example", "group:okta/Everyone"),
        ("drift-extra", "user:carol@acme.example", "group:okta/Everyone"),
        ("drift-extra", "user:carol@acme.example", "role:okta/Read-only-admin"),
        ("drift-extra", "user:dave@acme.example", "group:okta/Engineering"),
        ("drift-extra", "user:dave@acme.example", "group:okta/Everyone"),
        ("drift-missing", "user:bob@acme.example", "role:okta/Read-only-admin"),
    ]


def test_an_unnamed_id_is_incomplete_and_a_bare_list_is_a_located_error(tmp_path: Path, capsys) -> None:
    pages = tmp_path / "p.jsonl"
    pages.write_text('{"url": "/api/v1/groups/00gX/users", "body": [{"id": "00u1", "profile": {"login": "a@x"}}]}\n')
    state, ctx = run(pages)
    assert state.snapshot == [] and ctx.skipped["incomplete"] == Counter({"membership": 1})
    assert "group '00gX' is on no /groups page" in ctx.incomplete_at[0].message
    # the near miss: with the group's page, the membership is read
    pages.write_text(pages.read_text() + '{"url": "/api/v1/groups/00gX", "body": {"id": "00gX", "profile": {"name": "Ops"}}}\n')
    state, ctx = run(pages)
    assert [(s["subject"], s["target"]) for s in state.snapshot] == [("user:a@x", "group:okta/Ops")]
    # one assignment read by itself (GET /apps/{aid}/users/{uid}) is an assignment too
    pages.write_text('{"url": "/api/v1/apps/0oa1/users/00u1", "body": {"id": "00u1", "scope": "USER"}}\n'
                     '{"url": "/api/v1/apps/0oa1", "body": {"id": "0oa1", "label": "Jira Cloud"}}\n'
                     '{"url": "/api/v1/users/00u1", "body": {"id": "00u1", "profile": {"login": "a@x"}}}\n')
    state, ctx = run(pages)
    assert [(s["subject"], s["target"]) for s in state.snapshot] == [("user:a@x", "role:okta-app/Jira-Cloud")]
    bare = tmp_path / "users.json"
    bare.write_text('[{"id": "00u1", "profile": {"login": "a@x"}}]')
    assert main(["import", "okta-state", str(bare), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{bare}[0]: not a page" in err and "okta-state reads Okta API pages" in err
    assert not (tmp_path / "o").exists()
