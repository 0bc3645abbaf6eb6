"""The review pack's index.html as a reviewer and an auditor see it, in a real headless browser.

On screen, the key elements must be visible (laid out with a size, not folded away), the
evidence paragraph on the first screen. In print (the PDF is the evidence file), every reviewer
section is expanded, the grant table's header row repeats on every page it spans, and the period
is on each page. Skips cleanly without a browser or, for the PDF text, without poppler.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.review import pack as review_pack
from tests.conftest import REPO
from tests.test_html import _browser, _page_errors, _run_browser

ACME = REPO / "examples" / "acme"

#: Run in a copy of the page (never the pack itself, which has no script): reports, per key
#: element, whether it is rendered with a size and not inside a folded section (a closed
#: ``details`` still lays its rows out, so ``checkVisibility``, not the size alone, tells), and
#: where it starts.
PROBE = """<script>
function seen(el){if(!el)return null;const r=el.getBoundingClientRect();
const vis=el.checkVisibility?el.checkVisibility({visibilityProperty:true}):el.offsetParent!==null;
return {shown:vis&&r.width>0&&r.height>0,top:r.top};}
const out={evidence:seen(document.getElementById('evidence')),
findings:seen(document.getElementById('findings')),jump:seen(document.getElementById('jump')),
wide:document.documentElement.scrollWidth,
heading:seen(document.querySelector('details.reviewer summary h3')),
row:seen(document.querySelector('details.reviewer tbody tr')),
screen:window.innerHeight};
const p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify(out);
document.body.appendChild(p);
</script>"""


def _probe(tmp_path: Path, html: str) -> dict[str, object]:
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _run_browser(_browser(), tmp_path, page, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _page_errors(run.stderr) == []
    start = run.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    text = run.stdout[start:run.stdout.index("</pre>", start)].replace("&quot;", '"')
    return json.loads(text)  # type: ignore[no-any-return]


def test_key_elements_of_the_pack_are_visible(acme_pack: Path, tmp_path: Path) -> None:
    seen = _probe(tmp_path, (acme_pack / "index.html").read_text(encoding="utf-8"))
    for key in ("evidence", "jump", "findings", "heading", "row"):
        assert isinstance(seen[key], dict) and seen[key]["shown"], (key, seen)  # type: ignore[index]
    # The window is 2400 px high: the evidence paragraph is near the top, not below the fold.
    assert seen["evidence"]["top"] < 900, seen  # type: ignore[index]
    # So is the link to the reviewer sections, and nothing makes the page scroll sideways.
    assert seen["jump"]["top"] < 900, seen  # type: ignore[index]
    assert seen["wide"] <= 1400, seen  # type: ignore[operator]


PAGE_PROBE = """<script>
function seen(el){if(!el)return null;const r=el.getBoundingClientRect();
const vis=el.checkVisibility?el.checkVisibility({visibilityProperty:true}):el.offsetParent!==null;
return {shown:vis&&r.width>0&&r.height>0,top:r.top};}
const out={nav:seen(document.getElementById('page-nav')),
row:seen(document.querySelector('table.findings tbody tr')),
wide:document.documentElement.scrollWidth};
const p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify(out);
document.body.appendChild(p);
</script>"""


def test_a_findings_page_shows_its_links_and_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from keytrail.review import findings as review_findings
    monkeypatch.setattr(review_findings, "INDEX_SHOWN", 3)
    monkeypatch.setattr(review_findings, "PER_PAGE", 4)
    assert main(["review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "pack")]) == 0, \
        capsys.readouterr().err
    html = (tmp_path / "pack" / "findings" / "findings-0002.html").read_text(encoding="utf-8")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PAGE_PROBE + "</body>"), encoding="utf-8")
    run = _run_browser(_browser(), tmp_path, page, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _page_errors(run.stderr) == []
    start = run.stdout.index('<pre id="probe">') + len('<pre id="probe">')
    seen = json.loads(run.stdout[start:run.stdout.index("</pre>", start)].replace("&quot;", '"'))
    assert seen["nav"]["shown"] and seen["nav"]["top"] < 900, seen
    assert seen["row"]["shown"] and seen["wide"] <= 1400, seen


def test_a_folded_section_is_seen_as_hidden(acme_pack: Path, tmp_path: Path) -> None:
    # Near miss: the probe really tells a folded section's rows from shown ones.
    html = (acme_pack / "index.html").read_text(encoding="utf-8")
    folded = html.replace('class="reviewer" open>', 'class="reviewer">')
    seen = _probe(tmp_path, folded)
    assert seen["heading"]["shown"] and not seen["row"]["shown"], seen  # type: ignore[index]


def _pdf_pages(pack: Path, tmp_path: Path) -> list[str]:
    browser = _browser()
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pdf = tmp_path / "pack.pdf"
    run = _run_browser(browser, tmp_path, pack / "index.html", f"--print-to-pdf={pdf}",
                       "--no-pdf-header-footer")
    assert run.returncode == 0, run.stderr[-2000:]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    return [p for p in text.split("\f") if p.strip()]


@pytest.fixture
def folded_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """The acme pack as a large organisation's page is written: every reviewer section folded."""
    monkeypatch.setattr(review_pack, "OPEN_SECTIONS", 1)
    code = main(["review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "pack")])
    assert code == 0, capsys.readouterr().err
    return tmp_path / "pack"


def test_many_reviewers_start_folded(acme_pack: Path, folded_pack: Path) -> None:
    opened = (acme_pack / "index.html").read_text(encoding="utf-8")
    folded = (folded_pack / "index.html").read_text(encoding="utf-8")
    assert opened.count('class="reviewer" open>') == opened.count('class="reviewer"') > 1
    assert 'class="reviewer" open' not in folded and folded.count('class="reviewer">') > 1


@pytest.mark.parametrize("folded", [False, True], ids=["open", "folded"])
def test_the_print_view_expands_sections_and_repeats_header_rows(acme_pack: Path, tmp_path: Path,
                                                                 request: pytest.FixtureRequest,
                                                                 folded: bool) -> None:
    pages = _pdf_pages(request.getfixturevalue("folded_pack") if folded else acme_pack, tmp_path)
    assert len(pages) > 1
    data = json.loads((acme_pack / "findings.json").read_text(encoding="utf-8"))
    grants = data["review"]["grants"]
    assert grants
    # Folded sections would print without their rows: every grant is in the PDF.
    text = "".join(pages).replace("\n", " ")
    missing = [g["event"] for g in grants if f"event {g['event']} " not in text]
    assert missing == []
    # Each table's header row is on every page it spans, not only the first: the findings
    # table from its heading to the reviewer sections, a grant table from there on.
    first = next(i for i, p in enumerate(pages) if "Findings not on a grant row" in p)
    grants_at = next(i for i, p in enumerate(pages) if "Grants to certify, by reviewer" in p)
    # The key owners' section follows the reviewers' grants: the grant tables end where it starts.
    keys_at = next((i for i, p in enumerate(pages) if "Keys to review, by key owner" in p), len(pages))
    sections = sum(p.count("Worksheet: worksheets/") for p in pages[:keys_at])
    assert keys_at - grants_at > sections  # some grant table spans pages: repetition is tested
    for i in range(first + 1, grants_at):
        # the by-rule table's header, or the detailed list's, whichever table the page continues
        by_rule = "severity" in pages[i] and "findings" in pages[i] and "where" in pages[i]
        detailed = "severity" in pages[i] and "chain" in pages[i]
        assert by_rule or detailed, i
    for i in range(grants_at + 1, keys_at):
        assert "how held" in pages[i] and "last certified" in pages[i], i
    # The period is in each page's header.
    assert all("Access review 2026-Q3" in p for p in pages)


def test_findings_pages_are_told_before_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # A reviewer reads the intro, not a note after the list: the findings pages are told up front.
    from keytrail.review import findings as review_findings
    monkeypatch.setattr(review_findings, "INDEX_SHOWN", 3)
    assert main(["review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "pack")]) == 0, \
        capsys.readouterr().err
    html = (tmp_path / "pack" / "index.html").read_text(encoding="utf-8")
    section = html[html.index('<h2 id="findings">'):]
    told = section.index('id="findings-pages"')
    assert told < section.index("<table")
    assert ("This page details the first 3; all 30, in the same order with their chains and fingerprints, "
            "are on the 1 findings page linked below (2000 a page).") in section
    assert '<a href="findings/findings-0001.html">findings page 1</a>' in section


def test_a_whole_findings_list_has_no_pages(acme_pack: Path) -> None:
    html = (acme_pack / "index.html").read_text(encoding="utf-8")
    assert 'id="findings-pages"' not in html and "findings/findings-" not in html
