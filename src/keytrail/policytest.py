"""``keytrail test``: unit tests for policies, in the spirit of ``opa test``.

A ``kind: PolicyTest`` file names the policies under test, and lists test
cases: a small organisation (inline, or paths to fixture files) and the
findings that must appear (``expect``) and must not (``expect_not``). A test
fails on a missing finding and on any unexpected finding of the rules under
test, and says which. Coverage lists the rules no test expects a finding of;
``--require-coverage`` makes that a failure. Empty suites fail.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, KeytrailError, Problem
from keytrail.model import Policy, Reported, Rule
from keytrail.project import (
    PACK_PREFIX,
    Project,
    display_path,
    packaged_pack,
    read_yaml,
    yaml_files,
    yaml_kind,
)
from keytrail.yamlload import Locator, format_path

DEFAULT_AS_OF = "2026-09-30T23:59:59Z"
MATCH_KEYS = ("rule", "check", "subject", "target", "resource", "event", "severity")


@dataclass
class CaseResult:
    """The outcome of one test case."""

    suite: str
    name: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class TestRun:
    """Every case of every suite, and which rules they exercised."""

    cases: list[CaseResult] = field(default_factory=list)
    rules: dict[str, Rule] = field(default_factory=dict)    # "suite-relative id" -> rule
    covered: set[str] = field(default_factory=set)
    empty: list[str] = field(default_factory=list)

    @property
    def uncovered(self) -> list[Rule]:
        return [r for key, r in sorted(self.rules.items()) if key not in self.covered]


def discover(paths: list[Path]) -> list[Path]:
    """The PolicyTest files among ``paths`` (files, or folders searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in yaml_files(path) if yaml_kind(p) == "PolicyTest")
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: not found", [Problem(str(path), 0, 0, "", "no such file or folder")])
    return found


def run(paths: list[Path], cwd: Path) -> TestRun:
    """Run every suite; bad input raises :class:`InputError` with every problem found."""
    result = TestRun()
    problems: list[Problem] = []
    for path in discover(paths):
        try:
            _run_suite(path, display_path(path, cwd), result)
        except KeytrailError as exc:
            problems.extend(exc.problems or [Problem(str(path), 0, 0, "", exc.message)])
    if problems:
        raise InputError("invalid policy tests", problems)
    return result


def _run_suite(path: Path, display: str, result: TestRun) -> None:
    from keytrail.policy import load_policies
    from keytrail.schemas import validate

    data, loc = read_yaml(path, display)
    if data is None:
        raise InputError(display, [Problem(display, 1, 1, "", "the file is empty")])
    problems = validate(data, "policytest", loc)
    if problems:
        raise InputError(display, problems)
    base = path.parent
    files: list[Path] = []
    in_folders: set[Path] = set()
    for i, entry in enumerate(data["policies"]):
        files.extend(_policy_files(entry, base, loc, ("policies", i), in_folders))
    policies: list[Policy] = load_policies(files, [display_path(f, base) for f in files],
                                           from_folders=in_folders)
    rules = {r.id: r for p in policies for r in p.rules if r.enabled}
    under_test = data.get("rules") or sorted(rules)
    unknown = [r for r in under_test if r not in rules]
    if unknown:
        raise InputError(display, [loc.problem(("rules",), f"no rule {', '.join(map(repr, unknown))} in the "
                                                           "policies under test")])
    for rule_id in under_test:
        result.rules[f"{display}: {rule_id}"] = rules[rule_id]
    if not data["tests"]:
        result.empty.append(display)
        return
    for index, case in enumerate(data["tests"]):
        case_rules = case.get("rules") or under_test
        missing = [r for r in case_rules if r not in under_test]
        if missing:
            raise InputError(display, [loc.problem(("tests", index, "rules"),
                                                   f"{', '.join(map(repr, missing))} not among the rules under test")])
        outcome = _run_case(case, index, data, policies, [rules[r] for r in case_rules], base, display, loc)
        result.cases.append(outcome)
        for hit in outcome_hits(case):
            if hit.get("rule") in case_rules:
                result.covered.add(f"{display}: {hit['rule']}")


def outcome_hits(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The expectations of a case (what counts as exercising a rule)."""
    return list(case.get("expect") or [])


def _policy_files(entry: str, base: Path, loc: Locator, where: tuple[Any, ...],
                  in_folders: set[Path]) -> list[Path]:
    if entry.startswith(PACK_PREFIX):
        pack = packaged_pack(entry[len(PACK_PREFIX):])
        if pack is None:
            raise InputError(entry, [loc.problem(where, f"{entry!r}: no such packaged policy pack")])
        return [pack]
    path = base / entry
    if path.is_dir():
        found = yaml_files(path)  # the tests among them are told apart when parsed
        in_folders.update(found)
        return found
    if path.is_file():
        return [path]
    raise InputError(entry, [loc.problem(where, f"{entry!r}: no such file or folder")])


def _run_case(case: dict[str, Any], index: int, suite: dict[str, Any], policies: list[Policy],
              rules: list[Rule], base: Path, display: str, loc: Locator) -> CaseResult:
    from keytrail.engine import evaluate
    from keytrail.graph import AccessGraph
    from keytrail.replay import replay
    from keytrail.timeutil import parse_time
    from keytrail.view import View

    where = ("tests", index)
    outcome = CaseResult(display, case["name"], loc.at(where)[0])
    project = _case_project(case, where, base, display, loc, policies + _case_waivers(case, where, display, loc))
    as_of = parse_time(case.get("as_of") or suite.get("as_of") or DEFAULT_AS_OF)
    since = parse_time(case["since"]) if case.get("since") else None
    if project.snapshot is not None:
        # A test case's snapshot shows the access of the case's own moment: captured at as_of.
        project.snapshot_time = as_of
    state = replay(project.events, as_of, since)
    report = evaluate(View(project, state, AccessGraph(state)), rules)
    found = [_as_dict(r) for r in report.findings]
    unmatched = list(found)
    for want in case.get("expect") or []:
        hit = next((f for f in unmatched if _matches(f, want)), None)
        if hit is None:
            outcome.failures.append(f"missing finding {_show(want)}"
                                    + _closest(want, found))
        else:
            unmatched.remove(hit)
    for extra in unmatched:
        outcome.failures.append(f"unexpected finding {extra['rule']}: {extra['message']}")
    for unwanted in case.get("expect_not") or []:
        for f in found:
            if _matches(f, unwanted):
                outcome.failures.append(f"finding that must not appear {_show(unwanted)}: {f['message']}")
    return outcome


def _case_waivers(case: dict[str, Any], where: tuple[Any, ...], display: str, loc: Locator) -> list[Policy]:
    """A policy holding the test's own waivers (none: no policy)."""
    from keytrail.model import Location, Waiver
    from keytrail.timeutil import parse_time

    waivers = []
    for i, raw in enumerate(case.get("waivers") or []):
        line, col = loc.at(where + ("waivers", i))
        waivers.append(Waiver(rule=raw["rule"], reason=raw["reason"], approved_by=raw["approved_by"],
                              expires=parse_time(raw["expires"]), subject=raw.get("subject"),
                              target=raw.get("target"), resource=raw.get("resource"),
                              ticket=raw.get("ticket"), location=Location(display, line, col)))
    return [Policy(name="test waivers", file=display, waivers=tuple(waivers))] if waivers else []


def _as_dict(item: Reported) -> dict[str, Any]:
    f = item.finding
    return {"rule": item.rule, "check": item.check, "subject": f.subject, "target": f.target,
            "resource": f.resource, "event": f.event.id if f.event else None, "severity": item.severity,
            "waived": item.waived is not None, "message": f.message}


def _matches(found: dict[str, Any], want: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key == "message":
            if value not in found["message"]:
                return False
        elif found.get(key) != value:
            return False
    return True


def _show(want: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in want.items()) + "}"


def _closest(want: dict[str, Any], found: list[dict[str, Any]]) -> str:
    same_rule = [f for f in found if f["rule"] == want.get("rule")]
    if not same_rule:
        return " (the rule found nothing)" if "rule" in want else ""
    return f" (the rule found: {'; '.join(f['message'] for f in same_rule[:3])})"


def _case_project(case: dict[str, Any], where: tuple[Any, ...], base: Path, display: str, loc: Locator,
                  policies: list[Policy]) -> Project:
    """Load a case's organisation: inline data is validated in place, then loaded like files."""
    from keytrail.history import load_history
    from keytrail.model import Directory
    from keytrail.project import load_directory, load_keys
    from keytrail.schemas import validate
    from keytrail.snapshot import load_snapshot

    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="keytrail-test-") as tmp_name:
        tmp = Path(tmp_name)

        def source(name: str, inline: Any, schema: str, dump: Any) -> tuple[Path, str] | None:
            value = case.get(name)
            if value is None:
                return None
            if isinstance(value, str):
                return base / value, display_path(base / value, base)
            payload = inline(value)
            problems.extend(validate(payload, schema, loc, where + (name,)) if schema else [])
            target = tmp / f"{name}.data"
            target.write_text(dump(payload), encoding="utf-8")
            return target, f"{display} ({format_path(where + (name,))})"

        directory = source("directory", lambda v: v, "directory", lambda v: json.dumps(v))
        keys = source("keys", lambda v: {"keys": v}, "keys", lambda v: json.dumps(v))
        snapshot = source("snapshot", lambda v: v, "", lambda v: "".join(json.dumps(s) + "\n" for s in v))
        usage = source("usage", lambda v: v, "", lambda v: "".join(json.dumps(s) + "\n" for s in v))
        events = case.get("events")
        history: list[tuple[Path, str]] = []
        if events is not None:
            numbered = []
            for n, event in enumerate(events):
                event = {"id": f"ev-{n + 1:04d}", **event} if isinstance(event, dict) else event
                problems.extend(validate(event, "event", loc, where + ("events", n)))
                numbered.append(event)
            target = tmp / "events.jsonl"
            target.write_text("".join(json.dumps(e) + "\n" for e in numbered), encoding="utf-8")
            history.append((target, f"{display} ({format_path(where + ('events',))})"))
        for entry in ([case["history"]] if isinstance(case.get("history"), str) else case.get("history") or []):
            history.append((base / entry, display_path(base / entry, base)))
        if problems:
            raise InputError(display, problems)
        loaded = Project(
            root=base,
            directory=load_directory(*directory) if directory else Directory(),
            keys=load_keys(*keys) if keys else {},
            history_files=[], events=[], policies=policies)
        if history:
            h = load_history([p for p, _ in history], [d for _, d in history])
            loaded.history_files, loaded.events, loaded.chain_breaks = h.files, h.events, h.chain_breaks
        if snapshot:
            loaded.snapshot = load_snapshot(*snapshot)
            loaded.snapshot_file = snapshot[1]
        if usage:
            from keytrail.usage.load import load_usage

            loaded.usage, loaded.usage_files = load_usage([usage[0]], [usage[1]]), [usage[1]]
        return loaded


def format_run(result: TestRun, require_coverage: bool) -> tuple[str, bool]:
    """The console report of a run, and whether it passed."""
    lines: list[str] = []
    suite = None
    for case in result.cases:
        if case.suite != suite:
            suite = case.suite
            lines.append(suite)
        mark = "✓" if case.passed else "✗"
        lines.append(f"  {mark} {case.name}  (line {case.line})")
        for failure in case.failures:
            lines.append(f"      {failure}")
    for empty in result.empty:
        lines.append(f"{empty}: no tests (an empty suite fails)")
    covered = len(result.rules) - len(result.uncovered)
    lines.append("")
    lines.append(f"Coverage: {covered} of {len(result.rules)} rules under test have a test that expects "
                 "one of their findings.")
    for rule in result.uncovered:
        where = f" ({rule.location})" if rule.location else ""
        lines.append(f"  not covered: {rule.id} [{rule.check}]{where}")
    failed = sum(1 for c in result.cases if not c.passed)
    passed = len(result.cases) - failed
    ok = failed == 0 and not result.empty and bool(result.cases) and \
        not (require_coverage and result.uncovered)
    if not result.cases and not result.empty:
        lines.append("No policy tests found (kind: PolicyTest): that fails.")
    if require_coverage and result.uncovered:
        lines.append(f"--require-coverage: {len(result.uncovered)} rule(s) without a test.")
    lines.append(f"{passed} passed, {failed} failed")
    return "\n".join(lines) + "\n", ok
