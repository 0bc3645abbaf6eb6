"""AWS IAM authorization details: the access state of an account as a snapshot and a directory.

Input: the output of ``aws iam get-account-authorization-details`` (one JSON
object with ``UserDetailList``, ``GroupDetailList``, ``RoleDetailList`` and
``Policies``; gzipped or not). Several files (several accounts) are merged.
The CLI pages the output itself; a file that holds one page of a paged API
response is read the same way.

Naming: the scheme of the ``cloudtrail`` importer (see its docstring), so that
a CloudTrail history and this snapshot of the same account line up:
``user:<UserName>``, ``group:aws/<GroupName>``, ``role:aws/<RoleName>`` (the
role as something assumed), ``svc:aws-role/<RoleName>`` (the role as the
holder of its policies), ``role:aws-policy/<PolicyName>``,
``role:aws-inline/<user|group|role>/<owner>/<PolicyName>``,
``svc:aws-instance-profile/<name>``; every entitlement is scoped to
``aws:<account>`` (the account in the entity's ``Arn``).

Snapshot (one line per entitlement, with ``via`` saying where it was read):

- ``UserDetailList[].GroupList[]`` -> ``user:<u>`` holds ``group:aws/<g>``;
- ``*.AttachedManagedPolicies[]`` -> the user, ``group:aws/<g>`` or
  ``svc:aws-role/<r>`` holds ``role:aws-policy/<PolicyName>``;
- ``UserPolicyList`` / ``GroupPolicyList`` / ``RolePolicyList`` -> holds
  ``role:aws-inline/<kind>/<owner>/<PolicyName>``;
- ``RoleDetailList[].AssumeRolePolicyDocument`` -> every principal allowed to
  assume the role (``Allow`` statements with an ``sts:AssumeRole*`` action;
  conditions are not evaluated) holds ``role:aws/<r>``: users, roles
  (``svc:aws-role/``), AWS services (``svc:aws-service/``), accounts
  (``svc:aws-account/``), identity providers (``svc:aws-federated/``), anyone
  (``svc:aws-anyone``);
- ``RoleDetailList[].InstanceProfileList[]`` -> ``svc:aws-instance-profile/<ip>``
  holds ``role:aws/<r>``.

Directory:

- principals: IAM users (``user:``, status ``active``: IAM has no suspended
  users), IAM roles as ``svc:aws-role/<r>`` and instance profiles, with
  ``aws_arn``, ``aws_path``, ``created`` and, for roles, ``last_used`` and
  ``last_used_region`` (``RoleLastUsed``; absent when AWS has no record of
  use) as attributes. AWS services, other accounts and identity providers
  named in trust policies are *not* added: they are outside the account, and a
  history that grants them access reports them as unknown principals.
- groups: IAM groups.
- roles: every IAM role as ``role:aws/<r>`` (no permissions: what a role can
  do is the sum of its policies, which are roles of their own); every policy of
  ``Policies`` as ``role:aws-policy/<p>`` with the actions of its default
  version (``PolicyVersionList[IsDefaultVersion]``) as ``permissions``; every
  inline policy with the actions of its document. ``Allow`` actions are kept as
  they are (``s3:GetObject``, ``iam:*``); ``NotAction`` as ``NotAction:<a>``;
  ``Deny`` actions as ``Deny:<a>``. A policy is ``privileged`` when it allows
  ``*``, ``iam:*``, ``sts:AssumeRole``, a ``NotAction``, or any IAM action
  but a read (``Get``/``List``...) or ``ChangePassword`` (one's own): in an
  account, whoever can change IAM can give themselves anything. AWS-managed policies carry ``aws_managed: true``.
  Managed policies that are attached but missing from ``Policies`` are added
  with no permissions.

Nobody owns anything in IAM: no ``owner`` is set on roles, groups or the
role principals, so ``orphaned.ownerless`` fires for each of them until the
directory names owners (edit the written ``directory.yaml``).

Counted as converted by kind: ``user``, ``group``, ``role``, ``policy``.
Malformed (a problem naming the file and the list entry, e.g.
``UserDetailList[3]``): a document that is not an object or has none of the
four lists; an entry that is not an object or has no name; a list that is not
a list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from keytrail.importers.aws_names import (
    arn_name,
    group_id,
    inline_id,
    instance_profile_id,
    policy_id,
    policy_statements,
    resource,
    role_principal,
    role_target,
    trust_principals,
    user_id,
)
from keytrail.importers.base import Context, Record, State, arr, read_records, safe_name

FORMAT = "aws-authz"
KIND = "state"

LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d+|aws):")
_READ = re.compile(r"^iam:(Get|List|Generate|Simulate)", re.IGNORECASE)


def account_of(arn: Any) -> str:
    m = _ACCOUNT.match(arn) if isinstance(arn, str) else None
    return m.group(1) if m and m.group(1) != "aws" else ""


def _time(value: Any) -> str | None:
    """``2023-03-09 10:41:45+00:00`` -> ``2023-03-09T10:41:45Z`` (as text: attributes are scalars)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace(" ", "T", 1)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def permissions(document: Any) -> list[str]:
    """The actions of a policy document, sorted: Allow as is, ``NotAction:``, ``Deny:``."""
    out: set[str] = set()
    for st in policy_statements(document):
        deny = st.get("Effect") == "Deny"
        for field, prefix in (("Action", ""), ("NotAction", "NotAction:")):
            actions = st.get(field)
            for action in [actions] if isinstance(actions, str) else arr(actions, field):
                if isinstance(action, str) and action.strip():
                    out.add(("Deny:" if deny else "") + prefix + action.strip())
    return sorted(out)


def privileged(perms: list[str]) -> bool:
    for p in perms:
        if p.startswith(("Deny:", "NotAction:")):
            if p.startswith("NotAction:"):
                return True  # allows everything but a few actions
            continue
        low = p.lower()
        if low == "iam:changepassword":
            continue  # a user changing their own password
        if low in ("*", "iam:*", "sts:*", "sts:assumerole") or (low.startswith("iam:") and not _READ.match(p)):
            return True
    return False


def _policy_role(target: str, perms: list[str] | None, attrs: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": target}
    if perms:
        entry["permissions"] = perms
        if privileged(perms):
            entry["privileged"] = True
    attrs = {k: v for k, v in attrs.items() if v is not None}
    if attrs:
        entry["attributes"] = attrs
    return entry


class _Reader:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state = State()
        self.seen: set[tuple[str, str, str]] = set()

    def hold(self, subject: str, target: str, account: str, via: str) -> None:
        key = (subject, target, resource(account))
        if key in self.seen:
            return
        self.seen.add(key)
        self.state.snapshot.append({"subject": subject, "target": target, "resource": key[2], "via": via})

    def entries(self, record: Record, doc: dict[str, Any], name: str, key: str) -> list[tuple[int, dict]]:
        items = doc.get(name, [])
        if not isinstance(items, list):
            self.ctx.problem(record, f"{name} is not a list")
            return []
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key].strip():
                self.ctx.problem(record, f"{name}[{i}]: expected an object with {key}")
                continue
            out.append((i, item))
        return out

    def attached(self, item: dict[str, Any], subject: str, account: str, where: str) -> None:
        for n, att in enumerate(arr(item.get("AttachedManagedPolicies"), f"{where}.AttachedManagedPolicies")):
            if not isinstance(att, dict) or not (att.get("PolicyName") or att.get("PolicyArn")):
                raise ValueError(f"{where}.AttachedManagedPolicies[{n}]: expected PolicyName or PolicyArn")
            name = att.get("PolicyName") or arn_name(att["PolicyArn"])
            target = policy_id(name)
            self.hold(subject, target, account, "AttachedManagedPolicies")
            if target not in self.state.roles:
                arn = att.get("PolicyArn")
                self.state.roles[target] = _policy_role(target, None, {
                    "aws_arn": arn, "aws_managed": True if account_of(arn) == "" and arn else None})

    def inline(self, item: dict[str, Any], field: str, kind: str, owner: str, subject: str,
               account: str, where: str) -> None:
        for n, pol in enumerate(arr(item.get(field), f"{where}.{field}")):
            if not isinstance(pol, dict) or not isinstance(pol.get("PolicyName"), str):
                raise ValueError(f"{where}.{field}[{n}]: expected an object with PolicyName")
            target = inline_id(kind, owner, pol["PolicyName"])
            self.hold(subject, target, account, field)
            self.state.roles[target] = _policy_role(target, permissions(pol.get("PolicyDocument")),
                                                    {"aws_inline": True, "aws_owner": subject})

    def read(self, record: Record) -> None:
        doc = record.data
        if not isinstance(doc, dict) or not any(name in doc for name in LISTS):
            self.ctx.problem(record, "not get-account-authorization-details output: expected an object "
                                     f"with {', '.join(LISTS)}")
            return
        # Policies first: attachments then find their definitions.
        for i, pol in self.entries(record, doc, "Policies", "PolicyName"):
            try:
                self.policy(pol)
            except ValueError as exc:
                self.ctx.problem(record, f"Policies[{i}]: {exc}")
                continue
            self.ctx.count("policy")
        for name, key, method, kind in (("GroupDetailList", "GroupName", self.group, "group"),
                                        ("UserDetailList", "UserName", self.user, "user"),
                                        ("RoleDetailList", "RoleName", self.role, "role")):
            for i, item in self.entries(record, doc, name, key):
                try:
                    method(item, f"{name}[{i}]")
                except ValueError as exc:
                    self.ctx.problem(record, str(exc))
                    continue
                self.ctx.count(kind)

    def policy(self, pol: dict[str, Any]) -> None:
        versions = pol.get("PolicyVersionList") or []
        if not isinstance(versions, list):
            raise ValueError("PolicyVersionList is not a list")
        default = next((v for v in versions if isinstance(v, dict) and v.get("IsDefaultVersion")), None)
        perms = permissions(default.get("Document")) if default else []
        arn = pol.get("Arn")
        target = policy_id(pol["PolicyName"])
        self.state.roles[target] = _policy_role(target, perms, {
            "aws_arn": arn, "aws_managed": True if isinstance(arn, str) and ":iam::aws:" in arn else None,
            "default_version": default.get("VersionId") if default else None,
            "attachments": pol.get("AttachmentCount"), "created": _time(pol.get("CreateDate")),
            "updated": _time(pol.get("UpdateDate"))})

    def group(self, item: dict[str, Any], where: str) -> None:
        name = item["GroupName"]
        account = account_of(item.get("Arn"))
        gid = group_id(name)
        attrs = {k: v for k, v in {"aws_arn": item.get("Arn"), "aws_path": item.get("Path"),
                                   "created": _time(item.get("CreateDate"))}.items() if v}
        self.state.groups[gid] = {"id": gid, "name": name, **({"attributes": attrs} if attrs else {})}
        self.attached(item, gid, account, where)
        self.inline(item, "GroupPolicyList", "group", name, gid, account, where)

    def user(self, item: dict[str, Any], where: str) -> None:
        name = item["UserName"]
        account = account_of(item.get("Arn"))
        uid = user_id(name)
        attrs = {k: v for k, v in {"aws_arn": item.get("Arn"), "aws_path": item.get("Path"),
                                   "created": _time(item.get("CreateDate"))}.items() if v}
        self.state.principals[uid] = {"id": uid, "name": name, "status": "active",
                                      **({"attributes": attrs} if attrs else {})}
        groups = item.get("GroupList") or []
        if not isinstance(groups, list):
            raise ValueError(f"{where}.GroupList is not a list")
        for group in groups:
            if isinstance(group, str) and group.strip():
                self.hold(uid, group_id(group), account, "GroupList")
                self.state.groups.setdefault(group_id(group), {"id": group_id(group), "name": group})
        self.attached(item, uid, account, where)
        self.inline(item, "UserPolicyList", "user", name, uid, account, where)

    def role(self, item: dict[str, Any], where: str) -> None:
        name = item["RoleName"]
        account = account_of(item.get("Arn"))
        used = item.get("RoleLastUsed")
        if not isinstance(used, dict):
            used = {}
        attrs = {k: v for k, v in {"aws_arn": item.get("Arn"), "aws_path": item.get("Path"),
                                   "created": _time(item.get("CreateDate")),
                                   "last_used": _time(used.get("LastUsedDate")),
                                   "last_used_region": used.get("Region")}.items() if v}
        target, holder = role_target(name), role_principal(name)
        entry: dict[str, Any] = {"id": target, "name": name}
        if isinstance(item.get("Description"), str) and item["Description"]:
            entry["description"] = item["Description"]
        if attrs:
            entry["attributes"] = attrs
        self.state.roles[target] = entry
        self.state.principals[holder] = {"id": holder, "name": name, "status": "active",
                                         **({"attributes": dict(attrs)} if attrs else {})}
        for principal in trust_principals(item.get("AssumeRolePolicyDocument")):
            self.hold(principal, target, account, "AssumeRolePolicyDocument")
        for n, profile in enumerate(arr(item.get("InstanceProfileList"), f"{where}.InstanceProfileList")):
            if not isinstance(profile, dict) or not isinstance(profile.get("InstanceProfileName"), str):
                raise ValueError(f"{where}.InstanceProfileList[{n}]: expected InstanceProfileName")
            pid = instance_profile_id(profile["InstanceProfileName"])
            self.hold(pid, target, account, "InstanceProfileList")
            pattrs = {k: v for k, v in {"aws_arn": profile.get("Arn"),
                                        "created": _time(profile.get("CreateDate"))}.items() if v}
            self.state.principals[pid] = {"id": pid, "name": safe_name(profile["InstanceProfileName"]),
                                          "status": "active", **({"attributes": pattrs} if pattrs else {})}
        self.attached(item, holder, account, where)
        self.inline(item, "RolePolicyList", "role", name, holder, account, where)


def convert(paths: list[Path], ctx: Context) -> State:
    """Read authorization-details documents into a :class:`State` (see the module docstring)."""
    reader = _Reader(ctx)
    for record in read_records(paths):
        reader.read(record)
    reader.state.snapshot.sort(key=lambda s: (s["subject"], s["target"], s["resource"]))
    return reader.state
