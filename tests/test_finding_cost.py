"""The per-finding path made cheaper, with the same values: chains, times, findings, summaries."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from tests.conftest import report_of

ACME = Path(__file__).resolve().parent.parent / "examples" / "acme"


def _view(root: Path) -> Any:
    from keytrail.view import View

    project = pipeline.load(root)
    state = pipeline.replay(project, "2026-09-30T23:59:59Z")
    return View(project, state, pipeline.build_graph(project, state))


def _grants_view(make_project: Any, count: int) -> Any:
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a", "target": f"role:r{n}"}
              for n in range(count)]
    return _view(make_project(directory={"principals": [{"id": "user:a"}]}, events=events))


def test_a_chain_asked_again_after_the_memo_fills_comes_from_the_older_generation(
        make_project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from keytrail import view as view_module
    from keytrail.checks._util import grant_chain

    monkeypatch.setattr(view_module, "MEMO_LIMIT", 2)
    view = _grants_view(make_project, 8)
    grants = view.graph.direct["user:a"]
    first = grant_chain(view, grants[0])
    grant_chain(view, grants[1])
    grant_chain(view, grants[2])  # the newer generation was full: it became the older one
    assert grant_chain(view, grants[0]) is first  # found there, not built again
    # The near miss: two more fills later the chain is gone, and built again (the same values).
    for grant in grants[3:8]:
        grant_chain(view, grant)
    again = grant_chain(view, grants[0])
    assert again is not first and again == first
    assert len(view.chains.new) <= 2 and len(view.chains.old) <= 2


def test_building_chains_never_drops_what_checks_share_in_the_view_memo(
        make_project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Key uses and usage data are computed once per view and kept in view.memo; the chain
    # memo used to share that table and clear it when full, so they were computed again.
    from keytrail import view as view_module
    from keytrail.checks import _util

    monkeypatch.setattr(view_module, "MEMO_LIMIT", 2, raising=False)
    monkeypatch.setattr(_util, "MEMO_LIMIT", 2, raising=False)  # where the limit used to be
    view = _grants_view(make_project, 6)
    view.memo["shared"] = sentinel = object()
    for grant in view.graph.direct["user:a"]:
        _util.grant_chain(view, grant)
    assert view.memo.get("shared") is sentinel
    # The near miss: the chains themselves are still bounded.
    assert len(view.chains.new) + len(view.chains.old) <= 4


def test_a_stand_in_view_without_a_chain_memo_still_gets_chains(make_project: Any) -> None:
    # The recording gate runs the key checks on a view of one proposed change, which has no
    # chain memo: the chain is built, not shared.
    from types import SimpleNamespace

    from keytrail.checks._util import chain, grant_chain

    view = _grants_view(make_project, 1)
    (grant,) = view.graph.direct["user:a"]
    bare = SimpleNamespace(keys=view.keys, location=view.location)
    assert chain(bare, grant.event) == chain(view, grant.event)
    assert grant_chain(bare, grant) == grant_chain(view, grant)
    # The near miss: a full view shares one dict between askers; the stand-in builds anew.
    assert grant_chain(view, grant) is grant_chain(view, grant)
    assert grant_chain(bare, grant) is not grant_chain(bare, grant)


def _reference_time(us: int) -> str:
    from keytrail.timeutil import to_datetime

    moment = to_datetime(us)
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}"
    return text + (f".{moment.microsecond:06d}Z" if moment.microsecond else "Z")


def test_times_and_dates_are_formatted_from_tables_as_datetime_formats_them() -> None:
    from keytrail import timeutil

    DAY, SECOND, format_date, format_time = timeutil.DAY, timeutil.SECOND, timeutil.format_date, timeutil.format_time

    rng = random.Random(12)
    samples = [rng.randrange(timeutil.MIN_TIME, timeutil.MAX_TIME) for _ in range(3000)]
    samples += [s - s % SECOND for s in samples]
    samples += [timeutil.MIN_TIME, timeutil.MAX_TIME, 0, -1, 1, DAY - 1, DAY, DAY - SECOND, -SECOND]
    for us in samples:
        assert format_time(us) == _reference_time(us), us
        assert format_date(us) == _reference_time(us)[:10], us
    assert format_time(timeutil.parse_time("2026-03-01T23:59:59Z")) == "2026-03-01T23:59:59Z"
    # The near miss: a fraction is shown only when there is one.
    assert format_time(timeutil.parse_time("2026-03-01T00:00:00.5Z")) == "2026-03-01T00:00:00.500000Z"
    assert format_time(None) is None and format_date(None) == ""


def test_findings_and_reported_keep_their_dataclass_behaviour() -> None:
    from keytrail.model import Finding, Reported

    bare = Finding("m")
    assert (bare.subject, bare.target, bare.resource, bare.event, bare.key, bare.location, bare.ident,
            bare.also) == (None, None, "", None, None, None, (), ())
    assert bare.evidence == {} and bare.evidence is not Finding("m").evidence  # a new dict each
    full = Finding("m", "user:a", "role:r", "aws:1", None, "pk-1", {"x": 1}, None, ("e",), ("role:s",))
    assert full == Finding(message="m", subject="user:a", target="role:r", resource="aws:1", key="pk-1",
                           evidence={"x": 1}, ident=("e",), also=("role:s",))
    assert hash(full) == hash(replace(full, evidence={}))  # evidence is not hashed
    assert replace(full, target="role:t").target == "role:t"
    with pytest.raises(FrozenInstanceError):
        full.subject = "user:b"  # type: ignore[misc]
    with pytest.raises(TypeError, match="Finding.__init__"):
        Finding()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Finding("m", colour="red")  # type: ignore[call-arg]
    item = Reported("r", "sprawl.redundant-grant", "sprawl", "low", full, b"\x01" * 32)
    assert (item.waived, item.controls) == (None, ())
    assert item == Reported(rule="r", check="sprawl.redundant-grant", category="sprawl", severity="low",
                            finding=full, digest=b"\x01" * 32)
    assert item.fingerprint == "sha256:" + "01" * 32
    with pytest.raises(FrozenInstanceError):
        item.severity = "high"  # type: ignore[misc]


def test_finding_data_copies_a_held_mapping_and_builds_deferred_evidence_afresh() -> None:
    from keytrail.checks._util import deferred
    from keytrail.model import Finding, Reported
    from keytrail.report import finding_data

    report = report_of(ACME)
    held = {"count": 3}
    item = Reported("r", "c", "sprawl", "low", Finding("m", evidence=held), b"\0" * 32)
    data = finding_data(report, item)
    data["evidence"]["count"] = 4
    assert held == {"count": 3}  # the finding's own mapping is not the output's
    lazy = Reported("r", "c", "sprawl", "low", Finding("m", evidence=deferred(lambda n: {"n": n}, 1)),
                    b"\0" * 32)
    one, two = finding_data(report, lazy)["evidence"], finding_data(report, lazy)["evidence"]
    assert one == two == {"n": 1} and one is not two
    assert list(data) == ["rule", "check", "category", "severity", "subject", "target", "resource", "event",
                          "key", "message", "evidence", "location", "fingerprint", "waived"]


@pytest.mark.parametrize("with_baseline", [False, True])
def test_the_summary_counts_what_failing_lists(with_baseline: bool) -> None:
    from keytrail.model import SEVERITIES
    from keytrail.report import summary

    report = report_of(ACME)
    assert any(item.waived is not None for item in report.findings)  # acme waives some
    if with_baseline:
        report.baseline = frozenset(item.fingerprint for item in report.findings[::2])
    for threshold in SEVERITIES:
        assert summary(report, threshold)["failing"] == len(report.failing(threshold))
    assert summary(report, "info")["failing"] > 0


def test_drift_missing_lists_grants_by_subject_target_and_resource(make_project: Any) -> None:
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": s, "target": t, "resource": r}
              for s, t, r in [("user:b", "role:z", ""), ("user:a", "role:z", "aws:2"),
                              ("user:b", "role:a", "aws:1"), ("user:a", "role:z", "aws:1"),
                              ("user:a", "group:g", "")]]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "missing", "use": "unexplained.drift-missing"}]}
    root = make_project(directory={"principals": [{"id": "user:a"}, {"id": "user:b"}]}, events=events,
                        snapshot=[{"subject": "user:b", "target": "role:a", "resource": "aws:1"}],
                        policies=[policy])
    found = [(i.subject, i.target, i.finding.resource) for i in report_of(root).findings
             if i.rule == "missing"]
    # The near miss: the grant the snapshot shows is not listed.
    assert found == [("user:a", "group:g", ""), ("user:a", "role:z", "aws:1"), ("user:a", "role:z", "aws:2"),
                     ("user:b", "role:z", "")]
