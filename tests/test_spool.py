"""Findings written out as each rule finishes (keytrail.spool) give the same JSON, byte for byte.

When the findings JSON is the only output, ``keytrail check`` does not hold its findings:
each rule's are sorted (in runs on disk past ``spool.RUN``), written as lines and dropped.
These tests compare that report with the one rendered from held findings, on the example
organisation, a generated one, hostile values, a baseline and waivers, with runs small
enough that the merge from disk is exercised; and they keep the near misses (other
formats, --write-baseline) on the held path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline, spool
from keytrail.cli import main
from keytrail.model import Rule
from keytrail.render import render_json
from tests.conftest import AS_OF, REPO
from tests.test_hostile_text import PAYLOADS, build

ACME = REPO / "examples" / "acme"


def _reports(root: Path, baseline: frozenset[str] | None = None) -> tuple[Any, Any]:
    """The held report and the spooled report of ``root``."""
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF)
    graph = pipeline.build_graph(project, state)
    held = pipeline.evaluate(project, state, graph)
    held.baseline = baseline
    spooled = pipeline.evaluate(project, state, graph, spool=True, baseline=baseline)
    assert held.spool is None and spooled.spool is not None
    return held, spooled


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    org = tmp_path_factory.mktemp("spool") / "S"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--size", "S",
                    "--seed", "5", "--out", str(org)], check=True, capture_output=True)
    return org


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of 7 findings and a spool that moves to disk at once: the merge path."""
    monkeypatch.setattr(spool, "RUN", 7)
    monkeypatch.setattr(spool, "IN_MEMORY", 1)


def test_the_example_organisation_gives_the_same_json_spooled() -> None:
    held, spooled = _reports(ACME)
    assert len(spooled.findings) == len(held.findings) > 0
    assert render_json(spooled) == render_json(held)
    assert render_json(spooled, "low") == render_json(held, "low")
    assert spooled.fails_any("high") == bool(held.failing("high"))
    assert spooled.fails_any("critical") == bool(held.failing("critical"))


def test_a_generated_organisation_gives_the_same_json_through_sorted_runs_on_disk(
        generated: Path, small_runs: None) -> None:
    held, spooled = _reports(generated)
    assert len(held.findings) > 10 * spool.RUN, "several runs per rule are needed"
    assert render_json(spooled) == render_json(held)
    assert spooled.spool._file._rolled  # the spool itself went to disk


def test_the_same_json_in_memory_and_through_runs(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The near miss of the test above: the default run size sorts every rule in memory."""
    held, spooled = _reports(generated)
    assert max(n for n in _per_rule(held).values()) < spool.RUN
    assert render_json(spooled) == render_json(held)
    assert not spooled.spool._file._rolled


def _per_rule(report: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in report.findings:
        counts[item.rule] = counts.get(item.rule, 0) + 1
    return counts


@pytest.mark.parametrize("name", ["bidi", "u2028", "log-command", "tags"])
def test_hostile_values_are_as_inert_spooled(tmp_path: Path, small_runs: None, name: str) -> None:
    held, spooled = _reports(build(tmp_path / "p", PAYLOADS[name]))
    assert render_json(spooled) == render_json(held)


def test_a_baseline_marks_the_same_findings_known(generated: Path, small_runs: None) -> None:
    held, _ = _reports(generated)
    every = [item.fingerprint for item in held.findings]
    baseline = frozenset(every[::3])
    held, spooled = _reports(generated, baseline)
    text = render_json(spooled)
    assert text == render_json(held)
    summary = json.loads(text)["summary"]
    assert summary["known"] == len(baseline)
    assert spooled.fails_any("low") == bool(held.failing("low"))


def test_waivers_used_and_unused_are_counted_alike(tmp_path: Path, small_runs: None) -> None:
    root = tmp_path / "acme"
    shutil.copytree(ACME, root)
    policy = root / "policies" / "acme.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + """
  - rule: acme-payments-sod
    subject: user:olivia.benett
    reason: A misspelt subject waives nothing.
    approved_by: user:marcus.lindqvist
    expires: 2027-03-31T23:59:59Z
""", encoding="utf-8")
    held, spooled = _reports(root)
    text = render_json(spooled)
    assert text == render_json(held)
    summary = json.loads(text)["summary"]
    assert summary["waived"] >= 1
    assert [w["subject"] for w in summary["unused_waivers"]] == ["user:olivia.benett"]


def test_a_spooled_report_refuses_to_be_read_as_a_list() -> None:
    """A format not written for a spooled report fails loudly, never shows no findings."""
    _, spooled = _reports(ACME)
    assert len(spooled.findings) > 0 and spooled.findings
    with pytest.raises(RuntimeError, match="spool"):
        list(spooled.findings)
    with pytest.raises(RuntimeError, match="spool"):
        spooled.findings[0]


def test_one_rule_id_under_two_severities_is_held() -> None:
    """Rules given by hand that share an id under two severities cannot be ordered before
    their findings exist: the report holds them, with the same bytes."""
    project = pipeline.load(ACME)
    state = pipeline.replay(project, AS_OF)
    graph = pipeline.build_graph(project, state)
    from keytrail.engine import evaluate
    from keytrail.view import View

    rules = [Rule(id="twice", kind="use", check="unexplained.unknown-key", severity="low"),
             Rule(id="twice", kind="use", check="unexplained.missing-key", severity="high")]
    held = evaluate(View(project, state, graph), rules)
    other = evaluate(View(project, state, graph), rules, spool=True)
    assert other.spool is None
    assert render_json(other) == render_json(held)


def _check(*args: str) -> int:
    return main(["check", *args, "--as-of", AS_OF, "--quiet"])


def test_the_command_writes_the_same_json_whether_or_not_it_spools(
        generated: Path, tmp_path: Path, small_runs: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    made: list[bool] = []
    evaluate = pipeline.evaluate

    def spy(*args: Any, **kwargs: Any) -> Any:
        report = evaluate(*args, **kwargs)
        made.append(report.spool is not None)
        return report

    monkeypatch.setattr(pipeline, "evaluate", spy)
    alone, beside = tmp_path / "alone.json", tmp_path / "beside.json"
    code = _check(str(generated), "-f", "json", "--output", str(alone))
    assert _check(str(generated), "-f", "json", "--output", str(beside),
                  "-f", "csv", "--output", str(tmp_path / "f.csv")) == code
    assert _check(str(generated), "-f", "json", "--output", str(tmp_path / "w.json"),
                  "--write-baseline", str(tmp_path / "base.json")) == 0
    assert made == [True, False, False]
    assert alone.read_bytes() == beside.read_bytes() == (tmp_path / "w.json").read_bytes()
    assert code == (1 if json.loads(alone.read_text())["summary"]["failing"] else 0)
    # Standard output gets the same bytes.
    capsys.readouterr()
    assert _check(str(generated), "-f", "json") == code
    assert capsys.readouterr().out.encode("utf-8") == alone.read_bytes()
