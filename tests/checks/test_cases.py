"""Table-driven tests: every check's YAML case file, run through the real loaders.

Each ``cases/<check id>.yaml`` lists cases with an inline organisation
(``directory``, ``keys``, ``events`` or raw ``history``, ``snapshot``, ``usage``), optional
``params``, ``as_of`` and ``since``, and the findings that must appear
(``expect``: a list of mappings over ``subject``, ``target``, ``resource`` and
``event``; an empty list means the check must not fire). The comparison is
exact: a missing finding and an unexpected one both fail, with a message
saying which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keytrail import checks, pipeline
from keytrail.engine import evaluate
from keytrail.model import Rule
from keytrail.policy import resolve_params
from keytrail.view import View
from keytrail.yamlload import Locator, load_yaml
from tests.conftest import AS_OF, write_project

CASES = Path(__file__).parent / "cases"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        doc, _ = load_yaml(path.read_text(), path.name)
        for case in doc["cases"]:
            params.append(pytest.param(doc["check"], case, id=f"{doc['check']}: {case['name']}"))
    return params


def run_check(root: Path, check_id: str, params: dict[str, Any], as_of: str, since: str | None
              ) -> list[dict[str, Any]]:
    """Load the project at ``root`` and run one check; return its findings as dicts."""
    project = pipeline.load(root)
    state = pipeline.replay(project, as_of, since)
    graph = pipeline.build_graph(project, state)
    resolved, problems = resolve_params(check_id, params, Locator("case"), ())
    assert not problems, [str(p) for p in problems]
    rule = Rule(id="case", kind="use", check=check_id, severity=None, params=resolved)
    report = evaluate(View(project, state, graph), [rule])
    return [{"subject": r.finding.subject, "target": r.finding.target, "resource": r.finding.resource,
             "event": r.finding.event.id if r.finding.event else None, "message": r.finding.message}
            for r in report.findings]


@pytest.mark.parametrize(("check_id", "case"), _load_cases())
def test_case(check_id: str, case: dict[str, Any], tmp_path: Path) -> None:
    history_text = case.get("history")
    root = write_project(tmp_path / "org", directory=case.get("directory"), keys=case.get("keys"),
                         events=case.get("events"), history_text=history_text,
                         snapshot=case.get("snapshot"), policies=case.get("policies"), usage=case.get("usage"),
                         snapshot_time=str(case.get("snapshot_time", case.get("as_of", AS_OF))))
    found = run_check(root, check_id, case.get("params") or {}, str(case.get("as_of", AS_OF)),
                      case.get("since"))
    expected = case["expect"]
    unmatched = list(found)
    missing = []
    for want in expected:
        hit = next((f for f in unmatched if all(f.get(k) == v for k, v in want.items())), None)
        if hit is None:
            missing.append(want)
        else:
            unmatched.remove(hit)
    assert not missing and not unmatched, (
        f"missing findings: {missing}\nunexpected findings: "
        f"{[{k: f[k] for k in ('subject', 'target', 'resource', 'event', 'message')} for f in unmatched]}")


def test_every_check_has_docs_params_and_cases() -> None:
    """Meta-test: a check without documentation, valid parameters or a case file is incomplete."""
    from jsonschema import Draft202012Validator

    for check_id in checks.REGISTRY:
        module = checks.get(check_id)
        assert module.ID == check_id
        assert module.SEVERITY in ("info", "low", "medium", "high", "critical")
        doc = (module.__doc__ or "").strip()
        assert len(doc.splitlines()) >= 5, f"{check_id}: docstring too short to document the check"
        for word in ("Fires", "Does not fire", "Remediate"):
            assert word in doc, f"{check_id}: docstring lacks a '{word}' section"
        Draft202012Validator.check_schema(module.PARAMS)
        for name, spec in module.PARAMS.get("properties", {}).items():
            assert "default" in spec and "description" in spec, f"{check_id}: parameter {name}"
        case_file = CASES / f"{check_id}.yaml"
        assert case_file.is_file(), f"{check_id}: no case file {case_file.name}"
        cases = load_yaml(case_file.read_text(), case_file.name)[0]["cases"]
        assert any(c["expect"] for c in cases), f"{check_id}: no case where it must fire"
        assert any(not c["expect"] for c in cases), f"{check_id}: no case where it must not fire"
