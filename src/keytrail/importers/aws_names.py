"""The AWS naming scheme shared by the ``cloudtrail`` and ``aws-authz`` importers.

A CloudTrail history and an authorization-details snapshot of the same account
name every user, group, role, policy and principal the same way, so that they
line up in one project. The scheme is tabled in the ``cloudtrail`` module's
docstring and in ``docs/import/cloudtrail.md``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from keytrail.importers.base import arr, obj, safe_name


def user_id(name: str) -> str:
    return f"user:{safe_name(name)}"


def group_id(name: str) -> str:
    return f"group:aws/{safe_name(name)}"


def role_target(name: str) -> str:
    """An IAM role as something assumed (the target of trust grants)."""
    return f"role:aws/{safe_name(name)}"


def role_principal(name: str) -> str:
    """An IAM role as a holder of policies and as the actor of its sessions."""
    return f"svc:aws-role/{safe_name(name)}"


def policy_id(name: str) -> str:
    return f"role:aws-policy/{safe_name(name)}"


def inline_id(kind: str, owner: str, policy: str) -> str:
    return f"role:aws-inline/{kind}/{safe_name(owner)}/{safe_name(policy)}"


def instance_profile_id(name: str) -> str:
    return f"svc:aws-instance-profile/{safe_name(name)}"


def service_id(name: str) -> str:
    return f"svc:aws-service/{safe_name(name)}"


def account_principal(account: str) -> str:
    return f"svc:aws-account/{safe_name(account)}"


ROOT = "user:aws-root"
ANYONE = "svc:aws-anyone"


def resource(account: str | None) -> str:
    return f"aws:{account}" if account else ""


def arn_name(arn: str) -> str:
    """The last path segment of an ARN: ``arn:aws:iam::aws:policy/job/ViewOnly`` -> ``ViewOnly``."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


_ARN = re.compile(r"^arn:aws[\w-]*:(iam|sts)::(\d*|aws):(.+)$")


def arn_principal(text: str) -> str:
    """A principal named in a policy (``Principal.AWS``) or an ARN, in the naming scheme."""
    text = text.strip()
    if text == "*":
        return ANYONE
    if text.isdigit():
        return account_principal(text)
    m = _ARN.match(text)
    if m:
        account, rest = m.group(2), m.group(3)
        if rest == "root":
            return account_principal(account)
        kind, _, path = rest.partition("/")
        if kind == "user" and path:
            return user_id(arn_name(path))
        if kind == "role" and path:
            return role_principal(arn_name(path))
        if kind == "assumed-role" and path:
            return role_principal(path.split("/")[0])
        if kind == "federated-user" and path:
            return user_id(arn_name(path))
    return f"svc:aws-principal/{safe_name(text)}"


def policy_statements(document: Any) -> list[dict[str, Any]]:
    """The statements of an IAM policy document (a dict, JSON text, or URL-encoded JSON text)."""
    if isinstance(document, str):
        text = document
        if "%7B" in text[:6] or text.startswith("%"):
            text = urllib.parse.unquote(text)
        try:
            document = json.loads(text)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [st for st in statements if isinstance(st, dict)] if isinstance(statements, list) else []


def trust_principals(document: Any) -> list[str]:
    """Who a trust (assume-role) policy lets assume the role, in the naming scheme (sorted)."""
    found: set[str] = set()
    for st in policy_statements(document):
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(isinstance(a, str) and (a.lower().startswith("sts:assumerole") or a in ("*", "sts:*"))
                   for a in actions):
            continue
        principal = st.get("Principal")
        if principal == "*":
            found.add(ANYONE)
            continue
        if not isinstance(principal, dict):
            continue
        for kind, values in principal.items():
            for value in [values] if isinstance(values, str) else arr(values, f"Principal.{kind}"):
                if not isinstance(value, str):
                    continue
                if kind == "Service":
                    found.add(service_id(value))
                elif kind == "Federated":
                    found.add(f"svc:aws-federated/{safe_name(arn_name(value))}")
                elif kind == "AWS":
                    found.add(arn_principal(value))
                else:
                    found.add(f"svc:aws-principal/{safe_name(value)}")
    return sorted(found)


def actor_of(identity: Any) -> str | None:
    """The principal that made the call, from ``userIdentity``."""
    if not isinstance(identity, dict):
        return None
    kind = identity.get("type")
    arn = identity.get("arn")
    if not isinstance(arn, str):
        arn = ""
    if kind == "IAMUser":
        name = identity.get("userName") or (arn_name(arn) if ":user/" in arn else None)
        return user_id(name) if name else None
    if kind in ("AssumedRole", "FederatedUser"):
        issuer = obj(identity.get("sessionContext"), "userIdentity.sessionContext").get("sessionIssuer") or {}
        if isinstance(issuer, dict) and issuer.get("userName"):
            if issuer.get("type") == "Role":
                return role_principal(issuer["userName"])
            if issuer.get("type") == "Root":
                return ROOT
            return user_id(issuer["userName"])
        return arn_principal(arn) if arn else None
    if kind == "Root":
        return ROOT
    if kind == "AWSService":
        by = identity.get("invokedBy")
        return service_id(by) if isinstance(by, str) and by else None
    if kind == "AWSAccount":
        account = identity.get("accountId")
        return account_principal(account) if account else None
    if kind == "IdentityCenterUser":
        name = obj(identity.get("onBehalfOf"), "userIdentity.onBehalfOf").get("userId") \
            or (arn_name(arn) if arn else None)
        return user_id(name) if name else None
    return None
