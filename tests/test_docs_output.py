"""Pages that quote what keytrail prints on the bundled example say what it prints today.

Each test reads the page, finds the quoted command or figure, runs the command on
examples/acme (or on a copy, when the page says the command ran on one) and compares.
The walkthrough of docs/keys.md is in tests/keys/test_keys_walkthrough.py, and the two
reports/README.md blocks on the committed pack are in tests/test_review.py.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF, REPO, SHARED_DATA

ACME = REPO / "examples" / "acme"
REPORTS_README = REPO / "reports" / "README.md"


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def block_after(page: str, first_line: str) -> str:
    """The rest of the fenced block whose line ``first_line`` is (what a command printed)."""
    start = page.index(first_line + "\n") + len(first_line) + 1
    return page[start:page.index("```", start)]


def acme_report(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = run(capsys, ["check", str(ACME), "--as-of", AS_OF, "--format", "json"])
    assert code == 1
    report: dict[str, Any] = json.loads(out)
    return report


# -- examples/acme/README.md ---------------------------------------------------------------

def test_the_example_readme_counts_are_the_real_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """'You should get N findings', the table by category and the counts by severity are the check's."""
    readme = (ACME / "README.md").read_text(encoding="utf-8")
    report = acme_report(capsys)
    findings = report["findings"]
    waived = [f for f in findings if f["waived"]]
    total = int(re.search(r"You should get \*\*(\d+) findings\*\*", readme)[1])  # type: ignore[index]
    assert total == len(findings) == report["summary"]["findings"]
    assert f"One of them is waived, so {total - 1} count towards the exit" in readme and len(waived) == 1
    shown = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^\| (\w+) \| (\d+) \| (\d+) \|$", readme, re.M)}
    by_category = Counter(f["category"] for f in findings)
    waived_by_category = Counter(f["category"] for f in waived)
    assert shown == {c: (by_category[c], waived_by_category[c]) for c in by_category}
    line = re.search(r"By severity, including the waived one: (.*)\.", readme)[1]  # type: ignore[index]
    by_severity = Counter(f["severity"] for f in findings)
    assert line == ", ".join(f"{s} {by_severity[s]}" for s in ("critical", "high", "medium", "low", "info"))
    numbered = re.findall(r"^\| (\d+)(?:–(\d+))? \| `", readme, re.M)
    assert int(numbered[-1][1] or numbered[-1][0]) == total  # the table "at a glance" has a row per finding


@pytest.mark.parametrize("fence", ["```sh\nkeytrail check examples/acme", "Other useful commands:\n\n```sh\n"])
def test_the_example_readme_commands_run(fence: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Every command the example's README gives runs as written (exit 0, or 1 for findings; never 2)."""
    readme = (ACME / "README.md").read_text(encoding="utf-8")
    start = readme.index("```sh\n", readme.index(fence)) + len("```sh\n")
    lines = readme[start:readme.index("```", start)].splitlines()
    assert lines
    monkeypatch.chdir(REPO)
    for line in lines:
        words = shlex.split(line, comments=True)
        assert words[0] == "keytrail"
        argv = [str(tmp_path / "pack") if w.startswith("/tmp/") else w for w in words[1:]]
        code, out, err = run(capsys, argv)
        assert code == (1 if argv[0] == "check" else 0), f"{line}: exit {code}\n{err}"
        assert out or err


def test_a_wrong_command_in_the_example_readme_would_fail(capsys: pytest.CaptureFixture[str]) -> None:
    """What the commands test catches: `review` as the README once gave it (no --period, --out) exits 2."""
    code, _, err = run(capsys, ["review", str(ACME), "--as-of", AS_OF])
    assert code == 2
    assert "the following arguments are required: --period, --out" in err


# -- reports/README.md -----------------------------------------------------------------------

def test_reports_readme_status_of_a_filled_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The status of a copy of the pack where Tomáš Král wrote revoke, keep and a misspelt mabye."""
    pack = tmp_path / "2026-Q3"
    shutil.copytree(REPO / "reports" / "2026-Q3", pack)
    sheet = pack / "worksheets" / "user_tomas.kral.csv"
    with sheet.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    decision = rows[0].index("decision")
    for row, value in zip(rows[1:4], ["revoke", "keep", "mabye"], strict=True):
        row[decision] = value
    with sheet.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, ["review", "status", "2026-Q3"])
    assert code == 0, err
    assert out + err == block_after(REPORTS_README.read_text(encoding="utf-8"), "$ keytrail review status 2026-Q3")


def test_reports_readme_evidence_is_the_packs(capsys: pytest.CaptureFixture[str]) -> None:
    """`jq '.evidence | .files |= keys' reports/2026-Q3/pack.json`, as the page shows it."""
    evidence = json.loads((REPO / "reports" / "2026-Q3" / "pack.json").read_text(encoding="utf-8"))["evidence"]
    evidence["files"] = sorted(evidence["files"])
    shown = block_after(REPORTS_README.read_text(encoding="utf-8"),
                        "$ jq '.evidence | .files |= keys' reports/2026-Q3/pack.json")
    assert shown == json.dumps(evidence, indent=2, ensure_ascii=False) + "\n"


def test_reports_readme_verify_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`review verify --format json | jq -c '{matches, checked, failing}'`, as the page shows it."""
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, ["review", "verify", "reports/2026-Q3", "examples/acme", "--format", "json"])
    assert code == 0
    result = json.loads(out)
    picked = {name: result[name] for name in ("matches", "checked", "failing")}
    shown = block_after(REPORTS_README.read_text(encoding="utf-8"),
                        "$ keytrail review verify reports/2026-Q3 examples/acme --format json"
                        " | jq -c '{matches, checked, failing}'")
    assert shown == json.dumps(picked, separators=(",", ":")) + "\n"


# -- docs/otel.md ------------------------------------------------------------------------------

def test_otel_page_counts_the_records_of_the_example(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The records the page says `check examples/acme` exports: one per finding, at the record's as-of."""
    page = (REPO / "docs" / "otel.md").read_text(encoding="utf-8")
    shown = int(re.search(r"`keytrail check examples/acme --otlp-endpoint URL`: (\d+)\s+records", page)[1])  # type: ignore[index]
    as_of = re.search(r'"keytrail\.as_of": "([^"]+)"', page)[1]  # type: ignore[index]
    monkeypatch.setenv("KEYTRAIL_NOW", as_of)
    code, out, _ = run(capsys, ["check", str(ACME), "--format", "otlp"])
    assert code == 1
    records = [r for rl in json.loads(out)["resourceLogs"] for sl in rl["scopeLogs"] for r in sl["logRecords"]]
    assert shown == len(records)


# -- docs/formats.md ---------------------------------------------------------------------------

ELLIPSIS = "…"


def agrees(shown: Any, real: Any, path: str = "") -> list[str]:
    """Where ``shown`` (with ``…`` for what the page leaves out) differs from ``real``."""
    if isinstance(shown, str) and ELLIPSIS in shown:
        ok = isinstance(real, str) and real.startswith(shown.split(ELLIPSIS)[0])
        return [] if ok else [f"{path}: {shown!r} vs {real!r}"]
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{path}: {shown!r} vs {real!r}"]
        problems = []
        left_out = set(real) - set(shown)
        if left_out and ELLIPSIS not in shown:  # only a "…" key may stand for fields left out
            problems.append(f"{path}: the page leaves out {sorted(left_out)}")
        for key, value in shown.items():
            if key == ELLIPSIS:
                continue
            if key not in real:
                problems.append(f"{path}: no {key!r} in the real output")
            else:
                problems += agrees(value, real[key], f"{path}.{key}")
        return problems
    if isinstance(shown, list):
        if not isinstance(real, list) or len(real) < len(shown):
            return [f"{path}: {shown!r} vs {real!r}"]
        return [p for n, item in enumerate(shown) for p in agrees(item, real[n], f"{path}[{n}]")]
    return [] if shown == real else [f"{path}: {shown!r} vs {real!r}"]


def test_the_findings_contract_example_is_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/formats.md's `check --format json` object agrees with examples/acme's, but for what it elides."""
    page = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    start = page.index("```json\n", page.index("## Findings (`keytrail schema findings`)")) + len("```json\n")
    shown = json.loads(page[start:page.index("```", start)])
    report = acme_report(capsys)
    (finding,) = shown.pop("findings")
    (real,) = [f for f in report["findings"]
               if (f["check"], f["subject"], f["target"]) == (finding["check"], finding["subject"], finding["target"])]
    assert agrees({**shown, "findings": ELLIPSIS}, {**report, "findings": ELLIPSIS}) == []
    assert agrees(finding, real) == []


def test_an_elided_figure_still_has_to_agree() -> None:
    """The comparison leaves out only what ``…`` marks: a changed count or a missing field is a difference."""
    real = {"summary": {"findings": 49, "by_severity": {"critical": 3, "high": 15}}, "note": "drift checked at 18:00"}
    assert agrees({"summary": {"findings": 49, "by_severity": {"high": 15, ELLIPSIS: ELLIPSIS}},
                   "note": "drift checked …"}, real) == []
    assert agrees({"summary": {"findings": 33, "by_severity": {"high": 15, ELLIPSIS: ELLIPSIS}},
                   "note": "drift …"}, real) != []
    assert agrees({"summary": {"findings": 49, "by_severity": {"high": 15}}, "note": "drift …"}, real) != []
    assert agrees({"summary": {"findings": 49, "by_severity": {"high": 15, ELLIPSIS: ELLIPSIS}},
                   "note": "snapshot …"}, real) != []


def test_the_lint_json_example_is_the_examples(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """docs/formats.md's `keytrail lint --format json` object is what lint prints in examples/acme."""
    page = (REPO / "docs" / "formats.md").read_text(encoding="utf-8")
    start = page.index("```json\n", page.index("## Lint output")) + len("```json\n")
    shown = json.loads(page[start:page.index("```", start)])
    monkeypatch.chdir(ACME)
    monkeypatch.setenv("KEYTRAIL_NOW", AS_OF)  # waivers expire: the example is judged as of its review
    code, out, _ = run(capsys, ["lint", "--format", "json"])
    assert code == shown["exit_code"] == 1
    assert json.loads(out) == shown


# -- docs/real-data-aws.md (the shared CloudTrail sample) ----------------------------------------

CLOUDTRAIL = SHARED_DATA / "invictus-ir-aws_dataset" / "CloudTrail"


def findings_table(section: str) -> dict[str, int]:
    """The page's table of findings by check: ``{check: count}`` (orphaned rows summed as the page does)."""
    rows = re.findall(r"^\| `?([\w.-]+(?: \(as above\))?)`?(?: \(\w+\))? \| (\d+) \|", section, re.M)
    return {name: int(count) for name, count in rows}


def real_table(report: dict[str, Any], grouped: bool) -> dict[str, int]:
    counts = Counter(f["check"] for f in report["findings"])
    if grouped:  # the second table sums the orphaned findings in one row, "as above"
        orphaned = sum(n for check, n in counts.items() if check.startswith("orphaned."))
        counts = Counter({c: n for c, n in counts.items() if not c.startswith("orphaned.")})
        counts["orphaned (as above)"] = orphaned
    return dict(counts)


@pytest.mark.skipif(not CLOUDTRAIL.is_dir(), reason="the shared CloudTrail sample is absent")
def test_the_aws_page_counts_are_the_real_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """real-data-aws.md's summary line and tables of findings, re-run on the sample, without and with keys."""
    page = (REPO / "docs" / "real-data-aws.md").read_text(encoding="utf-8")
    plain = page[page.index("### A project around a history alone"):page.index("### With the user agent")]
    keyed = page[page.index("### With the user agent"):page.index("## 2. The authorization-details")]
    root = tmp_path / "aws-ct"
    (root / "history").mkdir(parents=True)
    (root / "keytrail.yaml").write_text("directory: directory.yaml\nkeys: keys.yaml\n"
                                        "history: [history/*.jsonl]\npolicies: [keytrail:default]\n")
    (root / "directory.yaml").write_text("{}\n")
    (root / "keys.yaml").write_text("keys: []\n")
    history = root / "history" / "cloudtrail.jsonl"
    for section, mapping in [(plain, []), (keyed, ["--key-from", "userAgent",
                                                   "--key-pattern", "stratus-red-team_([0-9a-f-]+)"])]:
        history.unlink(missing_ok=True)
        assert run(capsys, ["import", "cloudtrail", str(CLOUDTRAIL), "--out", str(history), *mapping])[0] == 0
        code, out, _ = run(capsys, ["check", str(root), "--format", "json"])
        assert code == 1
        report = json.loads(out)
        assert findings_table(section) == real_table(report, grouped=bool(mapping))
        if not mapping:  # the page shows the text summary of this run
            out = run(capsys, ["check", str(root)])[1]
            summary = re.search(r"^\d+ findings: .*$", out, re.M)
            assert summary is not None and f"```text\n{summary[0]}\n```" in section


# -- docs/real-data-k8s.md (the shared Kubernetes bootstrap RBAC sample) ---------------------------

K8S_RBAC = SHARED_DATA / "kubernetes-bootstrap-rbac" / "plugin" / "pkg" / "auth" / "authorizer" / "rbac" \
    / "bootstrappolicy" / "testdata"


@pytest.mark.skipif(not K8S_RBAC.is_dir(), reason="the shared Kubernetes RBAC sample is absent")
def test_the_k8s_page_counts_are_the_real_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """real-data-k8s.md: its import command, then its two checks (state alone, then adopted), as it counts them."""
    page = (REPO / "docs" / "real-data-k8s.md").read_text(encoding="utf-8")
    start = page.index("```sh\nkeytrail import k8s-rbac") + len("```sh\n")
    words = shlex.split(page[start:page.index("```", start)].replace("\\\n", " "))
    root = tmp_path / "k8s"
    argv = [str(K8S_RBAC) if w.startswith("../shared/data/") else str(root) if w == "/tmp/k8s" else w
            for w in words[1:]]
    assert run(capsys, argv)[0] == 0
    step2 = page[page.index("## 2. Check the imported state"):page.index("## 3. Adopt the snapshot")]
    step3 = page[page.index("## 3. Adopt the snapshot"):page.index("## What else the sample shows")]
    for section in (step2, step3):
        if section is step3:  # the page's script: one unkeyed grant per snapshot line
            lines = (root / "snapshot.jsonl").read_text(encoding="utf-8").splitlines()
            adopted = [{"id": f"adopt-{n}", "time": "2026-01-01T00:00:00Z", "action": "grant",
                        **{k: json.loads(line)[k] for k in ("subject", "target", "resource")},
                        "reason": "adopted from the k8s-rbac snapshot"} for n, line in enumerate(lines, 1)]
            (root / "history" / "adopted.jsonl").write_text("".join(json.dumps(e) + "\n" for e in adopted))
        code, out, _ = run(capsys, ["check", str(root), "--as-of", AS_OF])
        assert code == 1
        summary = re.search(r"^\d+ findings: .*$", out, re.M)
        assert summary is not None and f"Exit 1, **{summary[0]}**." in section
        report = json.loads(run(capsys, ["check", str(root), "--as-of", AS_OF, "--format", "json"])[1])
        assert findings_table(section) == real_table(report, grouped=False)


AUTHZ = SHARED_DATA / "salesforce-cloudsplaining" / "examples" / "files" / "example.json"


@pytest.mark.skipif(not AUTHZ.is_file(), reason="the shared cloudsplaining sample is absent")
def test_the_aws_authz_section_counts_are_the_real_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """real-data-aws.md, section 2: its import and check commands as written, and the counts it gives."""
    page = (REPO / "docs" / "real-data-aws.md").read_text(encoding="utf-8")
    section = page[page.index("## 2. The authorization-details snapshot"):]
    start = section.index("```sh\n") + len("```sh\n")
    commands = section[start:section.index("```", start)].replace("\\\n", " ").splitlines()
    out_dir = tmp_path / "aws-authz"
    for command in commands[:2]:  # the import, then the check in text
        words = [str(AUTHZ) if w.startswith("../shared/data/") else str(out_dir) if w == "/tmp/aws-authz" else w
                 for w in shlex.split(command, comments=True)]
        code, out, err = run(capsys, words[1:])
        assert code == (1 if words[1] == "check" else 0), err
    summary = re.search(r"^(\d+) findings: (\d+) critical, (\d+) medium, (\d+) low, (\d+) info$", out, re.M)
    assert summary is not None
    assert "`keytrail check` reports {} findings: {} critical, {} medium, {} low and {} info.".format(
        *summary.groups()) in section
    as_of = re.search(r"--as-of (\S+)", commands[1])[1]  # type: ignore[index]
    report = json.loads(run(capsys, ["check", str(out_dir), "--as-of", as_of, "--format", "json"])[1])
    table = section[section.index("| check | findings | why |"):]
    assert findings_table(table[:table.index("\n\n")]) == real_table(report, grouped=False)
