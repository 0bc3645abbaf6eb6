"""Every finding of a review is in its HTML (issue 13, "done when"): on examples/acme and on a
generated organisation with more findings than index.html details, every fingerprint of
findings.json is in index.html or one of the pack's findings pages, which index.html links,
summary.md accounts for, pack.json hashes and ``keytrail review verify`` checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.review import findings as review_findings
from tests.conftest import REPO

ACME = REPO / "examples" / "acme"
FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


def fingerprints(pack: Path) -> set[str]:
    return {f["fingerprint"] for f in json.loads((pack / "findings.json").read_text(encoding="utf-8"))["findings"]}


def html_fingerprints(pack: Path) -> set[str]:
    """The fingerprints the pack's pages print: index.html and every findings page."""
    pages = [pack / "index.html", *sorted((pack / "findings").glob("*.html"))]
    return {fp for page in pages for fp in FINGERPRINT.findall(page.read_text(encoding="utf-8"))}


def review(out: Path, root: Path = ACME) -> Path:
    code = main(["review", str(root), "--period", "2026-Q3", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded organisation of 1,000 people whose review has more findings on no grant row
    (697) than index.html details (INDEX_SHOWN, 200)."""
    root = tmp_path_factory.mktemp("org") / "org"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "generate.py"), "--principals", "1000",
                    "--events", "16000", "--out", str(root)], check=True, capture_output=True, timeout=120)
    return root


@pytest.fixture(scope="module")
def generated_pack(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated organisation's pack for 2026-Q3 (read-only: copy it to change it)."""
    return review(tmp_path_factory.mktemp("pack") / "pack", generated)


def test_every_finding_of_acme_is_in_index_html(acme_pack: Path) -> None:
    assert fingerprints(acme_pack) - html_fingerprints(acme_pack) == set()
    # Fewer than index.html details: no findings pages, and the pack says where each rule is.
    assert not (acme_pack / "findings").exists()
    assert 'id="findings-pages"' not in (acme_pack / "index.html").read_text(encoding="utf-8")


def test_every_finding_of_a_large_organisation_is_in_the_pages(generated_pack: Path) -> None:
    pack = generated_pack
    index = (pack / "index.html").read_text(encoding="utf-8")
    shown = int(re.search(r"these (\d+) are not", index).group(1))  # type: ignore[union-attr]
    assert shown > review_findings.INDEX_SHOWN  # the test is about an organisation past the cap
    expected = fingerprints(pack)
    assert len(expected) > shown
    assert expected - html_fingerprints(pack) == set()
    # Each page is linked from index.html and hashed in pack.json.
    pages = sorted(p.relative_to(pack).as_posix() for p in (pack / "findings").glob("*.html"))
    assert pages == ["findings/findings-0001.html"]
    assert all(f'href="{p}"' in index for p in pages)
    files = json.loads((pack / "pack.json").read_text(encoding="utf-8"))["evidence"]["files"]
    assert sorted(n for n in files if n.startswith("findings/")) == pages


def test_findings_split_over_pages_keep_their_order_and_links(generated: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(review_findings, "PER_PAGE", 250)
    pack = review(tmp_path / "pack", generated)
    capsys.readouterr()
    assert fingerprints(pack) - html_fingerprints(pack) == set()
    names = sorted(p.name for p in (pack / "findings").glob("*.html"))
    assert names == ["findings-0001.html", "findings-0002.html", "findings-0003.html"]
    first = (pack / "findings" / names[0]).read_text(encoding="utf-8")
    middle = (pack / "findings" / names[1]).read_text(encoding="utf-8")
    assert "findings 1 to 250 of 697" in first and "findings 251 to 500 of 697" in middle
    assert '<a href="findings-0001.html">previous page</a>' in middle
    assert '<a href="findings-0003.html">next page</a>' in middle
    assert '<a href="../index.html#findings">back to the review</a>' in middle
    # Unexplained and critical first: page 1 starts where index.html's detailed list starts.
    index = (pack / "index.html").read_text(encoding="utf-8")
    section = index[index.index('<table class="findings">'):]
    assert FINGERPRINT.findall(section)[:5] == FINGERPRINT.findall(first)[:5]
    # No page repeats another's finding: the pages are one list cut in three.
    per_page = [FINGERPRINT.findall((pack / "findings" / n).read_text(encoding="utf-8")) for n in names]
    assert sum(len(p) for p in per_page) == len({fp for p in per_page for fp in p}) == 697
    code = main(["review", "verify", str(pack), str(generated)])
    assert code == 0, capsys.readouterr().out


def test_the_comparison_catches_a_finding_missing_from_the_pages(generated: Path, generated_pack: Path,
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: the fingerprint comparison fails when one row is gone from a page.
    import shutil

    pack = Path(shutil.copytree(generated_pack, tmp_path / "pack"))
    page = pack / "findings" / "findings-0001.html"
    text = page.read_text(encoding="utf-8")
    last = FINGERPRINT.findall(text)[-1]
    page.write_text(text.replace(last, "gone"), encoding="utf-8")
    assert fingerprints(pack) - html_fingerprints(pack) == {last}
    assert main(["review", "verify", str(pack), str(generated)]) == 1
    assert "DIFFERS    findings/findings-0001.html" in capsys.readouterr().out


def test_summary_md_counts_the_findings_on_no_grant_row_by_rule(acme_pack: Path) -> None:
    summary = (acme_pack / "summary.md").read_text(encoding="utf-8")
    section = summary[summary.index("### Findings not on a grant row"):summary.index("### Reviewers")]
    assert "30 findings of the period are on no grant row" in section
    assert "| critical | broken-chain | unexplained.broken-chain | 2 | index.html |" in section
    assert "| high | acme-payments-sod | separation-of-duties | 2 (1 waived) | index.html |" in section
    # The critical and unexplained ones by name, with their fingerprints.
    assert section.count("\n- **critical** broken-chain: ") == 2
    assert "- **high** key-out-of-scope: " in section
    # Near miss: the medium and waived ones are counted, not listed.
    assert "- **medium**" not in section


def test_summary_md_says_where_the_rest_are(generated_pack: Path) -> None:
    summary = (generated_pack / "summary.md").read_text(encoding="utf-8")
    assert "index.html lists the first ones with their chains, and all of them are on its 1 findings " \
           "page (findings/)" in summary
    assert "| findings/findings-0001.html |" in summary
    urgent = int(re.search(r"\((\d+) unwaived critical or unexplained\)", summary).group(1))  # type: ignore[union-attr]
    assert 0 < urgent <= 50 and summary.count("\n- **") == urgent  # all listed by name


def test_summary_md_lists_the_first_critical_ones_and_says_where_the_rest_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(review_findings, "SUMMARY_SHOWN", 2)
    pack = review(tmp_path / "pack")
    capsys.readouterr()
    summary = (pack / "summary.md").read_text(encoding="utf-8")
    assert "Critical or unexplained (the first 2 of 5; the rest are in index.html):" in summary
    assert summary.count("\n- **") == 2


def test_a_page_the_pack_did_not_write_fails_verify(acme_pack: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    pack = Path(shutil.copytree(acme_pack, tmp_path / "pack"))
    (pack / "findings").mkdir()
    (pack / "findings" / "findings-0001.html").write_text("<p>all clear</p>", encoding="utf-8")
    assert main(["review", "verify", str(pack), str(ACME)]) == 1
    assert "NEW        findings/findings-0001.html (in the pack, not recorded in pack.json)" in \
        capsys.readouterr().out


@pytest.mark.parametrize("name", ["../../etc/passwd", "findings/../index.html", "findings/x.html",
                                  "worksheets/a.csv"])
def test_pack_json_cannot_name_other_files_for_verify(acme_pack: Path, tmp_path: Path, name: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    pack = Path(shutil.copytree(acme_pack, tmp_path / "pack"))
    data = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    data["evidence"]["files"][name] = "0" * 64
    (pack / "pack.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["review", "verify", str(pack), str(ACME)]) == 2
    err = capsys.readouterr().err
    assert "evidence.files" in err and "is not a file of a review pack" in err and "Traceback" not in err


def test_index_html_counts_the_findings_on_no_grant_row_by_rule(acme_pack: Path) -> None:
    html = (acme_pack / "index.html").read_text(encoding="utf-8")
    table = html[html.index('<table id="findings-by-rule">'):]
    table = table[:table.index("</table>")]
    rules = re.findall(r"<td>([\w-]+)<br><span class=\"note\">([\w.-]+)</span></td><td class=\"n\">(\d+)", table)
    assert rules[:3] == [("broken-chain", "unexplained.broken-chain", "2"),
                         ("drift-extra", "unexplained.drift-extra", "1"),
                         ("key-out-of-scope", "unexplained.key-out-of-scope", "1")]
    # Every finding on no grant row is counted once, and the waived one is said to be waived.
    assert sum(int(n) for _, _, n in rules) == 30
    assert '<span class="note">1 waived</span>' in table
    # All of acme's are detailed on the page itself: each rule points below, to no page.
    assert table.count("<td>below</td>") == len(rules) and "findings/" not in table


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_file_with_a_name_that_is_not_utf8_in_the_pack_fails_verify_without_a_traceback(
        acme_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    import os
    import shutil

    pack = Path(shutil.copytree(acme_pack, tmp_path / "pack"))
    (pack / "findings").mkdir()
    try:
        fd = os.open(os.fsencode(pack / "findings") + b"/x\xff\x1b[31m.html", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    os.close(fd)
    assert main(["review", "verify", str(pack), str(ACME), "--format", fmt]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "\x1b" not in out
    if fmt == "json":
        new = [f for f in json.loads(out)["files"] if f["state"] == "new"]
        assert new == [{"group": "pack", "path": "findings/x\\xff\x1b[31m.html", "state": "new"}]
    else:
        assert "NEW        findings/x\\udcff\\x1b[31m.html" in out


def test_a_utf8_name_in_the_pack_is_shown_as_it_is_in_json(acme_pack: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: a non-ASCII name that is valid UTF-8 is kept exactly.
    import shutil

    pack = Path(shutil.copytree(acme_pack, tmp_path / "pack"))
    (pack / "findings").mkdir()
    (pack / "findings" / "résumé.html").write_text("<p>x</p>", encoding="utf-8")
    assert main(["review", "verify", str(pack), str(ACME), "--format", "json"]) == 1
    new = [f["path"] for f in json.loads(capsys.readouterr().out)["files"] if f["state"] == "new"]
    assert new == ["findings/résumé.html"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_place_of_a_worksheet_is_an_error_not_a_hang(acme_pack: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import shutil

    pack = Path(shutil.copytree(acme_pack, tmp_path / "pack"))
    sheet = sorted((pack / "worksheets").iterdir())[0]
    sheet.unlink()
    os.mkfifo(sheet)
    assert main(["review", "verify", str(pack), str(ACME)]) == 2
    assert f"{sheet}: cannot read: not a plain file" in capsys.readouterr().err
