"""Loading bad input: every problem located, explained and reported, never a traceback.

The corpus is ``tests/inputs/``: ``base/`` is a small valid project and each
folder of ``bad/`` holds the files that break it (laid out as in a project:
``directory.yaml``, ``history/bad.jsonl``, ``policies/bad.yaml`` ...) and an
``expect.yaml`` with the problems loading must report, in order and no more:

.. code-block:: yaml

    about: why this input is bad
    problems:
      - at: directory.yaml:3:5          # file:line:column (YAML) or file:line (JSONL)
        path: principals[0].status      # the path inside the document, when there is one
        says: ["5 is not one of"]       # words the message must contain

Each case is loaded twice: through :func:`keytrail.project.load_project`
(exact problems) and through ``keytrail check`` (exit code 2, the problem on
stderr, no traceback). Inputs too big or too repetitive to keep as files
(a 1 MiB line, 60 bad lines) are generated below.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from keytrail.cli import main
from keytrail.errors import MAX_PROBLEMS_PER_FILE, KeytrailError, Problem
from keytrail.project import load_project
from keytrail.timeutil import parse_time

INPUTS = Path(__file__).parent / "inputs"
BASE = INPUTS / "base"
BAD = INPUTS / "bad"
AS_OF = "2026-09-30T00:00:00Z"
EXPECT = "expect.yaml"

GRANT = ('{{"id":"ev-{n}","time":"2026-04-01T10:00:00Z","action":"grant","subject":"user:bob",'
         '"target":"role:payments-approver","key":"pk-1"}}')


def project_with(case: Path | None, dest: Path) -> Path:
    """A copy of the base project at ``dest`` with the files of ``case`` laid over it."""
    shutil.copytree(BASE, dest)
    if case is not None:
        for src in sorted(case.rglob("*")):
            if src.is_file() and src.relative_to(case) != Path(EXPECT):
                target = dest / src.relative_to(case)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
    return dest


def where(problem: Problem) -> str:
    """``file:line:column`` as a message shows it (line and column only when known)."""
    text = problem.file
    if problem.line:
        text += f":{problem.line}"
        if problem.column:
            text += f":{problem.column}"
    return text


def problems_of(root: Path) -> list[Problem]:
    """The problems loading ``root`` reports (the load must fail)."""
    with pytest.raises(KeytrailError) as info:
        load_project(root)
    assert info.value.problems, f"no located problems, only: {info.value.message}"
    return info.value.problems


def _cases() -> list[Any]:
    return [pytest.param(path, id=path.name) for path in sorted(BAD.iterdir()) if path.is_dir()]


def _expected(case: Path) -> list[dict[str, Any]]:
    spec = yaml.safe_load((case / EXPECT).read_text(encoding="utf-8"))
    assert spec.get("about"), f"{case.name}: say what is bad in 'about'"
    return list(spec["problems"])


# -- the corpus -----------------------------------------------------------------


def test_base_project_is_valid() -> None:
    project = load_project(BASE)
    assert sorted(project.directory.principals) == ["svc:terraform", "user:alice", "user:bob",
                                                    "user:mallory"]
    assert list(project.keys) == ["pk-1"]
    assert [e.id for e in project.events] == ["ev-1", "ev-2", "ev-3"]
    assert [r.id for p in project.policies for r in p.rules] == ["orphans", "keyed"]


@pytest.mark.parametrize("case", _cases())
def test_bad_input_is_located_and_explained(case: Path, tmp_path: Path) -> None:
    expected = _expected(case)
    found = problems_of(project_with(case, tmp_path / "project"))
    shown = "\n".join(map(str, found))
    assert len(found) == len(expected), f"expected {len(expected)} problem(s), got:\n{shown}"
    for problem, want in zip(found, expected, strict=True):
        assert where(problem) == want["at"], shown
        if "path" in want:
            assert problem.path == want["path"], shown
        for words in want["says"]:
            assert words in problem.message, f"{words!r} not in: {problem}"


@pytest.mark.parametrize("case", _cases())
def test_bad_input_on_the_command_line(case: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    first = _expected(case)[0]
    root = project_with(case, tmp_path / "project")
    assert main(["check", str(root), "--as-of", AS_OF]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    assert f"{first['at']}: " in err
    assert err.rstrip().endswith("nothing was checked")


def test_every_case_has_its_own_input() -> None:
    for case in BAD.iterdir():
        files = [p for p in case.rglob("*") if p.is_file() and p.name != EXPECT]
        assert files, f"{case.name}: no input files"
        assert (case / EXPECT).is_file(), f"{case.name}: no {EXPECT}"


# -- generated inputs -------------------------------------------------------------


def _with_history(tmp_path: Path, text: str | bytes) -> Path:
    root = project_with(None, tmp_path / "project")
    path = root / "history" / "bad.jsonl"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return root


def test_huge_line_is_refused(tmp_path: Path) -> None:
    huge = GRANT.format(n=11)[:-1] + ',"reason":"' + "x" * (1 << 20) + '"}'
    root = _with_history(tmp_path, GRANT.format(n=10) + "\n" + huge + "\n")
    [problem] = problems_of(root)
    assert where(problem) == "history/bad.jsonl:2"
    assert f"line is {len(huge):,} bytes long" in problem.message
    assert "at most 1,048,576 allowed" in problem.message


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    lines = [GRANT.format(n=n) for n in range(10, 20)]
    for n in (2, 5, 9):
        lines[n] = lines[n].replace('"action":"grant"', '"action":"grnat"')
    found = problems_of(_with_history(tmp_path, "\n".join(lines) + "\n"))
    assert [where(p) for p in found] == ["history/bad.jsonl:3", "history/bad.jsonl:6",
                                         "history/bad.jsonl:10"]
    assert all("'grnat' is not one of" in p.message for p in found)


def test_problems_are_capped_per_file(tmp_path: Path) -> None:
    bad = [GRANT.format(n=n).replace('"user:bob"', '"bob"') for n in range(60)]
    found = problems_of(_with_history(tmp_path, "\n".join(bad) + "\n"))
    assert len(found) == MAX_PROBLEMS_PER_FILE + 1
    assert [p.line for p in found[:MAX_PROBLEMS_PER_FILE]] == list(range(1, 51))
    assert str(found[-1]) == "history/bad.jsonl: ... and 10 more problems in this file"


def test_a_hopeless_file_says_where_checking_stopped(tmp_path: Path) -> None:
    """A file that is not a history at all is not checked to its end, and the summary says so."""
    found = problems_of(_with_history(tmp_path, "not json\n" * 1000))
    assert len(found) == MAX_PROBLEMS_PER_FILE + 1
    summary = str(found[-1])
    assert summary.startswith("history/bad.jsonl: ... and at least ")
    assert "checking stopped at line" in summary


def test_every_problem_of_a_yaml_file_is_reported(tmp_path: Path) -> None:
    root = project_with(None, tmp_path / "project")
    (root / "directory.yaml").write_text(
        "principals:\n  - id: user:a\n    status: gone\n  - id: user:b\n  - id: user:c\n    manger: user:a\n"
        "roles:\n  - id: role:r\n    permissions: x\n    privileged: yes please\n")
    assert [str(p) for p in problems_of(root)] == [
        "directory.yaml:3:5: principals[0].status: 'gone' is not one of active, suspended, terminated",
        "directory.yaml:6:5: principals[2].manger: unknown key 'manger' (did you mean \"manager\"?) "
        "(allowed: attributes, email, id, manager, name, notes, owner, status, suspended_at, terminated_at)",
        "directory.yaml:9:5: roles[0].permissions: expected an array, got string 'x'",
        "directory.yaml:10:5: roles[0].privileged: expected a boolean, got string 'yes please'",
    ]


def test_problems_of_a_yaml_file_are_capped(tmp_path: Path) -> None:
    root = project_with(None, tmp_path / "project")
    (root / "directory.yaml").write_text(
        "principals:\n" + "".join(f"  - id: user:u{n}\n    status: gone\n" for n in range(60)))
    found = problems_of(root)
    assert len(found) == MAX_PROBLEMS_PER_FILE + 1
    assert where(found[0]) == "directory.yaml:3:5" and where(found[49]) == "directory.yaml:101:5"
    assert str(found[-1]) == "directory.yaml: ... and 10 more problems in this file"


def test_the_cap_is_per_file(tmp_path: Path) -> None:
    root = _with_history(tmp_path, "[]\n" * 55)
    (root / "history" / "other.jsonl").write_text("[]\n" * 3)
    found = problems_of(root)
    assert [str(p) for p in found if p.file == "history/other.jsonl"] == [
        f"history/other.jsonl:{n}: each line must be a JSON object" for n in (1, 2, 3)]
    assert str(found[MAX_PROBLEMS_PER_FILE]) == "history/bad.jsonl: ... and 5 more problems in this file"


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    root = project_with(BAD / "naive-time-yaml", tmp_path / "project")
    for case in ("duplicate-id-keys", "jsonl-array-line", "policy-unknown-check"):
        project_with_files = BAD / case
        for src in project_with_files.rglob("*"):
            if src.is_file() and src.name != EXPECT:
                shutil.copyfile(src, root / src.relative_to(project_with_files))
    assert [p.file for p in problems_of(root)] == ["directory.yaml", "keys.yaml", "history/bad.jsonl",
                                                   "policies/bad.yaml"]


@pytest.mark.parametrize("nesting", ["block", "flow"])
def test_absurdly_deep_yaml_is_refused(nesting: str, tmp_path: Path) -> None:
    """Deep nesting is refused with a message, not a RecursionError."""
    root = project_with(None, tmp_path / "project")
    depth = 500
    if nesting == "block":
        text = "".join("  " * i + "a:\n" for i in range(depth))
    else:
        text = "a: " + "[" * depth + "]" * depth + "\n"
    (root / "policies" / "deep.yaml").write_text(text)
    [problem] = problems_of(root)
    assert problem.file == "policies/deep.yaml" and problem.line > 0
    assert "nested more than 100 levels deep" in problem.message


def test_empty_history_file_is_an_empty_history(tmp_path: Path) -> None:
    """No lines is no events (a new project), unlike an empty YAML file, which is an error."""
    project = load_project(_with_history(tmp_path, ""))
    assert [e.id for e in project.events] == ["ev-1", "ev-2", "ev-3"]


def test_missing_folder_and_folder_without_project(tmp_path: Path) -> None:
    with pytest.raises(KeytrailError) as info:
        load_project(tmp_path / "nowhere")
    assert "no such file or folder" in str(info.value)
    with pytest.raises(KeytrailError) as info:
        load_project(tmp_path)
    assert "no keytrail.yaml here" in str(info.value)


# -- times ----------------------------------------------------------------------------

TIMES = [
    # (as written in YAML, the UTC time it means, or None when refused, and the words saying why)
    ("2026-05-31T17:00:00Z", "2026-05-31T17:00:00Z", ""),
    ("'2026-05-31T17:00:00+02:00'", "2026-05-31T15:00:00Z", ""),
    ('"2026-05-31T17:00:00.250-05:30"', "2026-05-31T22:30:00.250000Z", ""),
    ("2026-05-31 17:00:00+02:00", "2026-05-31T15:00:00Z", ""),
    ("2026-05-31T17:00Z", "2026-05-31T17:00:00Z", ""),
    ("2026-05-31T17:00:00", None, "has no zone"),
    ("'2026-05-31T17:00:00'", None, "has no zone"),
    ("2026-05-31", None, "has no zone"),
    ("2026-02-30T17:00:00Z", None, "day is out of range for month"),
    ("2026-05-31T24:00:00Z", None, "is not a valid time"),
    ("2026-05-31T17:00:00+25:00", None, "invalid zone offset"),
    ("1780246800", None, "expected a string, got number"),
]


@pytest.mark.parametrize(("written", "means", "error"), TIMES, ids=[t[0] for t in TIMES])
def test_times_in_yaml(written: str, means: str | None, error: str, tmp_path: Path) -> None:
    root = project_with(None, tmp_path / "project")
    (root / "directory.yaml").write_text(
        f"principals:\n  - id: user:mallory\n    status: terminated\n    terminated_at: {written}\n")
    if means is None:
        [problem] = problems_of(root)
        assert where(problem) == "directory.yaml:4:5"
        assert problem.path == "principals[0].terminated_at"
        assert error in problem.message
    else:
        project = load_project(root)
        assert project.directory.principals["user:mallory"].terminated_at == parse_time(means)


@pytest.mark.parametrize("written", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"])
def test_times_out_of_range_are_refused(written: str, tmp_path: Path) -> None:
    line = json.dumps({"id": "ev-10", "time": written, "action": "leave", "subject": "user:bob"})
    [problem] = problems_of(_with_history(tmp_path, line + "\n"))
    assert (where(problem), problem.path) == ("history/bad.jsonl:1", "time")


@pytest.mark.parametrize(("written", "means", "error"), [t for t in TIMES if t[0][0] not in "'\""],
                         ids=[t[0] for t in TIMES if t[0][0] not in "'\""])
def test_times_in_jsonl(written: str, means: str | None, error: str, tmp_path: Path) -> None:
    value: Any = int(written) if written.isdigit() else written
    line = json.dumps({"id": "ev-10", "time": value, "action": "grant", "subject": "user:bob",
                       "target": "role:payments-approver"})
    root = _with_history(tmp_path, line + "\n")
    if means is None:
        [problem] = problems_of(root)
        assert (where(problem), problem.path) == ("history/bad.jsonl:1", "time")
        assert error in problem.message
    else:
        [event] = [e for e in load_project(root).events if e.id == "ev-10"]
        assert event.time == parse_time(means)


# -- nothing dropped ------------------------------------------------------------------


def test_unknown_event_fields_are_kept_and_explained(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    line = json.dumps({"id": "ev-10", "time": "2026-04-01T10:00:00Z", "action": "grant",
                       "subject": "user:bob", "target": "role:payments-approver", "key": "pk-1",
                       "actor": "svc:terraform", "change_request": "CR-77",
                       "source": {"system": "okta", "record": "00u1"}})
    root = _with_history(tmp_path, line + "\n")
    [event] = [e for e in load_project(root).events if e.id == "ev-10"]
    assert event.extra == {"change_request": "CR-77", "source": {"system": "okta", "record": "00u1"}}
    assert event.get("change_request") == "CR-77"
    assert main(["explain", "user:bob", "role:payments-approver", "--dir", str(root),
                 "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "change_request" in out and "CR-77" in out and "okta" in out


def test_duplicate_keys_in_nested_json_objects_are_found(tmp_path: Path) -> None:
    line = ('{"id":"ev-10","time":"2026-04-01T10:00:00Z","action":"join","subject":"user:bob",'
            '"attributes":{"department":"payments","department":"treasury"}}')
    [problem] = problems_of(_with_history(tmp_path, line + "\n"))
    assert (where(problem), problem.path) == ("history/bad.jsonl:1", "department")
    assert "duplicate key 'department'" in problem.message


def test_lines_with_nested_objects_and_spacing_still_load(tmp_path: Path) -> None:
    """The duplicate-key screen must not reject lines that merely look unusual."""
    lines = [
        '{"id": "ev-10", "time": "2026-04-01T10:00:00Z", "action": "join", "subject": "user:bob",'
        ' "attributes": {"department": "payments", "note": "a\\":b"}}',
        '{ "id" : "ev-11" , "time" : "2026-04-01T10:00:00Z" , "action" : "leave" , "subject" : "user:bob" }',
    ]
    events = {e.id: e for e in load_project(_with_history(tmp_path, "\n".join(lines) + "\n")).events}
    assert events["ev-10"].get("attributes") == {"department": "payments", "note": 'a":b'}
    assert events["ev-11"].action == "leave"
