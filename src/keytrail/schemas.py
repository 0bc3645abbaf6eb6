"""The JSON Schemas keytrail ships, and validation that explains itself.

``schemas/NAME.schema.json`` holds one schema per input format and for the
findings output. :func:`validate` runs a schema over loaded data and turns
every violation into a :class:`~keytrail.errors.Problem` located at the
offending key (``file:line:col``), naming its path (``rules[3].use``) and the
most specific message jsonschema can give: for ``oneOf``/``anyOf`` it descends
into the branch that got furthest, the way ``jsonschema.best_match`` does.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from keytrail.errors import Problem
from keytrail.yamlload import Locator, format_path

SCHEMA_NAMES = ("project", "directory", "keys", "event", "snapshot", "usage", "policy", "findings", "policytest",
                "checkpoint", "proof", "pack")

#: The end of a description's first sentence ("e.g." does not end one); a time without a
#: zone. Both are compiled when an error is explained, not on every run.
_FIRST_SENTENCE = r"(?<!e\.g)(?<!i\.e)\.\s"
_NAIVE_TIME = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The packaged schema ``name`` (one of :data:`SCHEMA_NAMES`), parsed."""
    if name not in SCHEMA_NAMES:
        raise KeyError(name)
    text = resources.files("keytrail").joinpath("schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Any:
    """A compiled Draft 2020-12 validator for schema ``name``."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


@cache
def fast_validator(name: str) -> Any:
    """A compiled jsonschema-rs validator for schema ``name``, or None when it is not installed.

    It only answers "valid or not", a hundred times faster than jsonschema on
    large inputs (a directory of 20,000 people: 10 ms instead of 3 s); when it
    says "not valid", jsonschema explains why.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    return jsonschema_rs.validator_for(load_schema(name))


def validate(data: Any, name: str, locator: Locator, base: tuple[Any, ...] = ()) -> list[Problem]:
    """Every violation of schema ``name`` in ``data``, most specific first, sorted by position."""
    fast = fast_validator(name)
    if fast is not None and fast.is_valid(data):
        return []
    return _problems(validator(name).iter_errors(data), locator, base)


def _problems(errors: Any, locator: Locator, base: tuple[Any, ...]) -> list[Problem]:
    """Located problems for jsonschema errors: one per unknown key, one message per value."""
    found: dict[tuple[Any, ...], list[Any]] = {}
    problems = []
    for error in errors:
        error = _most_specific(error)
        path = base + tuple(error.absolute_path)
        extras = _unknown_keys(error)
        if extras:
            # Point at each unknown key itself, not at the mapping that holds it.
            allowed = sorted(error.schema.get("properties", {}))
            for extra in extras:
                problems.append(locator.problem(path + (extra,), f"unknown key {extra!r}"
                                                f"{did_you_mean(extra, allowed)} (allowed: {', '.join(allowed)})"))
            continue
        found.setdefault(path, []).append(error)
    for path, errs in found.items():
        # `status: 5` breaks both `type` and `enum`; the list of allowed values says more.
        # Otherwise a value of the wrong type breaks nothing else worth saying.
        if any(e.validator in ("enum", "const") for e in errs):
            errs = [e for e in errs if e.validator != "type"]
        elif any(e.validator == "type" for e in errs):
            errs = [e for e in errs if e.validator == "type"]
        problems.extend(locator.problem(path, describe(e)) for e in errs)
    return sorted(set(problems))


def _unknown_keys(error: Any) -> list[str]:
    """The keys an ``additionalProperties: false`` error is about."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    schema = error.schema
    return sorted(k for k in error.instance if k not in schema.get("properties", {})
                  and not any(re.search(p, k) for p in schema.get("patternProperties", {})))


def _most_specific(error: Any) -> Any:
    """Descend through oneOf/anyOf to the error that explains the most."""
    from jsonschema.exceptions import best_match, relevance

    while error.context:
        if error.validator == "oneOf" and all(e.validator == "required" for e in error.context):
            break  # "exactly one of these keys": say that, not "missing 'use'"
        # A branch whose type did not even match is rarely the user's intent.
        candidates = [e for e in error.context if e.validator != "type"] or list(error.context)
        deeper = best_match(candidates, key=relevance)
        if deeper is None or len(deeper.absolute_path) < len(error.absolute_path):
            break
        if error.validator in ("oneOf", "anyOf") and _kinds_ambiguous(error):
            break
        error = deeper
    return error


def _kinds_ambiguous(error: Any) -> bool:
    """True when a oneOf failed because several branches matched (say so, don't descend)."""
    return error.validator == "oneOf" and "is valid under each of" in error.message


def describe(error: Any) -> str:
    """A message for one jsonschema error that names the problem in the user's terms."""
    v, inst, schema = error.validator, error.instance, error.schema
    if v == "required":
        missing = [k for k in error.validator_value if isinstance(inst, dict) and k not in inst]
        if missing:
            return "missing required " + ", ".join(repr(k) for k in missing)
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = sorted(k for k in inst if k not in schema.get("properties", {})
                        and not any(re.search(p, k) for p in schema.get("patternProperties", {})))
        parts = []
        for extra in extras:
            hint = did_you_mean(extra, allowed)
            parts.append(f"unknown key {extra!r}{hint}")
        if parts:
            return "; ".join(parts) + f" (allowed: {', '.join(allowed)})"
    if v == "enum":
        hint = did_you_mean(str(inst), [str(x) for x in error.validator_value])
        return f"{inst!r} is not one of {', '.join(map(str, error.validator_value))}{hint}"
    if v == "const":
        return f"must be {error.validator_value!r}, not {inst!r}"
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        if isinstance(inst, str) and not error.absolute_path:
            # A whole file that is one string is not a keytrail file at all (a token, a
            # password file named by mistake): say what it is, never quote it.
            return f"expected {_article(expected)}, got a string of {len(inst):,} characters " \
                   "(is this the right file?)"
        got = "null" if inst is None else f"{_json_type(inst)} {_short(inst)}"
        return f"expected {_article(expected)}, got {got}"
    if v == "pattern" and isinstance(inst, str):
        from keytrail.ids import bad_char, token_problem

        if bad_char(inst) is not None or inst != inst.strip():
            # Name the invisible character (or the padding), not the pattern.
            from keytrail.textsafe import inline

            return f'"{inline(inst if len(inst) <= 60 else inst[:57] + "...")}" {token_problem(inst)}'
        if re.match(_NAIVE_TIME, inst):
            return f"time {inst!r} has no zone (add Z or an offset such as +02:00)"
        desc = re.split(_FIRST_SENTENCE, schema.get("description", ""), maxsplit=1)[0].rstrip(".")
        if desc:
            return f"{_short(inst)} is not valid here: {desc[0].lower() + desc[1:]}"
        return f"{_short(inst)} does not match {error.validator_value}"
    if v == "oneOf" and isinstance(inst, dict) and all(
            isinstance(b, dict) and set(b) == {"required"} for b in error.validator_value):
        # "exactly one of these keys": none given, or (valid under several) more than one.
        names = [k for b in error.validator_value for k in b["required"]]
        present = [k for k in names if k in inst]
        if present:
            return f"has {' and '.join(present)}; exactly one of {', '.join(names)} is allowed"
        return f"needs exactly one of {', '.join(names)}"
    if v == "oneOf" and _kinds_ambiguous(error):
        return "matches more than one alternative: " + (schema.get("description") or error.message)
    if v in ("minItems", "minLength", "minProperties") and not inst and inst != 0:
        return "must not be empty"
    if v == "minItems" and isinstance(inst, list):
        return f"needs at least {error.validator_value} items, has {len(inst)}"
    if v == "maxLength" and isinstance(inst, str):
        return f"is {len(inst)} characters long; at most {error.validator_value} allowed"
    if v == "dependentRequired" and isinstance(inst, dict):
        for key, needs in error.validator_value.items():
            missing = [n for n in needs if key in inst and n not in inst]
            if missing:
                return f"{key!r} is only allowed together with " + ", ".join(repr(n) for n in missing)
    if v == "not" and schema.get("description"):
        return schema["description"]
    return error.message if len(error.message) < 300 else error.message[:297] + "..."


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean "x"?)`` when ``word`` is close to one of ``choices``."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _article(text: str) -> str:
    return ("an " if text[:1] in "aeiou" else "a ") + text


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _short(value: Any) -> str:
    # JSON spelling for null and booleans: the user wrote `null`, not `None`.
    plain = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    text = repr(value) if plain else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["SCHEMA_NAMES", "load_schema", "validator", "validate", "describe", "did_you_mean",
           "format_path"]


def validate_fragment(data: Any, schema: dict[str, Any], locator: Locator, base: tuple[Any, ...]
                      ) -> list[Problem]:
    """Validate ``data`` against an inline schema (a check's parameters), located under ``base``."""
    from jsonschema import Draft202012Validator

    return _problems(Draft202012Validator(schema).iter_errors(data), locator, base)
