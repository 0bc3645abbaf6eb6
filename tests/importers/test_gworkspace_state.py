"""keytrail import gworkspace-state: Admin SDK Directory API pages into a snapshot and a directory."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import gworkspace_state
from keytrail.importers.base import Context

FIXTURES = Path(__file__).parent / "fixtures" / "gworkspace-state"
PAGES = FIXTURES / "pages.jsonl"


def run(*paths: Path) -> tuple[gworkspace_state.State, Context]:
    ctx = Context("gworkspace-state")
    return gworkspace_state.convert(list(paths), ctx), ctx


def _bodies() -> dict[str, dict]:
    rows = [json.loads(line) for line in PAGES.read_text().splitlines()]
    return {r["url"].split("/admin/directory/v1")[1].split("?")[0]: r["body"] for r in rows}


def test_every_object_of_the_pages_is_converted_or_skipped_by_reason() -> None:
    bodies = _bodies()
    state, ctx = run(PAGES)
    assert not ctx.problems and not ctx.incomplete_at
    members = [m for k, b in bodies.items() if k.endswith("/members") for m in b["members"]]
    assert ctx.converted == {
        "user": len(bodies["/users"]["users"]), "group": len(bodies["/groups"]["groups"]),
        "role": len(bodies["/customer/my_customer/roles"]["items"]),
        "org unit": len(bodies["/customer/my_customer/orgunits"]["organizationUnits"]),
        "member": sum(1 for m in members if m["type"] != "CUSTOMER"),
        "role assignment": len(bodies["/customer/my_customer/roleassignments"]["items"])}
    assert ctx.skipped == {"whole domain": Counter({"member": sum(1 for m in members if m["type"] == "CUSTOMER")})}
    lines = {(s["subject"], s["target"], s["resource"]) for s in state.snapshot}
    assert ("group:gws/payments@acme.example", "group:gws/eng@acme.example", "") in lines   # nested, by e-mail
    assert ("user:bob@acme.example", "role:gws/Help-Desk", "gws:/Engineering") in lines     # scoped to an org unit
    assert ("user:carol@acme.example", "role:gws/_SEED_ADMIN_ROLE", "") in lines           # super admin
    assert state.principals["user:pat@partner.example"]["attributes"] == {"external": True}
    bob = state.principals["user:bob@acme.example"]
    assert (bob["name"], bob["manager"], bob["attributes"]["title"]) == ("Bob Ng", "user:carol@acme.example", "Engineer")
    assert "lastLoginTime" not in json.dumps(state.principals)  # usage is not state
    assert state.principals["user:dave@acme.example"]["status"] == "suspended"
    assert state.groups["group:gws/eng@acme.example"]["owner"] == "user:carol@acme.example"
    assert state.roles["role:gws/_SEED_ADMIN_ROLE"]["permissions"] == ["01ci93xb3tmzyin:SUPER_ADMIN"]


def test_history_and_state_of_one_domain_line_up_and_show_the_drift(tmp_path: Path) -> None:
    out = tmp_path / "gws"
    assert main(["import", "gworkspace-state", str(PAGES), "--out", str(out)]) == 0
    assert main(["import", "gworkspace", str(FIXTURES / "activities.json"), "--out",
                 str(out / "history" / "gws.jsonl"), "--force"]) == 0
    project = pipeline.load(out)
    state = pipeline.replay(project, "2026-03-02T12:00:00Z")
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    drift = sorted((f.check.split(".")[1], f.subject, f.target, f.finding.resource) for f in report.findings
                   if "drift" in f.check)
    assert drift == [
        # the Reports event of a group added to a group does not say the member is a group: the
        # history names it user:<e-mail>, the state group:gws/<e-mail> (docs/real-data-gworkspace.md)
        ("drift-extra", "group:gws/payments@acme.example", "group:gws/eng@acme.example", ""),
        ("drift-extra", "user:dave@acme.example", "group:gws/payments@acme.example", ""),
        ("drift-extra", "user:dave@acme.example", "role:gws/_GROUPS_ADMIN_ROLE", ""),
        ("drift-extra", "user:pat@partner.example", "group:gws/payments@acme.example", ""),
        ("drift-missing", "user:erin@acme.example", "group:gws/payments@acme.example", ""),
        ("drift-missing", "user:payments@acme.example", "group:gws/eng@acme.example", ""),
    ]


def test_ids_no_page_names_are_incomplete_and_the_near_miss_resolves(tmp_path: Path) -> None:
    base = "https://admin.googleapis.com/admin/directory/v1"
    assignment = {"url": f"{base}/customer/my_customer/roleassignments", "body": {"items": [
        {"roleAssignmentId": "1", "roleId": "7", "assignedTo": "42", "scopeType": "CUSTOMER"}]}}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(assignment) + "\n")
    state, ctx = run(path)
    assert state.snapshot == [] and ctx.skipped["incomplete"] == Counter({"role assignment": 1})
    assert ctx.incomplete_at[0].message == ("items[0]: role '7' is on no /roles page and user '42' is on no /users "
                                            "page: no name to give it")
    path.write_text(path.read_text() + json.dumps({"url": f"{base}/users", "body": {"users": [
        {"id": "42", "primaryEmail": "ann@x.example"}]}}) + "\n" + json.dumps({
            "url": f"{base}/customer/my_customer/roles", "body": {"items": [{"roleId": "7", "roleName": "Help Desk"}]}})
        + "\n")
    state, ctx = run(path)
    assert [(s["subject"], s["target"]) for s in state.snapshot] == [("user:ann@x.example", "role:gws/Help-Desk")]


def test_a_body_of_the_wrong_shape_is_a_located_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"url": "https://admin.googleapis.com/admin/directory/v1/users", "body": {"users": {"a": 1}}}\n'
                    '{"url": "/admin/directory/v1/groups/g/members", "body": {"members": ["ann@x"]}}\n')
    assert main(["import", "gworkspace-state", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1: body.users must be a list, not an object" in err
    assert f"{path}:2: members[0]: a member must be an object, not a string" in err
    assert not (tmp_path / "o").exists()
