"""Last use beside each grant in the review pack: the page's column and the worksheets' ``last_used``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import REPO, write_project

ACME = REPO / "examples" / "acme"


def _rows(pack: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    out = {}
    for sheet in (pack / "worksheets").glob("*.csv"):
        if sheet.name.startswith("keys-"):
            continue
        for row in csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8"))):
            out[(row["subject"], row["target"], row["resource"])] = row
    return out


def test_worksheets_show_last_use_never_sign_in_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(ACME), "--period", "2026-Q3", "--out", str(tmp_path / "pack")]) == 0
    capsys.readouterr()
    rows = _rows(tmp_path / "pack")
    prod = "aws:123456789012"
    assert rows[("user:samuel.osei", "role:prod-admin", prod)]["last_used"] == "2026-06-20T03:05:00Z"
    assert rows[("user:omar.farouk", "role:prod-admin", prod)]["last_used"] == "never"
    assert rows[("user:pedro.silva", "role:support-tier1", "zendesk:acme")]["last_used"] == \
        "sign-in 2026-05-29T17:02:00Z"
    # No usage covers a grant on GitHub: the cell is empty, never "never".
    assert rows[("user:priya.shah", "role:github-write", "github:acme/api")]["last_used"] == ""
    page = (tmp_path / "pack" / "index.html").read_text(encoding="utf-8")
    assert "<th>last certified</th><th>last used</th><th>findings</th>" in page
    assert "<td>2026-06-20T03:05:00Z</td>" in page and "<td>sign-in 2026-05-29T17:02:00Z</td>" in page


def test_a_project_without_usage_has_an_empty_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_project(tmp_path / "org", directory={"principals": [{"id": "user:a", "manager": "user:m"},
                                                                     {"id": "user:m"}]},
                         events=[{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a",
                                  "target": "role:r"}],
                         policies=[{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                                    "rules": [{"id": "u", "use": "sprawl.unused-access"}]}])
    assert main(["review", str(root), "--period", "2026-Q3", "--reviewer", "manager",
                 "--out", str(tmp_path / "pack")]) == 0
    capsys.readouterr()
    rows = _rows(tmp_path / "pack")
    assert rows[("user:a", "role:r", "")]["last_used"] == ""
