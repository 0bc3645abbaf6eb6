"""``keytrail lint`` of a ``kind: PolicyTest`` file: its schema, then what it refers to.

A test that cannot pass or cannot fail is worse than none: it reports coverage
it does not give. Beyond the schema, each of these is an error:

- a ``policies`` entry that names no file, folder or packaged pack, or policies
  under test that do not load (their own lint says why);
- a ``rules`` id (of the suite or of a case) that the policies under test do not
  define, or a case's rule that is not among the suite's;
- an expectation (``expect``, ``expect_not``) naming a rule the case does not run
  (findings of other rules are ignored, so it could never match), a ``check``
  that does not exist, or a rule and a check that disagree;
- a case's waiver for a rule the policies do not define.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail import checks
from keytrail.errors import KeytrailError, Problem
from keytrail.model import Rule
from keytrail.policy import KIND_CHECKS
from keytrail.yamlload import Locator

#: Every ``check`` a finding can carry.
CHECK_NAMES = sorted({*checks.REGISTRY, *KIND_CHECKS.values(), "policy.expired-waiver"})


def policytest_problems(data: Any, loc: Locator, path: Path, display: str) -> list[Problem]:
    """Every problem of one parsed PolicyTest file (``display`` names it in messages)."""
    from keytrail.schemas import validate

    if data is None:
        return [Problem(display, 1, 1, "", "the file is empty")]
    problems = validate(data, "policytest", loc)
    if problems or not isinstance(data, dict):
        return problems
    rules = _rules_under_test(data, loc, path.parent, problems)
    if rules is None:
        return problems
    problems.extend(_semantic_problems(data, loc, rules))
    return sorted(problems)


def _rules_under_test(data: dict[str, Any], loc: Locator, base: Path, problems: list[Problem]
                      ) -> dict[str, Rule] | None:
    """The enabled rules of the policies under test, or None when they cannot be loaded."""
    from keytrail.policy import load_policies
    from keytrail.project import PACK_PREFIX, display_path, packaged_pack, yaml_files

    files: list[Path] = []
    in_folders: set[Path] = set()
    for i, entry in enumerate(data["policies"]):
        where = ("policies", i)
        if entry.startswith(PACK_PREFIX):
            pack = packaged_pack(entry[len(PACK_PREFIX):])
            if pack is None:
                problems.append(loc.problem(where, f"{entry!r}: no such packaged policy pack"))
            else:
                files.append(pack)
            continue
        target = base / entry
        if target.is_dir():
            found = yaml_files(target)
            in_folders.update(found)
            files.extend(found)
        elif target.is_file():
            files.append(target)
        else:
            problems.append(loc.problem(where, f"{entry!r}: no such file or folder (relative to this file)"))
    if problems:
        return None
    try:
        policies = load_policies(files, [display_path(f, base) for f in files], from_folders=in_folders)
    except KeytrailError as exc:
        first = exc.problems[0] if exc.problems else exc.message
        problems.append(loc.problem(("policies",), f"the policies under test do not load "
                                    f"({len(exc.problems)} problems; the first: {first})"))
        return None
    return {r.id: r for p in policies for r in p.rules if r.enabled}


def _semantic_problems(data: dict[str, Any], loc: Locator, rules: dict[str, Rule]) -> Iterator[Problem]:
    from keytrail.schemas import did_you_mean

    defined = sorted(rules)
    under_test = list(data.get("rules") or defined)
    for i, rule_id in enumerate(data.get("rules") or []):
        if rule_id not in rules:
            yield loc.problem(("rules", i), f"no rule {rule_id!r} in the policies under test"
                              f"{did_you_mean(rule_id, defined)}")
    for t, case in enumerate(data["tests"]):
        where = ("tests", t)
        case_rules = list(case.get("rules") or under_test)
        for i, rule_id in enumerate(case.get("rules") or []):
            if rule_id not in under_test:
                yield loc.problem(where + ("rules", i), f"{rule_id!r} is not among the rules under test"
                                  f"{did_you_mean(rule_id, under_test)}")
        for key in ("expect", "expect_not"):
            for e, want in enumerate(case.get(key) or []):
                yield from _expectation_problems(want, where + (key, e), loc, rules, case_rules)
        for w, waiver in enumerate(case.get("waivers") or []):
            if isinstance(waiver, dict) and isinstance(waiver.get("rule"), str) \
                    and waiver["rule"] not in rules and waiver["rule"] != "policy.expired-waiver":
                yield loc.problem(where + ("waivers", w, "rule"), f"waiver for unknown rule "
                                  f"{waiver['rule']!r}{did_you_mean(waiver['rule'], defined)}")


def _expectation_problems(want: dict[str, Any], where: tuple[Any, ...], loc: Locator,
                          rules: dict[str, Rule], case_rules: list[str]) -> Iterator[Problem]:
    from keytrail.schemas import did_you_mean

    rule_id, check = want.get("rule"), want.get("check")
    if check is not None and check not in CHECK_NAMES:
        yield loc.problem(where + ("check",), f"unknown check {check!r}{did_you_mean(check, CHECK_NAMES)}")
    if rule_id is None:
        return
    if rule_id not in rules:
        yield loc.problem(where + ("rule",), f"no rule {rule_id!r} in the policies under test"
                          f"{did_you_mean(rule_id, sorted(rules))}")
    elif rule_id not in case_rules:
        yield loc.problem(where + ("rule",), f"rule {rule_id!r} is not run by this test (its rules: "
                          f"{', '.join(case_rules)}), so this expectation can never match")
    elif check is not None and check in CHECK_NAMES and rules[rule_id].check != check:
        yield loc.problem(where + ("check",), f"rule {rule_id} is check {rules[rule_id].check}, not "
                          f"{check}: nothing can match both")
