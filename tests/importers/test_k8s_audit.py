"""k8s-audit: Kubernetes audit events on RBAC objects become history named like k8s-rbac state."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.importers.base import Context, Record, unwrap
from keytrail.importers.k8s_audit import actor_id, convert
from tests.conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "k8s-audit"
EKS_AUDIT = REPO.parent / "shared" / "data" / "panther-analysis" / "derived" / "eks_audit_rbac_rule_tests.jsonl"


def _import(tmp_path: Path, *extra: str) -> list[dict]:
    out = tmp_path / "h.jsonl"
    assert main(["import", "k8s-audit", str(FIXTURES / "rbac.jsonl"), "--out", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_binding_changes_become_grants_and_revokes_per_subject(tmp_path: Path) -> None:
    events = _import(tmp_path)
    seen = [(e["id"], e["action"], e.get("subject"), e.get("target"), e.get("resource")) for e in events]
    assert seen == [
        ("k8s-audit-a1", "define", None, "role:k8s/ops-admin", None),
        ("k8s-audit-a2-1", "grant", "group:k8s/sre", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a2-2", "grant", "user:bob", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a4-1", "grant", "svc:k8s/ci/deployer", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a4-2", "revoke", "user:bob", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a7-1", "revoke", "group:k8s/sre", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a7-2", "revoke", "svc:k8s/ci/deployer", "role:k8s/ops-admin", "k8s:cluster"),
        ("k8s-audit-a8", "retire", None, "role:k8s/ops-admin", None),
    ]
    assert events[1]["actor"] == "svc:k8s/flux-system/helm-controller"
    assert events[0]["time"] == "2026-03-01T10:00:00.123456Z"
    assert events[1]["source"]["id"] == "a2" and events[1]["source"]["line"] == 2


def test_reads_failures_and_other_resources_are_counted_not_dropped(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _import(tmp_path)
    err = capsys.readouterr().err
    assert "skipped 1 (failed call): create rolebindings 1" in err
    assert "skipped 1 (read-only): get clusterrolebindings 1" in err
    assert "skipped 1 (not RBAC): create pods 1" in err


def test_keys_from_the_user_agent(tmp_path: Path) -> None:
    events = _import(tmp_path, "--key-from", "userAgent", "--key-pattern", r"change (CHG-\d+)")
    assert [e.get("key") for e in events if e["id"].startswith("k8s-audit-a2")] == ["CHG-42", "CHG-42"]


def test_actor_names() -> None:
    assert actor_id("system:serviceaccount:kube-system:generic") == "svc:k8s/kube-system/generic"
    assert actor_id("alice@example.com") == "user:alice@example.com"


def test_real_eks_sample_events_without_time_are_problems_not_guesses() -> None:
    if not EKS_AUDIT.is_file():
        pytest.skip("the shared EKS audit sample is absent")
    raw = [unwrap(Record(json.loads(line), "eks.jsonl", n, n - 1))
           for n, line in enumerate(EKS_AUDIT.read_text().splitlines(), 1) if line.strip()]
    ctx = Context("k8s-audit")
    events = list(convert([EKS_AUDIT], ctx))
    assert events == []
    # Count independently: RBAC writes that succeeded and carry no timestamp are problems.
    writes = Counter()
    for r in raw:
        d = r.data
        resource = (d.get("objectRef") or {}).get("resource")
        code = (d.get("responseStatus") or {}).get("code")
        if resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings") \
                and d.get("verb") in ("create", "update", "patch", "delete") \
                and not (isinstance(code, int) and code >= 400) \
                and not d.get("stageTimestamp") and not d.get("requestReceivedTimestamp"):
            writes[r.line] += 1
    assert sorted(p.line for p in ctx.problems) == sorted(writes)
    assert all("no stageTimestamp" in p.message for p in ctx.problems)


def test_history_and_state_of_one_cluster_line_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The audit history explains the bindings the k8s-rbac snapshot shows: no drift between them."""
    project = tmp_path / "cluster"
    assert main(["import", "k8s-rbac", str(FIXTURES / "state.yaml"), "--out", str(project)]) == 0
    assert main(["import", "k8s-audit", str(FIXTURES / "rbac.jsonl"),
                 "--out", str(project / "history" / "audit.jsonl")]) == 0
    capsys.readouterr()
    main(["check", str(project), "--as-of", "2026-03-02T23:59:59Z", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    drift = [f for f in report["findings"] if f["check"].startswith("unexplained.drift")]
    assert drift == []
    unkeyed = {(f["subject"], f["target"]) for f in report["findings"] if f["check"] == "unexplained.missing-key"}
    assert unkeyed == {(None, "role:k8s/ops-admin"), ("group:k8s/sre", "role:k8s/ops-admin"),
                       ("user:bob", "role:k8s/ops-admin"), ("svc:k8s/ci/deployer", "role:k8s/ops-admin")}
