"""The built-in checks, one module each, and the registry that names them.

A check module exposes:

- ``ID`` — ``category.name`` (``orphaned.inactive-principal``);
- ``SEVERITY`` — its default severity;
- ``PARAMS`` — a JSON Schema object for its ``with:`` parameters, each with a
  ``default`` and a ``description``;
- ``check(view, params)`` — yields :class:`~keytrail.model.Finding`; pure: it
  never reads configuration, files or the clock;
- its docstring — the documentation ``keytrail checks`` prints: what it finds,
  why it matters, what fires and what does not, and how to remediate.

The registry is explicit: adding a check means adding its module, one line
here, and its case file in ``tests/checks/cases/``. Modules are imported on
first use so that start-up stays light.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

REGISTRY: dict[str, str] = {
    "sprawl.redundant-grant": "sprawl_redundant_grant",
    "sprawl.excessive-access": "sprawl_excessive_access",
    "sprawl.peer-outlier": "sprawl_peer_outlier",
    "sprawl.privilege-creep": "sprawl_privilege_creep",
    "sprawl.expired-grant": "sprawl_expired_grant",
    "sprawl.duplicate-role": "sprawl_duplicate_role",
    "sprawl.group-cycle": "sprawl_group_cycle",
    "sprawl.unused-key": "sprawl_unused_key",
    "sprawl.long-lived-key": "sprawl_long_lived_key",
    "sprawl.overbroad-key": "sprawl_overbroad_key",
    "sprawl.duplicate-key": "sprawl_duplicate_key",
    "sprawl.unused-access": "sprawl_unused_access",
    "sprawl.dormant-account": "sprawl_dormant_account",
    "orphaned.inactive-principal": "orphaned_inactive_principal",
    "orphaned.unknown-principal": "orphaned_unknown_principal",
    "orphaned.unknown-target": "orphaned_unknown_target",
    "orphaned.ownerless": "orphaned_ownerless",
    "orphaned.unused-target": "orphaned_unused_target",
    "orphaned.key-holder-inactive": "orphaned_key_holder_inactive",
    "orphaned.key-without-owner": "orphaned_key_without_owner",
    "unexplained.missing-key": "unexplained_missing_key",
    "unexplained.unknown-key": "unexplained_unknown_key",
    "unexplained.key-not-valid": "unexplained_key_not_valid",
    "unexplained.key-out-of-scope": "unexplained_key_out_of_scope",
    "unexplained.key-misuse": "unexplained_key_misuse",
    "unexplained.self-grant": "unexplained_self_grant",
    "unexplained.drift-extra": "unexplained_drift_extra",
    "unexplained.drift-missing": "unexplained_drift_missing",
    "unexplained.broken-chain": "unexplained_broken_chain",
    "unexplained.self-approved-key": "unexplained_self_approved_key",
    "unexplained.shared-key": "unexplained_shared_key",
    "policy.expired-waiver": "policy_expired_waiver",
}


def get(check_id: str) -> ModuleType:
    """The module implementing ``check_id`` (KeyError when unknown)."""
    return importlib.import_module(f"keytrail.checks.{REGISTRY[check_id]}")


def category(check_id: str) -> str:
    """The category of a check id (its prefix)."""
    return check_id.partition(".")[0]


def defaults(module: ModuleType) -> dict[str, Any]:
    """The default value of each parameter of a check."""
    props = getattr(module, "PARAMS", {}).get("properties", {})
    return {name: spec["default"] for name, spec in props.items() if "default" in spec}


def summary(module: ModuleType) -> str:
    """The first line of a check's documentation."""
    doc = (module.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
