"""Every importer survives damaged input: exit 0 or 2, never a traceback, never a partial file.

For each import format the samples (the fixtures beside these tests, and a few
of the real public samples when they are present) are mutated, deterministically
from a fixed seed: a value's JSON type changed, a key dropped, an object replaced
by a string, number, null or list, control characters inserted, a record
duplicated, a value nested deeply, the file truncated or spliced with bytes. Each
mutant is imported in-process. Whatever happens, the import either fails cleanly
(exit 2, nothing at ``--out``, no temporary left beside it) or succeeds with an
output that is complete and valid: every history line a valid native event, a
state folder a project that ``keytrail check`` loads.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from keytrail.cli import main
from keytrail.importers import REGISTRY, get

from ..conftest import SHARED_DATA

FIXTURES = Path(__file__).parent / "fixtures"
#: Fixed, so CI sees the same mutants every run; set KEYTRAIL_MUTATION_SEED to explore others.
SEED = int(os.environ.get("KEYTRAIL_MUTATION_SEED", "20261203"))
#: Mutants per format; a few hundred in all keeps the test under half a minute.
PER_FORMAT = 36

#: Real samples per format (read when present), small enough to mutate quickly.
REAL: dict[str, list[str]] = {
    "cloudtrail": ["elastic-integrations/derived/test-add-user-to-group-json.event-original.jsonl",
                   "invictus-ir-aws_dataset/CloudTrail/"
                   "218007301253_CloudTrail_us-east-1_20230710T1205Z_SjF3IkuNXJkoHyar.json"],
    "aws-authz": ["salesforce-cloudsplaining/test/files/example-authz-details.json"],
    "k8s-rbac": ["kubernetes-bootstrap-rbac/plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/"
                 "namespace-role-bindings.yaml"],
    "k8s-audit": ["panther-analysis/derived/eks_audit_rbac_rule_tests.jsonl",
                  "elastic-integrations/packages/kubernetes/data_stream/audit_logs/_dev/test/pipeline/test-audit.log"],
    "okta": ["panther-analysis/derived/okta_systemlog_rule_tests.jsonl"],
    "github": ["elastic-integrations/packages/github/data_stream/audit/_dev/test/pipeline/test-audit-json.log"],
    "entra": ["elastic-integrations/packages/azure/data_stream/auditlogs/_dev/test/pipeline/test-audit-logs-sample.log"],
    "gworkspace": ["panther-analysis/derived/gsuite_activityevent_rule_tests.jsonl"],
    "scim": ["python-scim-scim2-models/samples/rfc7644-3.5.2.3-patch_op-replace_all_members.json",
             "python-scim-scim2-models/samples/rfc7643-8.4-group.json"],
    "okta-state": ["okta-terraform-provider-okta/derived/okta_state_list_responses.jsonl"],
    "scim-state": ["python-scim-scim2-models/samples/rfc7644-3.4.3-list_response-post_query.json",
                   "python-scim-scim2-models/samples/rfc7643-8.3-enterprise_user.json"],
    "otlp": ["opentelemetry-proto/examples/logs.json"],
    "aws-credential-report": ["cloud-custodian-placebo/tests/data/placebo/test_iam_user_unused_keys/"
                              "iam.GetCredentialReport_2.json"],
    "aws-role-last-used": ["cloud-custodian-placebo/tests/data/placebo/test_ec2_iam_role_filter_by_role_name/"
                           "iam.GetRole_2.json"],
}

#: What usage formats need beside their input: the collection time, and the entity of an access-advisor report.
USAGE_OPTIONS: dict[str, list[str]] = {"aws-access-advisor": ["--entity", "arn:aws:iam::111122223333:user/alice"]}

_ODD_VALUES: list[Any] = ["x", "", 7, -1, 0, 1.5, 10**30, None, True, False, [], {}, [1, "a"], {"a": 1},
                          "\x1b[31mred\u202e\n::error::x", "2026-13-45T99:99:99Z", "*", "../../etc/passwd"]


_CONTROLS = ["\x00", "\x1b]8;;x\x07", "\u2028", "\x7f", "\u202e", "\r\n"]


def _samples(fmt: str) -> list[Path]:
    files = sorted(p for p in (FIXTURES / fmt).iterdir() if p.is_file())
    files += [SHARED_DATA / rel for rel in REAL.get(fmt, []) if (SHARED_DATA / rel).is_file()]
    return files


def _parse(path: Path) -> tuple[str, Any]:
    """The sample as ("doc", value), ("lines", [values]) or ("yaml", [documents])."""
    text = path.read_text(encoding="utf-8")
    try:
        return "doc", json.loads(text)
    except ValueError:
        pass
    try:
        return "lines", [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        pass
    return "yaml", [d for d in yaml.safe_load_all(text) if d is not None]


def _dump(shape: str, value: Any) -> str:
    if shape == "doc":
        return json.dumps(value, indent=1)
    if shape == "lines":
        return "".join(json.dumps(v) + "\n" for v in value)
    return yaml.safe_dump_all(value, sort_keys=False)


def _slots(value: Any, limit: int = 20000) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside ``value``, breadth first, at most ``limit``."""
    out: list[tuple[Any, Any]] = []
    queue = [value]
    while queue and len(out) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((node, key))
            queue.append(child)
    return out


def _pick(rng: random.Random, slots: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """A slot, chosen so that the few near the top (a record, its envelope) are as likely
    to be hit as the many leaves: a depth first, then a slot of that depth."""
    depth: dict[int, int] = {}
    by_depth: dict[int, list[tuple[Any, Any]]] = {}
    for container, key in slots:
        level = depth.get(id(container), 0)
        child = container[key]
        if isinstance(child, (dict, list)):
            depth[id(child)] = level + 1
        by_depth.setdefault(level, []).append((container, key))
    return rng.choice(by_depth[rng.choice(sorted(by_depth))])


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for n in range(depth):
        value = {"k": value} if n % 2 else [value]
    return value


def _mutate(rng: random.Random, path: Path) -> tuple[str, bytes]:
    """One mutant of the sample at ``path``: what was done, and the bytes."""
    shape, value = _parse(path)
    op = rng.choice(["retype", "retype", "retype", "drop", "drop", "duplicate", "control", "deep",
                     "truncate", "splice"])
    if op in ("truncate", "splice"):
        data = _dump(shape, value).encode("utf-8")
        at = rng.randrange(len(data) + 1)
        if op == "truncate":
            return f"truncate at {at}", data[:at]
        junk = rng.choice([b"\x00", b"\x1b[2J", b"\xff\xfe", b"\r", b"}", b"]]", b'"', b"\xe2\x80\xae"])
        return f"splice {junk!r} at {at}", data[:at] + junk + data[at:]
    slots = _slots(value)
    if not slots:
        return "empty", _dump(shape, value).encode("utf-8")
    container, key = _pick(rng, slots)
    if op == "retype":
        container[key] = rng.choice(_ODD_VALUES)
        done = f"retype {key!r} to {container[key]!r}"
    elif op == "drop":
        dicts = [(c, k) for c, k in slots if isinstance(c, dict)]
        container, key = _pick(rng, dicts) if dicts else (container, key)
        if isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
        done = f"drop {key!r}"
    elif op == "duplicate":
        lists = [(c, k) for c, k in slots if isinstance(c, list)]
        if lists:
            container, key = _pick(rng, lists)
            container.insert(key, json.loads(json.dumps(container[key])))
        done = f"duplicate item {key!r}"
    elif op == "control":
        strings = [(c, k) for c, k in slots if isinstance(c[k], str)] or [(container, key)]
        container, key = _pick(rng, strings)
        container[key] = container[key] + rng.choice(_CONTROLS)
        done = f"control chars in {key!r}"
    else:
        depth = rng.choice([40, 200, 900])
        if shape == "yaml":  # written as flow text: PyYAML's own writer recurses too deeply for it
            container[key] = "DEEP-NESTING-HERE"
            text = _dump(shape, value).replace("DEEP-NESTING-HERE", "[" * depth + "]" * depth, 1)
            return f"deep nesting at {key!r}", text.encode("utf-8")
        container[key] = _deep(depth)
        done = f"deep nesting at {key!r}"
    return done, _dump(shape, value).encode("utf-8")


def _mutants() -> Iterator[Any]:
    for fmt in REGISTRY:
        samples = _samples(fmt)
        rng = random.Random(f"{SEED}-{fmt}")
        for n in range(PER_FORMAT):
            yield pytest.param(fmt, samples[n % len(samples)], rng.random(), id=f"{fmt}-{n}")


@pytest.mark.parametrize(("fmt", "sample", "seed"), list(_mutants()))
def test_a_mutated_sample_imports_cleanly_or_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           fmt: str, sample: Path, seed: float) -> None:
    rng = random.Random(seed)
    done, data = _mutate(rng, sample)
    source = tmp_path / ("in-" + sample.name)
    source.write_bytes(data)
    out = tmp_path / ("out" if get(fmt).KIND == "state" else "out.jsonl")
    # some mutants also run with --strict or a key mapping, whose paths differ
    options = rng.choice([[], [], ["--strict"], ["--key-from", "id", "--key-pattern", "(.+)"]])
    if get(fmt).KIND == "usage":
        options = [*options, "--assume-time", "2026-09-30T06:00:00Z", *USAGE_OPTIONS.get(fmt, [])]
    done += f" {' '.join(options)}".rstrip()
    try:
        code = main(["import", fmt, str(source), "--out", str(out), *options])
    except BaseException as exc:  # noqa: BLE001 - any escape is the failure this test exists to find
        pytest.fail(f"{sample.name} ({done}): {type(exc).__name__}: {exc}")
    err = capsys.readouterr().err
    assert "Traceback" not in err, f"{sample.name} ({done})"
    assert code in (0, 2), f"{sample.name} ({done}): exit {code}: {err[-400:]}"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"{sample.name} ({done}): temporaries left: {leftovers}"
    if code == 2:
        assert not out.exists(), f"{sample.name} ({done}): exit 2 but {out.name} was written"
        return
    assert out.exists(), f"{sample.name} ({done}): exit 0 without {out.name}"
    if get(fmt).KIND == "history":
        _assert_valid_history(out, f"{sample.name} ({done})")
    elif get(fmt).KIND == "usage":
        _assert_valid_usage(out, f"{sample.name} ({done})")
    else:
        assert main(["check", str(out), "--format", "json", "--fail-on", "critical"]) in (0, 1), \
            f"{sample.name} ({done}): the imported project does not load: {capsys.readouterr().err[-400:]}"


def _assert_valid_history(out: Path, what: str) -> None:
    from keytrail.schemas import validator

    text = out.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"{what}: the history ends mid-line"
    check = validator("event")
    for number, line in enumerate(text.splitlines(), 1):
        errors = [e.message for e in check.iter_errors(json.loads(line))]
        assert not errors, f"{what}: line {number} is not a valid event: {errors}"


def _assert_valid_usage(out: Path, what: str) -> None:
    """Every line written loads as ``usage:`` (schema and semantic checks), so a project can use it."""
    from keytrail.usage.load import load_usage

    text = out.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"{what}: the usage file ends mid-line"
    load_usage([out], [out.name])


def test_the_mutants_cover_every_format_and_both_outcomes(tmp_path: Path) -> None:
    """The harness itself: every format has samples, and mutation changes them."""
    for fmt in REGISTRY:
        samples = _samples(fmt)
        assert samples, f"no samples for {fmt}"
        rng = random.Random(SEED)
        changed = sum(_mutate(rng, samples[0])[1] != _dump(*_parse(samples[0])).encode("utf-8") for _ in range(8))
        assert changed >= 6, fmt


def _otlp(resource: Any) -> dict[str, Any]:
    return {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1772359200000000000", "attributes": [
            {"key": "keytrail.action", "value": {"stringValue": "grant"}},
            {"key": "keytrail.subject", "value": {"stringValue": "user:alice"}},
            {"key": "keytrail.target", "value": {"stringValue": "role:admin"}}]}]}]}]}


def _audit(user: Any) -> dict[str, Any]:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a1", "verb": "create", "user": user,
            "objectRef": {"resource": "clusterroles", "name": "viewer"},
            "stageTimestamp": "2026-03-01T10:00:00Z", "responseStatus": {"code": 201}}


def _trail(session: Any) -> dict[str, Any]:
    return {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
            "eventID": "e1", "eventTime": "2026-03-01T10:00:00Z", "requestParameters": {"userName": "bob"},
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s",
                             "sessionContext": session}}


def _okta(published: Any) -> dict[str, Any]:
    return {"uuid": "u1", "published": published, "eventType": "group.user_membership.add",
            "outcome": {"result": "SUCCESS"}, "actor": {"type": "User", "alternateId": "admin@example.com"},
            "target": [{"type": "User", "alternateId": "alice@example.com"},
                       {"type": "UserGroup", "displayName": "eng"}]}


#: Crashes the mutation test found, each kept as a plain case: (format, file name, content, the
#: message expected, or None when the record is valid and converts).
FOUND: list[tuple[str, str, Any, str | None]] = [
    ("otlp", "r.json", _otlp("x"), "resourceLogs[0].resource must be an object, not a string"),
    ("otlp", "r7.json", _otlp(7), "resourceLogs[0].resource must be an object, not a number"),
    ("otlp", "ok.json", _otlp({"attributes": []}), None),
    ("k8s-audit", "u.jsonl", _audit(7), "user must be an object, not a number"),
    ("k8s-audit", "ok.jsonl", _audit({"username": "kubernetes-admin"}), None),
    ("cloudtrail", "s.jsonl", _trail(-1), "userIdentity.sessionContext must be an object, not a number"),
    ("cloudtrail", "ok.jsonl", _trail({"sessionIssuer": {"type": "Role", "userName": "deployer"}}), None),
    ("okta", "big.jsonl", _okta(10**30), "no readable published"),
    ("okta", "deep.jsonl", {**_okta("2026-03-01T10:00:00Z"), "debug": _deep(300)},
     "a value nested more than 254 levels deep"),
    ("okta", "fine.jsonl", {**_okta("2026-03-01T10:00:00Z"), "debug": _deep(200)}, None),
]


@pytest.mark.parametrize(("fmt", "name", "content", "message"), FOUND, ids=[f"{f[0]}-{f[1]}" for f in FOUND])
def test_a_record_of_the_wrong_shape_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        fmt: str, name: str, content: Any,
                                                        message: str | None) -> None:
    source = tmp_path / name
    source.write_text(json.dumps(content) + "\n")
    out = tmp_path / "h.jsonl"
    code = main(["import", fmt, str(source), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if message is None:
        assert code == 0 and out.exists(), err
        return
    assert code in (0, 2) and message in err, err
    assert err.startswith(f"{source}[0]: ") or f"\n  {source}[0]: warning: " in err, err  # located


def test_a_rolebinding_whose_kind_is_a_list_is_a_located_error(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "rbac.yaml"
    source.write_text("kind: [RoleBinding]\nmetadata: {name: x}\n---\nkind: ServiceAccount\nmetadata: {name: y}\n")
    assert main(["import", "k8s-rbac", str(source), "--out", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert f"{source}:1: kind must be a string, not a list" in err and "Traceback" not in err
    assert not (tmp_path / "state").exists()
