"""Lookalike identifiers are warned about: confusable characters, letter case, mixed scripts.

Each warned case has a near miss beside it that must stay quiet: distinct
names, names in one non-Latin script, Japanese mixing Han and kana, the same
name under two kinds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keytrail.cli import main
from keytrail.lookalike import groups, mixed, notes, skeleton
from tests.conftest import AS_OF, report_of, write_project

CYRILLIC_E = "user:li.w\u0435i"  # CYRILLIC SMALL LETTER IE in place of e


@pytest.mark.parametrize(("a", "b"), [
    ("user:li.wei", CYRILLIC_E),
    ("user:li.wei", "user:LI.WEI"),
    ("user:paypal", "user:p\u0430yp\u0430l"),       # Cyrillic a
    ("group:admins", "group:\u0430dmins"),
    ("user:li.wei", "user:\uff4ci.wei"),            # FULLWIDTH l (NFKC)
    ("role:ops", "role:\u03bfps"),                  # Greek omicron
])
def test_confusable_ids_share_a_skeleton(a: str, b: str) -> None:
    assert skeleton(a) == skeleton(b)
    assert groups([a, b]) == [tuple(sorted((a, b)))]


@pytest.mark.parametrize(("a", "b"), [
    ("user:li.wei", "user:li.wai"),
    ("user:li.wei", "svc:li.wei"),        # another kind is another namespace
    ("user:bill", "user:bi11"),           # ASCII lookalikes are a font's choice, not flagged
    ("user:łukasz", "user:lukasz"),       # a different letter, not a confusable one
])
def test_near_misses_do_not_share_a_skeleton(a: str, b: str) -> None:
    assert groups([a, b]) == []


def test_mixed_scripts_are_flagged_but_ordinary_writing_is_not() -> None:
    assert mixed("user:p\u0430ypal") == ["CYRILLIC", "LATIN"]
    assert mixed("user:иван.петров") is None          # one script
    assert mixed("user:田中たなか") is None              # Han with Hiragana: Japanese
    assert mixed("user:tanaka.田中") is None            # Latin with Han
    assert mixed("user:li.wei") is None


def test_one_note_per_group_and_no_second_note_for_a_member() -> None:
    found = notes(["user:li.wei", CYRILLIC_E, "user:LI.WEI", "user:bob"])
    assert len(found) == 1
    assert found[0].ids == tuple(sorted(["user:li.wei", CYRILLIC_E, "user:LI.WEI"]))
    assert "U+0435 CYRILLIC SMALL LETTER IE" in found[0].message


def test_case_only_differences_are_named_as_such() -> None:
    (note,) = notes(["user:li.wei", "user:LI.WEI"])
    assert "differ only in letter case" in note.message


#: A policy with one rule: a project must check something (a run with no rule is refused).
ONE_RULE = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
            "rules": [{"id": "unknown", "use": "orphaned.unknown-principal"}]}


def _org(tmp_path: Path, subject: str) -> Path:
    return write_project(tmp_path, directory={"principals": [{"id": "user:li.wei"}], "roles": [{"id": "role:r"}]},
                         events=[{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:li.wei",
                                  "target": "role:r"},
                                 {"time": "2026-01-02T00:00:00Z", "action": "grant", "subject": subject,
                                  "target": "role:r"}],
                         policies=[ONE_RULE])


@pytest.mark.parametrize("subject", [CYRILLIC_E, "user:LI.WEI"])
def test_check_reports_a_lookalike_of_a_directory_principal_as_a_located_note(
        tmp_path: Path, subject: str, capsys: Any) -> None:
    root = _org(tmp_path, subject)
    report = report_of(root)
    (note,) = report.id_notes
    assert subject in note.ids and "user:li.wei" in note.ids
    # The note points at the suspect: the non-ASCII id, else the one the directory lacks.
    assert (str(note.location), note.event) == ("history/h.jsonl:2", "ev-0002")
    code = main(["check", str(root), "--as-of", AS_OF, "--format", "json", "--fail-on", "critical"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0  # notes never fail a run
    assert [n["kind"] for n in data["notes"]] == ["identifier", "snapshot"]
    main(["check", str(root), "--as-of", AS_OF, "--fail-on", "critical"])
    out = capsys.readouterr().out
    assert "IDENTIFIER NOTES (1)\n    " in out and "(event ev-0002)\n\nNothing at or above" in out


def test_near_miss_distinct_ids_give_no_note(tmp_path: Path) -> None:
    assert report_of(_org(tmp_path, "user:li.wai")).id_notes == []


def test_lint_warns_about_lookalikes_in_the_directory(tmp_path: Path, capsys: Any) -> None:
    root = write_project(tmp_path, directory={"principals": [{"id": "user:li.wei"}, {"id": CYRILLIC_E}]})
    main(["lint", str(root)])
    out = capsys.readouterr().out
    assert "directory.yaml:" in out and "look alike" in out and "warning" in out


def test_lint_near_miss_distinct_directory_ids_are_clean(tmp_path: Path, capsys: Any) -> None:
    root = write_project(tmp_path, directory={"principals": [{"id": "user:li.wei"}, {"id": "user:иван"}]},
                         policies=[ONE_RULE])
    assert main(["lint", str(root)]) == 0
    assert "look alike" not in capsys.readouterr().out
