"""Same-time events from different files: the documented order is kept, and each tie is a note.

A grant in one file and a revoke of the same entitlement in another, at the
same time, are applied in file order; renaming a file would flip the result.
Replay must say so (a replay note, in text and in JSON), never decide it
silently. Near misses: the same pair in one file (line order is part of the
file), identical events exported twice, different entitlements at one time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from keytrail import pipeline
from keytrail.cli import main
from tests.conftest import AS_OF, report_of

T = "2026-03-01T10:00:00Z"


def _project(root: Path, files: dict[str, list[dict[str, Any]]]) -> Path:
    root.mkdir(parents=True)
    (root / "history").mkdir()
    (root / "directory.yaml").write_text(yaml.safe_dump(
        {"principals": [{"id": "user:a"}, {"id": "user:b"}], "roles": [{"id": "role:x"}]}))
    (root / "keys.yaml").write_text("keys: []\n")
    (root / "policies").mkdir()
    (root / "policies" / "p.yaml").write_text(
        "apiVersion: keytrail/v1\nkind: Policy\nmetadata: {name: p}\nrules:\n"
        "  - {id: unknown-principal, use: orphaned.unknown-principal}\n")
    for name, events in files.items():
        (root / "history" / name).write_text("".join(json.dumps(e) + "\n" for e in events))
    (root / "keytrail.yaml").write_text(yaml.safe_dump(
        {"directory": "directory.yaml", "keys": "keys.yaml", "history": ["history/*.jsonl"],
         "policies": ["policies/"]}))
    return root


def _ev(ident: str, action: str, subject: str = "user:a", **extra: Any) -> dict[str, Any]:
    return {"id": ident, "time": T, "action": action, "subject": subject, "target": "role:x", **extra}


def _held(root: Path) -> bool:
    project = pipeline.load(root)
    return ("user:a", "role:x", "") in pipeline.replay(project, AS_OF).grants


def _notes(root: Path) -> list[tuple[str, str]]:
    report = report_of(root)
    from keytrail.report import notes_data

    return [(n["kind"], n["event"]) for n in notes_data(report) if n["kind"] != "snapshot"]


def test_a_grant_and_a_revoke_at_the_same_time_in_different_files_is_an_order_note(tmp_path: Path) -> None:
    first = _project(tmp_path / "a", {"1.jsonl": [_ev("g", "grant")], "2.jsonl": [_ev("r", "revoke")]})
    renamed = _project(tmp_path / "b", {"2.jsonl": [_ev("g", "grant")], "1.jsonl": [_ev("r", "revoke")]})
    # The documented order is kept (file order decides) ...
    assert _held(first) is False and _held(renamed) is True
    # ... and each run says that its outcome rests on it, at the event that decided it.
    assert _notes(first) == [("order", "r")]
    assert _notes(renamed) == [("replay", "r"), ("order", "g")]  # the revoke now finds nothing to revoke
    message = report_of(first).view.state.ties[0][1]
    assert "grant g (history/1.jsonl:1), revoke r (history/2.jsonl:1)" in message
    assert "renaming or reordering the files would change it" in message


def test_the_order_note_is_in_the_json_and_the_text_output(tmp_path: Path, capsys: Any) -> None:
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g", "grant")], "2.jsonl": [_ev("r", "revoke")]})
    assert main(["check", str(root), "--as-of", AS_OF, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(n["kind"], n["event"], n["location"]) for n in data["notes"]] == [
        ("order", "r", {"path": "history/2.jsonl", "line": 1}), ("snapshot", None, None)]
    assert main(["check", str(root), "--as-of", AS_OF]) == 0  # a note never fails the run
    out = capsys.readouterr().out
    assert "REPLAY NOTES (1)" in out and "history/2.jsonl:1: order-dependent: grant g" in out


def test_grants_with_different_provenance_at_the_same_time_are_a_tie(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g1", "grant", key="pk-1")],
                                     "2.jsonl": [_ev("g2", "grant")]})
    assert _notes(root) == [("order", "g2")]


def test_joins_and_leaves_of_one_principal_at_the_same_time_are_a_tie(tmp_path: Path) -> None:
    join = {"id": "j", "time": T, "action": "join", "subject": "user:a"}
    leave = {"id": "l", "time": T, "action": "leave", "subject": "user:a"}
    root = _project(tmp_path / "p", {"1.jsonl": [join], "2.jsonl": [leave]})
    assert _notes(root) == [("order", "l")]


def test_near_miss_the_same_pair_in_one_file_keeps_its_line_order_silently(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g", "grant"), _ev("r", "revoke")]})
    assert _held(root) is False and _notes(root) == []


def test_near_miss_the_same_event_exported_to_two_files_is_not_a_tie(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g1", "grant", key="pk-1")],
                                     "2.jsonl": [_ev("g2", "grant", key="pk-1")]})
    assert _notes(root) == []


def test_near_miss_different_entitlements_at_the_same_time_are_not_a_tie(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g", "grant")],
                                     "2.jsonl": [_ev("r", "revoke", subject="user:b")]})
    kinds = [k for k, _ in _notes(root)]
    assert "order" not in kinds and kinds == ["replay"]  # the revoke of nothing is its own note


def test_near_miss_different_times_are_not_a_tie(tmp_path: Path) -> None:
    later = {**_ev("r", "revoke"), "time": "2026-03-01T10:00:01Z"}
    root = _project(tmp_path / "p", {"1.jsonl": [_ev("g", "grant")], "2.jsonl": [later]})
    assert _held(root) is False and _notes(root) == []


def test_the_markdown_report_counts_the_notes(tmp_path: Path) -> None:
    from keytrail.formats import markdown

    tie = _project(tmp_path / "a", {"1.jsonl": [_ev("g", "grant")], "2.jsonl": [_ev("r", "revoke")]})
    assert "1 result resting on the order of history files" in markdown.render(report_of(tie))
    calm = _project(tmp_path / "b", {"1.jsonl": [_ev("g", "grant")]})
    assert "**Notes**" not in markdown.render(report_of(calm))
