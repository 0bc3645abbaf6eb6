"""k8s-audit: Kubernetes audit events on RBAC objects become history named like k8s-rbac state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.importers.base import Context, Record, unwrap
from keytrail.importers.k8s_audit import actor_id, convert
from tests.conftest import REPO
from tests.importers import without_source

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


def test_real_eks_sample_events_without_time_are_skipped_not_guessed_unless_a_time_is_given() -> None:
    if not EKS_AUDIT.is_file():
        pytest.skip("the shared EKS audit sample is absent")
    raw = [unwrap(Record(json.loads(line), "eks.jsonl", n, n - 1))
           for n, line in enumerate(EKS_AUDIT.read_text().splitlines(), 1) if line.strip()]
    ctx = Context("k8s-audit")
    events = list(convert([EKS_AUDIT], ctx))
    assert events == []
    # Count independently: RBAC writes that succeeded and carry no timestamp cannot be placed in time.
    writes: dict[int, dict] = {}
    for r in raw:
        d = r.data
        resource = (d.get("objectRef") or {}).get("resource")
        code = (d.get("responseStatus") or {}).get("code")
        if resource in ("roles", "clusterroles", "rolebindings", "clusterrolebindings") \
                and d.get("verb") in ("create", "update", "patch", "delete") \
                and not (isinstance(code, int) and code >= 400) \
                and not d.get("stageTimestamp") and not d.get("requestReceivedTimestamp"):
            writes[r.line] = d
    assert not ctx.problems
    assert sorted(p.line for p in ctx.incomplete_at) == sorted(writes)
    assert all("no stageTimestamp" in p.message for p in ctx.incomplete_at)
    assert sum(ctx.skipped["incomplete"].values()) == len(writes)
    # --assume-time: the same records convert, each saying its time was assumed
    ctx = Context("k8s-audit", assume_time="2026-01-01T00:00:00Z")
    events = list(convert([EKS_AUDIT], ctx))
    assert events and all(e["time"] == "2026-01-01T00:00:00Z" and e["source"]["time_assumed"] for e in events)
    created_roles = sum(1 for d in writes.values() if d["verb"] == "create" and d["objectRef"]["resource"]
                        in ("roles", "clusterroles"))
    assert sum(1 for e in events if e["action"] == "define") == created_roles
    role_edits = sum(1 for d in writes.values() if d["verb"] in ("update", "patch")
                     and d["objectRef"]["resource"] in ("roles", "clusterroles"))
    assert sum(ctx.skipped["role content change"].values()) == role_edits
    handled = sum(ctx.converted.values()) + sum(sum(c.values()) for reason, c in ctx.skipped.items()
                                                if reason not in ("read-only", "failed call", "not RBAC"))
    assert handled == len(writes) and "incomplete" not in ctx.skipped


def test_gke_and_aks_wrapped_audit_events_are_read(tmp_path: Path) -> None:
    """A GKE Cloud Audit Logs entry and an AKS diagnostic log carry the same audit event."""
    gke = {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                            "authenticationInfo": {"principalEmail": "alice@example.com"},
                            "methodName": "io.k8s.authorization.rbac.v1.rolebindings.create",
                            "resourceName": "rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/edit-bob",
                            "serviceName": "k8s.io", "status": {"code": 0},
                            "request": {"kind": "RoleBinding", "metadata": {"name": "edit-bob", "namespace": "team-a"},
                                        "roleRef": {"kind": "ClusterRole", "name": "edit"},
                                        "subjects": [{"kind": "User", "name": "bob"}]}},
           "insertId": "gke-1", "timestamp": "2026-03-01T10:00:00.5Z", "resource": {"type": "k8s_cluster"}}
    denied = json.loads(json.dumps(gke))
    denied["insertId"], denied["protoPayload"]["status"] = "gke-2", {"code": 7, "message": "PERMISSION_DENIED"}
    aks_event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "aks-1", "verb": "delete",
                 "user": {"username": "carol"}, "stageTimestamp": "2026-03-02T10:00:00Z",
                 "objectRef": {"resource": "rolebindings", "namespace": "team-a", "name": "edit-bob"},
                 "responseStatus": {"code": 200}}
    aks = {"category": "kube-audit", "properties": {"log": json.dumps(aks_event), "stream": "stdout"}}
    source = tmp_path / "managed.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in (gke, denied, aks)))
    ctx = Context("k8s-audit")
    events = list(convert([source], ctx))
    assert [(e["id"], e["action"], e["subject"], e["target"], e["resource"], e["actor"]) for e in events] == [
        ("k8s-audit-gke-1", "grant", "user:bob", "role:k8s/edit", "k8s:team-a", "user:alice@example.com"),
        ("k8s-audit-aks-1", "revoke", "user:bob", "role:k8s/edit", "k8s:team-a", "user:carol"),
    ]
    assert events[0]["time"] == "2026-03-01T10:00:00.500000Z"
    assert ctx.skipped == {"failed call": {"create rolebindings": 1}}


def test_real_elastic_sample_mixes_plain_gke_and_aks_events() -> None:
    sample = REPO.parent / "shared" / "data" / "elastic-integrations" / "packages" / "kubernetes" / "data_stream" \
        / "audit_logs" / "_dev" / "test" / "pipeline" / "test-audit.log"
    if not sample.is_file():
        pytest.skip("the shared Elastic Kubernetes audit sample is absent")
    lines = [json.loads(x) for x in sample.read_text().splitlines() if x.strip()]
    ctx = Context("k8s-audit")
    assert list(convert([sample], ctx)) == [] and not ctx.problems
    # independently: none of the sample's requests touch an RBAC object
    plain = [x for x in lines if x.get("kind") == "Event"]
    aks = [x["properties"]["log"] for x in lines if "properties" in x]
    gke = [x for x in lines if "protoPayload" in x]
    assert len(plain) + len(aks) + len(gke) == len(lines)
    assert sum(ctx.skipped["not RBAC"].values()) == len(lines)
    assert ctx.skipped["not RBAC"]["update leases"] == sum(1 for x in plain + aks if x["verb"] == "update")


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


def test_an_event_list_and_event_hub_records_read_like_json_lines(tmp_path: Path) -> None:
    """The webhook backend posts an EventList; AKS through Event Hubs delivers {"records": [...]}."""
    lines = [json.loads(x) for x in (FIXTURES / "rbac.jsonl").read_text().splitlines() if x.strip()]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": lines}))
    hub = tmp_path / "hub.json"
    hub.write_text(json.dumps({"records": [{"category": "kube-audit", "properties": {"log": json.dumps(x)}}
                                           for x in lines]}))
    plain = list(convert([FIXTURES / "rbac.jsonl"], Context("k8s-audit")))
    for source in (listed, hub):
        ctx = Context("k8s-audit")
        events = list(convert([source], ctx))
        assert not ctx.problems
        assert without_source(events) == \
            without_source(plain)
