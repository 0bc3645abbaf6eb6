"""Loading policies: rules and waivers, validated and located.

Each file is checked against ``policy.schema.json``; then what a schema cannot
say: the check a ``use:`` names must exist (with a "did you mean"), its
``with:`` parameters must fit the check's own parameter schema, rule ids must
be unique across every loaded file, durations must parse, and a waiver must
name a rule that exists. Every problem is reported with ``file:line:col`` and
its path in the document.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from keytrail import checks
from keytrail.errors import KeytrailError, PolicyError, Problem, cap_problems
from keytrail.model import Location, Policy, Rule, Waiver
from keytrail.timeutil import TimeFormatError, parse_duration, parse_time
from keytrail.yamlload import Locator

#: Rule kinds other than ``use``, and the ``check`` name their findings carry.
KIND_CHECKS = {
    "separation_of_duties": "separation-of-duties",
    "forbid": "forbid",
    "require": "require",
    "limit": "limit",
}
RULE_KINDS = ("use",) + tuple(KIND_CHECKS)


@dataclass(frozen=True)
class PolicyDocument:
    """One parsed policy file: its data, where each value came from, and what was built.

    ``policy`` is None when nothing could be built (the file is not a mapping,
    or not a policy). Otherwise it holds the rules and waivers free of errors;
    ``rules`` and ``waivers`` are the indices in the file of those that passed
    the schema, so that further checks skip the entries it already reported.
    """

    display: str
    data: Any
    locator: Locator
    policy: Policy | None
    rules: frozenset[int] = frozenset()
    waivers: frozenset[int] = frozenset()


#: What the problem paths of a broken rule or waiver start with: ``rules[3]``, ``waivers[0]``.
_ENTRY = re.compile(r"^(rules|waivers)\[(\d+)\]")
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def load_policies(paths: list[Path], displays: list[str], known: Iterable[str] | None = None,
                  from_folders: Collection[Path] = ()) -> list[Policy]:
    """Load every policy file; raise :class:`PolicyError` with every problem found.

    What a file is comes from its parsed top-level ``kind``: a ``PolicyTest``
    found in a policy folder (``from_folders``) is a policy's test and is left
    to ``keytrail test``; one named as a policy is an error, as is any file
    that is not a ``Policy``. ``known`` (the ids the directory defines) only
    sharpens the "did you mean" of selectors that name no kind.
    """
    problems: list[Problem] = []
    parsed: list[tuple[Any, Locator, str]] = []
    for path, display in zip(paths, displays, strict=True):
        read = read_policy_file(path, display, path in from_folders, problems)
        if read is not None:
            parsed.append(read)
    documents, more = check_policies(parsed, known)
    problems.extend(more)
    if problems:
        raise PolicyError("invalid policies", sorted(set(problems)))
    return [doc.policy for doc in documents if doc.policy is not None]


def read_policy_file(path: Path, display: str, in_folder: bool, problems: list[Problem]
                     ) -> tuple[Any, Locator, str] | None:
    """Read one file named as a policy: its data to check, or None (unreadable, or a test in a folder).

    The problems found while reading (duplicate keys among them) go to ``problems``.
    """
    from keytrail.project import read_yaml_whole

    try:
        data, loc, found = read_yaml_whole(path, display)
    except KeytrailError as exc:
        problems.extend(exc.problems)
        return None
    problems.extend(found)
    if isinstance(data, dict) and data.get("kind") == "PolicyTest":
        if not in_folder:
            problems.append(loc.problem(("kind",), "this is a PolicyTest, not a Policy: policy tests "
                                        "are run by `keytrail test`, not loaded as policies"))
        return None
    return data, loc, display


def check_policies(parsed: list[tuple[Any, Locator, str]], known: Iterable[str] | None = None
                   ) -> tuple[list[PolicyDocument], list[Problem]]:
    """Check parsed policy files together; return what was built and every problem found.

    The checks of :func:`load_policies` (schema, selectors that name no kind,
    unknown checks and parameters, duplicate rule ids across the files,
    waivers for unknown rules), without raising: ``keytrail lint`` adds its own
    checks to the same documents. A schema error in one rule or waiver does not
    stop the checks of the others; each file's problems are sorted by position
    and capped.
    """
    problems: list[Problem] = []
    documents: list[PolicyDocument] = []
    first_seen: dict[str, Location] = {}
    pending_waivers: list[tuple[Waiver, Locator, tuple[Any, ...]]] = []
    known = sorted(known) if known is not None else None
    for data, loc, display in parsed:
        file_problems = _check_policy_file(data, loc, display)
        if not isinstance(data, dict) or data.get("kind") != "Policy":
            # Not a policy at all: its schema errors say why; nothing is built.
            problems.extend(cap_problems(sorted(file_problems), display))
            documents.append(PolicyDocument(display, data, loc, None))
            continue
        broken = _broken_entries(file_problems)
        policy, more, waivers, built = _build(data, loc, display, first_seen, broken, known)
        problems.extend(cap_problems(sorted(set(file_problems + more)), display))
        pending_waivers.extend(waivers)
        documents.append(PolicyDocument(display, data, loc, policy, *built))
    for waiver, loc, where in pending_waivers:
        if waiver.rule not in first_seen and waiver.rule != "policy.expired-waiver":
            hint = _did_you_mean(waiver.rule, sorted(first_seen))
            problems.append(loc.problem(where + ("rule",), f"waiver for unknown rule {waiver.rule!r}{hint}"))
    return documents, problems


def _broken_entries(problems: list[Problem]) -> set[tuple[str, int]]:
    """The rules and waivers a schema problem is about (``("rules", 3)``); ``("rules", -1)``: all."""
    broken: set[tuple[str, int]] = set()
    for p in problems:
        m = _ENTRY.match(p.path)
        if m:
            broken.add((m.group(1), int(m.group(2))))
        elif p.path in ("rules", "waivers"):
            broken.add((p.path, -1))
    return broken


def _did_you_mean(word: str, choices: list[str]) -> str:
    from keytrail.schemas import did_you_mean

    return did_you_mean(word, choices)


def _check_policy_file(data: Any, loc: Locator, display: str) -> list[Problem]:
    from keytrail.schemas import validate

    if data is None:
        return [Problem(display, 1, 1, "", "the file is empty")]
    from keytrail.ids import glob_problems

    return validate(data, "policy", loc) or glob_problems(data, loc)


def kind_of_rule(raw: dict[str, Any]) -> str:
    """The kind of a schema-valid rule: `use` or one of :data:`KIND_CHECKS`."""
    return next(k for k in RULE_KINDS if k in raw)


def _build(data: dict[str, Any], loc: Locator, display: str, first_seen: dict[str, Location],
           broken: set[tuple[str, int]], known: list[str] | None
           ) -> tuple[Policy, list[Problem], list[tuple[Waiver, Locator, tuple[Any, ...]]],
                      tuple[frozenset[int], frozenset[int]]]:
    """The policy made of the file's schema-valid rules and waivers, and their semantic problems.

    A rule that broke the schema is not built, but its id (when it has one) is
    still counted, so that a duplicate of it, or a waiver for it, is judged right.
    """
    problems: list[Problem] = []
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    name: str = meta["name"] if isinstance(meta.get("name"), str) and meta["name"] else Path(display).stem
    rules: list[Rule] = []
    built_rules: set[int] = set()
    raw_rules: list[Any] = data["rules"] if isinstance(data.get("rules"), list) else []
    for i, raw in enumerate(raw_rules):
        where = ("rules", i)
        line, col = loc.at(where)
        location = Location(display, line, col)
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rule_id, str) and _RULE_ID.match(rule_id):
            if rule_id in first_seen:
                other = first_seen[rule_id]
                problems.append(loc.problem(where + ("id",), f"duplicate rule id {rule_id!r} "
                                            f"(first defined at {other.path}:{other.line})"))
                continue
            first_seen[rule_id] = location
        if ("rules", i) in broken or ("rules", -1) in broken:
            continue
        kind = kind_of_rule(raw)
        if kind == "use":
            check_id = raw["use"]
            if check_id not in checks.REGISTRY:
                hint = _did_you_mean(check_id, sorted(checks.REGISTRY))
                problems.append(loc.problem(where + ("use",), f"unknown check {check_id!r}{hint}"))
                continue
            params, param_problems = resolve_params(check_id, raw.get("with") or {}, loc, where + ("with",))
            problems.extend(param_problems)
            if param_problems:
                continue
        else:
            check_id = KIND_CHECKS[kind]
            params = raw[kind]
            kind_problems = _check_kind(kind, params, loc, where + (kind,), known)
            problems.extend(kind_problems)
            built_rules.add(i)  # schema-valid: lint still compares its selectors with the organisation
            if kind_problems:
                continue
        built_rules.add(i)
        rules.append(Rule(
            id=raw["id"], kind=kind, check=check_id, severity=raw.get("severity"), params=params,
            description=raw.get("description", ""), controls=tuple(raw.get("controls") or ()),
            policy=name, enabled=raw.get("enabled", True), location=location))
    waivers: list[tuple[Waiver, Locator, tuple[Any, ...]]] = []
    built_waivers: set[int] = set()
    raw_waivers: list[Any] = data["waivers"] if isinstance(data.get("waivers"), list) else []
    for i, raw in enumerate(raw_waivers):
        where = ("waivers", i)
        if ("waivers", i) in broken or ("waivers", -1) in broken:
            continue
        try:
            expires = parse_time(raw["expires"])
        except TimeFormatError as exc:
            problems.append(loc.problem(where + ("expires",), str(exc)))
            continue
        from keytrail.selectorcheck import waiver_problems

        glob_problems = waiver_problems(raw, loc, where, known)
        problems.extend(glob_problems)
        if glob_problems:
            continue
        line, col = loc.at(where)
        waiver = Waiver(rule=raw["rule"], reason=raw["reason"], approved_by=raw["approved_by"],
                        expires=expires, subject=raw.get("subject"), target=raw.get("target"),
                        resource=raw.get("resource"), ticket=raw.get("ticket"),
                        location=Location(display, line, col))
        built_waivers.add(i)
        waivers.append((waiver, loc, where))
    policy = Policy(name=name, file=display, description=meta.get("description", ""),
                    controls=tuple(meta.get("controls") or ()), rules=tuple(rules),
                    waivers=tuple(w for w, _, _ in waivers))
    return policy, problems, waivers, (frozenset(built_rules), frozenset(built_waivers))


def resolve_params(check_id: str, given: dict[str, Any], loc: Locator, where: tuple[Any, ...]
                   ) -> tuple[dict[str, Any], list[Problem]]:
    """A check's parameters: ``given`` validated against its schema, defaults filled in."""
    from keytrail.schemas import did_you_mean, validate_fragment

    module = checks.get(check_id)
    schema = getattr(module, "PARAMS", {})
    problems = []
    known = sorted(schema.get("properties", {}))
    for name in given:
        if name not in known:
            hint = did_you_mean(name, known)
            allowed = f" (parameters: {', '.join(known)})" if known else " (it takes no parameters)"
            problems.append(loc.problem(where + (name,), f"unknown parameter {name!r} for check "
                                        f"{check_id}{hint}{allowed}"))
    if problems:
        return {}, problems
    problems = [] if _params_valid(check_id, given) else validate_fragment(given, schema, loc, where)
    params = checks.defaults(module)
    params.update(given)
    for name, spec in schema.get("properties", {}).items():
        if spec.get("format") == "duration" and name in params and not problems:
            try:
                params[name] = parse_duration(params[name])
            except TimeFormatError as exc:
                problems.append(loc.problem(where + (name,), str(exc)))
    return params, problems


@cache
def _fast_params_validator(check_id: str) -> Any:
    """A jsonschema-rs validator for a check's parameters, or None when it is not installed."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    return jsonschema_rs.validator_for(getattr(checks.get(check_id), "PARAMS", {}))


def _params_valid(check_id: str, given: dict[str, Any]) -> bool:
    """True when ``given`` surely fits the check's parameter schema.

    Answered without importing jsonschema (slow to import), so that loading
    valid policies, and ``keytrail lint`` on them, stays fast; jsonschema
    explains the problems when there are some.
    """
    fast = _fast_params_validator(check_id)
    return fast is not None and bool(fast.is_valid(given))


def _check_kind(kind: str, spec: Any, loc: Locator, where: tuple[Any, ...],
                known: list[str] | None = None) -> list[Problem]:
    from keytrail.selectorcheck import rule_problems

    problems = rule_problems(kind, spec, loc, where, known)
    if kind == "require":
        within = spec.get("grant", {}).get("expires_within")
        if within is not None:
            try:
                parse_duration(within)
            except TimeFormatError as exc:
                problems.append(loc.problem(where + ("grant", "expires_within"), str(exc)))
    return problems
