"""``sprawl.peer-outlier`` names the peers who do hold an outlying role, for every user compared.

The holders are gathered before the findings are yielded (so that the findings need not be
held), for the roles rare among a value's users: a user who is not counted among them (not
active) must be given the same holders as a counted one would be.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import report_of


def _project(make_project: Any) -> Any:
    people = [{"id": "user:alice", "status": "terminated", "attributes": {"department": "payments"}}]
    people += [{"id": f"user:p{n}", "attributes": {"department": "payments"}} for n in range(1, 11)]
    return make_project(
        directory={"principals": people},
        events=[{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": s, "target": "role:x"}
                for s in ("user:alice", "user:p1", "user:p2")],
        policies=[{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                   "rules": [{"id": "outlier", "use": "sprawl.peer-outlier",
                              "with": {"threshold": 0.21, "min_peers": 4}}]}])


def test_each_outlier_names_the_other_holders_counted_or_not(make_project: Any) -> None:
    report = report_of(_project(make_project))
    evidence = {item.subject: dict(item.finding.evidence_data()) for item in report.findings}
    assert set(evidence) == {"user:alice", "user:p1", "user:p2"}
    # alice is not active: 2 of her 10 active peers hold the role, and both are named.
    assert (evidence["user:alice"]["holders"], evidence["user:alice"]["peers"]) == (2, 10)
    assert evidence["user:alice"]["peer_holders"] == ["user:p1", "user:p2"]
    # p1 is counted: 1 of 9 peers, the other holder named, never p1 itself.
    assert (evidence["user:p1"]["holders"], evidence["user:p1"]["peers"]) == (1, 9)
    assert evidence["user:p1"]["peer_holders"] == ["user:p2"]
    assert evidence["user:p2"]["peer_holders"] == ["user:p1"]
