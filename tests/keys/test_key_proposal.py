"""``keytrail key revoke --proposal FILE``: a review's key decisions become registry edits."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from keytrail.cli import main
from keytrail.review.key_decisions import proposal_text
from tests.keys.conftest import KEYS_YAML


def _proposal(path: Path, *rows: tuple[str, str]) -> Path:
    """A proposal as `keytrail decisions` writes it, for (key, comment) revoke decisions."""
    decided = [SimpleNamespace(action="revoke", key_id=key, reviewer="user:alice", comment=comment,
                               file="worksheets/keys-user-alice.csv", line=n + 2)
               for n, (key, comment) in enumerate(rows)]
    path.write_text(proposal_text(decided, "2026-10-05T09:00:00Z"), encoding="utf-8")
    return path


def test_a_proposal_revokes_each_key_and_records_the_decision(org: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    proposal = _proposal(tmp_path / "review.jsonl.keys-proposal.yaml", ("pk-1", "Pipeline replaced"), ("pk-2", ""))
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 0
    text = (org / "keys.yaml").read_text()
    assert ("    revoked_at: 2026-10-05T09:00:00Z\n"
            "    notes: 'Revoked 2026-10-05T09:00:00Z by access review: Pipeline replaced (decided by "
            "user:alice, worksheets/keys-user-alice.csv:2)'\n\n  # --- People") in text
    assert text.endswith("    expires: 2026-11-30T00:00:00Z\n    revoked_at: 2026-10-05T09:00:00Z\n"
                         "    notes: 'Revoked 2026-10-05T09:00:00Z by access review: Access review: revoke "
                         "(decided by user:alice, worksheets/keys-user-alice.csv:3)'\n")
    assert "keys.yaml: revoked pk-1 at 2026-10-05T09:00:00Z (review proposal" in capsys.readouterr().out
    # Applying it again changes nothing and says so.
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 0
    assert "pk-1 already revoked at 2026-10-05T09:00:00Z (applied before)" in capsys.readouterr().out
    assert (org / "keys.yaml").read_text() == text


def test_a_proposal_naming_an_unknown_key_applies_nothing(org: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    proposal = _proposal(tmp_path / "p.keys-proposal.yaml", ("pk-1", "x"), ("pk-9", "y"))
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 2
    err = capsys.readouterr().err
    assert "p.keys-proposal.yaml:9:5: keys[1].id: key 'pk-9' is not in keys.yaml" in err
    assert err.rstrip().endswith("nothing was written")
    assert (org / "keys.yaml").read_text() == KEYS_YAML


def test_a_proposal_against_a_key_revoked_at_another_time_is_refused(org: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (org / "keys.yaml").write_text(KEYS_YAML.replace("revoked_at: null", "revoked_at: 2026-09-01T00:00:00Z"))
    proposal = _proposal(tmp_path / "p.keys-proposal.yaml", ("pk-1", "x"))
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 2
    assert "pk-1 already has revoked_at 2026-09-01T00:00:00Z in keys.yaml; the proposal says " \
           "2026-10-05T09:00:00Z" in capsys.readouterr().err


@pytest.mark.parametrize("text, says", [
    ("keys: 3\n", "expected `keys:` listing {id, revoked_at, ...}"),
    ("keys:\n  - id: pk-1\n", "keys[0]: expected {id, revoked_at, decided_by, reason, worksheet}"),
    ("keys:\n  - id: pk-1\n    revoked_at: 2026-10-05\n", "keys[0].revoked_at:"),
])
def test_a_malformed_proposal_is_refused(org: Path, tmp_path: Path, text: str, says: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    proposal = tmp_path / "p.yaml"
    proposal.write_text(text)
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 2
    assert says in capsys.readouterr().err
    assert (org / "keys.yaml").read_text() == KEYS_YAML


def test_proposal_and_id_are_exclusive(org: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proposal = _proposal(tmp_path / "p.yaml", ("pk-1", "x"))
    assert main(["key", "revoke", "pk-2", "--proposal", str(proposal), "--dir", str(org)]) == 2
    assert "give ID (with --at, --reason) or --proposal FILE, not both" in capsys.readouterr().err
    assert main(["key", "revoke", "--dir", str(org)]) == 2
    assert "give the key's ID, or --proposal FILE" in capsys.readouterr().err


def test_a_key_owners_review_decision_becomes_a_registry_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """review → the owner's worksheet → decisions → key revoke --proposal, on the example."""
    import shutil

    from tests.conftest import REPO
    from tests.test_review import decide, review
    from tests.test_review_keys import MARTA, _decide_key

    project = Path(shutil.copytree(REPO / "examples" / "acme", tmp_path / "acme"))
    original = (project / "keys.yaml").read_text(encoding="utf-8")
    pack = review(capsys, project, tmp_path / "pack")
    _decide_key(pack, MARTA, "pk-2026-0012", "revoke", comment="no longer needed")
    out = project / "history" / "review.jsonl"
    code, _, err = decide(capsys, project, out, pack / MARTA)
    assert code == 0, err
    assert "apply it with `keytrail key revoke --proposal FILE`" in err
    proposal = out.parent / "review.jsonl.keys-proposal.yaml"
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(project)]) == 0
    assert "keys.yaml: revoked pk-2026-0012 at 2026-10-02T10:00:00Z" in capsys.readouterr().out
    edited = (project / "keys.yaml").read_text(encoding="utf-8")
    entry = original.index("  - id: pk-2026-0012")
    before, after = original[:entry], original[entry:]
    assert edited.startswith(before)  # everything before the key, comments included, unchanged
    assert after.replace("    revoked_at: null\n", "    revoked_at: 2026-10-02T10:00:00Z\n    notes: "
                         "'Revoked 2026-10-02T10:00:00Z by access review: no longer needed (decided by "
                         f"user:marta.nowak, {pack / MARTA}:5)'\n", 1) == edited[len(before):]


def test_a_comment_with_a_line_break_is_recorded_inert(org: Path, tmp_path: Path) -> None:
    proposal = _proposal(tmp_path / "p.yaml", ("pk-2", "left\n::error::x"))
    assert main(["key", "revoke", "--proposal", str(proposal), "--dir", str(org)]) == 0
    assert "by access review: left\\n::error::x (decided by" in (org / "keys.yaml").read_text()
