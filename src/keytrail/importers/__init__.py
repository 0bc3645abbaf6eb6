"""Importers: systems' own exports into keytrail's native history or snapshot.

One module per format, named in the explicit :data:`REGISTRY`. A module exposes

- ``FORMAT`` (the name on the command line), ``KIND`` (``"history"``,
  ``"state"`` or ``"usage"``) and a docstring documenting its field mapping;
- ``convert(records, ctx)``: given the raw records (see :mod:`.base`), yields
  native history events (dicts), or for a state format returns a
  :class:`~keytrail.importers.base.State` (snapshot lines and a directory), or
  for a usage format yields usage records (dicts, see ``schemas/usage.schema.json``).

Importers never drop anything silently: every record is either converted or
counted as skipped with a reason. A record that is not an access change (a read,
a failed call, another service) is skipped (``ctx.skip``). A record that is not of
the format at all, or has a field of the wrong shape, is an error naming the file
and line or record index (``ctx.problem``). An access change of the format that
cannot be converted is skipped too: as incomplete, listed by place, when it lacks
what converting it needs (no time, no target: ``ctx.incomplete``), or under its
own reason when native history cannot say it (``ctx.unconverted``). ``--strict``
makes those two kinds errors, never the records that are not access changes.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str] = {
    "cloudtrail": "cloudtrail",
    "aws-authz": "aws_authz",
    "k8s-rbac": "k8s_rbac",
    "k8s-audit": "k8s_audit",
    "okta": "okta",
    "github": "github",
    "entra": "entra",
    "gworkspace": "gworkspace",
    "scim": "scim",
    "otlp": "otlp",
    "okta-state": "okta_state",
    "entra-state": "entra_state",
    "github-state": "github_state",
    "gworkspace-state": "gworkspace_state",
    "scim-state": "scim_state",
}


def get(fmt: str) -> ModuleType:
    """The module implementing import format ``fmt`` (KeyError when unknown)."""
    return importlib.import_module(f"keytrail.importers.{REGISTRY[fmt]}")


#: Usage formats (KIND ``"usage"``): when access was last used, for the unused-access checks.
REGISTRY.update({
    "aws-credential-report": "aws_credential_report",
    "aws-access-advisor": "aws_access_advisor",
    "aws-role-last-used": "aws_role_last_used",
    "okta-last-login": "okta_last_login",
    "entra-sign-ins": "entra_sign_ins",
    "gworkspace-last-login": "gworkspace_last_login",
})
