"""docs/integrity.md's figures for a sealed examples/acme are what seal, verify and prove print."""

from __future__ import annotations

import re

import pytest

from keytrail.cli import main
from tests.conftest import REPO
from tests.integrity.conftest import Sealed

PAGE = REPO / "docs" / "integrity.md"


def test_the_proof_example_is_what_verify_prints(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    """`verify --proof` of ev-000117 says the entry and the count of sealed events the page shows."""
    shown = re.search(r"^# (verified: event ev-000117 .*) \(\.\.\.\)$", PAGE.read_text(encoding="utf-8"), re.M)
    assert shown is not None
    proof = sealed.root.parent / "ev-000117.proof.json"
    assert main(["prove", "ev-000117", "--dir", str(sealed.root), "-o", str(proof)]) == 0
    assert main(["verify", "--proof", str(proof), "--trusted-key", str(sealed.public)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(shown[1] + " (2026-12-01T00:00:00Z, root ")


def test_the_verify_summary_counts_the_sealed_example(sealed: Sealed, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary line of the page's `verify` output covers as many events as a seal of the example."""
    shown = re.search(r"covers (\d+) events in (\d+) files", PAGE.read_text(encoding="utf-8"))
    assert shown is not None
    assert main(["verify", str(sealed.root)]) == 0
    out = capsys.readouterr().out
    assert f"covers {shown[1]} events in {shown[2]} files, root " in out
