"""The engine's stamping: locations of policy findings."""

from __future__ import annotations

from keytrail import pipeline
from tests.conftest import report_of


def test_a_policy_finding_without_an_event_points_at_its_rule(make_project) -> None:  # type: ignore[no-untyped-def]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a", "target": f"role:r{n}"}
              for n in range(3)]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "budget", "limit": {"subject": "user:*", "max_entitlements": 2}},
                        {"id": "sod", "separation_of_duties": [["role:r0", "role:r1"]]}]}
    root = make_project(directory={"principals": [{"id": "user:a"}]}, events=events, policies=[policy])
    report = report_of(root)
    where = {f.rule: f.finding.location for f in report.findings}
    assert where["budget"] is not None and where["budget"].path == "policies/p0.yaml"
    assert where["budget"].line == 6
    assert where["sod"] is not None and where["sod"].line == 10


def test_snapshot_fields_beyond_the_three_are_kept_and_shown(make_project) -> None:  # type: ignore[no-untyped-def]
    snapshot = [{"subject": "user:a", "target": "role:r", "resource": "aws:1",
                 "source": {"system": "aws", "arn": "arn:aws:iam::1:user/a"}}]
    root = make_project(directory={"principals": [{"id": "user:a"}], "roles": [{"id": "role:r"}]},
                        snapshot=snapshot,
                        policies=[{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                                   "rules": [{"id": "drift", "use": "unexplained.drift-extra"}]}])
    project = pipeline.load(root)
    assert project.snapshot is not None and project.snapshot[0].extra == {"source": snapshot[0]["source"]}
    report = report_of(root)
    (finding,) = [f.finding for f in report.findings if f.rule == "drift"]
    assert finding.evidence_data()["observed"] == {"source": snapshot[0]["source"]}
