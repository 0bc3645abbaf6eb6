"""The JSON report is written a chunk of findings at a time with the same bytes as one at a time.

``render.iter_json`` encodes, decodes and makes inert (``textsafe.json_inert``) a
chunk of findings at once; a finding is one line, and no escape spans a line, so the
bytes must equal those of a chunk of one (one finding at a time, as before).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keytrail import render
from tests.conftest import REPO, report_of
from tests.test_hostile_text import PAYLOADS, build


def _json(report: object, chunk: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(render, "_CHUNK", chunk)
    return render.render_json(report)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["bidi", "u2028", "log-command", "backspace", "tags"])
def test_hostile_values_give_the_same_bytes_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      name: str) -> None:
    report = report_of(build(tmp_path / "p", PAYLOADS[name]))
    assert len(report.findings) > 3, "several chunks are needed"
    one = _json(report, 1, monkeypatch)
    assert _json(report, 2, monkeypatch) == one
    assert _json(report, 3, monkeypatch) == one
    assert "\\u" in one or "\\u0023" in one  # the escapes are there to be kept


def test_plain_findings_give_the_same_bytes_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_of(REPO / "examples" / "acme")
    one = _json(report, 1, monkeypatch)
    assert _json(report, 1024, monkeypatch) == one
    assert _json(report, 5, monkeypatch) == one
