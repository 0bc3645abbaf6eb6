"""The gate never passes silently: every way to make keytrail check less than a policy says is refused.

Each case edits a copy of ``examples/acme`` the way a new user's mistake or an
attacker's edit would, and asserts that ``check`` and ``lint`` say so, at the
place; beside it, a near-miss (the same edit done right) that must still be
accepted with the example's findings intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from keytrail.cli import main

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-09-30T23:59:59Z"
POLICY = "policies/acme.yaml"
SOD_LINE = "      - [role:payments-submitter, role:payments-approver]\n"


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example, the current folder set to it so that files are named relatively."""
    root = tmp_path / "acme"
    shutil.copytree(REPO / "examples" / "acme", root)
    monkeypatch.chdir(root)
    return root


def edit(root: Path, old: str, new: str, name: str = POLICY) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def check_json(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, str]:
    code, out, err = run(capsys, "check", ".", "--as-of", AS_OF, "-f", "json", *extra)
    return code, (json.loads(out) if out else {}), err


def findings_of(doc: dict, check: str) -> list[tuple[str, str]]:
    return sorted((f["subject"], f["target"]) for f in doc["findings"] if f["check"] == check)


def lint(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code, out, err = run(capsys, "lint", *argv, "--as-of", AS_OF)
    return code, out.splitlines(), err


# --- 1. a selector that names no kind --------------------------------------------------------
def test_sod_members_without_kind_are_errors_with_did_you_mean(acme: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, SOD_LINE, "      - [payments-submitter, payments-approver]\n")
    code, _, err = check_json(capsys)
    assert code == 2
    assert ("policies/acme.yaml:19:10: rules[0].separation_of_duties[0][0]: 'payments-submitter' names no "
            "kind: ids are KIND:NAME (did you mean `role:payments-submitter`?)") in err
    assert "rules[0].separation_of_duties[0][1]: 'payments-approver' names no kind" in err
    code, lines, _ = lint(capsys, ".")
    assert code == 1
    assert any(line.startswith("policies/acme.yaml:19:10: rules[0].separation_of_duties[0][0]: "
                               "'payments-submitter' names no kind") for line in lines)


def test_sod_members_with_their_kind_find_both_conflicts(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = check_json(capsys)
    assert code == 1
    assert len(findings_of(doc, "separation-of-duties")) == 2


def test_forbid_target_glob_without_kind_is_an_error(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "      target: role:prod-*\n", "      target: prod-*\n")
    code, _, err = check_json(capsys)
    assert code == 2
    assert ("policies/acme.yaml:27:7: rules[1].forbid.target: 'prod-*' names no kind: ids are KIND:NAME "
            "(did you mean `role:prod-*`?)") in err


def test_forbid_target_glob_with_its_kind_finds_the_contractor(acme: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _, doc, _ = check_json(capsys)
    assert findings_of(doc, "forbid") == [("user:kenji.mori", "role:prod-admin")]


POLICY_HEAD = "apiVersion: keytrail/v1\nkind: Policy\nrules:\n"


def policy_errors(body: str) -> list[str]:
    """The errors of one in-memory policy file, as ``path: message``."""
    from keytrail.policy import check_policies
    from keytrail.yamlload import load_yaml

    data, loc = load_yaml(POLICY_HEAD + body, "p.yaml")
    _, problems = check_policies([(data, loc, "p.yaml")], ["role:prod-admin", "group:eng", "user:alice"])
    return [f"{p.path}: {p.message}" for p in problems if p.level == "error"]


@pytest.mark.parametrize("body, expected", [
    pytest.param("  - {id: r, forbid: {target: '*:admin'}}\n",
                 "rules[0].forbid.target: '*:admin': the kind part '*' must be written out (group: or role:); "
                 "write one selector per kind, or a mapping with `kind:`", id="glob kind part"),
    pytest.param("  - {id: r, forbid: {target: 'rol:prod-admin'}}\n",
                 "rules[0].forbid.target: 'rol:prod-admin': 'rol' is not a kind (user:, svc:, group: or role:) "
                 "(did you mean `role:prod-admin`?)",
                 id="misspelt kind"),
    pytest.param("  - {id: r, forbid: {target: 'user:alice'}}\n",
                 "rules[0].forbid.target: 'user:alice' is a user, which can never stand here "
                 "(group: or role: can)", id="a user as a target"),
    pytest.param("  - {id: r, forbid: {subject: 'group:eng', target: 'role:*'}}\n",
                 "rules[0].forbid.subject: 'group:eng' is a group, which can never stand here (user: or svc: can)",
                 id="a group as the subject of forbid"),
    pytest.param("  - {id: r, limit: {subject: {kind: role}, max_entitlements: 3}}\n",
                 "rules[0].limit.subject.kind: kind role can never stand here (user: or svc: can)",
                 id="a kind that cannot be a subject"),
    pytest.param("  - {id: r, forbid: {target: {status: active}}}\n",
                 "rules[0].forbid.target.status: `status` is a principal's; targets have none, so this selector "
                 "matches nothing", id="status of a target"),
    pytest.param("  - {id: r, forbid: {subject: {privileged: true}, target: 'role:*'}}\n",
                 "rules[0].forbid.subject.privileged: `privileged` is a role's or group's; users and services "
                 "have none", id="privileged subject"),
    pytest.param("  - {id: r, forbid: {target: {id: 'role:prod-*', kind: group}}}\n",
                 "rules[0].forbid.target.id: 'role:prod-*' is of kind role, but `kind:` asks for group: "
                 "nothing can match both", id="id and kind disagree"),
    pytest.param("  - {id: r, separation_of_duties: [[prod-admin, 'role:x']]}\n",
                 "rules[0].separation_of_duties[0][0]: 'prod-admin' names no kind: ids are KIND:NAME "
                 "(did you mean `role:prod-admin`?)", id="did you mean from the directory"),
    pytest.param("  - {id: r, separation_of_duties: [[admin, 'role:x']]}\n",
                 "rules[0].separation_of_duties[0][0]: 'admin' names no kind: ids are KIND:NAME",
                 id="no hint when nothing defined fits"),
    pytest.param("  - {id: r, use: sprawl.expired-grant}\nwaivers:\n  - {rule: r, subject: alice, reason: x, "
                 "approved_by: 'user:bob', expires: '2030-01-01T00:00:00Z'}\n",
                 "waivers[0].subject: 'alice' names no kind: ids are KIND:NAME (did you mean `user:alice`?)",
                 id="waiver subject without kind"),
    pytest.param("  - {id: r, use: sprawl.expired-grant}\nwaivers:\n  - {rule: r, target: 'prod-*', reason: x, "
                 "approved_by: 'user:bob', expires: '2030-01-01T00:00:00Z'}\n",
                 "waivers[0].target: 'prod-*' names no kind: ids are KIND:NAME (did you mean `role:prod-*`?)",
                 id="waiver target without kind"),
    pytest.param("  - {id: r, forbid: {target: {privileged: 'yes'}}}\n",
                 "rules[0].forbid.target.privileged: expected a boolean, got string 'yes'", id="privileged yes"),
    pytest.param("  - {id: r, separation_of_duties: [[]]}\n",
                 "rules[0].separation_of_duties[0]: must not be empty", id="empty SoD set"),
])
def test_selectors_that_can_match_nothing_are_errors(body: str, expected: str) -> None:
    assert expected in policy_errors(body)


@pytest.mark.parametrize("body", [
    pytest.param("  - {id: r, forbid: {target: 'role:prod-*'}}\n", id="a prefixed glob"),
    pytest.param("  - {id: r, forbid: {subject: {status: terminated}, target: '*'}}\n", id="star: every target"),
    pytest.param("  - {id: r, forbid: {subject: {kind: [user, svc]}, target: {kind: role, privileged: true}}}\n",
                 id="mappings by kind"),
    pytest.param("  - {id: r, require: {subject: 'group:*', target: 'role:*', grant: {ticket: present}}}\n",
                 id="groups hold direct grants that require judges"),
    pytest.param("  - {id: r, separation_of_duties: [['role:pay-*', 'role:pay-*']]}\n",
                 id="one glob twice: two different targets matching it conflict"),
    pytest.param("  - {id: r, use: sprawl.expired-grant}\nwaivers:\n  - {rule: r, subject: 'user:ali*', "
                 "reason: x, approved_by: 'user:bob', expires: '2030-01-01T00:00:00Z'}\n", id="waiver glob"),
    pytest.param("  - {id: r, limit: {subject: 'svc:*', target: {id: 'group:*', kind: group}, "
                 "max_entitlements: 3}}\n", id="id and kind agree"),
])
def test_well_formed_selectors_are_accepted(body: str) -> None:
    assert policy_errors(body) == []


# --- 2. files are typed by their parsed kind -------------------------------------------------
def test_a_policy_mentioning_policytest_in_a_value_is_refused_not_skipped(acme: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Before: the file's text said `kind: PolicyTest`, so the whole policy was skipped, findings gone.
    edit(acme, "rules:\n", "notes: |\n    kind: PolicyTest\nrules:\n")
    code, _, err = check_json(capsys)
    assert code == 2
    assert "policies/acme.yaml:13:1: notes: unknown key 'notes'" in err
    code, lines, _ = lint(capsys, ".")
    assert code == 1 and any("unknown key 'notes'" in line for line in lines)


def test_a_policy_mentioning_policytest_in_a_comment_and_description_is_a_policy(
        acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, untouched, _ = check_json(capsys)
    edit(acme, "rules:\n", "# kind: PolicyTest\nrules:\n")
    edit(acme, "  description: >-\n", "  description: |\n    kind: PolicyTest\n")
    code, doc, _ = check_json(capsys)
    assert code == 1
    assert doc["summary"]["findings"] == untouched["summary"]["findings"] > 0
    assert len(findings_of(doc, "separation-of-duties")) == 2


def test_a_file_in_a_policy_folder_that_is_not_a_policy_is_an_error(acme: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (acme / "policies" / "owners.yaml").write_text("principals: []\n", encoding="utf-8")
    code, _, err = check_json(capsys)
    assert code == 2
    assert "policies/owners.yaml:1:1: missing required 'apiVersion', 'kind'" in err


def test_a_policytest_beside_the_policies_is_left_to_keytrail_test(acme: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, untouched, _ = check_json(capsys)
    (acme / "policies" / "acme.test.yaml").write_text(
        "apiVersion: keytrail/v1\nkind: PolicyTest\npolicies: [acme.yaml]\ntests: []\n", encoding="utf-8")
    code, doc, _ = check_json(capsys)
    assert code == 1 and doc["summary"]["findings"] == untouched["summary"]["findings"] > 0


def test_a_policytest_given_as_a_policy_is_an_error(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (acme / "t.yaml").write_text("apiVersion: keytrail/v1\nkind: PolicyTest\npolicies: [x]\ntests: []\n",
                                 encoding="utf-8")
    code, _, err = check_json(capsys, "--policy", "t.yaml")
    assert code == 2
    assert "t.yaml:2:1: kind: this is a PolicyTest, not a Policy" in err


# --- 3. lint validates policy tests ----------------------------------------------------------
PACK_TEST = """\
apiVersion: keytrail/v1
kind: PolicyTest
policies: [../default.yaml]
tests:
  - name: a case
    rules: [expired-grant]
    events: []
    {expect}:
      - {{rule: {rule}, check: {check}}}
"""


def write_pack_test(root: Path, expect: str = "expect_not", rule: str = "expired-grant",
                    check: str = "sprawl.expired-grant") -> None:
    shutil.copy(REPO / "policies" / "default.yaml", root / "default.yaml")
    (root / "tests").mkdir()
    (root / "tests" / "t.yaml").write_text(PACK_TEST.format(expect=expect, rule=rule, check=check),
                                          encoding="utf-8")


def test_lint_reports_a_misspelt_key_in_a_policytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write_pack_test(tmp_path, expect="expekt")
    code, lines, err = lint(capsys, ".")
    assert code == 1
    assert lines == ["tests/t.yaml:8:5: tests[0].expekt: unknown key 'expekt' (did you mean \"expect\"?) (allowed: "
                     "as_of, directory, events, expect, expect_not, history, keys, name, rules, since, "
                     "snapshot, usage, waivers)"]
    assert err == "keytrail lint: 2 files, 1 error, 0 warnings\n"


@pytest.mark.parametrize("rule, check, expected", [
    ("expired-grnt", "sprawl.expired-grant",
     "tests/t.yaml:9:10: tests[0].expect_not[0].rule: no rule 'expired-grnt' in the policies under test "
     "(did you mean \"expired-grant\"?)"),
    ("expired-grant", "sprawl.expird-grant",
     "tests/t.yaml:9:31: tests[0].expect_not[0].check: unknown check 'sprawl.expird-grant' "
     "(did you mean \"sprawl.expired-grant\"?)"),
    ("redundant-grant", "sprawl.redundant-grant",
     "tests/t.yaml:9:10: tests[0].expect_not[0].rule: rule 'redundant-grant' is not run by this test "
     "(its rules: expired-grant), so this expectation can never match"),
    ("expired-grant", "sprawl.redundant-grant",
     "tests/t.yaml:9:31: tests[0].expect_not[0].check: rule expired-grant is check sprawl.expired-grant, "
     "not sprawl.redundant-grant: nothing can match both"),
])
def test_lint_reports_expectations_that_can_never_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], rule: str,
                                                        check: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    write_pack_test(tmp_path, rule=rule, check=check)
    code, lines, _ = lint(capsys, ".")
    assert (code, lines) == (1, [expected])


def test_lint_accepts_a_valid_policytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write_pack_test(tmp_path)
    assert lint(capsys, "tests/t.yaml")[:2] == (0, [])


def test_lint_reports_a_policytest_whose_policies_do_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text("apiVersion: keytrail/v1\nkind: PolicyTest\npolicies: [nope.yaml]\n"
                                      "tests: []\n", encoding="utf-8")
    assert lint(capsys, "t.yaml")[:2] == (1, ["t.yaml:3:12: policies[0]: 'nope.yaml': no such file or folder "
                                              "(relative to this file)"])


# --- 4. one error does not hide the others ---------------------------------------------------
BROKEN = """\
apiVersion: keytrail/v1
kind: Policy
rules:
  - id: a
    use: sprawl.excessive-access
    use: sprawl.redundant-grant
  - id: b
    use: orphaned.inactve-principal
  - id: a
    use: sprawl.expired-grant
  - id: c
    use: sprawl.excessive-access
    with: {maxx: 3}
  - id: d
    use: sprawl.excessive-access
    with: {max: "ten"}
  - id: e
    severity: hgh
    use: sprawl.expired-grant
waivers:
  - {rule: zz, subject: "user:a", reason: r, approved_by: "user:b", expires: "2030-01-01T00:00:00Z"}
"""


def test_every_problem_of_a_file_is_reported_in_one_run_sorted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(BROKEN, encoding="utf-8")
    code, lines, _ = lint(capsys, "p.yaml")
    assert code == 1
    assert lines == [
        "p.yaml:6:5: rules[0].use: duplicate key 'use' (first defined at line 5)",
        "p.yaml:8:5: rules[1].use: unknown check 'orphaned.inactve-principal' (did you mean "
        "\"orphaned.inactive-principal\"?)",
        "p.yaml:9:5: rules[2].id: duplicate rule id 'a' (first defined at p.yaml:4)",
        "p.yaml:13:12: rules[3].with.maxx: unknown parameter 'maxx' for check sprawl.excessive-access "
        "(did you mean \"max\"?) (parameters: max)",
        "p.yaml:16:12: rules[4].with.max: expected an integer, got string 'ten'",
        "p.yaml:18:5: rules[5].severity: 'hgh' is not one of info, low, medium, high, critical "
        "(did you mean \"high\"?)",
        "p.yaml:21:6: waivers[0].rule: waiver for unknown rule 'zz'",
    ]


def test_check_refuses_the_same_file_with_every_problem(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (acme / "policies" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    code, _, err = check_json(capsys)
    assert code == 2
    assert sum(1 for line in err.splitlines() if line.startswith("policies/broken.yaml:")) == 7


# --- 5. a run that evaluates no rule ---------------------------------------------------------
def test_a_project_without_policies_is_refused(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "policies: [keytrail:default, policies/]", "", name="keytrail.yaml")
    code, out, err = check_json(capsys)
    assert (code, out) == (2, {})
    assert ("keytrail.yaml: no rule to evaluate: keytrail.yaml names no policies, so nothing would be checked. "
            "Enable the default pack of built-in checks with `policies: [keytrail:default]`") in err
    code, lines, _ = lint(capsys, ".")
    assert code == 1 and any("no rule to evaluate" in line for line in lines)


def test_a_project_whose_rules_are_all_disabled_is_refused(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "policies: [keytrail:default, policies/]", "policies: [policies/]", name="keytrail.yaml")
    text = (acme / POLICY).read_text(encoding="utf-8")
    (acme / POLICY).write_text(text.replace("    severity:", "    enabled: false\n    severity:"), encoding="utf-8")
    code, _, err = check_json(capsys)
    assert code == 2
    assert "every rule of the policies loaded is disabled (`enabled: false`: 4 rules)" in err


def test_a_project_with_the_default_pack_only_is_checked(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "policies: [keytrail:default, policies/]", "policies: [keytrail:default]", name="keytrail.yaml")
    code, doc, _ = check_json(capsys)
    assert code == 1 and doc["summary"]["findings"] > 0
    assert findings_of(doc, "forbid") == []


# --- 7. a waiver that waives nothing ---------------------------------------------------------
def test_a_misspelt_waiver_subject_is_a_lint_warning_and_an_unused_waiver(acme: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "subject: user:olivia.bennett", "subject: user:olivia.benett")
    code, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:51:5: warning: waivers[0].subject: waiver subject 'user:olivia.benett' matches "
            "nothing the directory or the history knows, so it waives nothing (did you mean "
            "\"user:olivia.bennett\"?)") in lines
    code, doc, _ = check_json(capsys)
    assert doc["summary"]["unused_waivers"] == [{
        "rule": "acme-payments-sod", "subject": "user:olivia.benett", "expires": "2027-03-31T23:59:59Z",
        "location": {"path": "policies/acme.yaml", "line": 50, "column": 5}}]
    assert doc["summary"]["waived"] == 0
    code, out, _ = run(capsys, "check", ".", "--as-of", AS_OF)
    assert ("UNUSED WAIVERS (1): each matched no finding; fix its subject or target, or remove it\n"
            "    policies/acme.yaml:50: waiver for rule acme-payments-sod, subject 'user:olivia.benett'\n") in out


def test_a_waiver_for_a_real_subject_is_used_and_quiet(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = lint(capsys, ".")
    assert not any("waivers[0]" in line for line in lines)
    code, doc, _ = check_json(capsys)
    assert doc["summary"]["unused_waivers"] == [] and doc["summary"]["waived"] == 1
    _, out, _ = run(capsys, "check", ".", "--as-of", AS_OF)
    assert "UNUSED WAIVERS" not in out


def test_a_waiver_for_a_whole_rule_is_a_warning(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "    subject: user:olivia.bennett\n", "    subject: '*'\n")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:50:5: warning: waivers[0]: waiver waives every finding of rule acme-payments-sod, "
            "present and future: narrow it with `subject`, `target` or `resource` (or disable the rule openly "
            "with `enabled: false`)") in lines


def test_a_misspelt_selector_attribute_is_a_warning(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "attributes: {employment: contractor}", "attributes: {employment: contracter}")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:26:42: warning: rules[1].forbid.subject.attributes.employment: no principal, "
            "group or role has employment = 'contracter', so this selector matches nothing (did you mean "
            "\"contractor\"?)") in lines
    edit(acme, "attributes: {employment: contracter}", "attributes: {employmnt: contractor}")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:26:42: warning: rules[1].forbid.subject.attributes.employmnt: no principal, "
            "group or role has attribute 'employmnt', so this selector matches nothing (did you mean "
            "\"employment\"?)") in lines


# --- 8. warnings print and pass; --strict fails them; expired waivers are errors --------------
def test_a_waiver_expiring_soon_warns_and_passes_unless_strict(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "expires: 2026-08-31T23:59:59Z", "expires: 2026-10-19T23:59:59Z")
    code, lines, err = lint(capsys, ".")
    assert code == 0
    assert lines == ["policies/acme.yaml:66:5: warning: waivers[1].expires: waiver for rule acme-contractors-off-prod "
                     "expires 2026-10-19, in 19 days: renew it (a new approval and expiry) or fix the findings it "
                     "covers"]
    assert err == "keytrail lint: 7 files, 0 errors, 1 warning\n"  # the two usage files are linted too
    assert lint(capsys, ".", "--strict")[0] == 1


def test_an_expired_waiver_is_an_error(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = lint(capsys, ".")
    assert code == 1
    assert lines[0].startswith("policies/acme.yaml:66:5: waivers[1].expires: waiver for rule "
                               "acme-contractors-off-prod expired 2026-08-31")


def test_a_forbid_resource_matching_nothing_granted_is_a_warning(acme: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "      target: role:prod-*\n", "      target: role:prod-*\n      resource: 'aws:99999999999*'\n")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:28:7: warning: rules[1].forbid.resource: resource 'aws:99999999999*' matches no "
            "resource the history grants access on") in lines


def test_a_forbid_resource_matching_a_granted_one_is_quiet(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "      target: role:prod-*\n", "      target: role:prod-*\n      resource: 'aws:1234567890*'\n")
    _, lines, _ = lint(capsys, ".")
    assert not any("forbid.resource" in line for line in lines)


def test_a_peer_attribute_nobody_has_is_a_warning(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (acme / "policies" / "peers.yaml").write_text(
        "apiVersion: keytrail/v1\nkind: Policy\nrules:\n  - id: peers\n    use: sprawl.peer-outlier\n"
        "    with: {peer_attribute: departmnt}\n", encoding="utf-8")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/peers.yaml:6:12: warning: rules[0].with.peer_attribute: no principal, group or role has "
            "attribute 'departmnt', so sprawl.peer-outlier finds nothing (did you mean \"department\"?)") in lines


def test_a_peer_attribute_people_have_is_quiet(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (acme / "policies" / "peers.yaml").write_text(
        "apiVersion: keytrail/v1\nkind: Policy\nrules:\n  - id: peers\n    use: sprawl.peer-outlier\n"
        "    with: {peer_attribute: title}\n", encoding="utf-8")
    _, lines, _ = lint(capsys, ".")
    assert not any("peers.yaml" in line for line in lines)


def test_a_policy_file_with_an_upper_case_extension_is_loaded(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (acme / POLICY).rename(acme / "policies" / "acme.YAML")
    code, doc, _ = check_json(capsys)
    assert code == 1 and len(findings_of(doc, "separation-of-duties")) == 2


@pytest.mark.parametrize("check", ["sprawl.peer-outlier", "sprawl.privilege-creep"])
def test_a_threshold_of_zero_that_can_never_fire_is_an_error(check: str) -> None:
    # Both checks fire below the threshold: at 0 nothing is ever below it, the rule is off unsaid.
    assert policy_errors(f"  - {{id: r, use: {check}, with: {{threshold: 0}}}}\n") == [
        "rules[0].with.threshold: 0 is less than or equal to the minimum of 0"]
    assert policy_errors(f"  - {{id: r, use: {check}, with: {{threshold: 0.01}}}}\n") == []


def test_a_waiver_approved_by_its_own_subject_is_a_warning(acme: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(acme, "approved_by: user:marcus.lindqvist", "approved_by: user:olivia.bennett")
    _, lines, _ = lint(capsys, ".")
    assert ("policies/acme.yaml:55:5: warning: waivers[0].approved_by: waiver for rule acme-payments-sod is "
            "approved by its own subject user:olivia.bennett: an exception needs someone else's approval") in lines
    edit(acme, "approved_by: user:olivia.bennett", "approved_by: user:marcus.lindqvist")
    _, lines, _ = lint(capsys, ".")
    assert not any("waivers[0].approved_by" in line for line in lines)
