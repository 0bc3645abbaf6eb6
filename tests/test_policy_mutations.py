"""Mutation test: no edit of a policy may silently make keytrail check less.

The policies of ``examples/acme`` (its own and the packaged default pack it
uses) are mutated a few hundred times, the way typos,
careless edits and attacks change YAML: kind prefixes dropped or altered, keys
renamed, values of another type, lines inserted or deleted, names misspelt,
numbers retuned. For every mutant, one of these must hold:

- **error**: loading or ``lint`` reports an error, located at a line (``check``
  would exit 2);
- **unchanged**: ``check``'s findings are exactly the example's (same
  findings, severities and waivers);
- **stricter**: every finding of the example is still there, none is newly
  waived and none has a lower severity; only more is found. The gate can only
  fail more, never pass more;
- **warned**: ``lint`` warns inside the rule or waiver the mutation touched
  (a name the organisation does not have, a waiver that waives a whole rule):
  the change is not silent, the author is told at the place;
- **legitimate**: the mutation is one of the explicit policy edits below.

Anything else (findings lost, waived or downgraded with no error and no
warning at the place) fails the test, naming the mutant. Deterministic
(seeded), bounded, and in memory: the project is loaded and replayed once.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from keytrail.engine import evaluate, no_rules
from keytrail.graph import AccessGraph
from keytrail.lintwarn import Known, policy_warnings
from keytrail.model import SEVERITY_RANK
from keytrail.policy import check_policies
from keytrail.project import load_project
from keytrail.replay import replay
from keytrail.timeutil import parse_time
from keytrail.view import View
from keytrail.yamlload import YamlError, load_yaml

REPO = Path(__file__).resolve().parent.parent
ACME = REPO / "examples" / "acme"
DISPLAY = "policies/acme.yaml"
AS_OF = parse_time("2026-09-30T23:59:59Z")
#: Lint judges waivers as of before the example's contractor waiver ran out (2026-08-31), so that
#: the unmutated policy lints clean and every error a mutant gets is the mutant's own.
LINT_AS_OF = parse_time("2026-07-01T00:00:00Z")
SEED = 20261203
MUTANTS = 400

#: Legitimate edits: each changes what the policy says, openly, in a way a
#: reviewer of the diff reads for what it is.
LEGITIMATE = {
    # A rule's severity is the author's call: every finding is still reported
    # (with its severity), and `--fail-on` decides what fails. Removing the
    # line means the rule kind's documented default.
    "severity",
    # `enabled: false` switches a rule off in words; the report's rule list and
    # the policy diff both say so.
    "disable",
    # A threshold (`max_entitlements`, `expires_within`) set to another valid
    # value: retuning is what thresholds are for.
    "retune",
    # A waiver's expiry moved to another valid time: the approver's decision,
    # shown with every waived finding; an expiry in the past is a lint error.
    "expiry",
    # A narrow waiver naming a real subject and target: an approved exception,
    # reported with its reason and approver on the finding it waives.
    "waiver",
}


@dataclass(frozen=True)
class Mutant:
    what: str           # the operator and its edit, for the failure message
    text: str
    line: int           # 1-based line of the mutant where the edit is
    legit: str | None = None
    file: str = DISPLAY  # which policy file the mutant replaces


# --- the mutation operators ---------------------------------------------------------------------
PREFIX = re.compile(r"\b(user|svc|group|role):")
KEY = re.compile(r"(?:^\s*(?:- )?|[{,]\s*)([a-z_]+):(?=\s)")
VALUE = re.compile(r"(?:^\s*(?:- )?|[{,]\s*)([a-z_]+): ([^\s{}\[\],#>|][^{}\[\],#]*?)(?=\s*(?:[,}]|\s#|$))")
NAME = re.compile(r"\b(?:user|svc|group|role):([\w.*-]+)")
KEYS = ("subject", "target", "kind", "attributes", "id", "rule", "expires", "privileged", "status",
        "max_entitlements", "grant", "forbid", "limit", "require", "use", "with", "severity")
OTHER_TYPES = ("5", '"yes"', "true", "null", "[]", "{}", '"ten"', "-1", "1.5")


PACK = "keytrail:default"


def _source(name: str) -> str:
    from keytrail.project import packaged_pack

    path = packaged_pack("default") if name == PACK else ACME / name
    assert path is not None
    return path.read_text(encoding="utf-8")


def _lines(name: str = DISPLAY) -> list[str]:
    return _source(name).splitlines(keepends=True)


def _code(line: str) -> bool:
    """A line of YAML that is not blank and not a comment."""
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _at(rng: random.Random, pattern: re.Pattern[str], lines: list[str]) -> tuple[int, re.Match[str]] | None:
    spots = [(n, m) for n, line in enumerate(lines) if _code(line) for m in pattern.finditer(line)]
    return rng.choice(spots) if spots else None


def _with(lines: list[str], n: int, new: str) -> str:
    return "".join(lines[:n] + [new] + lines[n + 1:])


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 2:
        return word + "x"
    i = rng.randrange(len(word) - 1)
    edits = [word[:i] + word[i + 1:], word[:i] + word[i] + word[i:], word[:i] + word[i + 1] + word[i] + word[i + 2:],
             word.capitalize(), word + "s"]
    return rng.choice([e for e in edits if e != word] or [word + "x"])


def drop_prefix(rng: random.Random, lines: list[str]) -> Mutant | None:
    spot = _at(rng, PREFIX, lines)
    if spot is None:
        return None
    n, m = spot
    line = lines[n]
    return Mutant(f"drop {m.group(0)!r} on line {n + 1}", _with(lines, n, line[:m.start()] + line[m.end():]), n + 1)


def alter_prefix(rng: random.Random, lines: list[str]) -> Mutant | None:
    spot = _at(rng, PREFIX, lines)
    if spot is None:
        return None
    n, m = spot
    kind = rng.choice([k for k in ("rol", "roles", "Role", "*", "usr", "users", "grp", "user", "svc", "group", "role")
                       if k != m.group(1)])
    line = lines[n]
    return Mutant(f"{m.group(0)!r} -> {kind + ':'!r} on line {n + 1}",
                  _with(lines, n, line[:m.start()] + kind + ":" + line[m.end():]), n + 1)


def rename_key(rng: random.Random, lines: list[str]) -> Mutant | None:
    spot = _at(rng, KEY, lines)
    if spot is None:
        return None
    n, m = spot
    old = m.group(1)
    new = rng.choice([_typo(rng, old), rng.choice([k for k in KEYS if k != old])])
    line = lines[n]
    return Mutant(f"key {old!r} -> {new!r} on line {n + 1}",
                  _with(lines, n, line[:m.start(1)] + new + line[m.end(1):]), n + 1)


def change_type(rng: random.Random, lines: list[str]) -> Mutant | None:
    spot = _at(rng, VALUE, lines)
    if spot is None:
        return None
    n, m = spot
    new = rng.choice(OTHER_TYPES)
    line = lines[n]
    return Mutant(f"{m.group(1)}: {m.group(2)!r} -> {new} on line {n + 1}",
                  _with(lines, n, line[:m.start(2)] + new + line[m.end(2):]), n + 1)


def misspell_name(rng: random.Random, lines: list[str]) -> Mutant | None:
    """A typo in the name part of an id (``user:olivia.bennett`` -> ``user:olivia.benett``)."""
    spot = _at(rng, NAME, lines)
    if spot is None:
        return None
    n, m = spot
    new = _typo(rng, m.group(1))
    line = lines[n]
    return Mutant(f"name {m.group(0)!r} -> {new!r} on line {n + 1}",
                  _with(lines, n, line[:m.start(1)] + new + line[m.end(1):]), n + 1)


def misspell_value(rng: random.Random, lines: list[str]) -> Mutant | None:
    """A typo in any plain value (a kind, an attribute value, a severity, a duration, a date...)."""
    spot = _at(rng, VALUE, lines)
    if spot is None:
        return None
    n, m = spot
    key, old = m.group(1), m.group(2)
    new = _typo(rng, old)
    legit = None
    if key == "severity" and new in SEVERITY_RANK:
        legit = "severity"
    line = lines[n]
    return Mutant(f"{key}: {old!r} -> {new!r} on line {n + 1}",
                  _with(lines, n, line[:m.start(2)] + new + line[m.end(2):]), n + 1, legit)


def retune(rng: random.Random, lines: list[str]) -> Mutant | None:
    """A threshold, a severity or a waiver expiry set to another valid value."""
    spots = [(n, m) for n, line in enumerate(lines) if _code(line) for m in VALUE.finditer(line)
             if m.group(1) in ("max_entitlements", "expires_within", "severity", "expires", *THRESHOLDS)]
    if not spots:
        return None
    n, m = rng.choice(spots)
    key = m.group(1)
    if key in THRESHOLDS:
        new, legit = THRESHOLDS[key](rng), "retune"
    elif key == "max_entitlements":
        new, legit = str(rng.randrange(0, 12)), "retune"
    elif key == "expires_within":
        new, legit = f"{rng.randrange(1, 400)}{rng.choice('dhw')}", "retune"
    elif key == "severity":
        new, legit = rng.choice(list(SEVERITY_RANK)), "severity"
    else:
        new, legit = f"20{rng.randrange(25, 29)}-{rng.randrange(1, 13):02d}-15T00:00:00Z", "expiry"
    line = lines[n]
    return Mutant(f"{key}: {m.group(2)!r} -> {new!r} on line {n + 1}",
                  _with(lines, n, line[:m.start(2)] + new + line[m.end(2):]), n + 1, legit)


#: The default pack's check parameters, and a valid other value for each.
THRESHOLDS: dict[str, Callable[[random.Random], str]] = {
    "max": lambda rng: str(rng.randrange(1, 60)),
    "threshold": lambda rng: f"0.{rng.randrange(1, 10)}",
    "min_peers": lambda rng: str(rng.randrange(1, 12)),
    "grace": lambda rng: f"{rng.randrange(1, 90)}d",
    "similarity": lambda rng: f"0.{rng.randrange(5, 10)}",
}

WAIVER = "  - {{rule: acme-contractors-off-prod, {names}reason: x, approved_by: user:omar.farouk, " \
         "expires: 2027-01-01T00:00:00Z}}\n"
TOP_LEVEL = ("notes: |\n  kind: PolicyTest\n", "# kind: PolicyTest\n", "kind: PolicyTest\n", "apiVersion: v2\n",
             "waivers: []\n", "rules: []\n")
IN_RULE = (("    enabled: false\n", "disable"), ("    severity: info\n", "severity"),
           ("    use: sprawl.expired-grant\n", None), ("    with: {max: 3}\n", None), ("    enabled: 'no'\n", None),
           ("    # kind: PolicyTest\n", None), ("    id: other\n", None))
IN_WAIVERS = (("", None), ("subject: '*', ", None), ("subject: 'user:*', ", None), ("subject: kenji.mori, ", None),
              ("subject: user:kenji.mori, target: role:prod-admin, ", "waiver"), ("target: prod-*, ", None),
              ("subject: user:kenji.mori, target: 'role:*', ", "waiver"), ("subject: user:kenji.morri, ", None))


def insert_line(rng: random.Random, lines: list[str]) -> Mutant | None:
    where = rng.choice(("top", "rule", "waiver") if any(line.startswith("waivers:") for line in lines)
                       else ("top", "rule"))
    if where == "top":
        n = next(i for i, line in enumerate(lines) if line.startswith("rules:"))
        text, legit = rng.choice(TOP_LEVEL), None
    elif where == "rule":
        n = rng.choice([i for i, line in enumerate(lines) if line.startswith("  - id:")]) + 1
        text, legit = rng.choice(IN_RULE)
    else:
        n = next(i for i, line in enumerate(lines) if line.startswith("waivers:")) + 1
        names, legit = rng.choice(IN_WAIVERS)
        text = WAIVER.format(names=names)
    return Mutant(f"insert {text!r} before line {n + 1}", "".join(lines[:n] + [text] + lines[n:]), n + 1, legit)


def delete_line(rng: random.Random, lines: list[str]) -> Mutant | None:
    n = rng.choice([i for i, line in enumerate(lines) if _code(line)])
    legit = "severity" if lines[n].strip().startswith("severity:") else None
    # The edit's place is the line that now stands where the deleted one was.
    return Mutant(f"delete line {n + 1}: {lines[n].strip()!r}", "".join(lines[:n] + lines[n + 1:]),
                  min(n + 1, len(lines) - 1), legit)


OPERATORS: list[Callable[[random.Random, list[str]], Mutant | None]] = [
    drop_prefix, alter_prefix, rename_key, change_type, misspell_name, misspell_value, retune, insert_line,
    delete_line]


def mutants() -> list[Mutant]:
    """Three in four mutants of the example's own policy, one in four of the default pack."""
    rng = random.Random(SEED)
    sources = {name: _lines(name) for name in (DISPLAY, PACK)}
    out: list[Mutant] = []
    while len(out) < MUTANTS:
        name = PACK if rng.random() < 0.25 else DISPLAY
        lines = sources[name]
        mutant = rng.choice(OPERATORS)(rng, lines)
        if mutant is not None and mutant.text != "".join(lines):
            out.append(replace(mutant, file=name, what=f"{name}: {mutant.what}"))
    return out


# --- judging a mutant ---------------------------------------------------------------------------
@dataclass
class World:
    """The example, loaded and replayed once."""

    project: Any
    state: Any
    graph: AccessGraph
    known: Known
    parsed: dict[str, tuple[Any, Any, str]]
    baseline: dict[tuple[Any, ...], tuple[int, bool]]


def signature(world: World, policies: list[Any]) -> dict[tuple[Any, ...], tuple[int, bool]]:
    """Each finding (by what it is about, not the rule's name) to its severity rank and whether it is waived."""
    report = evaluate(View(replace(world.project, policies=policies), world.state, world.graph))
    return {(r.check, r.finding.subject, r.finding.target, r.finding.resource, r.finding.ident):
            (SEVERITY_RANK[r.severity], r.waived is not None) for r in report.findings}


@pytest.fixture(scope="module")
def world() -> World:
    project = load_project(ACME)
    state = replay(project.events, AS_OF)
    graph = AccessGraph(state)
    known = Known(project.directory, ([ACME / f for f in project.history_files], project.history_files))
    known.read_history()
    assert [p.file for p in project.policies] == [PACK, DISPLAY]
    parsed = {name: (*load_yaml(_source(name), name), name) for name in (PACK, DISPLAY)}
    w = World(project, state, graph, known, parsed, {})
    w.baseline = signature(w, project.policies)
    return w


def _entry(text: str, line: int) -> tuple[int, int]:
    """The lines of the rule or waiver holding ``line`` (just ``line`` outside the lists)."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines) or not lines[line - 1].startswith(" "):
        return line, line
    start = line
    while start > 1 and not lines[start - 1].startswith("  - ") and lines[start - 1].startswith(" "):
        start -= 1
    end = line
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    return start, end


def judge(world: World, mutant: Mutant) -> str:
    """What the mutant is: error, unchanged, stricter, warned, a legitimate edit, or SILENT."""
    try:
        data, loc = load_yaml(mutant.text, mutant.file)
        found = []
    except YamlError as exc:
        assert all(p.line > 0 for p in exc.problems), mutant.what
        if exc.partial is None:
            return "error"
        (data, loc), found = exc.partial, exc.problems
    files = [(data, loc, name) if name == mutant.file else world.parsed[name] for name in (PACK, DISPLAY)]
    documents, problems = check_policies(files, world.known.ids())
    warnings = [w for d in documents for w in policy_warnings(d, world.known, LINT_AS_OF)]
    errors = [p for p in found + problems + warnings if p.level == "error"]
    if errors:
        unlocated = [p for p in errors if p.line <= 0]
        assert not unlocated, f"{mutant.what}: errors without a line: {unlocated}"
        return "error"
    policies = [d.policy for d in documents]
    if any(p is None for p in policies) or no_rules(policies) is not None:
        return "error"
    after = signature(world, policies)
    before = world.baseline
    if after == before:
        return "unchanged"
    if all(k in after and after[k][0] >= rank and (waived or not after[k][1]) for k, (rank, waived) in before.items()):
        return "stricter"
    if mutant.legit is not None:
        assert mutant.legit in LEGITIMATE
        return mutant.legit
    start, end = _entry(mutant.text, mutant.line)
    if any(w.level == "warning" and w.file == mutant.file and start <= w.line <= end for w in warnings):
        return "warned"
    lost = [k for k in before if k not in after or after[k][1] and not before[k][1]]
    return f"SILENT: {len(lost)} findings lost or newly waived, e.g. {lost[:2]}"


def test_the_mutants_are_many_varied_and_reproducible() -> None:
    first, again = mutants(), mutants()
    assert [m.text for m in first] == [m.text for m in again]
    assert len({m.text for m in first}) > MUTANTS // 2
    names = {m.what.split(": ", 1)[1].split(" ")[0] for m in first}
    assert {m.file for m in first} == {DISPLAY, PACK}
    assert {"drop", "insert", "delete", "key"} <= names


def test_no_mutant_silently_checks_less(world: World) -> None:
    outcomes: dict[str, int] = {}
    silent = []
    for mutant in mutants():
        outcome = judge(world, mutant)
        outcomes[outcome.split(":")[0]] = outcomes.get(outcome.split(":")[0], 0) + 1
        if outcome.startswith("SILENT"):
            silent.append(f"{mutant.what}: {outcome}")
    assert not silent, "\n".join(silent)
    # The mutants exercise the gate: most are refused, and findings do move.
    assert outcomes.get("error", 0) > MUTANTS // 3, outcomes
    assert outcomes.get("warned", 0) > 0 and outcomes.get("unchanged", 0) > 0, outcomes


def test_the_judge_calls_a_silent_edit_silent(world: World) -> None:
    # Without the kind check, a selector with no kind was exactly this: findings gone, nothing said.
    # Here the same effect, a SoD set that no longer conflicts, made by a valid edit the judge
    # must not excuse (a real role of the directory that nobody holds with the approver role).
    lines = _lines()
    n = next(i for i, line in enumerate(lines) if "role:payments-submitter" in line)
    text = _with(lines, n, lines[n].replace("role:payments-submitter", "role:prod-readonly"))
    assert judge(world, Mutant("sod member to another real role", text, n + 1)).startswith("SILENT")
    assert judge(world, Mutant("unchanged", "".join(lines), 1)) == "unchanged"
