"""The declarative rule kinds, selectors and waivers, run through the real pipeline.

Every test writes a small project (``make_project``), then loads, replays as of
2026-09-30T23:59:59Z, builds the access graph and evaluates the policy. Most
tests are tables: grants in, findings out, compared exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from keytrail import kinds, pipeline
from keytrail.engine import Report
from keytrail.graph import path_ids
from keytrail.selectors import compile_selector, glob_match
from keytrail.view import View

AS_OF = "2026-09-30T23:59:59Z"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)

Doc = dict[str, Any]
Grants = list[Any]
Evaluate = Callable[..., Report]
MakeProject = Callable[..., Path]

#: A small organisation shared by most tests.
ORG: Doc = {
    "principals": [
        {"id": "user:alice", "attributes": {"department": "payments", "employment": "employee",
                                            "level": 3}},
        {"id": "user:carl", "attributes": {"department": "payments", "employment": "contractor"}},
        {"id": "user:dora", "attributes": {"department": "treasury", "employment": "contractor"}},
        {"id": "user:erin", "status": "terminated", "terminated_at": "2026-05-31T17:00:00Z",
         "attributes": {"department": "payments", "employment": "employee"}},
        {"id": "user:sam", "status": "suspended", "suspended_at": "2026-06-01T00:00:00Z"},
        {"id": "user:zoe", "attributes": {"department": "sales", "employment": "employee"}},
        {"id": "svc:bot", "owner": "user:alice", "attributes": {"department": "payments"}},
    ],
    "groups": [{"id": "group:payments"}, {"id": "group:finance"}, {"id": "group:all"},
               {"id": "group:ops"}],
    "roles": [
        {"id": "role:pay-submit"},
        {"id": "role:pay-approve", "privileged": True},
        {"id": "role:prod-admin", "privileged": True, "attributes": {"tier": 0}},
        {"id": "role:prod-read", "attributes": {"tier": 2}},
        {"id": "role:audit"},
    ],
}


def _events(items: Grants) -> list[Doc]:
    """Events one hour apart from 2026-01-01: a tuple is a grant (subject, target[, resource])."""
    out = []
    for n, item in enumerate(items):
        if isinstance(item, tuple):
            subject, target, *rest = item
            event: Doc = {"action": "grant", "subject": subject, "target": target}
            if rest:
                event["resource"] = rest[0]
        else:
            event = {"action": "grant", **item}
        event.setdefault("time", (START + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.append(event)
    return out


def _policy(rules: list[Doc], waivers: list[Doc] | None = None) -> Doc:
    doc: Doc = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "t"},
                           "rules": rules}
    if waivers:
        doc["waivers"] = waivers
    return doc


def _run(root: Path) -> Report:
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF)
    graph = pipeline.build_graph(project, state)
    return pipeline.evaluate(project, state, graph)


@pytest.fixture
def evaluate(make_project: MakeProject) -> Evaluate:
    """``evaluate(rules, grants, waivers=None)`` -> the report, over the ORG directory."""

    def run(rules: list[Doc], grants: Grants, waivers: list[Doc] | None = None) -> Report:
        return _run(make_project(directory=ORG, events=_events(grants),
                                 policies=[_policy(rules, waivers)]))

    return run


def _found(report: Report, rule: str = "r") -> list[tuple[str | None, str | None, str]]:
    """The findings of one rule as (subject, target, resource), sorted."""
    return sorted((f.subject, f.target, f.finding.resource)
                  for f in report.findings if f.rule == rule)


# -- separation of duties ----------------------------------------------------------------------

PAY = ["role:pay-submit", "role:pay-approve"]

SOD_CASES = [
    pytest.param(
        [PAY], [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]}, id="both held directly"),
    pytest.param(
        [PAY], [("user:alice", "role:pay-submit"), ("user:alice", "group:payments"),
                ("group:payments", "role:pay-approve")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]},
        id="one direct, one through a group"),
    pytest.param(
        [PAY], [("user:alice", "group:all"), ("group:all", "group:finance"),
                ("group:finance", "group:payments"), ("group:payments", "role:pay-approve"),
                ("user:alice", "group:ops"), ("group:ops", "role:pay-submit")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]}, id="both through nested groups"),
    pytest.param(
        [PAY], [("user:alice", "group:all"), ("group:all", "group:finance"),
                ("group:finance", "group:all"), ("group:finance", "role:pay-approve"),
                ("group:all", "role:pay-submit")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]}, id="through a group cycle"),
    pytest.param(
        [PAY], [("group:payments", "role:pay-submit"), ("group:payments", "role:pay-approve"),
                ("user:carl", "group:payments"), ("svc:bot", "group:payments")],
        {"user:carl": ["role:pay-approve", "role:pay-submit"],
         "svc:bot": ["role:pay-approve", "role:pay-submit"]},
        id="members of a group holding both fire, the group itself does not"),
    pytest.param(
        [PAY], [("user:alice", "role:pay-submit"), ("user:alice", "role:audit")], {},
        id="one member of the set only"),
    pytest.param(
        [["role:pay-*", "role:*-approve"]], [("user:alice", "role:pay-approve")], {},
        id="one target matching two members of a set is not a conflict"),
    pytest.param(
        [["role:pay-*", "role:pay-*"]], [("user:alice", "role:pay-approve"),
                                         ("user:alice", "role:pay-submit")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]},
        id="two targets matching overlapping members conflict"),
    pytest.param(
        [["role:pay-*", "role:prod-*"]], [("user:alice", "role:pay-approve"),
                                          ("user:alice", "role:pay-submit")], {},
        id="two targets matching the same member do not conflict"),
    pytest.param(
        [PAY], [("user:alice", "role:pay-submit", "aws:1"),
                ("user:alice", "role:pay-approve", "aws:2")],
        {"user:alice": ["role:pay-approve", "role:pay-submit"]},
        id="resources do not separate duties"),
    pytest.param(
        [PAY], [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve"),
                {"action": "revoke", "subject": "user:alice", "target": "role:pay-approve"}], {},
        id="a revoked duty no longer conflicts"),
    pytest.param(
        [["role:pay-submit", {"privileged": True}]],
        [("user:dora", "role:pay-submit"), ("user:dora", "role:prod-admin"),
         ("user:zoe", "role:pay-submit"), ("user:zoe", "role:prod-read")],
        {"user:dora": ["role:pay-submit", "role:prod-admin"]}, id="a mapping selector as a member"),
    pytest.param(
        [["role:pay-submit", "role:pay-approve", "role:audit"]],
        [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve"),
         ("user:alice", "role:audit")],
        {"user:alice": ["role:audit", "role:pay-approve", "role:pay-submit"]},
        id="three duties of one set are all reported (as pairs)"),
]


@pytest.mark.parametrize(("sets", "grants", "expected"), SOD_CASES)
def test_separation_of_duties(evaluate: Evaluate, sets: list[list[Any]], grants: Grants,
                              expected: dict[str, list[str]]) -> None:
    report = evaluate([{"id": "r", "separation_of_duties": sets}], grants)
    found: dict[str, set[str]] = {}
    for f in report.findings:
        if f.rule == "r":
            found.setdefault(f.subject, set()).update(f.finding.evidence_data()["targets"])
    assert {subject: sorted(targets) for subject, targets in found.items()} == expected
    for f in report.findings:
        assert f.check == "separation-of-duties" and f.category == "policy"
        assert f.target == f.finding.evidence_data()["targets"][0]
        assert all(t in f.finding.message for t in f.finding.evidence_data()["targets"])


def test_separation_of_duties_reports_each_conflicting_pair_once(evaluate: Evaluate) -> None:
    """Three duties are three pairs; two targets matching only the same member are no pair."""
    report = evaluate(
        [{"id": "r", "separation_of_duties": [["role:pay-submit", "role:pay-approve*", "role:audit"]]}],
        [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve"),
         ("user:alice", "role:pay-approve-eu"), ("user:alice", "role:audit")])
    pairs = sorted(tuple(f.finding.evidence_data()["targets"]) for f in report.findings if f.rule == "r")
    assert pairs == [("role:audit", "role:pay-approve"), ("role:audit", "role:pay-approve-eu"),
                     ("role:audit", "role:pay-submit"), ("role:pay-approve", "role:pay-submit"),
                     ("role:pay-approve-eu", "role:pay-submit")]  # not (pay-approve, pay-approve-eu)
    assert all(f.finding.message.endswith(f"{a} and {b}") for f in report.findings if f.rule == "r"
               for a, b in [f.finding.evidence_data()["targets"]])


def test_a_third_duty_adds_findings_and_keeps_the_known_pair(evaluate: Evaluate) -> None:
    """A baselined conflict keeps its fingerprint when the subject gains another duty."""
    rules = [{"id": "r", "separation_of_duties": [["role:pay-submit", "role:pay-approve", "role:audit"]]}]
    two = [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve")]
    before = {f.fingerprint for f in evaluate(rules, two).findings if f.rule == "r"}
    after = {f.fingerprint for f in evaluate(rules, [*two, ("user:alice", "role:audit")]).findings if f.rule == "r"}
    assert len(before) == 1 and before < after and len(after) == 3


def test_a_waiver_target_covers_the_pairs_that_involve_it(evaluate: Evaluate) -> None:
    rules = [{"id": "r", "separation_of_duties": [["role:pay-submit", "role:pay-approve", "role:audit"]]}]
    waivers = [{"rule": "r", "subject": "user:alice", "target": "role:audit", "reason": "auditor on loan",
                "approved_by": "user:ciso", "expires": "2099-01-01T00:00:00Z"}]
    report = evaluate(rules, [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve"),
                              ("user:alice", "role:audit")], waivers=waivers)
    waived = {tuple(f.finding.evidence_data()["targets"]): f.waived is not None for f in report.findings
              if f.rule == "r"}
    assert waived == {("role:audit", "role:pay-approve"): True, ("role:audit", "role:pay-submit"): True,
                      ("role:pay-approve", "role:pay-submit"): False}


def test_separation_of_duties_reports_each_set_and_the_paths(evaluate: Evaluate) -> None:
    report = evaluate(
        [{"id": "r", "separation_of_duties": [PAY, ["role:prod-admin", "role:audit"]]}],
        [("user:alice", "group:all"), ("group:all", "group:payments"),
         ("group:payments", "role:pay-approve"), ("user:alice", "role:pay-submit"),
         ("user:alice", "role:prod-admin"), ("user:alice", "role:audit")])
    sets = sorted((f.finding.evidence_data()["set"], tuple(f.finding.evidence_data()["targets"]))
                  for f in report.findings)
    assert sets == [(0, ("role:pay-approve", "role:pay-submit")),
                    (1, ("role:audit", "role:prod-admin"))]
    first = next(f for f in report.findings if f.finding.evidence_data()["set"] == 0)
    paths = first.finding.evidence_data()["paths"]
    assert paths["role:pay-approve"]["path"] == ["user:alice", "group:all", "group:payments",
                                                 "role:pay-approve"]
    assert paths["role:pay-submit"]["path"] == ["user:alice", "role:pay-submit"]
    assert len({f.fingerprint for f in report.findings}) == 2


TANGLE: Grants = [
    # nested groups with a cycle, the same role on several resources, direct and inherited
    ("user:alice", "group:all"), ("user:alice", "group:ops"), ("user:alice", "role:audit", "aws:2"),
    ("group:all", "group:finance"), ("group:finance", "group:all"), ("group:finance", "group:ops"),
    ("group:ops", "role:audit", "aws:1"), ("group:ops", "role:pay-submit"),
    ("group:finance", "role:pay-approve", "aws:1"), ("group:all", "role:pay-approve", "aws:2"),
    ("group:payments", "group:payments"), ("user:carl", "group:payments"),
    ("group:payments", "role:pay-approve"), ("group:payments", "role:pay-submit", "aws:9"),
    ("user:carl", "role:pay-submit", "aws:3"), ("svc:bot", "group:finance"),
]


def test_paths_are_those_of_effective_access(make_project: MakeProject) -> None:
    """forbid shows effective access's first path, separation of duties the shortest one; limit
    counts what effective access lists."""
    rules: list[Doc] = [{"id": "everything", "forbid": {"target": "*"}},
                        {"id": "sod", "separation_of_duties": [["role:*", "group:*"]]},
                        {"id": "count", "limit": {"max_entitlements": 0}}]
    root = make_project(directory=ORG, events=_events(TANGLE), policies=[_policy(rules)])
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF)
    graph = pipeline.build_graph(project, state)
    report = pipeline.evaluate(project, state, graph)
    forbidden = {(f.subject, f.target, f.finding.resource): f.finding.evidence_data()["path"]
                 for f in report.findings if f.rule == "everything"}
    expected = {(s, t, r): path_ids(s or "", paths[0])
                for s in graph.principals() for (t, r), paths in graph.effective(s).items()}
    assert forbidden == expected
    for f in (f for f in report.findings if f.rule == "sod"):
        effective = graph.effective(f.subject or "")
        for target, shown in f.finding.evidence_data()["paths"].items():
            ways = [p for (t, _), ps in sorted(effective.items()) if t == target for p in ps]
            assert shown["path"] == path_ids(f.subject or "", min(ways, key=len))
            assert len(shown["chain"]) == len(shown["path"]) - 1
    assert {f.subject for f in report.findings if f.rule == "sod"} == {"user:alice", "user:carl",
                                                                      "svc:bot"}
    counted = {f.subject: f.finding.evidence_data()["count"] for f in report.findings if f.rule == "count"}
    assert counted == {s: len(graph.effective(s)) for s in graph.principals()}


# -- forbid --------------------------------------------------------------------------------------

FORBID_GRANTS: Grants = [
    ("user:alice", "role:prod-admin"),
    ("user:carl", "role:prod-admin"),
    ("user:dora", "group:ops"), ("group:ops", "role:prod-read"),
    ("user:erin", "role:audit"),
    ("user:sam", "role:prod-read", "aws:prod-1"),
    ("user:zoe", "role:prod-read", "aws:prod-1"), ("user:zoe", "role:prod-read", "aws:dev-1"),
    ("svc:bot", "role:prod-admin", "aws:prod-2"),
]

FORBID_CASES = [
    pytest.param({"subject": {"kind": "user", "attributes": {"employment": "contractor"}},
                  "target": "role:prod-*"},
                 [("user:carl", "role:prod-admin", ""), ("user:dora", "role:prod-read", "")],
                 id="contractors off prod, directly and through a group"),
    pytest.param({"subject": {"attributes": {"department": ["treasury", "sales"]}},
                  "target": "role:prod-read"},
                 [("user:dora", "role:prod-read", ""), ("user:zoe", "role:prod-read", "aws:dev-1"),
                  ("user:zoe", "role:prod-read", "aws:prod-1")],
                 id="an attribute list means one of"),
    pytest.param({"subject": {"kind": "svc"}, "target": "role:*"},
                 [("svc:bot", "role:prod-admin", "aws:prod-2")], id="a kind"),
    pytest.param({"subject": {"kind": ["svc", "user"], "attributes": {"department": "payments"}},
                  "target": "role:prod-admin"},
                 [("svc:bot", "role:prod-admin", "aws:prod-2"),
                  ("user:alice", "role:prod-admin", ""), ("user:carl", "role:prod-admin", "")],
                 id="a kind list together with an attribute"),
    pytest.param({"subject": {"status": "terminated"}, "target": "*"},
                 [("user:erin", "role:audit", "")], id="a status"),
    pytest.param({"subject": {"status": ["suspended", "terminated"]}, "target": "*"},
                 [("user:erin", "role:audit", ""), ("user:sam", "role:prod-read", "aws:prod-1")],
                 id="a status list"),
    pytest.param({"target": "role:prod-read", "resource": "aws:prod-*"},
                 [("user:sam", "role:prod-read", "aws:prod-1"),
                  ("user:zoe", "role:prod-read", "aws:prod-1")],
                 id="a resource glob skips other and unscoped resources"),
    pytest.param({"target": {"privileged": True}, "resource": "*"},
                 [("svc:bot", "role:prod-admin", "aws:prod-2"),
                  ("user:alice", "role:prod-admin", ""), ("user:carl", "role:prod-admin", "")],
                 id="a star resource glob matches unscoped grants too"),
    pytest.param({"subject": "user:*", "target": {"id": "role:prod-*", "attributes": {"tier": 0}}},
                 [("user:alice", "role:prod-admin", ""), ("user:carl", "role:prod-admin", "")],
                 id="target attributes"),
    pytest.param({"target": "group:ops"}, [("user:dora", "group:ops", "")],
                 id="group membership is a target too"),
    pytest.param({"subject": {"attributes": {"employment": "intern"}}, "target": "*"}, [],
                 id="nobody matches"),
]


@pytest.mark.parametrize(("spec", "expected"), FORBID_CASES)
def test_forbid(evaluate: Evaluate, spec: Doc,
                expected: list[tuple[str, str, str]]) -> None:
    report = evaluate([{"id": "r", "forbid": spec}], FORBID_GRANTS)
    assert _found(report) == sorted(expected)
    assert all(f.check == "forbid" and f.category == "policy" for f in report.findings)


def test_forbid_names_the_path_and_the_grant_in_force(evaluate: Evaluate) -> None:
    report = evaluate([{"id": "r", "forbid": {"subject": "user:dora", "target": "role:prod-read"}}],
                      FORBID_GRANTS)
    (f,) = report.findings
    assert f.finding.message == "user:dora must not hold role:prod-read (held through group:ops)"
    assert f.finding.evidence_data()["path"] == ["user:dora", "group:ops", "role:prod-read"]
    assert f.finding.event is not None and f.finding.event.target == "group:ops"
    assert f.finding.location is not None and f.finding.location.path == "history/h.jsonl"


def test_forbid_subject_attributes_from_the_hr_feed(evaluate: Evaluate) -> None:
    """Attributes of principals missing from the directory come from their latest join / move."""
    report = evaluate(
        [{"id": "r", "forbid": {"subject": {"attributes": {"employment": "contractor"}},
                                "target": "role:prod-*"}}],
        [{"action": "join", "subject": "user:new", "attributes": {"employment": "employee"}},
         {"action": "join", "subject": "user:temp", "attributes": {"employment": "employee"}},
         {"action": "move", "subject": "user:temp", "attributes": {"employment": "contractor"}},
         # the directory wins over the feed
         {"action": "move", "subject": "user:alice", "attributes": {"employment": "contractor"}},
         ("user:new", "role:prod-read"), ("user:temp", "role:prod-read"),
         ("user:alice", "role:prod-read")])
    assert _found(report) == [("user:temp", "role:prod-read", "")]


# -- require -------------------------------------------------------------------------------------

T0 = "2026-03-01T10:00:00Z"
FULL = {"actor": "svc:bot", "approver": "user:alice", "key": "pk-1", "ticket": "CHG-1",
        "reason": "on call"}

REQUIRE_CASES = [
    pytest.param({"expires_within": "90d"}, {"expires": "2026-05-30T10:00:00Z"}, [],
                 id="expires exactly at the limit"),
    pytest.param({"expires_within": "90d"}, {"expires": "2026-05-30T10:00:01Z"},
                 ["expires 7776001s after it was granted (at most 90d)"],
                 id="expires a second too late"),
    pytest.param({"expires_within": "P90D"}, {"expires": "2026-04-01T00:00:00Z"}, [],
                 id="ISO duration"),
    pytest.param({"expires_within": "12h"}, {}, ["has no expiry (must expire within 12h)"],
                 id="no expiry at all"),
    pytest.param({"approver": "present"}, {"approver": None}, ["has no approver"],
                 id="approver missing"),
    pytest.param({"approver": "present"}, {"approver": "svc:bot"}, [],
                 id="present accepts the actor as approver"),
    pytest.param({"approver": "not-actor"}, {"approver": "svc:bot"},
                 ["was approved by its own actor svc:bot"], id="approver is the actor"),
    pytest.param({"approver": "not-actor"}, {"approver": None}, ["has no approver"],
                 id="not-actor needs an approver"),
    pytest.param({"approver": "not-actor"}, {"approver": "user:carl"}, [],
                 id="independent approver"),
    pytest.param({"approver": "not-actor"}, {"approver": "user:zoe"}, [],
                 id="not-actor accepts the grantee as approver"),
    pytest.param({"approver": "not-subject"}, {"approver": "user:zoe"},
                 ["was approved by the grantee"],
                 id="approver is the grantee"),
    pytest.param({"approver": "not-subject"}, {"approver": None}, ["has no approver"],
                 id="not-subject needs an approver"),
    pytest.param({"approver": "not-subject"}, {"approver": "svc:bot"}, [],
                 id="not-subject accepts the actor as approver"),
    pytest.param({"key": "present"}, {"key": None}, ["has no key"], id="key missing"),
    pytest.param({"key": "present"}, {"key": ""}, ["has no key"], id="key empty"),
    pytest.param({"ticket": "present"}, {"ticket": None}, ["has no ticket"], id="ticket missing"),
    pytest.param({"reason": "present"}, {"reason": ""}, ["has no reason"], id="reason empty"),
    pytest.param({"key": "present", "ticket": "present", "reason": "present",
                  "approver": "not-actor"}, {}, [], id="everything present"),
    pytest.param({"expires_within": "30d", "approver": "present", "ticket": "present"},
                 {"approver": None, "ticket": None},
                 ["has no expiry (must expire within 30d)", "has no approver", "has no ticket"],
                 id="one finding naming every failed condition"),
]


@pytest.mark.parametrize(("conditions", "fields", "failed"), REQUIRE_CASES)
def test_require_conditions(evaluate: Evaluate, conditions: Doc,
                            fields: Doc, failed: list[str]) -> None:
    event = {"time": T0, "subject": "user:zoe", "target": "role:prod-admin", **FULL, **fields}
    event = {k: v for k, v in event.items() if v is not None}
    report = evaluate([{"id": "r", "require": {"target": "role:prod-*", "grant": conditions}}],
                      [event])
    findings = [f for f in report.findings if f.rule == "r"]
    if not failed:
        assert findings == []
        return
    (f,) = findings
    assert f.finding.evidence_data()["failed"] == failed
    assert f.finding.message == "grant of role:prod-admin to user:zoe " + "; ".join(failed)
    assert (f.subject, f.target, f.check, f.severity) == (
        "user:zoe", "role:prod-admin", "require", "medium")


def test_require_checks_direct_grants_of_matching_subjects_and_targets(
        evaluate: Evaluate) -> None:
    report = evaluate(
        [{"id": "r", "require": {"subject": {"kind": ["user", "group"]},
                                 "target": {"privileged": True},
                                 "grant": {"approver": "present"}}}],
        [("user:alice", "role:prod-admin"),          # fails
         ("user:carl", "role:prod-read"),            # not privileged
         ("svc:bot", "role:prod-admin"),             # subject not selected
         ("user:dora", "group:ops"),                 # not privileged; dora reaches prod-admin ...
         ("group:ops", "role:prod-admin"),           # ... through this grant, which is what fails
         ("user:zoe", "role:pay-approve", "aws:1"),  # a scoped grant
         ("user:sam", "role:pay-approve"),           # revoked below
         {"action": "revoke", "subject": "user:sam", "target": "role:pay-approve"}])
    assert _found(report) == [("group:ops", "role:prod-admin", ""),
                              ("user:alice", "role:prod-admin", ""),
                              ("user:zoe", "role:pay-approve", "aws:1")]
    zoe = next(f for f in report.findings if f.subject == "user:zoe")
    assert zoe.finding.message == "grant of role:pay-approve on aws:1 to user:zoe has no approver"


def test_require_judges_the_grant_in_force(evaluate: Evaluate) -> None:
    """A re-grant replaces the provenance: its approver and expiry are what count."""
    spec = {"id": "r", "require": {"target": "role:prod-admin",
                                   "grant": {"approver": "present", "expires_within": "30d"}}}
    report = evaluate([spec], [
        {"time": "2026-01-01T00:00:00Z", "subject": "user:alice", "target": "role:prod-admin"},
        {"time": "2026-02-01T00:00:00Z", "subject": "user:alice", "target": "role:prod-admin",
         "approver": "user:carl", "expires": "2026-03-01T00:00:00Z"},
        {"time": "2026-01-01T00:00:00Z", "subject": "user:dora", "target": "role:prod-admin",
         "approver": "user:carl", "expires": "2026-01-15T00:00:00Z"},
        {"time": "2026-02-01T00:00:00Z", "subject": "user:dora", "target": "role:prod-admin"}])
    assert _found(report) == [("user:dora", "role:prod-admin", "")]
    (f,) = report.findings
    assert f.finding.event is not None and f.finding.event.id == "ev-0004"


# -- limit ---------------------------------------------------------------------------------------

LIMIT_GRANTS: Grants = [
    ("user:alice", "role:audit"), ("user:alice", "role:prod-read"),
    ("user:alice", "role:pay-submit"),
    ("user:carl", "group:ops"), ("group:ops", "group:finance"), ("group:finance", "role:prod-read"),
    ("user:dora", "role:prod-read", "aws:1"), ("user:dora", "role:prod-read", "aws:2"),
    ("user:dora", "role:prod-admin", "aws:1"),
    ("svc:bot", "role:prod-read"), ("svc:bot", "role:prod-admin"), ("svc:bot", "role:audit"),
    ("svc:bot", "role:pay-approve"),
]

LIMIT_CASES = [
    pytest.param({"max_entitlements": 3}, {"svc:bot": 4}, id="more than the limit"),
    pytest.param({"max_entitlements": 2},
                 {"user:alice": 3, "user:carl": 3, "user:dora": 3, "svc:bot": 4},
                 id="nested groups count, and each resource counts"),
    pytest.param({"max_entitlements": 4}, {}, id="exactly at the limit is fine"),
    pytest.param({"subject": {"kind": "user"}, "max_entitlements": 2},
                 {"user:alice": 3, "user:carl": 3, "user:dora": 3}, id="a subject selector"),
    pytest.param({"target": "role:prod-*", "max_entitlements": 1},
                 {"user:dora": 3, "svc:bot": 2},
                 id="a target selector counts only matching targets"),
    pytest.param({"subject": "user:*", "target": {"privileged": True}, "max_entitlements": 0},
                 {"user:dora": 1}, id="zero allows none"),
]


@pytest.mark.parametrize(("spec", "expected"), LIMIT_CASES)
def test_limit(evaluate: Evaluate, spec: Doc, expected: dict[str, int]) -> None:
    report = evaluate([{"id": "r", "limit": spec}], LIMIT_GRANTS)
    found = {f.subject: f.finding.evidence_data()["count"] for f in report.findings if f.rule == "r"}
    assert found == expected
    for f in report.findings:
        assert f.target is None and f.check == "limit"
        assert len(f.finding.evidence_data()["entitlements"]) == f.finding.evidence_data()["count"]
        what = "matching entitlements" if "target" in spec else "entitlements"
        assert f.finding.message == (f"{f.subject} holds {f.finding.evidence_data()['count']} {what} "
                                     f"(limit {spec['max_entitlements']})")


# -- selectors -----------------------------------------------------------------------------------

SELECTOR_CASES = [
    ("role:prod-*", "role:prod-admin", True),
    ("role:prod-*", "role:prod", False),
    ("role:prod-*", "Role:prod-admin", False),
    ("role:prod-*", "xrole:prod-admin", False),
    ("role:prod-?ead", "role:prod-read", True),
    ("role:prod-[ab]*", "role:prod-admin", True),
    ("role:prod-[!a]*", "role:prod-admin", False),
    ("role:prod.*", "role:prod-admin", False),  # a glob, not a regular expression
    ("*", "svc:anything", True),
    ({"id": "user:*"}, "user:alice", True),
    ({"id": "user:*"}, "svc:bot", False),
    ({"kind": "svc"}, "svc:bot", True),
    ({"kind": ["user", "svc"]}, "group:ops", False),
    ({"kind": "role"}, "role:audit", True),
    ({"status": "active"}, "user:alice", True),
    ({"status": "terminated"}, "user:erin", True),
    ({"status": ["suspended", "terminated"]}, "user:sam", True),
    ({"status": ["suspended", "terminated"]}, "user:alice", False),
    ({"status": "active"}, "user:unknown", False),
    ({"attributes": {"employment": "contractor"}}, "user:carl", True),
    ({"attributes": {"employment": "contractor"}}, "user:alice", False),
    ({"attributes": {"department": ["payments", "treasury"]}}, "user:dora", True),
    ({"attributes": {"department": ["payments", "treasury"]}}, "user:zoe", False),
    ({"attributes": {"department": "payments", "employment": "contractor"}}, "user:alice", False),
    ({"attributes": {"level": 3}}, "user:alice", True),
    ({"attributes": {"level": "3"}}, "user:alice", False),
    ({"attributes": {"tier": [0, 1]}}, "role:prod-admin", True),
    ({"attributes": {"tier": [0, 1]}}, "role:prod-read", False),
    ({"privileged": True}, "role:prod-admin", True),
    ({"privileged": True}, "role:prod-read", False),
    ({"privileged": False}, "role:prod-read", True),
    ({"privileged": True}, "role:undefined", False),
    ({"id": "role:prod-*", "privileged": True}, "role:prod-admin", True),
    ({"id": "role:prod-*", "privileged": True}, "role:pay-approve", False),
    ({"kind": "user", "status": "active", "attributes": {"department": "payments"}}, "user:erin",
     False),
    (None, "anything:at-all", True),
]


@pytest.fixture
def view(make_project: MakeProject) -> View:
    root = make_project(directory=ORG, events=_events([
        {"action": "join", "subject": "user:gone", "attributes": {"department": "x"}},
        {"action": "leave", "subject": "user:gone"},
        {"action": "leave", "subject": "user:alice"}, {"action": "join", "subject": "user:alice"},
        {"action": "leave", "subject": "user:carl"}]))
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF)
    return View(project, state, pipeline.build_graph(project, state))


@pytest.mark.parametrize(("selector", "ident", "expected"), SELECTOR_CASES)
def test_selector(view: View, selector: Any, ident: str, expected: bool) -> None:
    assert compile_selector(selector)(view, ident) is expected


def test_selector_status_of_a_leaver_the_directory_does_not_know(view: View) -> None:
    assert compile_selector({"status": "terminated"})(view, "user:gone")
    assert compile_selector({"attributes": {"department": "x"}})(view, "user:gone")
    # a leave followed by a join is active again
    assert compile_selector({"status": "active"})(view, "user:alice")


def test_selector_status_of_a_leaver_the_directory_still_calls_active(view: View) -> None:
    assert compile_selector({"status": "terminated"})(view, "user:carl")


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("*", "", True), ("aws:*", "aws:1", True), ("aws:*", "gcp:1", False),
    ("aws:?", "aws:12", False),
    ("k8s:prod/*", "k8s:prod/payments", True), ("", "", True), ("", "x", False),
])
def test_glob_match(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


# -- waivers, severities, enabled rules ------------------------------------------------------------

CONTRACTORS = {"id": "r", "forbid": {"subject": {"attributes": {"employment": "contractor"}},
                                     "target": "role:prod-*"}}
CONTRACTOR_GRANTS: Grants = [("user:carl", "role:prod-admin", "aws:prod-1"),
                             ("user:dora", "role:prod-read", "aws:dev-1"),
                             ("user:dora", "role:prod-admin", "aws:prod-1")]


def _waiver(**fields: Any) -> Doc:
    return {"rule": "r", "reason": "accepted", "approved_by": "user:alice",
            "expires": "2027-01-01T00:00:00Z", **fields}


WAIVER_CASES = [
    pytest.param(_waiver(), ["user:carl", "user:dora", "user:dora"],
                 id="no globs waive every finding"),
    pytest.param(_waiver(subject="user:c*"), ["user:carl"], id="subject glob"),
    pytest.param(_waiver(target="role:prod-admin"), ["user:carl", "user:dora"], id="target glob"),
    pytest.param(_waiver(resource="aws:dev-*"), ["user:dora"], id="resource glob"),
    pytest.param(_waiver(subject="user:dora", target="role:*", resource="aws:prod-*"),
                 ["user:dora"],
                 id="every glob given must match"),
    pytest.param(_waiver(subject="user:nobody"), [], id="a glob matching nothing"),
    pytest.param(_waiver(rule="other"), [], id="a waiver for another rule"),
    pytest.param(_waiver(expires="2026-09-01T00:00:00Z"), [],
                 id="an expired waiver does not waive"),
    pytest.param(_waiver(expires=AS_OF), [], id="a waiver expiring exactly at as_of has expired"),
    pytest.param(_waiver(expires="2026-10-01T00:00:00Z"), ["user:carl", "user:dora", "user:dora"],
                 id="a waiver expiring after as_of is in force"),
]


@pytest.mark.parametrize(("waiver", "waived"), WAIVER_CASES)
def test_waivers(evaluate: Evaluate, waiver: Doc, waived: list[str]) -> None:
    rules = [CONTRACTORS, {"id": "other", "limit": {"max_entitlements": 100}}]
    report = evaluate(rules, CONTRACTOR_GRANTS, waivers=[waiver])
    findings = [f for f in report.findings if f.rule == "r"]
    assert len(findings) == 3, "a waived finding stays in the report"
    assert sorted(f.subject or "" for f in findings if f.waived is not None) == waived
    assert all(f.waived is None or f.waived.reason == "accepted" for f in findings)
    assert len(report.failing("info")) == len(report.findings) - len(waived)


def test_an_expired_waiver_is_reported(evaluate: Evaluate) -> None:
    report = evaluate([CONTRACTORS], CONTRACTOR_GRANTS,
                      waivers=[_waiver(subject="user:carl", expires="2026-08-01T00:00:00Z"),
                               _waiver(subject="user:dora")])
    (expired,) = [f for f in report.findings if f.check == "policy.expired-waiver"]
    assert (expired.rule, expired.category, expired.severity, expired.subject) == (
        "policy.expired-waiver", "policy", "medium", "user:carl")
    assert "expired 2026-08-01" in expired.finding.message
    assert expired.finding.location is not None
    assert expired.finding.location.path == "policies/p0.yaml"
    carl = next(f for f in report.findings if f.subject == "user:carl" and f.rule == "r")
    assert carl.waived is None


def test_a_waiver_in_force_is_not_reported(evaluate: Evaluate) -> None:
    report = evaluate([CONTRACTORS], CONTRACTOR_GRANTS, waivers=[_waiver()])
    assert [f for f in report.findings if f.check == "policy.expired-waiver"] == []


@pytest.mark.parametrize("kind", sorted(kinds.REGISTRY))
def test_default_severity_of_every_kind_is_medium(kind: str) -> None:
    assert kinds.get(kind).SEVERITY == "medium"


SEVERITY_RULES: list[Doc] = [
    {"id": "sod", "separation_of_duties": [PAY]},
    {"id": "forbid", "forbid": {"target": "role:pay-*"}},
    {"id": "require", "require": {"target": "role:pay-*", "grant": {"ticket": "present"}}},
    {"id": "limit", "limit": {"max_entitlements": 1}},
]
SEVERITY_GRANTS: Grants = [("user:alice", "role:pay-submit"), ("user:alice", "role:pay-approve")]


@pytest.mark.parametrize("severity", [None, "info", "critical"])
def test_the_rule_overrides_the_default_severity(evaluate: Evaluate, severity: str | None) -> None:
    rules = [dict(r, severity=severity) if severity else r for r in SEVERITY_RULES]
    report = evaluate(rules, SEVERITY_GRANTS)
    assert {f.rule for f in report.findings} == {"sod", "forbid", "require", "limit"}
    assert {f.severity for f in report.findings} == {severity or "medium"}


def test_disabled_rules_do_not_run(evaluate: Evaluate) -> None:
    rules = [dict(r, enabled=r["id"] in ("forbid", "limit")) for r in SEVERITY_RULES]
    report = evaluate(rules, SEVERITY_GRANTS)
    assert {f.rule for f in report.findings} == {"forbid", "limit"}
    assert {r.id for r in report.rules} == {"forbid", "limit", "policy.expired-waiver"}


# -- order and fingerprints ----------------------------------------------------------------------

ALL_RULES: list[Doc] = [
    {"id": "sod", "severity": "high", "separation_of_duties": [PAY]},
    {"id": "contractors", "severity": "critical", "forbid": {
        "subject": {"attributes": {"employment": "contractor"}}, "target": "role:prod-*"}},
    {"id": "approved", "require": {"target": {"privileged": True},
                                   "grant": {"approver": "not-actor"}}},
    {"id": "cap", "severity": "low", "limit": {"max_entitlements": 2}},
]
ALL_GRANTS: Grants = [
    ("user:alice", "role:pay-submit"), ("user:alice", "group:payments"),
    ("group:payments", "role:pay-approve"), ("user:carl", "role:prod-admin"),
    ("user:dora", "role:prod-read", "aws:1"), ("user:dora", "role:prod-read", "aws:2"),
    ("user:dora", "role:audit"), ("svc:bot", "role:pay-submit"), ("svc:bot", "role:pay-approve"),
]


def _identity(report: Report) -> list[tuple[Any, ...]]:
    return [(f.rule, f.subject, f.target, f.finding.resource, f.fingerprint)
            for f in report.findings]


def _all(make_project: MakeProject, grants: Grants = ALL_GRANTS, rules: list[Doc] = ALL_RULES
         ) -> Report:
    return _run(make_project(directory=ORG, events=_events(grants), policies=[_policy(rules)]))


def test_finding_order_is_deterministic(make_project: MakeProject) -> None:
    forward = _all(make_project)
    backward = _all(make_project, rules=ALL_RULES[::-1])
    assert _identity(forward) == _identity(backward)
    severities = [f.severity for f in forward.findings]
    assert severities == sorted(severities, key=["critical", "high", "medium", "low", "info"].index)
    assert [(f.rule, f.subject) for f in forward.findings] == [
        ("contractors", "user:carl"), ("contractors", "user:dora"), ("contractors", "user:dora"),
        ("sod", "svc:bot"), ("sod", "user:alice"),
        ("approved", "group:payments"), ("approved", "svc:bot"), ("approved", "user:carl"),
        ("cap", "user:alice"), ("cap", "user:dora")]


def test_fingerprints_are_stable_and_ignore_unrelated_events(make_project: MakeProject) -> None:
    first = _all(make_project)
    again = _all(make_project)
    assert _identity(first) == _identity(again)
    assert len({f.fingerprint for f in first.findings}) == len(first.findings)
    # Inserted first, these also shift every later event's id and time.
    unrelated = [{"action": "join", "subject": "user:new", "attributes": {"department": "x"}},
                 ("user:zoe", "role:audit"), *ALL_GRANTS,
                 {"action": "define", "target": "role:other"}, ("user:zoe", "group:ops")]
    changed = _all(make_project, unrelated)
    assert {f.fingerprint for f in changed.findings} == {f.fingerprint for f in first.findings}


def test_fingerprints_ignore_counts_and_provenance(make_project: MakeProject) -> None:
    """A limit finding keeps its fingerprint when the count changes; a re-grant keeps forbid's."""
    grants = [*ALL_GRANTS, ("user:dora", "role:prod-admin"),
              {"subject": "user:carl", "target": "role:prod-admin", "approver": "user:zoe"}]
    first = _all(make_project)
    later = _all(make_project, grants)

    def fps(report: Report, rule: str, subject: str) -> set[str]:
        return {f.fingerprint for f in report.findings if f.rule == rule and f.subject == subject}
    assert fps(first, "cap", "user:dora") == fps(later, "cap", "user:dora")
    assert fps(first, "contractors", "user:carl") == fps(later, "contractors", "user:carl")
    # the re-grant named an independent approver: the require finding is gone, not renamed
    assert fps(first, "approved", "user:carl") and not fps(later, "approved", "user:carl")
