"""Documentation generated from the code: the check catalogue and the schemas.

``keytrail checks`` prints each check's id, default severity, parameters and
docstring; ``keytrail schema policy`` prints the policy schema with the
registry's check ids and each check's parameter schema filled in, so editors
complete ``use:`` and ``with:`` from what this version really has.
"""

from __future__ import annotations

import copy
import json
import textwrap
from typing import Any

from keytrail import checks, kinds
from keytrail.schemas import load_schema


def _params_line(module: Any) -> list[str]:
    props = module.PARAMS.get("properties", {})
    lines = []
    for name, spec in props.items():
        default = spec.get("default")
        lines.append(f"    {name} (default {default!r}): {spec.get('description', '')}")
    return lines


def list_checks() -> str:
    """One paragraph per check and rule kind: id, severity, summary, parameters."""
    out = ["Built-in checks (use them in a policy rule with `use: ID`, parameters under `with:`):", ""]
    for check_id in sorted(checks.REGISTRY):
        module = checks.get(check_id)
        out.append(f"{check_id}  [{module.SEVERITY}]")
        out.append(f"    {checks.summary(module)}")
        out.extend(_params_line(module))
        out.append("")
    out.append("Rule kinds:")
    out.append("")
    for kind in kinds.REGISTRY:
        module = kinds.get(kind)
        first = (module.__doc__ or "").strip().splitlines()[0]
        out.append(f"{kind}  [{module.SEVERITY}]")
        out.append(f"    {first}")
        out.append("")
    out.append("`keytrail checks ID` prints a check's full documentation.")
    return "\n".join(out) + "\n"


def describe_check(check_id: str) -> str:
    """The full documentation of one check or rule kind."""
    from keytrail.errors import UsageError
    from keytrail.schemas import did_you_mean

    if check_id in checks.REGISTRY:
        module = checks.get(check_id)
        head = f"{check_id}  (default severity {module.SEVERITY}, category {checks.category(check_id)})"
        params = _params_line(module)
    elif check_id in kinds.REGISTRY:
        module = kinds.get(check_id)
        head = f"{check_id}  (rule kind, default severity {module.SEVERITY})"
        params = []
    else:
        hint = did_you_mean(check_id, sorted(checks.REGISTRY) + sorted(kinds.REGISTRY))
        raise UsageError(f"unknown check {check_id!r}{hint}")
    body = textwrap.dedent(module.__doc__ or "").strip()
    text = [head, "", body]
    if params:
        text += ["", "Parameters:"] + params
    return "\n".join(text) + "\n"


def policy_schema() -> dict[str, Any]:
    """The policy schema with the check ids and their parameter schemas filled in."""
    schema = copy.deepcopy(load_schema("policy"))
    rule = schema["$defs"]["rule"]
    rule["properties"]["use"]["enum"] = sorted(checks.REGISTRY)
    rule["properties"]["use"].pop("pattern", None)
    rule["properties"]["use"].pop("examples", None)
    conditions = []
    for check_id in sorted(checks.REGISTRY):
        params = copy.deepcopy(checks.get(check_id).PARAMS)
        for spec in params.get("properties", {}).values():
            spec.pop("format", None)
        conditions.append({"if": {"required": ["use"], "properties": {"use": {"const": check_id}}},
                           "then": {"properties": {"with": params}}})
    rule["allOf"] = rule.get("allOf", []) + conditions
    return schema


def schema_text(name: str) -> str:
    """A schema as pretty JSON (the policy schema enriched from the registry)."""
    schema = policy_schema() if name == "policy" else load_schema(name)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
