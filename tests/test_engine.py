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


def test_findings_sorted_a_rule_at_a_time_are_in_report_order() -> None:
    from pathlib import Path

    from keytrail.model import Reported

    report = report_of(Path(__file__).resolve().parent.parent / "examples" / "acme")
    assert len({f.rule for f in report.findings}) > 10  # many rules, several per severity
    assert report.findings == sorted(report.findings, key=Reported.sort_key)


def test_one_rule_id_under_two_severities_still_sorts_by_the_whole_key(make_project) -> None:  # type: ignore[no-untyped-def]
    # Rules passed in by hand may repeat an id with another severity: the per-rule sort must
    # not assume one severity per rule id, and a finding is still reported once.
    from dataclasses import replace

    from keytrail.engine import evaluate
    from keytrail.model import Reported, Rule
    from keytrail.view import View

    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": f"user:{s}", "target": "role:r"}
              for s in ("a", "b")]
    root = make_project(directory={"principals": [{"id": "user:a"}]}, events=events)
    project = pipeline.load(root)
    state = pipeline.replay(project, "2026-09-30T23:59:59Z")
    view = View(project, state, pipeline.build_graph(project, state))
    rule = Rule(id="unknown", kind="use", check="orphaned.unknown-principal", severity="low")
    rules = [rule, replace(rule, severity="low"),  # the same rule twice: its findings once
             replace(rule, check="orphaned.unknown-target", severity="critical"),
             Rule(id="target", kind="use", check="orphaned.unknown-target", severity="high")]
    report = evaluate(view, rules)
    assert [(f.rule, f.severity) for f in report.findings] == [
        ("unknown", "critical"), ("unknown", "critical"), ("target", "high"), ("target", "high"),
        ("unknown", "low")]
    assert report.findings == sorted(report.findings, key=Reported.sort_key)


def test_the_chain_memo_stays_bounded_and_changes_no_byte(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Chains behind findings are memoised to share them between findings, in two generations
    # of up to MEMO_LIMIT entries each: a tiny limit must give the same report, and hold no more.
    from pathlib import Path

    from keytrail import view
    from keytrail.render import render_json

    acme = Path(__file__).resolve().parent.parent / "examples" / "acme"
    expected = render_json(report_of(acme))
    monkeypatch.setattr(view, "MEMO_LIMIT", 3)
    report = report_of(acme)
    assert render_json(report) == expected
    chains = report.view.chains
    assert 0 < len(chains.new) <= 3 and len(chains.old) == 3


def test_a_rule_s_digester_gives_the_documented_fingerprint_bytes() -> None:
    # The evaluate loop hashes each rule's part once and continues per finding: the
    # fingerprints, which baselines and waivers match on, must not move by a byte.
    import hashlib

    from keytrail.engine import digester
    from keytrail.model import Finding, Rule

    def digest(rule: Rule, finding: Finding) -> bytes:
        """The fingerprint as documented, spelled out: rule, check, subject, target, resource
        and ident joined by U+001F, hashed at once."""
        parts = [rule.id, rule.check, finding.subject or "", finding.target or "", finding.resource,
                 *finding.ident]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()

    findings = [Finding("m"), Finding("m", subject="user:a", target="role:r", resource="aws:1"),
                Finding("m", subject="user:é\x1fb", target=None, ident=("e1", "e2")),
                Finding("m", subject="", target="", resource="", ident=("",))]
    for rule in (Rule(id="r", kind="use", check="sprawl.redundant-grant", severity=None),
                 Rule(id="x\x1fy", kind="limit", check="limit", severity="high")):
        digest_of = digester(rule)
        for finding in findings:
            assert digest_of(finding) == digest(rule, finding)
    # The near miss: another rule id hashes differently.
    other = Rule(id="r2", kind="use", check="sprawl.redundant-grant", severity=None)
    assert digester(other)(findings[1]) != digest(Rule(id="r", kind="use", check="sprawl.redundant-grant",
                                                        severity=None), findings[1])


def test_waivers_are_matched_per_rule_first_in_policy_order(make_project) -> None:  # type: ignore[no-untyped-def]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a", "target": f"role:r{n}",
               "expires": "2026-02-01T00:00:00Z"} for n in range(2)]
    waiver = {"reason": "on call", "approved_by": "user:boss", "expires": "2027-01-01T00:00:00Z"}
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "one", "use": "sprawl.expired-grant"},
                        {"id": "two", "use": "sprawl.expired-grant"}],
              # A waiver of rule `two` that would cover rule one's findings too, then two of `one`.
              "waivers": [{**waiver, "rule": "two", "subject": "user:a", "ticket": "T-0"},
                          {**waiver, "rule": "one", "target": "role:r1", "ticket": "T-1"},
                          {**waiver, "rule": "one", "subject": "user:*", "ticket": "T-2"}]}
    root = make_project(directory={"principals": [{"id": "user:a"}, {"id": "user:boss"}],
                                   "roles": [{"id": "role:r0"}, {"id": "role:r1"}]},
                        events=events, policies=[policy])
    report = report_of(root)
    tickets = {(f.rule, f.finding.target): f.waived.ticket if f.waived else None for f in report.findings}
    assert tickets == {("one", "role:r0"): "T-2", ("one", "role:r1"): "T-1",
                       ("two", "role:r0"): "T-0", ("two", "role:r1"): "T-0"}
