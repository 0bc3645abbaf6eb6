"""The HTML format: structure, counts, escaping, limits, determinism, and a real headless browser."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import markupsafe
import pytest

from keytrail.cli import main
from keytrail.engine import Report
from keytrail.formats import html
from keytrail.model import CATEGORIES, SEVERITIES
from keytrail.render import FORMATS, render_json
from tests.conftest import AS_OF, REPO, report_of

ACME = REPO / "examples" / "acme"
XSS = "<script>alert(1)</script>"
XSS_USER = "user:" + XSS
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _esc(text: str) -> str:
    """``text`` as the autoescaping template writes it."""
    return str(markupsafe.escape(text))


@pytest.fixture(scope="module")
def acme() -> Report:
    return report_of(ACME)


@pytest.fixture(scope="module")
def page(acme: Report) -> str:
    return html.render(acme, "high")


@pytest.fixture(scope="module")
def contract(acme: Report) -> dict[str, Any]:
    return json.loads(render_json(acme, "high"))  # type: ignore[no-any-return]


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts, keyed by the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._stack: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            rows: list[list[str]] = []
            self.tables.setdefault(dict(attrs).get("class") or "", rows)
            self._stack.append(rows)
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._stack.pop()
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(text: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


# -- structure -----------------------------------------------------------------------------------

def test_html_is_registered_and_the_command_line_renders_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert "html" in FORMATS
    assert main(["check", str(ACME), "--as-of", AS_OF, "--format", "html"]) == 1
    assert capsys.readouterr().out == FORMATS["html"](report_of(ACME), "high")


def test_page_is_one_self_contained_document(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>\n")
    assert page.rstrip().endswith("</html>")
    assert "<script" not in page.lower()
    assert "http://" not in page and "https://" not in page
    for attribute in re.findall(r"""\b(?:src|href|action|srcset|xlink:href)\s*=\s*["']?([^"'\s>]*)""", page):
        assert attribute.startswith("#"), attribute
    for external in ("<link", "<img", "<iframe", "<object", "<embed", "@import", "url("):
        assert external not in page.lower(), external
    assert "<style>" in page and "@media print" in page
    assert "<svg" in page and "<title" in page


def test_every_check_rule_and_finding_appears(page: str, acme: Report,
                                              contract: dict[str, Any]) -> None:
    for rule in acme.rules:
        assert _esc(rule.id) in page
        assert _esc(rule.check) in page
    for f in contract["findings"]:
        assert _esc(f["message"]) in page, f["message"]
        assert f["fingerprint"] in page
    for key in acme.view.keys:
        assert _esc(key) in page


def test_summary_counts_match_the_json_summary(page: str, contract: dict[str, Any]) -> None:
    summary = contract["summary"]
    header, *rows = _tables(page)["summary"]
    severities = list(reversed(SEVERITIES))
    assert header == ["category", *severities, "waived", "total"]
    by_name = {row[0]: [int(n) for n in row[1:]] for row in rows}
    total = by_name.pop("total")
    assert list(by_name) == [c for c in CATEGORIES if c in by_name]
    for category, counts in by_name.items():
        assert sum(counts[:len(severities)]) == summary["by_category"].get(category, 0)
    assert {s: n for s, n in zip(severities, total[:len(severities)], strict=True) if n} == summary["by_severity"]
    assert total[-2] == summary["waived"]
    assert total[-1] == summary["findings"]
    assert f"{summary['failing']} findings at or above high" in page
    assert f"{summary['findings']} findings in all" in page


def test_chart_has_a_labelled_bar_per_category(page: str, contract: dict[str, Any]) -> None:
    svg = page[page.index("<svg"):page.index("</svg>")]
    for category, count in contract["summary"]["by_category"].items():
        assert f">{category}</text>" in svg
        assert f">{count}</text>" in svg
        assert f"<title>{category}: {count} unwaived" in svg
    assert svg.count("<rect") >= len(contract["summary"]["by_category"])


def test_failing_findings_come_first_and_open(page: str, contract: dict[str, Any]) -> None:
    rows = _tables(page)["findings"][1:]
    listed = [row for row in rows if len(row) == 7]
    assert len(listed) == contract["summary"]["findings"]
    assert page.count("<details open>") == contract["summary"]["failing"]
    assert page.count("<details") == contract["summary"]["findings"]
    first_closed = page.index("<details>")
    assert page.rindex("<details open>") < first_closed


def test_explanations_show_the_path_and_the_chain(page: str, contract: dict[str, Any]) -> None:
    # The separation-of-duties finding goes through a group: its path and both chains appear.
    sod = next(f for f in contract["findings"] if f["check"] == "separation-of-duties")
    for entry in sod["evidence"]["paths"].values():
        assert _esc(" → ".join(entry["path"])) in page
        for link in entry["chain"]:
            assert _esc(link["event"]) in page
            assert _esc(link["location"]) in page
    assert "<th>key holder</th>" in page and "<th>approver</th>" in page


def test_waived_findings_carry_their_waiver(page: str, contract: dict[str, Any]) -> None:
    waived = [f for f in contract["findings"] if f["waived"]]
    assert waived
    for f in waived:
        assert f"waived until {f['waived']['expires']} by {_esc(f['waived']['approved_by'])}" in page


def test_policies_waivers_and_keys_are_listed(page: str, acme: Report) -> None:
    tables = _tables(page)
    waivers = tables["waivers"]
    statuses = [row[8] for row in waivers if row[0] != "waiver for rule"]
    assert statuses.count("expired") == sum(1 for w in acme.view.waivers if w.expires <= acme.as_of)
    assert statuses.count("in force") == sum(1 for w in acme.view.waivers if w.expires > acme.as_of)
    keys = {row[0]: row for row in tables["keys"][1:]}
    assert set(keys) == set(acme.view.keys)
    assert keys["pk-2025-0001"][8] == "expired"
    assert keys["pk-2025-0007"][8] == "revoked"
    assert keys["pk-2025-0003"][8] == "valid"


# -- escaping, limits, determinism ------------------------------------------------------------

def _hostile(make_project: Any) -> Path:
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": XSS},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal",
                         "description": XSS}],
              "waivers": [{"rule": "leavers", "subject": "user:waived",
                           "reason": "</details></table>" + XSS, "approved_by": XSS_USER,
                           "expires": "2027-01-01T00:00:00Z"}]}
    principals = [{"id": n, "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}
                  for n in (XSS_USER, "user:waived")]
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": n, "target": "role:r",
               "resource": XSS, "key": "pk-1", "actor": XSS_USER, "ticket": XSS,
               "reason": "\" onmouseover=\"alert(1)", "approver": "user:boss"}
              for n in (XSS_USER, "user:waived")]
    keys = [{"id": "pk-1", "holder": XSS_USER, "purpose": XSS, "scope": ["*"]}]
    directory = {"principals": principals, "roles": [{"id": "role:r", "owner": "user:boss"}]}
    return make_project(directory=directory, keys=keys, events=events, policies=[policy])  # type: ignore[no-any-return]


def test_hostile_names_render_as_text(make_project: Any) -> None:
    report = report_of(_hostile(make_project))
    assert any(f.subject == XSS_USER for f in report.findings)
    text = html.render(report, "high")
    assert XSS not in text
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "user:&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;/details&gt;&lt;/table&gt;" in text
    assert 'onmouseover="' not in text
    # The page's structure is intact: one details block per finding, all closed properly.
    assert text.count("<details") == text.count("</details>") == len(report.findings)


def test_large_reports_are_capped_and_say_so(acme: Report) -> None:
    total = len(acme.findings)
    text = html.render(acme, "high", full_limit=3, compact_limit=10)
    assert text.count("<details") == 3
    assert text.count("<details open>") == 3  # failing findings fill the first places
    compact = _tables(text)["findings compact"][1:]
    assert len(compact) == 7
    assert f"{total} findings: the first 3 are listed with their explanation, the next 7" in text
    assert f"{total - 10} more findings not listed: see <code>keytrail check --format json</code>" in text
    everything = html.render(acme, "high")
    assert "not listed" not in everything and "without their explanation" not in everything


def test_same_input_same_bytes(acme: Report, page: str, make_project: Any) -> None:
    again = html.render(report_of(ACME), "high")
    assert again == page
    assert str(ACME) not in page  # no machine-specific paths
    root = _hostile(make_project)
    assert html.render(report_of(root), "high") == html.render(report_of(root), "high")
    assert str(root) not in html.render(report_of(root), "high")


def test_no_findings(make_project: Any) -> None:
    report = report_of(make_project(directory={"principals": []}, policies=[
        {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
         "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}]))
    text = html.render(report, "high")
    assert "PASS" in text and "No findings." in text
    assert "No provisioning keys are registered." in text


# -- a real browser -----------------------------------------------------------------------------

def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no headless browser installed (looked for {', '.join(BROWSERS)})")


def _run_browser(browser: str, tmp_path: Path, page_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--window-size=1400,2400", *args, page_file.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)


#: What Chromium writes to stderr for the page's own console output and errors
#: (``CONSOLE(12)`` in older releases, ``INFO:CONSOLE:12`` in newer ones).
PAGE_MESSAGE = re.compile(r"CONSOLE[(:]|Uncaught")


def _page_errors(stderr: str) -> list[str]:
    """Messages from the page itself (console output, uncaught errors), not Chromium's own noise."""
    return [line for line in stderr.splitlines() if PAGE_MESSAGE.search(line)]


def test_page_messages_are_told_from_browser_noise() -> None:
    stderr = "\n".join([
        "[1:1:1128/051002.476543:ERROR:dbus/object_proxy.cc:572] Failed to call method",
        '[1:1:1128/051321.728043:INFO:CONSOLE:1] "boom", source: file:///tmp/x.html (1)',
        '[1:1:1128/051321.728077:INFO:CONSOLE(3)] "Uncaught ReferenceError: f is not defined"',
    ])
    assert len(_page_errors(stderr)) == 2


def test_a_headless_browser_renders_the_page(tmp_path: Path, page: str,
                                             contract: dict[str, Any]) -> None:
    browser = _browser()
    page_file = tmp_path / "report.html"
    page_file.write_text(page, encoding="utf-8")
    dom = _run_browser(browser, tmp_path, page_file, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _page_errors(dom.stderr) == []
    assert "<svg" in dom.stdout and "</html>" in dom.stdout
    for f in contract["findings"]:
        assert htmllib.escape(f["message"], quote=False) in dom.stdout, f["message"]
        assert f["fingerprint"] in dom.stdout
    assert dom.stdout.count("<details") == contract["summary"]["findings"]
    shot = tmp_path / "report.png"
    run = _run_browser(browser, tmp_path, page_file, f"--screenshot={shot}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _page_errors(run.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_headless_browser_shows_hostile_names_as_text(tmp_path: Path, make_project: Any) -> None:
    browser = _browser()
    page_file = tmp_path / "hostile.html"
    page_file.write_text(html.render(report_of(_hostile(make_project)), "high"), encoding="utf-8")
    dom = _run_browser(browser, tmp_path, page_file, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _page_errors(dom.stderr) == []
    assert "<script" not in dom.stdout
    assert "user:&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout


def test_bidi_controls_and_line_breaks_are_shown_as_escapes(make_project: Any) -> None:
    """Trojan Source: a bidi override would make a reviewer read another name than the one held.
    Every printed value is inlined, joined lists (controls) included. Input refuses such
    characters in ids (tests/test_ids.py), so the ids are put into the findings directly;
    free text (controls, reasons) carries them from the input."""
    from dataclasses import replace

    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p", "controls": ["C\u202e1", "C2"]},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:ann", "target": "group:g",
               "key": "pk-1", "actor": "svc:bot", "reason": "a\nb\u202e"},
              {"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "group:g",
               "target": "role:r", "key": "pk-1", "actor": "svc:bot"}]
    keys = [{"id": "pk-1", "holder": "svc:bot", "purpose": "p", "scope": ["role:*", "group:*"]}]
    directory = {"principals": [{"id": "user:ann", "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}],
                 "groups": [{"id": "group:g"}], "roles": [{"id": "role:r"}]}
    report = report_of(make_project(directory=directory, keys=keys, events=events, policies=[policy]))
    report = replace(report, findings=[
        replace(i, finding=replace(i.finding, subject="user:ann\u202enimda\u2066", target="group:g\u200b"))
        for i in report.findings if i.finding.target == "group:g"])
    text = html.render(report, "high")
    assert not any(c in text for c in "\u202e\u2066\u200b")
    assert "<td>user:ann\\u202enimda\\u2066</td><td>group:g\\u200b</td>" in text
    assert "C\\u202e1, C2" in text
    assert "a\\nb\\u202e" in text


def test_printable_names_are_shown_as_they_are(make_project: Any) -> None:
    name = "user:zoë.ångström"
    events = [{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": name, "target": "role:r",
               "key": "pk-1", "actor": "svc:bot", "reason": "日本語 — ✓"}]
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "leavers", "use": "orphaned.inactive-principal"}]}
    directory = {"principals": [{"id": name, "status": "terminated", "terminated_at": "2026-05-01T00:00:00Z"}],
                 "roles": [{"id": "role:r"}]}
    text = html.render(report_of(make_project(directory=directory, events=events, policies=[policy])), "high")
    assert f"<td>{name}</td><td>role:r</td>" in text and "日本語 — ✓" in text


def test_broken_chain_shows_the_previous_lines_whole_chain(page: str, contract: dict[str, Any]) -> None:
    """The line before a broken `prev` hash was shown as "no key" with empty fields although it
    has a key, an actor and a time: the reader compares the two lines, so both are whole."""
    finding = next(f for f in contract["findings"] if f["check"] == "unexplained.broken-chain"
                   and "previous" in f["evidence"])
    previous = finding["evidence"]["previous"]
    assert previous["event"] == "ev-000352" and previous["location"] == "history/2026-H2.jsonl:53"
    assert previous["key"] and previous["actor"] and previous["time"]  # the line has them
    section = page[page.index('<strong>previous</strong>'):]
    row = _tables(section[:section.index("</table>") + 8])["chain"][1]
    assert row[0].startswith("ev-000352")
    assert previous["key"] in row and previous["actor"] in row and row[1].startswith(previous["time"])
    assert "no key" not in row
    # near miss: the event whose `prev` broke keeps its own chain beside it
    assert finding["evidence"]["event"]["event"] == "ev-000353"
