"""The command line: exit codes, every command, output formats, determinism.

Tests call :func:`keytrail.cli.main` with an argument list and read stdout and
stderr with ``capsys``. The project is a copy of ``tests/inputs/base``: its one
high-severity finding (``user:mallory``, terminated, still holds
``role:payments-approver`` on ``aws:1``) decides the exit codes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from keytrail import __version__, checks, kinds
from keytrail.cli import main
from keytrail.schemas import SCHEMA_NAMES
from keytrail.timeutil import DAY, format_time, parse_time

INPUTS = Path(__file__).parent / "inputs"
AS_OF = "2026-09-30T00:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(INPUTS / "base", tmp_path / "base"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit code, stdout, stderr); stderr never holds a traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def check(capsys: pytest.CaptureFixture[str], project: Path, *more: str) -> tuple[int, str, str]:
    return run(capsys, "check", str(project), "--as-of", AS_OF, *more)


# -- exit codes -----------------------------------------------------------------------


@pytest.mark.parametrize(("fail_on", "code"), [("info", 1), ("medium", 1), ("high", 1), ("critical", 0)])
def test_exit_code_follows_fail_on(fail_on: str, code: int, project: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    got, out, err = check(capsys, project, "--fail-on", fail_on)
    assert got == code
    assert err == ""
    assert "user:mallory" in out


def test_default_fail_on_is_high(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(capsys, project)[0] == 1


def test_no_findings_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before mallory was granted anything, nothing is wrong.
    code, out, _ = run(capsys, "check", str(project), "--as-of", "2026-03-01T12:00:00Z")
    assert code == 0
    assert "No findings." in out and "passing" in out


def test_waived_findings_do_not_fail(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "policies" / "waivers.yaml").write_text(
        "apiVersion: keytrail/v1\nkind: Policy\nmetadata: {name: waivers}\nwaivers:\n"
        "  - rule: orphans\n    subject: user:mallory\n    reason: Handover until the end of the year\n"
        "    approved_by: user:bob\n    expires: 2026-12-31T00:00:00Z\n")
    code, out, _ = check(capsys, project)
    assert code == 0
    assert "waived until 2026-12-31T00:00:00Z by user:bob" in out


BAD_USAGE = [
    (["--format", "xml"], "unknown format 'xml' (choose from"),
    (["--as-of", "yesterday"], "--as-of: 'yesterday' is not an ISO 8601 time"),
    (["--as-of", "2026-09-30T00:00:00"], "--as-of: time '2026-09-30T00:00:00' has no zone"),
    (["--as-of", "2026-02-30T00:00:00Z"], "--as-of: '2026-02-30T00:00:00Z' is not a valid time"),
    (["--since", "last quarter"], "--since: 'last quarter' is not an ISO 8601 time"),
    (["--since", "2026-06-01"], "--since: time '2026-06-01' has no zone"),
    (["--as-of", AS_OF, "--since", "2026-10-01T00:00:00Z"],
     f"--since 2026-10-01T00:00:00Z is after --as-of {AS_OF}"),
    (["--as-of", "9999-12-31T23:59:59-23:59"], "--as-of: '9999-12-31T23:59:59-23:59' is outside the years 0001 to 9999"),
    (["--as-of", AS_OF, "--since", "9999999d"], "--since: '9999999d' is out of range"),
    (["--fail-on", "severe"], "argument --fail-on: invalid choice: 'severe'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("extra", "says"), BAD_USAGE, ids=[" ".join(b[0]) for b in BAD_USAGE])
def test_bad_usage_exits_2(extra: list[str], says: str, project: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(project), *extra)
    assert code == 2
    assert out == ""
    assert err.startswith("keytrail: ") and not err.startswith("keytrail: keytrail")
    assert says in err


def test_bad_input_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "directory.yaml").write_text("principals:\n  - id: user:alice\n    status: 5\n")
    code, out, err = check(capsys, project)
    assert code == 2 and out == ""
    assert err == ("directory.yaml:3:5: principals[0].status: 5 is not one of active, suspended, terminated\n"
                   "keytrail: 1 error; nothing was checked\n")


def test_import_errors_say_nothing_was_imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An import checks nothing, so its errors must not end with "nothing was checked"."""
    code, out, err = run(capsys, "import", "cloudtrail", str(tmp_path / "missing.json"),
                         "--out", str(tmp_path / "out.jsonl"))
    assert code == 2 and out == ""
    assert err.endswith("keytrail: 1 error; nothing was imported\n")
    assert "nothing was checked" not in err
    # near miss: an unreadable --mapping file is an import error too; check's errors keep their words
    (tmp_path / "map.yaml").write_text("key: 5\n")
    (tmp_path / "in.json").write_text("{}\n")
    code, _, err = run(capsys, "import", "cloudtrail", str(tmp_path / "in.json"), "--mapping",
                       str(tmp_path / "map.yaml"), "--out", str(tmp_path / "out.jsonl"))
    assert code == 2 and err.endswith("nothing was imported\n")
    code, _, err = run(capsys, "check", str(tmp_path / "nowhere"))
    assert code == 2 and err.endswith("nothing was checked\n")


def test_nonexistent_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(tmp_path / "nowhere"), "--as-of", AS_OF)
    assert code == 2 and out == ""
    assert "nowhere: no such file or folder" in err


def test_dir_without_project_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(tmp_path), "--as-of", AS_OF)
    assert code == 2
    assert "no keytrail.yaml here" in err


def test_the_project_file_itself_may_be_given(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", str(project / "keytrail.yaml"), "--as-of", AS_OF)[0] == 1


def test_default_dir_and_time(project: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    monkeypatch.setenv("KEYTRAIL_NOW", AS_OF)
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert f"as of {AS_OF}" in out


def test_bad_keytrail_now_exits_2(project: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYTRAIL_NOW", "2026-09-30")
    code, _, err = run(capsys, "check", str(project))
    assert code == 2
    assert "KEYTRAIL_NOW: time '2026-09-30' has no zone" in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 2
    assert "usage: keytrail" in err


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "frobnicate")
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err


# -- --version and --help ------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"keytrail {__version__}\n"


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["explain", "--help"],
                                  ["checks", "--help"], ["schema", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: keytrail")
    if argv[0] == "check":
        for option in ("--format", "--output", "--as-of", "--since", "--fail-on"):
            assert option in out


def test_python_dash_m(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "keytrail", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"keytrail {__version__}\n", "")


def test_python_dash_m_bad_input_has_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "keytrail", "check", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "no keytrail.yaml here" in done.stderr


# -- schema and checks ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_prints_a_valid_json_schema(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema", name)
    assert (code, err) == (0, "")
    schema = json.loads(out)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_schema_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(SCHEMA_NAMES) == ["checkpoint", "directory", "event", "findings", "keys", "pack", "policy",
                                    "policytest", "project", "proof", "snapshot", "usage"]


def test_policy_schema_lists_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    schema = json.loads(run(capsys, "schema", "policy")[1])
    assert schema["$defs"]["rule"]["properties"]["use"]["enum"] == sorted(checks.REGISTRY)


def test_schema_unknown_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "schema", "everything")
    assert code == 2 and "invalid choice: 'everything'" in err


def test_checks_lists_every_check_and_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks")
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")}
    assert set(checks.REGISTRY) <= listed
    assert set(kinds.REGISTRY) <= listed


def test_checks_id_prints_the_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks", "orphaned.inactive-principal")
    assert code == 0
    assert out.startswith("orphaned.inactive-principal  (default severity high, category orphaned)")
    for section in ("Fires", "Does not fire", "Remediate"):
        assert section in out


def test_checks_id_with_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "checks", "sprawl.peer-outlier")[1]
    assert "Parameters:" in out and "threshold" in out


def test_checks_unknown_id_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "checks", "orphaned.inactve-principal")
    assert code == 2
    assert 'did you mean "orphaned.inactive-principal"?' in err


# -- explain ------------------------------------------------------------------------------


def test_explain_without_target_lists_everything_held(project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "user:alice", "--dir", str(project), "--as-of", AS_OF)
    assert code == 0
    assert f"user:alice holds 2 entitlements as of {AS_OF}:" in out
    assert "role:payments-approver  via user:alice -> group:payments-eng -> role:payments-approver" in out
    assert "group:payments-eng  via user:alice -> group:payments-eng" in out


def test_explain_with_target_shows_the_chain(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "user:alice", "role:payments-approver", "--dir", str(project),
                       "--as-of", AS_OF)
    assert code == 0
    assert "path 1: user:alice -> group:payments-eng -> role:payments-approver" in out
    for words in ("granted 2026-03-01T10:00:00Z by svc:terraform", "event ev-1, history/h.jsonl:1",
                  "event ev-2, history/h.jsonl:2", "key pk-1", "holder svc:terraform", "owner user:alice",
                  "approved by user:bob", "ticket CHG-2"):
        assert words in out


def test_explain_resource_and_reason(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "explain", "user:mallory", "role:payments-approver", "--dir", str(project),
              "--as-of", AS_OF)[1]
    assert "user:mallory -> role:payments-approver on aws:1" in out
    assert 'reason "on-call"' in out and "ticket CHG-3" in out


def test_explain_as_of_before_the_grant(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "explain", "user:mallory", "role:payments-approver", "--dir", str(project),
              "--as-of", "2026-03-01T12:00:00Z")[1]
    assert out == "user:mallory does not hold role:payments-approver as of 2026-03-01T12:00:00Z.\n"


@pytest.mark.parametrize(("argv", "says"), [
    (["user:zed"], "'user:zed' is neither in the directory nor in the history (did you mean"),
    (["user:alice", "user:bob"], "TARGET must be a group: or role: id"),
    (["user:alice", "--as-of", "soon"], "--as-of: 'soon' is not an ISO 8601 time"),
])
def test_explain_errors_exit_2(argv: list[str], says: str, project: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", *argv, "--dir", str(project))
    assert code == 2 and out == ""
    assert says in err


# -- outputs ------------------------------------------------------------------------------


def test_output_file(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "reports" / "findings.json"
    code, out, _ = check(capsys, project, "--format", "json", "--output", str(target))
    assert code == 1
    assert out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["findings"] == 1


def test_output_to_an_impossible_place_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, project, "--output", str(project / "keytrail.yaml" / "out.txt"))
    assert code == 2
    assert "cannot write" in err


def findings_of(capsys: pytest.CaptureFixture[str], project: Path, *more: str) -> dict[str, Any]:
    code, out, _ = check(capsys, project, "--format", "json", *more)
    assert code in (0, 1)
    data: dict[str, Any] = json.loads(out)
    return data


def test_json_output_validates_against_the_published_schema(project: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    schema = json.loads(run(capsys, "schema", "findings")[1])
    data = findings_of(capsys, project)
    assert sorted(str(e.message) for e in Draft202012Validator(schema).iter_errors(data)) == []
    [finding] = data["findings"]
    assert finding["rule"] == "orphans"
    assert finding["check"] == "orphaned.inactive-principal"
    assert (finding["subject"], finding["target"], finding["resource"]) == (
        "user:mallory", "role:payments-approver", "aws:1")
    assert finding["location"] == {"path": "history/h.jsonl", "line": 3}
    assert data["as_of"] == AS_OF and data["since"] is None
    assert data["summary"]["by_category"] == {"orphaned": 1}


def test_since_as_a_duration(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = findings_of(capsys, project, "--since", "90d")
    assert data["since"] == format_time(parse_time(AS_OF) - 90 * DAY)
    assert findings_of(capsys, project, "--since", "P90D")["since"] == data["since"]


def test_since_as_a_time(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = findings_of(capsys, project, "--since", "2026-07-01T00:00:00+02:00")
    assert data["since"] == "2026-06-30T22:00:00Z"


def test_since_limits_change_checks_to_the_window(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "history" / "h.jsonl").open("a") as history:
        history.write('{"id":"ev-4","time":"2026-02-01T10:00:00Z","action":"grant","subject":"user:bob",'
                      '"target":"role:payments-approver"}\n')
        history.write('{"id":"ev-5","time":"2026-09-01T10:00:00Z","action":"grant","subject":"user:bob",'
                      '"target":"group:payments-eng"}\n')
    keyless = sorted(f["event"] for f in findings_of(capsys, project)["findings"] if f["rule"] == "keyed")
    assert keyless == ["ev-4", "ev-5"]
    recent = [f["event"] for f in findings_of(capsys, project, "--since", "90d")["findings"]
              if f["rule"] == "keyed"]
    assert recent == ["ev-5"]


def test_text_output_is_grouped_by_category_with_counts(project: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "history" / "h.jsonl").open("a") as history:
        history.write('{"id":"ev-4","time":"2026-04-01T10:00:00Z","action":"grant","subject":"user:bob",'
                      '"target":"role:payments-approver"}\n')
    code, out, _ = check(capsys, project)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"keytrail {__version__}: base as of {AS_OF}"
    assert "2 findings: 1 high, 1 low" in out
    orphaned, unexplained = lines.index("ORPHANED (1)"), lines.index("UNEXPLAINED (1)")
    assert orphaned < unexplained
    assert lines[orphaned + 1] == "  high (1)"
    assert lines[unexplained + 1] == "  low (1)"
    assert "✗ orphans [orphaned.inactive-principal]: user:mallory (terminated 2026-05-31)" in out
    assert "at history/h.jsonl:3 (event ev-3)" in out
    assert "key pk-1 (holder svc:terraform) · actor svc:terraform · approver user:bob · ticket CHG-3" in out
    assert lines[-1] == "1 finding at or above high (marked ✗): failing."


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_is_identical_across_runs(fmt: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = check(capsys, project, "--format", fmt)[1]
    second = check(capsys, project, "--format", fmt)[1]
    assert first.encode("utf-8") == second.encode("utf-8")
    assert first.endswith("\n")


def test_output_file_is_identical_to_stdout(project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    printed = check(capsys, project, "--format", "json")[1]
    check(capsys, project, "--format", "json", "--output", str(tmp_path / "f.json"))
    assert (tmp_path / "f.json").read_bytes() == printed.encode("utf-8")
