"""The SARIF, JUnit, CSV and Markdown formats, rendered from examples/acme and hostile inputs."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from keytrail.engine import Report
from keytrail.formats import csv as csv_format
from keytrail.formats import junit, markdown, sarif
from keytrail.model import Location
from keytrail.render import FORMATS
from tests.conftest import AS_OF, REPO, report_of

ACME = REPO / "examples" / "acme"
SARIF_SCHEMA = REPO.parent / "shared" / "schemas" / "sarif-2.1.0.json"
GOLDEN = Path(__file__).resolve().parent / "golden"
HOSTILE = 'user:<]]>&"|*`_[x](y)'


@pytest.fixture(scope="module")
def acme() -> Report:
    return report_of(ACME)


def _hostile(make_project: Any, leavers: int = 3, resource: str = "aws:1") -> Path:
    """Leavers holding role:r (high), one with a hostile name, one waived; an unused role (info)."""
    names = [HOSTILE] + [f"user:u{n:04d}" for n in range(leavers - 1)]
    principals = [{"id": n, "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}
                  for n in names]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": n,
               "target": "role:r", "resource": resource, "key": "pk-1", "actor": "svc:bot",
               "ticket": "CHG-1", "approver": "user:boss"} for n in names]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal",
                         "controls": ["SOC2:CC6.2"]},
                        {"id": "unused", "use": "orphaned.unused-target"}],
              "waivers": [{"rule": "leavers", "subject": "user:u0000",
                           "reason": "=1+1 handover, \"until\" <b>Friday</b>",
                           "approved_by": "user:boss", "expires": "2027-01-01T00:00:00Z"}]}
    directory = {"principals": principals, "roles": [{"id": "role:r", "owner": "user:boss"},
                                                      {"id": "role:idle", "owner": "user:boss"}]}
    return make_project(directory=directory, events=events, policies=[policy])


def test_every_format_is_registered() -> None:
    for name in ("sarif", "junit", "csv", "markdown"):
        assert name in FORMATS


@pytest.mark.parametrize("fmt", ["sarif", "junit", "csv", "markdown"])
def test_the_command_line_renders_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ACME), "--as-of", AS_OF, "--format", fmt]) == 1
    assert capsys.readouterr().out == FORMATS[fmt](report_of(ACME), "high")


# -- SARIF -----------------------------------------------------------------------------------

def _validate_sarif(log: dict[str, Any]) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"{SARIF_SCHEMA} is absent")
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def _check_sarif(report: Report) -> dict[str, Any]:
    log = json.loads(sarif.render(report))
    _validate_sarif(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in report.rules]
    assert len(run["results"]) == len(report.findings)
    for result, item in zip(run["results"], report.findings, strict=True):
        assert result["ruleId"] == item.rule
        assert rules[result["ruleIndex"]]["id"] == item.rule
        assert result["level"] == sarif.LEVEL[item.severity]
        assert result["partialFingerprints"] == {"keytrailFingerprint/v1": item.fingerprint}
        for loc in result.get("locations", []):
            physical = loc["physicalLocation"]
            assert physical["region"]["startLine"] >= 1
            assert physical["artifactLocation"]["uriBaseId"] == "PROJECTROOT"
            assert not physical["artifactLocation"]["uri"].startswith(("/", "keytrail:"))
        assert ("suppressions" in result) == (item.waived is not None)
    return log


def test_sarif_of_the_example_validates(acme: Report) -> None:
    log = _check_sarif(acme)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    sod = rules["acme-payments-sod"]
    assert sod["defaultConfiguration"]["level"] == "error"
    assert sod["properties"]["security-severity"] == "8.0"
    assert sod["properties"]["tags"] == ["policy", "separation-of-duties", "SOC2:CC6.1", "PCI-DSS:7.2"]
    assert rules["inactive-principal"]["help"]["text"].startswith("Revoke the grants")
    waived = [r for r in log["runs"][0]["results"] if "suppressions" in r]
    assert len(waived) == 1
    assert waived[0]["suppressions"][0]["kind"] == "external"
    assert waived[0]["suppressions"][0]["status"] == "accepted"
    assert "Financial Controller" in waived[0]["suppressions"][0]["justification"]


@pytest.mark.parametrize(("severity", "level", "score"), [
    ("critical", "error", "9.5"), ("high", "error", "8.0"), ("medium", "warning", "5.5"),
    ("low", "note", "3.0"), ("info", "note", "0.0")])
def test_sarif_levels_follow_severity(severity: str, level: str, score: str) -> None:
    assert sarif.LEVEL[severity] == level
    assert sarif.SECURITY_SEVERITY[severity] == score


def test_sarif_without_a_location_or_with_a_packaged_one_points_nowhere(acme: Report) -> None:
    """A finding with no location, or one inside a packaged pack, has no physical location."""
    first, second, *rest = acme.findings
    findings = [replace(first, finding=replace(first.finding, location=None)),
                replace(second, finding=replace(second.finding,
                                                location=Location("keytrail:default", 13, 5))),
                *rest]
    report = Report(acme.as_of, acme.since, acme.rules, findings, acme.view)
    results = _check_sarif(report)["runs"][0]["results"]
    assert "locations" not in results[0] and "locations" not in results[1]
    assert results[2]["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_of_hostile_names_validates(make_project: Any) -> None:
    report = report_of(_hostile(make_project))
    log = _check_sarif(report)
    subjects = [r["properties"].get("subject") for r in log["runs"][0]["results"]]
    assert HOSTILE in subjects


def test_sarif_is_machine_independent(acme: Report) -> None:
    text = sarif.render(acme)
    assert str(REPO) not in text and "file://" not in text
    assert text == sarif.render(acme)


# -- JUnit -----------------------------------------------------------------------------------

def test_junit_has_one_case_per_rule_and_fails_like_the_exit_code(acme: Report) -> None:
    root = ET.fromstring(junit.render(acme, "high"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.id for r in acme.rules]
    failing_rules = {i.rule for i in acme.failing("high")}
    failed = [c for c in cases if c.find("failure") is not None]
    assert {c.get("name") for c in failed} == failing_rules
    for node in (root, suite):
        assert node.get("tests") == str(len(acme.rules))
        assert node.get("failures") == str(len(failing_rules))
        assert node.get("errors") == "0"
    sod = next(c for c in cases if c.get("name") == "acme-payments-sod")
    assert sod.get("classname") == "keytrail.policy"
    failure = sod.find("failure")
    assert failure is not None and failure.get("message") == "1 finding at or above high"
    assert failure.get("type") == "high"
    out = sod.find("system-out")
    assert out is not None and "waived until" in (out.text or "")


def test_junit_threshold_moves_findings_between_failure_and_output(acme: Report) -> None:
    root = ET.fromstring(junit.render(acme, "critical"))
    assert root.get("failures") == str(len({i.rule for i in acme.failing("critical")}))


def test_junit_escapes_hostile_names(make_project: Any) -> None:
    text = junit.render(report_of(_hostile(make_project)), "high")
    root = ET.fromstring(text)  # well-formed despite <, ]]>, & and "
    case = next(c for c in root.iter("testcase") if c.get("name") == "leavers")
    failure = case.find("failure")
    assert failure is not None and HOSTILE in (failure.text or "")
    assert failure.get("message") == "2 findings at or above high"
    out = case.find("system-out")
    assert out is not None and "=1+1 handover" in (out.text or "")


@pytest.mark.parametrize(("raw", "shown"), [
    ("see [docs](https://evil.example)", "see \\[docs\\](https://evil.example)"),
    ("a\\[b]", "a\\\\\\[b\\]"), ("x\ny\u202e", "x\\ny\\u202e"),
    ("user:a (terminated 2026-05-01)", "user:a (terminated 2026-05-01)")])
def test_sarif_message_text_is_inert_and_plants_no_link(raw: str, shown: str) -> None:
    assert sarif.message_text(raw) == shown


def test_sarif_keeps_exact_values_in_properties(make_project: Any) -> None:
    name = "user:x\r::error::y\u202e"
    # Input refuses such ids (tests/test_ids.py); the renderer must keep them exact all the same.
    report = report_of(_hostile(make_project))
    report = replace(report, findings=[replace(i, finding=replace(i.finding, subject=name, resource="r\u2028s"))
                                       for i in report.findings])
    text = sarif.render(report)
    assert "\u202e" not in text and "\u2028" not in text  # written as \u escapes
    results = json.loads(text)["runs"][0]["results"]
    assert {r["properties"]["subject"] for r in results} == {name}
    assert any(r["properties"].get("resource") == "r\u2028s" for r in results)


def test_junit_stays_well_formed_with_any_control_character(make_project: Any) -> None:
    report = report_of(_hostile(make_project))
    hostile = "".join(chr(c) for c in range(32)) + "\x7f\x85\u2028\ufffe\uffff\ud800"
    report = replace(report, findings=[replace(i, finding=replace(i.finding, message=hostile))
                                       for i in report.findings])
    text = junit.render(report)
    root = ET.fromstring(text.encode("utf-8"))
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert "\\x00\\x01" in failure.text and "\\n\\x0b" in failure.text and "\\ufffe" in failure.text
    # every line is one of the failure's own (a finding, or an indented detail)
    assert all(line.startswith(("[", "  ")) for line in failure.text.strip("\n").split("\n"))


def test_junit_writes_control_characters_as_text() -> None:
    assert junit._clean("a\x01b\x1fc\td") == "a\\x01b\\x1fc\td"


# -- CSV -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    # after leading whitespace (an import that trims spaces), and the full-width signs
    (" =1+1", "' =1+1"), ("\u00a0\u3000@SUM(A1)", "'\u00a0\u3000@SUM(A1)"), ("\uff1d1+1", "'\uff1d1+1"),
    ("\uff0b1", "'\uff0b1"), ("\uff0d1", "'\uff0d1"), ("\uff20x", "'\uff20x"),
    # a leading tab or CR is shown as an escape, which starts with a backslash: no formula
    ("\tx", "\\tx"), ("\rx", "\\rx"), ("\n=1+1", "\\n=1+1"),
    # near misses: a sign inside a value, and plain ids, stay as they are
    ("user:a", "user:a"), ("a=b", "a=b"), ("a -b", "a -b"), ("x@y.example", "x@y.example"),
    ("", ""), (None, "")])
def test_csv_neutralises_formulas(value: str | None, cell: str) -> None:
    assert csv_format.safe(value) == cell


@pytest.mark.parametrize("value", ["=1+1", " =1+1", "\uff1dx", "@x", "user:a", "'=x", " x", "a-b"])
def test_csv_unguard_reverses_the_guard(value: str) -> None:
    assert csv_format.unguard(csv_format.safe(value)) == value


def test_csv_rows_round_trip_with_the_guard(make_project: Any) -> None:
    resource = '=HYPERLINK("http://x"), "quoted"'
    report = report_of(_hostile(make_project, resource=resource))
    text = csv_format.render(report)
    assert text.startswith(",".join(csv_format.HEADER) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(report.findings)
    leavers = [r for r in rows if r["rule"] == "leavers"]
    assert {r["resource"] for r in leavers} == {"'" + resource}
    hostile = next(r for r in leavers if r["subject"] == HOSTILE)
    assert resource in hostile["message"] and hostile["waived_reason"] == ""
    waived = next(r for r in leavers if r["subject"] == "user:u0000")
    assert waived["waived_reason"] == "'=1+1 handover, \"until\" <b>Friday</b>"
    assert waived["waived_by"] == "user:boss" and waived["waived_until"] == "2027-01-01T00:00:00Z"
    for row in rows:
        assert not any(v.startswith(csv_format.FORMULA_START) for v in row.values())


def test_csv_shows_a_line_break_inside_a_cell_as_an_escape() -> None:
    out = io.StringIO(newline="")
    csv.writer(out).writerow([csv_format.safe("line one,\n\"two\"\u2028\x1b[31m\u202e")])
    assert out.getvalue() == '"line one,\\n""two""\\u2028\\x1b[31m\\u202e"\r\n'
    assert next(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [
        'line one,\\n"two"\\u2028\\x1b[31m\\u202e']


def test_csv_keeps_printable_text_as_it_is() -> None:
    value = 'Zoë Ångström, "ops" 日本 ✓'
    assert csv_format.safe(value) == value


def test_csv_of_the_example(acme: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(csv_format.render(acme), newline="")))
    assert [r["fingerprint"] for r in rows] == [i.fingerprint for i in acme.findings]
    assert rows[0]["location"] == "history/2026-H1.jsonl:23"


# -- Markdown --------------------------------------------------------------------------------

def test_markdown_of_the_example_matches_the_golden_file(acme: Report) -> None:
    """Regenerate with KEYTRAIL_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    text = markdown.render(acme, "high")
    golden = GOLDEN / "acme.md"
    if os.environ.get("KEYTRAIL_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8", newline="")
    assert text == golden.read_text(encoding="utf-8")


def test_markdown_lists_failing_findings_first_and_folds_the_rest(acme: Report) -> None:
    text = markdown.render(acme, "high")
    head, _, folded = text.partition("<details>")
    assert head.count("\n- **") == len(acme.failing("high"))
    assert folded.count("\n- **") == len(acme.findings) - len(acme.failing("high"))
    assert "| **total** | 3 | 15 | 17 | 14 | 1 | 1 | 51 |" in head
    assert "left out" not in text


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a|b", "a\\|b"), ("<script>", "&lt;script&gt;"), ("`x`", "\\`x\\`"), ("*_~", "\\*\\_\\~"),
    ("[x](y)", "\\[x\\](y)"), ("a&amp;", "a&amp;amp;"), ("a\\b", "a\\\\b"), ("a\nb\r\nc", "a\\\\nb\\\\r\\\\nc"),
    ("user:ann.lee", "user:ann.lee"), (None, "")])
def test_markdown_escape(raw: str | None, escaped: str) -> None:
    assert markdown.escape(raw) == escaped


@pytest.mark.parametrize(("raw", "escaped"), [
    # mentions notify people and teams: a code span is never a mention
    ("@everyone", "`@everyone`"), ("ping @acme/admins now", "ping `@acme/admins` now"),
    ("user:@bob", "user:`@bob`"), ("(@bob)", "(`@bob`)"),
    # bare addresses become links: a code span is never a link
    ("see https://evil.example/x?a=1", "see `https://evil.example/x?a=1`"),
    ("www.evil.example", "`www.evil.example`"), ("JavaScript://x", "`JavaScript://x`"),
    # the run stops where a code span or a table cell could not hold the text
    ("https://e.example/a|b", "`https://e.example/a`\\|b"), ("@x`y", "`@x`\\`y"),
    # control characters and logging commands inside a mention are escaped first
    ("@a\x1b[2J", "`@a`\\\\x1b\\[2J"),
    # near misses: an e-mail address is not a mention, a lone @ or a word with a colon is plain
    ("ann@example.com", "ann@example.com"), ("a @ b", "a @ b"), ("role:ops", "role:ops"),
    ("ticket:CHG-1", "ticket:CHG-1")])
def test_markdown_neutralises_mentions_and_autolinks(raw: str, escaped: str) -> None:
    assert markdown.escape(raw) == escaped


def test_markdown_escapes_hostile_names(make_project: Any) -> None:
    text = markdown.render(report_of(_hostile(make_project)), "high")
    assert HOSTILE not in text
    assert "user:&lt;\\]\\]&gt;&amp;\"\\|\\*\\`\\_\\[x\\](y)" in text
    assert "<b>" not in text and "&lt;b&gt;Friday" in text


def test_markdown_stays_under_the_size_limit_and_says_what_it_left_out(make_project: Any) -> None:
    report = report_of(_hostile(make_project, leavers=600))
    text = markdown.render(report, "high")
    assert len(text) <= markdown.SIZE_LIMIT
    shown = text.count("\n- **")
    assert 0 < shown < len(report.findings)
    left = len(report.findings) - shown
    assert f"{left} findings left out of this report" in text
    assert "more failing findings left out" in text
    small = markdown.render(report, "high", size_limit=5_000)
    assert len(small) <= 5_000 and "left out" in small


@pytest.mark.parametrize("fmt", ["sarif", "junit", "csv", "markdown"])
def test_output_does_not_depend_on_the_hash_seed(fmt: str) -> None:
    import subprocess
    import sys

    def run(seed: str) -> bytes:
        done = subprocess.run([sys.executable, "-m", "keytrail", "check", str(ACME), "--as-of", AS_OF,
                               "--format", fmt], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, check=False)
        assert done.returncode == 1, done.stderr.decode()
        return done.stdout

    assert run("1") == run("2024")


@pytest.mark.parametrize(("fmt", "name"), [("text", "acme.txt"), ("csv", "acme.csv"), ("junit", "acme.junit.xml")])
def test_text_formats_of_the_example_match_their_golden_files(acme: Report, fmt: str, name: str) -> None:
    """Regenerate with KEYTRAIL_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    from keytrail.render import render

    text = render(acme, fmt, "high")
    golden = GOLDEN / name
    if os.environ.get("KEYTRAIL_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8", newline="")
    assert text == golden.read_bytes().decode("utf-8")  # bytes: CSV lines end in CRLF


def test_csv_streams_in_batches_with_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Millions of findings are written a batch of rows at a time; the pieces join to the
    # same file whatever the batch size, with no row split across two pieces.
    report = report_of(ACME)
    whole = csv_format.render(report, "high")
    monkeypatch.setattr(csv_format, "BATCH", 2)
    pieces = list(csv_format.iter_csv(report, "high"))
    assert "".join(pieces) == whole
    assert len(pieces) == len(report.findings) // 2 + 1
    assert all(piece.endswith("\r\n") for piece in pieces if piece)
    assert len(list(csv.reader(io.StringIO(whole)))) == len(report.findings) + 1


def test_the_line_oriented_formats_stream(tmp_path: Path) -> None:
    from keytrail.render import STREAMING, render, render_chunks

    report = report_of(ACME)
    assert set(STREAMING) == {"json", "csv", "otlp"}
    for fmt in ("json", "csv", "otlp"):
        chunks = render_chunks(report, fmt, "high")
        assert not isinstance(chunks, (list, tuple))  # a generator: nothing rendered yet
        assert "".join(chunks) == render(report, fmt, "high")
