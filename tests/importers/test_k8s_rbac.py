"""keytrail import k8s-rbac: Kubernetes RBAC manifests into a snapshot and a directory."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from keytrail import pipeline
from keytrail.cli import main
from keytrail.importers import k8s_rbac
from keytrail.importers.base import Context

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
BOOTSTRAP = DATA / "kubernetes-bootstrap-rbac/plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata"
EKS_AUDIT = DATA / "panther-analysis/derived/eks_audit_rbac_rule_tests.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "k8s-rbac"
AS_OF = "2026-09-30T23:59:59Z"


def _convert(*paths: Path, strict: bool = False) -> tuple[Context, k8s_rbac.State]:
    ctx = Context("k8s-rbac", strict=strict)
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    return ctx, k8s_rbac.convert(files, ctx)


def _bootstrap_items() -> list[dict]:
    if not BOOTSTRAP.is_dir():
        pytest.skip("the shared Kubernetes bootstrap RBAC sample is absent")
    items = []
    for path in sorted(BOOTSTRAP.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            items.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return items


def _check_json(root: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{root.name}-findings.json"
    main(["check", str(root), "--as-of", AS_OF, "-f", "json", "-o", str(out)])
    return json.loads(out.read_text())


# --- the real bootstrap RBAC --------------------------------------------------------------


def test_bootstrap_counts_match_an_independent_count() -> None:
    items = _bootstrap_items()
    by_kind = Counter(i["kind"] for i in items)
    bindings = [i for i in items if i["kind"].endswith("Binding")]
    with_subjects = [b for b in bindings if b.get("subjects")]
    ctx, state = _convert(BOOTSTRAP)
    assert not ctx.problems
    converted = dict(by_kind)
    converted["ClusterRoleBinding"] -= sum(1 for b in bindings if not b.get("subjects")
                                           and b["kind"] == "ClusterRoleBinding")
    assert dict(ctx.converted) == converted
    assert sum(ctx.skipped["grants nothing"].values()) == len(bindings) - len(with_subjects)
    assert len(state.snapshot) == sum(len(b["subjects"]) for b in with_subjects)
    assert len(state.roles) == by_kind["Role"] + by_kind["ClusterRole"]
    subjects = {(s["kind"], s["name"], s.get("namespace", b["metadata"].get("namespace")))
                for b in with_subjects for s in b["subjects"]}
    assert len(state.groups) == sum(1 for s in subjects if s[0] == "Group")
    assert len(state.principals) == sum(1 for s in subjects if s[0] != "Group")


def test_bootstrap_naming_and_scoping() -> None:
    _bootstrap_items()
    ctx, state = _convert(BOOTSTRAP)
    lines = {(s["subject"], s["target"], s["resource"]) for s in state.snapshot}
    assert ("group:k8s/system:masters", "role:k8s/cluster-admin", "k8s:cluster") in lines
    assert ("svc:k8s/kube-system/kube-dns", "role:k8s/system:kube-dns", "k8s:cluster") in lines
    assert ("svc:k8s/kube-system/bootstrap-signer", "role:k8s/kube-public/system:controller:bootstrap-signer",
            "k8s:kube-public") in lines
    admin = state.roles["role:k8s/cluster-admin"]
    assert admin["privileged"] is True and "*:*/*" in admin["permissions"]
    assert state.roles["role:k8s/view"].get("privileged") is None
    # every line points back to the raw object
    first = state.snapshot[0]["source"]
    assert first["file"].endswith("cluster-role-bindings.yaml") and first["line"] == 3


def test_bootstrap_end_to_end_reports_bindings_to_undefined_roles(tmp_path: Path) -> None:
    items = _bootstrap_items()
    defined = {i["metadata"]["name"] for i in items if i["kind"] == "ClusterRole"}
    dangling = [(b["metadata"]["name"], s["name"]) for b in items if b["kind"] == "ClusterRoleBinding"
                for s in b.get("subjects") or [] if b["roleRef"]["name"] not in defined]
    assert dangling  # the sample is known to reference roles it lacks
    out = tmp_path / "k8s"
    assert main(["import", "k8s-rbac", str(BOOTSTRAP), "--out", str(out), "--assume-time", AS_OF]) == 0
    snapshot = [json.loads(line) for line in (out / "snapshot.jsonl").read_text().splitlines()]
    report = _check_json(out, tmp_path)
    checks = Counter(f["check"] for f in report["findings"])
    # no history: every binding subject is drift the history does not explain
    assert checks["unexplained.drift-extra"] == len({(s["subject"], s["target"], s["resource"]) for s in snapshot})
    # the bindings to roles the sample lacks are unknown targets straight from the snapshot
    assert checks["orphaned.unknown-target"] == len(dangling)
    # adopt the snapshot as a baseline history: the dangling bindings are now unknown targets
    adopted = "".join(json.dumps({"id": f"adopt-{n}", "time": "2026-01-01T00:00:00Z", "action": "grant",
                                  "subject": s["subject"], "target": s["target"], "resource": s["resource"]}) + "\n"
                      for n, s in enumerate(snapshot, 1))
    (out / "history" / "adopted.jsonl").write_text(adopted)
    report = _check_json(out, tmp_path)
    unknown = [f for f in report["findings"] if f["check"] == "orphaned.unknown-target"]
    assert len(unknown) == len(dangling)
    assert {f["target"] for f in unknown} == {f"role:k8s/{b['roleRef']['name']}" for b in items
                                              if b["kind"] == "ClusterRoleBinding" and b.get("subjects")
                                              and b["roleRef"]["name"] not in defined}
    assert not [f for f in report["findings"] if f["check"] == "unexplained.drift-extra"]


def test_audit_events_are_refused_with_a_pointer_to_history() -> None:
    if not EKS_AUDIT.is_file():
        pytest.skip("the shared EKS audit sample is absent")
    raw = [json.loads(line) for line in EKS_AUDIT.read_text().splitlines() if line.strip()]
    ctx, state = _convert(EKS_AUDIT)
    assert len(ctx.problems) == len(raw)
    assert "audit event" in ctx.problems[0].message and "history" in ctx.problems[0].message
    assert not state.snapshot


def test_audit_event_via_the_cli_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "state"
    assert main(["import", "k8s-rbac", str(FIXTURES / "audit.jsonl"), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "audit.jsonl:1:" in err and "audit.jsonl:2:" in err


# --- fixtures ------------------------------------------------------------------------------------


def test_multi_document_yaml() -> None:
    ctx, state = _convert(FIXTURES / "multi.yaml")
    assert not ctx.problems
    assert dict(ctx.converted) == {"Role": 1, "ClusterRole": 2, "RoleBinding": 2, "ClusterRoleBinding": 1}
    assert ctx.skipped == {"not RBAC": Counter({"ServiceAccount": 1}),
                           "grants nothing": Counter({"ClusterRoleBinding without subjects": 1})}
    lines = {(s["subject"], s["target"], s["resource"]) for s in state.snapshot}
    assert lines == {
        ("user:jane@example.com", "role:k8s/payments/pod-reader", "k8s:payments"),
        ("group:k8s/payments-devs", "role:k8s/payments/pod-reader", "k8s:payments"),
        # a RoleBinding to a ClusterRole: the cluster role, within the namespace
        ("svc:k8s/payments/deployer", "role:k8s/deployer", "k8s:payments"),
        ("svc:k8s/tools/ci", "role:k8s/cluster-admin", "k8s:cluster"),
    }
    reader = state.roles["role:k8s/payments/pod-reader"]
    assert reader["permissions"] == ["get,list,watch:pods", "get,list,watch:pods/log", "get:configmaps[app-config]"]
    assert "privileged" not in reader
    assert reader["attributes"] == {"k8s_kind": "Role", "namespace": "payments"}
    deployer = state.roles["role:k8s/deployer"]
    assert deployer["permissions"] == ["create,patch,update:apps/deployments", "get:/healthz", "get:secrets"]
    assert deployer["privileged"] is True  # reads secrets
    assert state.roles["role:k8s/monitoring"]["attributes"]["aggregated"] is True
    by_subject = {s["subject"]: s for s in state.snapshot}
    assert by_subject["svc:k8s/payments/deployer"]["source"]["id"] == "5f1c2a9e-0000-4000-8000-000000000001"
    assert by_subject["user:jane@example.com"]["source"]["line"] == 48
    assert by_subject["user:jane@example.com"]["binding"] == "RoleBinding/payments/read-pods"


def test_json_list_and_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "list.json.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "list.json").read_bytes()))
    for path in (FIXTURES / "list.json", gz):
        ctx, state = _convert(path)
        assert dict(ctx.converted) == {"ClusterRole": 1, "ClusterRoleBinding": 1}
        assert ctx.skipped == {"not RBAC": Counter({"ConfigMap": 1})}
        assert state.snapshot[0]["source"]["index"] == 1  # JSON items are located by index
        assert state.roles["role:k8s/cluster-admin"]["permissions"] == ["*:*", "*:*/*"]


def test_gzipped_yaml_keeps_item_lines(tmp_path: Path) -> None:
    gz = tmp_path / "bad.yaml.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "bad-subject.yaml").read_bytes()))
    ctx, _ = _convert(gz)
    assert [(p.line, "unknown kind 'Robot'" in p.message) for p in ctx.problems] == [(12, True)]


def test_malformed_subject_exits_2_naming_file_and_line(tmp_path: Path, capsys) -> None:
    out = tmp_path / "state"
    assert main(["import", "k8s-rbac", str(FIXTURES / "bad-subject.yaml"), "--out", str(out)]) == 2
    assert not out.exists()
    assert "bad-subject.yaml:12:" in capsys.readouterr().err


def test_strict_accepts_objects_that_grant_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "state"
    # a ServiceAccount and a binding without subjects grant nothing: --strict has nothing to refuse
    assert main(["import", "k8s-rbac", str(FIXTURES / "multi.yaml"), "--out", str(out), "--strict"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 (not RBAC): ServiceAccount 1" in err and out.is_dir()


def test_role_defined_twice_differently_is_a_problem(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: deployer}\n"
                     "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n")
    ctx, _ = _convert(FIXTURES / "multi.yaml", other)
    assert len(ctx.problems) == 1 and "defined twice" in ctx.problems[0].message


def test_cli_writes_a_checkable_project(tmp_path: Path) -> None:
    out = tmp_path / "state"
    assert main(["import", "k8s-rbac", str(FIXTURES / "multi.yaml"), str(FIXTURES / "list.json"),
                 "--out", str(out), "--assume-time", AS_OF]) == 0
    project = pipeline.load(out)
    assert len(project.snapshot) == 5
    report = _check_json(out, tmp_path)
    checks = Counter(f["check"] for f in report["findings"])
    assert checks["unexplained.drift-extra"] == 5
    # nobody owns a Kubernetes role: every role, group and service account is ownerless
    assert checks["orphaned.ownerless"] == 4 + 2 + 2
