"""Identifiers are visible text, matched in full: an id that prints like another is an error.

Each rejected case has a near miss beside it that must still load: non-ASCII
letters, inner spaces, colons inside the name, astral letters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.errors import InputError
from keytrail.ids import END, TOKEN, bad_char, token_problem
from keytrail.schemas import SCHEMA_NAMES, load_schema
from tests.conftest import AS_OF, write_project

#: Values that print like a valid id (or like nothing) and must be refused.
DECEPTIVE = {
    "trailing line feed": "user:x\n",
    "trailing carriage return": "user:x\r",
    "line separator": "user:x\u2028",
    "zero-width space": "user:li.wei\u200b",
    "zero-width joiner inside": "user:li\u200d.wei",
    "right-to-left override": "user:\u202egnp.exe",
    "byte order mark": "user:\ufeffx",
    "no-break space": "user:li\u00a0wei",
    "tab": "user:li\twei",
    "escape": "user:x\x1b[2J",
    "soft hyphen": "user:li\u00adwei",
    "variation selector": "user:x\ufe0f",
    "hangul filler": "user:x\u3164",
    "language tag (astral)": "user:x\U000e0001",
    "private use": "user:x\ue000",
    "leading space": " user:x",
    "trailing space": "user:x ",
}
#: Near misses: unusual but visible ids that must load.
VISIBLE = ["user:li.wei", "user:łukasz.nowak", "user:李伟", "svc:ci:deploy", "user:Mary Ann",
           "user:𝓍", "user:o'brien"]


def _grant(subject: str = "user:a", **extra: Any) -> dict[str, Any]:
    return {"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": subject,
            "target": "role:r", **extra}


def _load_problems(root: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        pipeline.load(root)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("value", list(DECEPTIVE.values()), ids=list(DECEPTIVE))
@pytest.mark.parametrize("field", ["subject", "actor", "approver"])
def test_a_deceptive_id_in_history_is_an_error_naming_file_line_and_field(
        tmp_path: Path, field: str, value: str) -> None:
    event = _grant(**{field: value}) if field != "subject" else _grant(value)
    root = write_project(tmp_path, directory={"principals": [{"id": "user:a"}], "roles": [{"id": "role:r"}]},
                         events=[_grant("user:a"), event])
    problems = _load_problems(root)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"history/h.jsonl:2: {field}: "), problems


@pytest.mark.parametrize("value", VISIBLE)
def test_visible_ids_in_history_load(tmp_path: Path, value: str) -> None:
    root = write_project(tmp_path, directory={"principals": [{"id": value}], "roles": [{"id": "role:r"}]},
                         events=[_grant(value, actor=value, approver=value)])
    project = pipeline.load(root)
    assert project.events[0].subject == value and project.events[0].actor == value


def test_a_subject_with_a_trailing_newline_no_longer_crashes_a_check(tmp_path: Path) -> None:
    """It used to pass the schema (Python's `$` matches before a final newline) and crash
    sprawl.redundant-grant with a traceback."""
    root = write_project(tmp_path, events=[_grant("user:x\n")])
    problems = _load_problems(root)
    assert problems == ['history/h.jsonl:1: subject: "user:x\\n" contains U+000A LINE FEED at character 7, '
                        "a control character; identifiers must be visible text, or they could look like "
                        "another one"]


@pytest.mark.parametrize(("field", "value"), [
    ("id", "ev-1\n"), ("id", "ev-1 "), ("id", " ev-1"), ("id", "ev\u200b-1"),
    ("key", "pk-1\n"), ("key", "pk-1 "), ("ticket", "CHG-1\n"), ("ticket", "CHG\u202e-1"),
    ("resource", "aws:1\n"), ("resource", " aws:1"), ("resource", "aws:1\U000e0020"),
])
def test_other_identifying_fields_of_an_event_must_be_visible_text(tmp_path: Path, field: str, value: str) -> None:
    event = {"id": "ev-1", **_grant(), field: value}
    root = write_project(tmp_path, history_text=json.dumps(event) + "\n")
    problems = _load_problems(root)
    assert len(problems) == 1 and problems[0].startswith(f"history/h.jsonl:1: {field}: "), problems


@pytest.mark.parametrize(("field", "value"), [
    ("id", "ev 1"), ("id", "évènement-1"), ("key", "pk-2026-0042"), ("key", ""), ("ticket", "JIRA SEC-12"), ("ticket", ""),
    ("resource", ""), ("resource", "github:acme/api"), ("resource", "k8s:prod/payments"),
])
def test_near_misses_of_identifying_fields_load(tmp_path: Path, field: str, value: str) -> None:
    event = {"id": "ev-1", **_grant(), field: value}
    root = write_project(tmp_path, history_text=json.dumps(event) + "\n")
    assert len(pipeline.load(root).events) == 1


@pytest.mark.parametrize("value", ["user:x\n", "user:x\u200b", "user:x\U000e0001", "user:a\u00a0b"])
@pytest.mark.parametrize("where", ["principal", "manager", "group owner", "key holder", "key approver"])
def test_deceptive_ids_in_the_directory_and_key_registry_are_errors_with_line_and_column(
        tmp_path: Path, value: str, where: str) -> None:
    principals: list[dict[str, Any]] = [{"id": "user:a"}]
    groups: list[dict[str, Any]] = []
    keys = [{"id": "pk-1", "holder": "user:a", "purpose": "p", "scope": ["*"]}]
    if where == "principal":
        principals.append({"id": value})
    elif where == "manager":
        principals[0]["manager"] = value
    elif where == "group owner":
        groups.append({"id": "group:g", "owner": value})
    elif where == "key holder":
        keys[0]["holder"] = value
    else:
        keys[0]["approved_by"] = value
    root = write_project(tmp_path, directory={"principals": principals, "groups": groups}, keys=keys)
    problems = _load_problems(root)
    assert len(problems) == 1, problems
    assert re.match(r"(directory|keys)\.yaml:\d+:\d+: ", problems[0]), problems
    assert "identifiers must be visible text" in problems[0]


def test_visible_directory_and_key_ids_load(tmp_path: Path) -> None:
    root = write_project(tmp_path, directory={"principals": [{"id": v} for v in VISIBLE],
                                              "groups": [{"id": "group:Domain Admins", "owner": "user:李伟"}]},
                         keys=[{"id": "pk-1", "holder": "user:łukasz.nowak", "purpose": "p", "scope": ["group:Domain *"]}])
    project = pipeline.load(root)
    assert set(project.directory.principals) == set(VISIBLE)


@pytest.mark.parametrize("value", ["user:x\n", "user:x\u200b", "user:x\U000e0001"])
def test_a_deceptive_id_in_the_snapshot_is_an_error(tmp_path: Path, value: str) -> None:
    root = write_project(tmp_path, snapshot=[{"subject": value, "target": "role:r"}])
    problems = _load_problems(root)
    assert len(problems) == 1 and problems[0].startswith("snapshot.jsonl:1: subject: "), problems


def test_the_check_runs_on_visible_ids(tmp_path: Path) -> None:
    root = write_project(tmp_path, directory={"principals": [{"id": "user:李伟"}], "roles": [{"id": "role:r"}]},
                         events=[_grant("user:李伟")])
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF)
    report = pipeline.evaluate(project, state, pipeline.build_graph(project, state))
    assert report.findings is not None


# -- the published schemas mean the same in every regular expression dialect -----------------

def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "pattern" and isinstance(v, str)] + \
            [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []


def test_every_schema_pattern_rejects_a_final_line_break_under_python_re() -> None:
    """jsonschema (Python) uses re.search, where `$` matches before a final `\\n`."""
    for name in SCHEMA_NAMES:
        for pattern in _patterns(load_schema(name)):
            if pattern.endswith("$"):
                pytest.fail(f"{name}: pattern {pattern[:60]}... ends with a bare $")
            assert pattern.endswith(END) or not pattern.startswith("^"), (name, pattern)


@pytest.mark.parametrize("value", list(DECEPTIVE.values()) + VISIBLE + ["user:x y", "user: x", "user:x "])
def test_python_and_rust_validators_agree_on_ids(value: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    schema = {"$ref": "#/$defs/principalId", "$defs": load_schema("event")["$defs"]}
    slow = jsonschema.Draft202012Validator(schema).is_valid(value)
    fast = jsonschema_rs.validator_for(schema).is_valid(value)
    assert slow == fast, value
    if value in VISIBLE or value == "user:x y":
        assert slow, value
    elif "\U000e0001" not in value:  # outside the BMP: named by keytrail.ids, not the schema
        assert not slow, value


def test_token_semantics() -> None:
    assert re.fullmatch(TOKEN, "a  b") and not re.fullmatch(TOKEN, "a ") and not re.fullmatch(TOKEN, "")
    assert bad_char("plain") is None and bad_char("é") is None and bad_char("a\u200bb") == (1, "\u200b")
    assert token_problem("x\n") is not None and token_problem("李伟") is None


# -- policy globs: an invisible character makes a rule or waiver match nothing -----------------

def _policy(target: str, waiver_subject: str = "user:*") -> dict[str, Any]:
    return {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
            "rules": [{"id": "no-admin", "severity": "high",
                       "forbid": {"subject": {"kind": "user"}, "target": target}},
                      {"id": "sod", "separation_of_duties": [["role:a", target]]}],
            "waivers": [{"rule": "no-admin", "subject": waiver_subject, "reason": "r",
                         "approved_by": "user:a", "expires": "2027-01-01T00:00:00Z"}]}


@pytest.mark.parametrize("target", ["role:prod-admin\u200b", "role:prod-admin ", "role:prod-admin\n",
                                    "role:prod\u202e-admin"])
def test_a_selector_glob_that_can_match_nothing_is_an_error(tmp_path: Path, target: str) -> None:
    root = write_project(tmp_path, policies=[_policy(target)])
    problems = _load_problems(root)
    # forbid.target and the separation-of-duties member, each located.
    assert len(problems) == 2, problems
    assert all(p.startswith("policies/p0.yaml:") and "would match nothing" in p for p in problems), problems


def test_a_waiver_glob_that_can_match_nothing_is_an_error(tmp_path: Path) -> None:
    root = write_project(tmp_path, policies=[_policy("role:prod-*", waiver_subject="user:mallory\u200b")])
    problems = _load_problems(root)
    assert len(problems) == 1 and "waivers[0].subject" in problems[0], problems


@pytest.mark.parametrize("target", ["role:prod-*", "role:Domain Admins", "role:李*", "role:[ab]?"])
def test_near_miss_visible_globs_load(tmp_path: Path, target: str) -> None:
    root = write_project(tmp_path, policies=[_policy(target)])
    assert len(pipeline.load(root).policies[0].rules) == 2


def test_a_control_character_without_a_unicode_name_is_named_by_its_code_point() -> None:
    from keytrail.ids import token_problem

    assert token_problem("user:x\x08y") == ("contains U+0008 at character 7, a control character; "
                                           "identifiers must be visible text, or they could look like another one")
    # near miss: a named character keeps its name
    assert "U+200B ZERO WIDTH SPACE" in (token_problem("user:x\u200by") or "")
