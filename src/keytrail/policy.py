"""Loading policies: rules and waivers, validated and located.

Each file is checked against ``policy.schema.json``; then what a schema cannot
say: the check a ``use:`` names must exist (with a "did you mean"), its
``with:`` parameters must fit the check's own parameter schema, rule ids must
be unique across every loaded file, durations must parse, and a waiver must
name a rule that exists. Every problem is reported with ``file:line:col`` and
its path in the document.
"""

from __future__ import annotations

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

    ``policy`` is None when the file failed its schema (nothing was built).
    """

    display: str
    data: Any
    locator: Locator
    policy: Policy | None


def load_policies(paths: list[Path], displays: list[str]) -> list[Policy]:
    """Load every policy file; raise :class:`PolicyError` with every problem found."""
    from keytrail.project import read_yaml

    problems: list[Problem] = []
    parsed: list[tuple[Any, Locator, str]] = []
    for path, display in zip(paths, displays, strict=True):
        try:
            data, loc = read_yaml(path, display)
        except KeytrailError as exc:
            problems.extend(exc.problems)
            continue
        parsed.append((data, loc, display))
    documents, more = check_policies(parsed)
    problems.extend(more)
    if problems:
        raise PolicyError("invalid policies", sorted(problems))
    return [doc.policy for doc in documents if doc.policy is not None]


def check_policies(parsed: list[tuple[Any, Locator, str]]) -> tuple[list[PolicyDocument], list[Problem]]:
    """Check parsed policy files together; return what was built and every problem found.

    The checks of :func:`load_policies` (schema, unknown checks and parameters,
    duplicate rule ids across the files, waivers for unknown rules), without
    raising: ``keytrail lint`` adds its own checks to the same documents.
    """
    problems: list[Problem] = []
    documents: list[PolicyDocument] = []
    first_seen: dict[str, Location] = {}
    pending_waivers: list[tuple[Waiver, Locator, tuple[Any, ...]]] = []
    for data, loc, display in parsed:
        file_problems = _check_policy_file(data, loc, display)
        if file_problems:
            problems.extend(cap_problems(file_problems, display))
            documents.append(PolicyDocument(display, data, loc, None))
            continue
        policy, more, waivers = _build(data, loc, display, first_seen)
        problems.extend(more)
        pending_waivers.extend(waivers)
        documents.append(PolicyDocument(display, data, loc, policy))
    for waiver, loc, where in pending_waivers:
        if waiver.rule not in first_seen and waiver.rule != "policy.expired-waiver":
            hint = _did_you_mean(waiver.rule, sorted(first_seen))
            problems.append(loc.problem(where + ("rule",), f"waiver for unknown rule {waiver.rule!r}{hint}"))
    return documents, problems


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


def _build(data: dict[str, Any], loc: Locator, display: str, first_seen: dict[str, Location]
           ) -> tuple[Policy, list[Problem], list[tuple[Waiver, Locator, tuple[Any, ...]]]]:
    problems: list[Problem] = []
    meta = data.get("metadata") or {}
    name = meta.get("name") or Path(display).stem
    rules: list[Rule] = []
    for i, raw in enumerate(data.get("rules") or []):
        where = ("rules", i)
        line, col = loc.at(where)
        location = Location(display, line, col)
        if raw["id"] in first_seen:
            other = first_seen[raw["id"]]
            problems.append(loc.problem(where + ("id",), f"duplicate rule id {raw['id']!r} "
                                        f"(first defined at {other.path}:{other.line})"))
            continue
        first_seen[raw["id"]] = location
        kind = kind_of_rule(raw)
        if kind == "use":
            check_id = raw["use"]
            if check_id not in checks.REGISTRY:
                hint = _did_you_mean(check_id, sorted(checks.REGISTRY))
                problems.append(loc.problem(where + ("use",), f"unknown check {check_id!r}{hint}"))
                continue
            params, param_problems = resolve_params(check_id, raw.get("with") or {}, loc, where + ("with",))
            problems.extend(param_problems)
        else:
            check_id = KIND_CHECKS[kind]
            params = raw[kind]
            problems.extend(_check_kind(kind, params, loc, where + (kind,)))
        rules.append(Rule(
            id=raw["id"], kind=kind, check=check_id, severity=raw.get("severity"), params=params,
            description=raw.get("description", ""), controls=tuple(raw.get("controls") or ()),
            policy=name, enabled=raw.get("enabled", True), location=location))
    waivers: list[tuple[Waiver, Locator, tuple[Any, ...]]] = []
    for i, raw in enumerate(data.get("waivers") or []):
        where = ("waivers", i)
        try:
            expires = parse_time(raw["expires"])
        except TimeFormatError as exc:
            problems.append(loc.problem(where + ("expires",), str(exc)))
            continue
        line, col = loc.at(where)
        waiver = Waiver(rule=raw["rule"], reason=raw["reason"], approved_by=raw["approved_by"],
                        expires=expires, subject=raw.get("subject"), target=raw.get("target"),
                        resource=raw.get("resource"), ticket=raw.get("ticket"),
                        location=Location(display, line, col))
        waivers.append((waiver, loc, where))
    policy = Policy(name=name, file=display, description=meta.get("description", ""),
                    controls=tuple(meta.get("controls") or ()), rules=tuple(rules),
                    waivers=tuple(w for w, _, _ in waivers))
    return policy, problems, waivers


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


def _check_kind(kind: str, spec: dict[str, Any], loc: Locator, where: tuple[Any, ...]) -> list[Problem]:
    problems = []
    if kind == "require":
        within = spec.get("grant", {}).get("expires_within")
        if within is not None:
            try:
                parse_duration(within)
            except TimeFormatError as exc:
                problems.append(loc.problem(where + ("grant", "expires_within"), str(exc)))
    return problems
