"""``keytrail lint``: what it finds, where, in which format, with which exit code.

Each case writes a few files into a fresh folder, runs ``keytrail lint`` there
(``main([...])``, the current folder set to it so that files are named
relatively) and compares the text output line for line: a missing or an
unexpected problem fails the case.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keytrail.cli import main
from keytrail.errors import Problem
from keytrail.lint import LintReport, render_github

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-09-30T23:59:59Z"

DIRECTORY = """\
principals:
  - id: user:alice
  - id: user:bob
groups:
  - id: group:eng
roles:
  - id: role:prod-admin
  - id: role:prod-readonly
"""
PROJECT = """\
directory: directory.yaml
keys: keys.yaml
history: [history/*.jsonl]
policies: [policies/]
"""
KEYS = """\
keys:
  - id: pk-1
    holder: user:alice
    approved_by: user:bob
    scope: [role:prod-*, group:eng]
"""
HEAD = "apiVersion: keytrail/v1\nkind: Policy\n"
#: A policy body with one rule, for cases about other files (a project with no rule is an error).
ONE_RULE = "rules:\n  - {id: a, use: sprawl.expired-grant}\n"


def project_files(policy: str, keys: str = KEYS, directory: str = DIRECTORY) -> dict[str, str]:
    """A project with one policy file, ``policies/p.yaml`` (its rules start on line 3)."""
    return {"keytrail.yaml": PROJECT, "directory.yaml": directory, "keys.yaml": textwrap.dedent(keys),
            "history/h.jsonl": "", "policies/p.yaml": HEAD + textwrap.dedent(policy)}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def lint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["lint", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the shipped policies and the example -------------------------------------------------
def test_default_pack_lints_clean(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = lint(capsys, "policies/")
    assert (code, out) == (0, "")
    # The pack and its PolicyTest file, linted as what each is.
    assert err == "keytrail lint: 2 files, 0 errors, 0 warnings\n"


def test_acme_has_exactly_its_expired_waiver(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The contractor's waiver expired on 2026-08-31, on purpose: the example shows the finding.
    # An expired waiver waives nothing any more: an error, not a warning.
    monkeypatch.chdir(REPO)
    code, out, _ = lint(capsys, "examples/acme", "--as-of", AS_OF)
    assert code == 1
    assert out == ("examples/acme/policies/acme.yaml:66:5: waivers[1].expires: waiver for rule "
                   "acme-contractors-off-prod expired 2026-08-31: it no longer waives anything "
                   "(renew it with a new approval and expiry, or remove it)\n")


def test_acme_before_the_waivers_run_out_is_clean(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert lint(capsys, "examples/acme", "--as-of", "2026-07-01T00:00:00Z")[:2] == (0, "")


# --- every problem, at its place -----------------------------------------------------------
CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("clean project", project_files("""\
        rules:
          - id: sod
            separation_of_duties: [[role:prod-admin, "role:prod-read*"]]
          - id: ok
            use: sprawl.excessive-access
            with: {max: 10}
        """), []),
    ("unknown check, did you mean", project_files("""\
        rules:
          - id: a
            use: orphaned.inactve-principal
        """), ['policies/p.yaml:5:5: rules[0].use: unknown check \'orphaned.inactve-principal\' '
               '(did you mean "orphaned.inactive-principal"?)']),
    ("unknown parameter, did you mean", project_files("""\
        rules:
          - id: a
            use: sprawl.excessive-access
            with: {maxx: 3}
        """), ["policies/p.yaml:6:12: rules[0].with.maxx: unknown parameter 'maxx' for check "
               'sprawl.excessive-access (did you mean "max"?) (parameters: max)']),
    ("parameter of the wrong type", project_files("""\
        rules:
          - id: a
            use: sprawl.excessive-access
            with: {max: many}
        """), ["policies/p.yaml:6:12: rules[0].with.max: expected an integer, got string 'many'"]),
    ("rule with no kind", project_files("""\
        rules:
          - id: a
            severity: high
        """), ["policies/p.yaml:4:5: rules[0]: needs exactly one of use, separation_of_duties, "
               "forbid, require, limit"]),
    ("rule with two kinds", project_files("""\
        rules:
          - id: a
            use: sprawl.expired-grant
            forbid: {target: role:prod-admin}
        """), ["policies/p.yaml:4:5: rules[0]: has use and forbid; exactly one of use, "
               "separation_of_duties, forbid, require, limit is allowed"]),
    ("duplicate rule id across files", {**project_files("""\
        rules:
          - id: a
            use: sprawl.expired-grant
        """), "policies/q.yaml": HEAD + "rules:\n  - id: a\n    use: sprawl.redundant-grant\n"},
        ["policies/q.yaml:4:5: rules[0].id: duplicate rule id 'a' (first defined at policies/p.yaml:4)"]),
    ("selectors naming undefined roles and groups", project_files("""\
        rules:
          - id: sod
            separation_of_duties: [[role:prod-admn, role:prod-readonly]]
          - id: f
            forbid: {subject: group:engg, target: {id: "role:staging-*"}}
          - id: l
            limit: {subject: "user:*", target: "group:e*", max_entitlements: 3}
        """), ['policies/p.yaml:5:29: warning: rules[0].separation_of_duties[0][0]: role:prod-admn is '
               'not a role the directory or the history knows (did you mean "role:prod-admin"?)',
               # A group is never the subject of a forbid (its members are): an error, not a warning.
               "policies/p.yaml:7:14: rules[1].forbid.subject: 'group:engg' is a group, which can never "
               "stand here (user: or svc: can)",
               "policies/p.yaml:7:44: warning: rules[1].forbid.target.id: 'role:staging-*' matches no "
               "role the directory or the history knows"]),
    ("waiver for an unknown rule; waiver approver not in the directory", project_files("""\
        rules:
          - id: sod
            separation_of_duties: [[role:prod-admin, role:prod-readonly]]
        waivers:
          - {rule: sodd, reason: r, approved_by: user:carol, expires: "2027-01-01T00:00:00Z"}
        """), ["policies/p.yaml:7:5: warning: waivers[0]: waiver waives every finding of rule sodd, present "
               "and future: narrow it with `subject`, `target` or `resource` (or disable the rule openly "
               "with `enabled: false`)",
               'policies/p.yaml:7:6: waivers[0].rule: waiver for unknown rule \'sodd\' (did you mean "sod"?)',
               "policies/p.yaml:7:29: warning: waivers[0].approved_by: approver user:carol is not in "
               "the directory"]),
    ("waiver without reason, approver or expiry", project_files("""\
        rules:
          - {id: a, use: sprawl.expired-grant}
        waivers:
          - rule: a
        """), ["policies/p.yaml:6:5: waivers[0]: missing required 'reason', 'approved_by', 'expires'"]),
    ("expired waiver, and one expiring within 30 days", project_files("""\
        rules:
          - id: a
            use: sprawl.expired-grant
        waivers:
          - rule: a
            subject: user:alice
            reason: r
            approved_by: user:bob
            expires: 2026-09-30T23:59:59Z
          - rule: a
            subject: user:alice
            reason: r
            approved_by: user:bob
            expires: 2026-10-30T23:59:59Z
          - rule: a
            subject: user:alice
            reason: r
            approved_by: user:bob
            expires: 2026-10-31T00:00:00Z
        """), ["policies/p.yaml:11:5: waivers[0].expires: waiver for rule a expired 2026-09-30: "
               "it no longer waives anything (renew it with a new approval and expiry, or remove it)",
               "policies/p.yaml:16:5: warning: waivers[1].expires: waiver for rule a expires 2026-10-30, "
               "in 30 days: renew it (a new approval and expiry) or fix the findings it covers"]),
    ("key people and scopes the directory does not know", project_files(ONE_RULE, keys="""\
        keys:
          - id: pk-1
            holder: user:alise
            owner: user:bob
            approved_by: user:dave
            scope: [role:prod-*, role:staging-*, group:eng, group:ops]
          - id: pk-old
            holder: user:gone
            scope: [role:retired]
            revoked_at: 2026-01-01T00:00:00Z
        """), ['keys.yaml:3:5: warning: keys[0].holder: holder user:alise is not in the directory '
               '(did you mean "user:alice"?)',
               "keys.yaml:5:5: warning: keys[0].approved_by: approver user:dave is not in the directory",
               "keys.yaml:6:26: warning: keys[0].scope[1]: scope 'role:staging-*' matches no role or "
               "group the directory defines",
               "keys.yaml:6:53: warning: keys[0].scope[3]: scope 'group:ops' matches no role or group "
               "the directory defines"]),
    ("keytrail.yaml naming a missing file", {**project_files(ONE_RULE),
                                              "keytrail.yaml": PROJECT.replace("keys.yaml", "kez.yaml")},
     ["keytrail.yaml:2:1: keys: 'kez.yaml': file not found"]),
    ("loose folder: files identified by content, no directory to compare with", {
        "p.yaml": HEAD + "rules:\n  - id: f\n    forbid: {target: role:nowhere}\n",
        "d.yml": "principals: []\nroles:\n  - {id: role:x, owner: 3}\n",
        "k.yaml": "keys:\n  - id: pk-1\n    holder: user:nobody\n    scope: [role:nowhere]\n",
        "t.yaml": "kind: PolicyTest\napiVersion: keytrail/v1\npolicies: [p.yaml]\ntests: []\n",
        "other.yaml": "name: something else\n",
    }, ["d.yml:3:18: roles[0].owner: expected a string, got number 3",
        "other.yaml:1:1: warning: cannot tell what this file is (a policy has `kind: Policy`, a policy "
        "test `kind: PolicyTest`, a key registry `keys`, a directory `principals`, `groups` or `roles`, "
        "a project file `directory` and `history`)"]),
    ("YAML problems that still parse: duplicate keys", {
        "p.yaml": HEAD + "rules: []\nrules: []\n"},
     ["p.yaml:4:1: rules: duplicate key 'rules' (first defined at line 3)"]),
]


@pytest.mark.parametrize("files, expected", [pytest.param(f, e, id=name) for name, f, e in CASES])
def test_problems(folder: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str],
                  expected: list[str]) -> None:
    write(folder, files)
    code, out, _ = lint(capsys, "--as-of", AS_OF)
    assert out.splitlines() == expected
    # Warnings print and exit 0 (as yamllint and eslint); errors exit 1.
    assert code == (1 if any(": warning: " not in line for line in expected) else 0)


def test_folder_with_a_project_inside_lints_it_as_one(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder / "org", project_files("rules:\n  - id: a\n    forbid: {target: role:nope}\n"))
    write(folder, {"loose.yaml": HEAD + "rules:\n  - id: a\n    use: sprawl.expired-grant\n"})
    code, out, err = lint(capsys, ".", "--as-of", AS_OF)
    # The project's rule 'a' and the loose file's rule 'a' are in different universes.
    assert out.splitlines() == ["org/policies/p.yaml:5:14: warning: rules[0].forbid.target: role:nope is not "
                                "a role the directory or the history knows"]
    assert code == 0
    assert err == "keytrail lint: 5 files, 0 errors, 1 warning\n"


# --- exit code 2 ------------------------------------------------------------------------------
def test_unparseable_yaml_exits_2_and_still_reports_the_rest(folder: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    write(folder, {"a.yaml": HEAD + "rules: [\n", "b.yaml": "keys: 3\n"})
    code, out, _ = lint(capsys)
    assert code == 2
    assert out.splitlines() == [
        "a.yaml:4:1: invalid YAML: did not find expected node content (while parsing a flow node)",
        "b.yaml:1:1: keys: expected an array, got number 3"]


def test_missing_path_exits_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = lint(capsys, "nowhere/")
    assert (code, out) == (2, "nowhere: no such file or folder\n")


def test_unparseable_policy_in_a_project_exits_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder, {**project_files("rules: [\n")})
    code, out, _ = lint(capsys)
    assert code == 2
    assert out.startswith("policies/p.yaml:4:1: invalid YAML")


def test_bad_as_of_is_a_usage_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = lint(capsys, "--as-of", "2026-09-30")
    assert code == 2 and "--as-of" in err


# --- formats ----------------------------------------------------------------------------------
def test_json_format(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder, project_files("rules:\n  - id: a\n    use: sprawl.nope\n"))
    code, out, _ = lint(capsys, "--format", "json", "--as-of", AS_OF)
    doc = json.loads(out)
    assert code == 1
    assert doc == {
        "files": ["keytrail.yaml", "directory.yaml", "keys.yaml", "policies/p.yaml"],
        "problems": [{"file": "policies/p.yaml", "line": 5, "column": 5, "path": "rules[0].use",
                      "level": "error",
                      "message": "unknown check 'sprawl.nope' (did you mean \"sprawl.group-cycle\"?)"}],
        "errors": 1, "warnings": 0, "exit_code": 1}


def test_github_format(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(folder, project_files("rules:\n  - id: a\n    forbid: {target: role:nope}\n"))
    code, out, _ = lint(capsys, "-f", "github", "--as-of", AS_OF)
    assert code == 0
    assert out == ("::warning file=policies/p.yaml,line=5,col=14,title=keytrail lint::rules[0].forbid.target: "
                   "role:nope is not a role the directory or the history knows\n")


def test_github_escaping() -> None:
    report = LintReport(("a,b:c%.yaml",), (
        Problem("a,b:c%.yaml", 2, 3, "x", "100% wrong\r\nsecond line, with: colons"),
        Problem("a,b:c%.yaml", 0, 0, "", "no position", "warning"),
    ), False)
    assert render_github(report) == (
        "::error file=a%2Cb%3Ac%25.yaml,line=2,col=3,title=keytrail lint::x: 100%25 wrong\\r\\nsecond line, "
        "with: colons\n"
        "::warning file=a%2Cb%3Ac%25.yaml,title=keytrail lint::no position\n")


def test_unknown_format_is_a_usage_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = lint(capsys, "--format", "sarif")
    assert code == 2 and "invalid choice" in err


# --- speed ------------------------------------------------------------------------------------
def test_lint_of_valid_policies_imports_no_heavy_library() -> None:
    code = ("import sys; from keytrail.cli import main; rc = main(['lint', 'policies/']); "
            "print(rc, sorted(m for m in ('networkx', 'jsonschema', 'jinja2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout == "0 []\n"



def test_github_format_keeps_within_githubs_annotation_limit(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """GitHub shows 10 annotations per level and step: the rest are summarised in a notice."""
    rules = "\n".join(f"  - {{id: r{i}, use: sprawl.nope{i}}}" for i in range(13))
    policy = tmp_path / "p.yaml"
    policy.write_text(f"apiVersion: keytrail/v1\nkind: Policy\nmetadata: {{name: p}}\nrules:\n{rules}\n")
    assert main(["lint", str(policy), "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert out.count("::error ") == 10
    assert out.splitlines()[-1].startswith("::notice title=keytrail lint::3 more problems are not annotated")


def test_text_lines_are_inert_and_never_start_a_workflow_command() -> None:
    from keytrail.lint import render

    report = LintReport(("::error file=x::y.yaml",), (
        Problem("::error file=x::y.yaml", 1, 1, "", "bad\nvalue \x1b[2J"),
        Problem("policies/p.yaml", 2, 1, "rules[0].id", "unknown \"a\u202eb\""),
    ), False)
    assert render(report, "text").splitlines() == [
        "./::error file=x::y.yaml:1:1: bad\\nvalue \\x1b[2J",
        "policies/p.yaml:2:1: rules[0].id: unknown \"a\\u202eb\""]
