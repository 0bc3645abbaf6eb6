"""AWS CloudTrail: IAM changes as keyed provisioning history.

Input: CloudTrail log files as delivered to S3 (``{"Records": [...]}``, gzipped
or not), JSON lines of single records (as Elastic, Athena or ``jq -c
'.Records[]'`` export them), Panther rule-test lines (``{"p_sources": [...],
"event": {...}}``, unwrapped to ``event``) or Panther test scenarios (YAML with
a ``Logs:`` list).

Naming scheme (shared with the ``aws-authz`` importer, so that a CloudTrail
history and an authorization-details snapshot of the same account line up):

==============================  ===========================================
AWS thing                       keytrail id
==============================  ===========================================
IAM user                        ``user:<userName>``
root user                       ``user:aws-root``
IAM group                       ``group:aws/<groupName>``
IAM role, as something assumed  ``role:aws/<roleName>`` (a target)
IAM role, as what its sessions  ``svc:aws-role/<roleName>`` (a principal: it
do (holder of policies, actor)  holds policies, and it is the actor of every
                                change made in one of its sessions)
managed policy (AWS or own)     ``role:aws-policy/<policyName>``
inline policy                   ``role:aws-inline/<user|group|role>/<owner>/<policyName>``
instance profile                ``svc:aws-instance-profile/<name>``
AWS service                     ``svc:aws-service/<service host>``
AWS account (cross-account)     ``svc:aws-account/<accountId>``
federated identity provider     ``svc:aws-federated/<provider>``
``"Principal": "*"``            ``svc:aws-anyone``
access key                      ``role:aws-credential/access-key`` on
                                resource ``aws:<account>/access-key/<id>``
console password                ``role:aws-credential/console-password``
==============================  ===========================================

Every grant is scoped to the resource ``aws:<accountId>`` (``recipientAccountId``,
else ``userIdentity.accountId``); credentials that have an id of their own
(access keys, SSH keys, service-specific credentials, signing certificates)
are scoped to ``aws:<accountId>/<kind>/<id>`` so that a delete revokes exactly
the key it deletes.

Field mapping (every converted event):

- ``id`` = ``cloudtrail-<eventID>`` (``-1``, ``-2``... when a record yields
  several events). A record without an ``eventID`` gets
  ``cloudtrail-sha256-<16 hex of the record>``. CloudTrail may deliver an
  event twice: a second, identical record is skipped as "duplicate delivery".
  A reused ``eventID`` with *different* content never comes from a real trail
  (hand-made samples, or tampering): that event's id gets ``-<8 hex of the
  record>`` appended and its ``source.reused_event_id`` names the record that
  used the id first.
- ``time`` = ``eventTime`` (UTC; CloudTrail times are always UTC, so the
  ``2022-11-21 18:06:52`` form that some pipelines flatten them to is read as UTC).
- ``actor`` = ``userIdentity``: ``IAMUser`` -> ``user:<userName>``;
  ``AssumedRole`` -> ``svc:aws-role/<sessionIssuer.userName>`` (the role the
  session belongs to; the session name is in ``source.session``);
  ``Root`` -> ``user:aws-root``; ``AWSService`` -> ``svc:aws-service/<invokedBy>``;
  ``FederatedUser`` -> its session issuer as above; ``AWSAccount`` ->
  ``svc:aws-account/<accountId>``; ``IdentityCenterUser`` -> ``user:<name>``
  from its ``arn`` or ``onBehalfOf.userId``; anything else: no actor.
- ``source`` = format, file, line or index, ``id`` (``eventID``), and
  ``eventName``, ``requestID``, ``userAgent``, ``sourceIPAddress``, ``session``
  (the assumed-role session name): what ``--key-from`` points at, e.g.
  ``--key-from userAgent --key-pattern 'stratus-red-team_([0-9a-f-]+)'`` or
  ``--key-from userIdentity.arn --key-pattern 'assumed-role/[^/]+/(.+)$'``.
- ``key``, ``ticket``, ``reason``: only from the mapping options (CloudTrail has
  no such fields); without a mapping no key is set, and every change is
  ``unexplained.missing-key``.

Actions by ``eventName``:

- ``CreateUser`` / ``DeleteUser`` -> ``join`` / ``leave`` of ``user:<userName>``.
- ``CreateGroup`` / ``DeleteGroup`` -> ``define`` / ``retire`` of ``group:aws/<g>``.
- ``AddUserToGroup`` / ``RemoveUserFromGroup`` -> ``grant`` / ``revoke`` of
  ``group:aws/<g>`` to ``user:<u>``.
- ``CreateRole`` -> ``define role:aws/<r>``, ``join svc:aws-role/<r>``, and one
  ``grant`` of ``role:aws/<r>`` to every principal its trust policy allows to
  assume it (``Allow`` statements whose ``Action`` is an ``sts:AssumeRole*``;
  conditions are not evaluated). ``CreateServiceLinkedRole`` likewise, trusted
  by ``svc:aws-service/<AWSServiceName>``.
- ``UpdateAssumeRolePolicy`` replaces the trust policy: ``grant`` to principals
  it adds and ``revoke`` from principals it drops, when the old policy is known
  from an earlier ``CreateRole`` or update in the same import; otherwise only
  the grants (the old principals cannot be known from the record).
- ``DeleteRole`` / ``DeleteServiceLinkedRole`` -> ``revoke`` of the trust
  grants known from this import, ``leave svc:aws-role/<r>``, ``retire role:aws/<r>``.
- ``CreatePolicy`` / ``DeletePolicy`` -> ``define`` / ``retire`` of ``role:aws-policy/<p>``.
- ``Attach{User,Group,Role}Policy`` / ``Detach...`` -> ``grant`` / ``revoke`` of
  ``role:aws-policy/<p>`` to the user, group or ``svc:aws-role/<r>``.
- ``Put{User,Group,Role}Policy`` / ``Delete{User,Group,Role}Policy`` ->
  ``grant`` / ``revoke`` of ``role:aws-inline/<kind>/<owner>/<policyName>``.
- ``CreateInstanceProfile`` / ``DeleteInstanceProfile`` -> ``join`` / ``leave``
  of ``svc:aws-instance-profile/<ip>``; ``AddRoleToInstanceProfile`` /
  ``RemoveRoleFromInstanceProfile`` -> ``grant`` / ``revoke`` of ``role:aws/<r>``
  to it (instances launched with the profile act as the role).
- Credentials are access, not identity: ``CreateAccessKey`` /
  ``DeleteAccessKey``, ``UpdateAccessKey`` (``Active`` grants, ``Inactive``
  revokes), ``CreateLoginProfile`` / ``DeleteLoginProfile``, SSH public keys,
  service-specific credentials and signing certificates -> ``grant`` /
  ``revoke`` of ``role:aws-credential/<kind>`` to the user (the caller itself
  when the request names no user). A backdoor access key on an existing user is
  the textbook persistence step; a review must see it.

Skipped, counted by ``eventName`` under a reason (never silently):

- ``not IAM``: any ``eventSource`` but ``iam.amazonaws.com`` (STS
  ``AssumeRole`` is a use of access, not a change to it);
- ``read-only``: ``readOnly: true`` (or, when the field is absent, a name
  starting with ``Get``, ``List``, ``Generate``, ``Simulate``, ``Describe``);
- ``failed call``: an ``errorCode`` (AccessDenied, NoSuchEntity...): nothing changed;
- ``not an access change``: tags, descriptions, password and MFA changes,
  password policy, account alias, SAML/OIDC provider metadata, server
  certificates, credential resets;
- ``policy content change``: ``CreatePolicyVersion``, ``DeletePolicyVersion``,
  ``SetDefaultPolicyVersion`` change what a policy allows, not who holds it
  (keytrail keeps permissions in the directory; re-import ``aws-authz``);
- ``permissions boundary``: ``Put/Delete{User,Role}PermissionsBoundary`` limit
  access and grant none;
- ``rename (not modelled)``: ``UpdateUser`` / ``UpdateGroup`` with a new name
  (keytrail ids are names; re-import ``aws-authz`` after a rename);
- ``no change``: an ``UpdateAssumeRolePolicy`` that trusts the same principals as before;
- ``duplicate delivery``: a record identical to an earlier one with its ``eventID``;
- ``unsupported IAM write``: any other IAM write, so new API calls show up in
  the summary instead of disappearing.

Malformed (an error naming file and line or index): a record that is not an
object or has no ``eventName``/``eventSource``. Incomplete (skipped, listed by
place): an IAM change with a missing or unreadable ``eventTime``, or without
the request parameter naming what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keytrail.importers.aws_names import (
    actor_of,
    arn_name,
    group_id,
    inline_id,
    instance_profile_id,
    policy_id,
    resource,
    role_principal,
    role_target,
    service_id,
    trust_principals,
    user_id,
)
from keytrail.importers.base import Context, Malformed, Record, obj, panther_records

FORMAT = "cloudtrail"
KIND = "history"

IAM = "iam.amazonaws.com"

# -- skipping -----------------------------------------------------------------

NOT_ACCESS = {
    "UpdateRole", "UpdateRoleDescription", "UpdateLoginProfile", "ChangePassword",
    "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy", "CreateAccountAlias",
    "DeleteAccountAlias", "EnableMFADevice", "DeactivateMFADevice", "ResyncMFADevice",
    "CreateVirtualMFADevice", "DeleteVirtualMFADevice", "CreateSAMLProvider", "UpdateSAMLProvider",
    "DeleteSAMLProvider", "CreateOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint", "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider", "UploadServerCertificate", "UpdateServerCertificate",
    "DeleteServerCertificate", "ResetServiceSpecificCredential", "SetSecurityTokenServicePreferences",
    "UpdateCloudFrontPublicKey", "DeleteServiceLinkedRoleDeletionStatus",
}
POLICY_CONTENT = {"CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion"}
BOUNDARY = {"PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
            "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary"}
READ_PREFIXES = ("Get", "List", "Generate", "Simulate", "Describe")

#: credential kind -> (target suffix, request id field, response object, response id field)
CREDENTIALS = {
    "AccessKey": ("access-key", "accessKeyId", "accessKey", "accessKeyId"),
    "SSHPublicKey": ("ssh-key", "sSHPublicKeyId", "sSHPublicKey", "sSHPublicKeyId"),
    "ServiceSpecificCredential": ("service-credential", "serviceSpecificCredentialId",
                                  "serviceSpecificCredential", "serviceSpecificCredentialId"),
    "SigningCertificate": ("signing-certificate", "certificateId", "certificate", "certificateId"),
}
_CREDENTIAL_CALL = re.compile(r"^(Create|Upload|Delete|Update)(AccessKey|SSHPublicKey|"
                              r"ServiceSpecificCredential|SigningCertificate)$")
_POLICY_CALL = re.compile(r"^(Attach|Detach|Put|Delete)(User|Group|Role)Policy$")


class _Bad(Exception):
    """A record that cannot be converted: the message says why."""


#: Skip reasons that are IAM writes changing access in ways native history cannot say
#: (errors with --strict); the other reasons are not access changes.
UNCONVERTED = frozenset({"rename (not modelled)", "policy content change", "permissions boundary",
                         "unsupported IAM write"})


def _skip_reason(data: dict[str, Any]) -> str | None:
    """Why this IAM record is not converted, or None when it is a change we convert."""
    name = data["eventName"]
    if data.get("readOnly") is True or (data.get("readOnly") is None and name.startswith(READ_PREFIXES)):
        return "read-only"
    if data.get("errorCode"):
        return "failed call"
    if name in HANDLERS or _POLICY_CALL.match(name) or _CREDENTIAL_CALL.match(name):
        if name in ("UpdateUser", "UpdateGroup"):
            params = data.get("requestParameters") or {}
            return "rename (not modelled)" if params.get("newUserName") or params.get("newGroupName") \
                else "not an access change"
        return None
    if name in NOT_ACCESS or name.startswith(("Tag", "Untag")):
        return "not an access change"
    if name in POLICY_CONTENT:
        return "policy content change"
    if name in BOUNDARY:
        return "permissions boundary"
    return "unsupported IAM write"


# -- converting ---------------------------------------------------------------


class _Converter:
    """Turns one IAM change into partial events; keeps the trust policies seen so far."""

    def __init__(self) -> None:
        self.trust: dict[tuple[str, str], list[str]] = {}

    def __call__(self, data: dict[str, Any], account: str, actor: str | None) -> list[dict[str, Any]]:
        name = data["eventName"]
        self.params = data.get("requestParameters") or {}
        self.response = data.get("responseElements") or {}
        if not isinstance(self.params, dict):
            raise _Bad("requestParameters is not an object")
        if not isinstance(self.response, dict):
            self.response = {}
        self.account, self.actor, self.res = account, actor, resource(account)
        m = _POLICY_CALL.match(name)
        if m:
            return self.policy(m.group(1), m.group(2))
        m = _CREDENTIAL_CALL.match(name)
        if m:
            return self.credential(m.group(1), m.group(2))
        return HANDLERS[name](self)

    def need(self, field: str, where: dict[str, Any] | None = None) -> str:
        value = (self.params if where is None else where).get(field)
        if not isinstance(value, str) or not value.strip():
            raise _Bad(f"requestParameters.{field} is missing")
        return value

    # users, groups
    def create_user(self) -> list[dict[str, Any]]:
        attrs = {"aws_account": self.account} if self.account else {}
        event: dict[str, Any] = {"action": "join", "subject": user_id(self.need("userName"))}
        if attrs:
            event["attributes"] = attrs
        return [event]

    def delete_user(self) -> list[dict[str, Any]]:
        return [{"action": "leave", "subject": user_id(self.need("userName"))}]

    def create_group(self) -> list[dict[str, Any]]:
        return [{"action": "define", "target": group_id(self.need("groupName"))}]

    def delete_group(self) -> list[dict[str, Any]]:
        return [{"action": "retire", "target": group_id(self.need("groupName"))}]

    def add_user_to_group(self) -> list[dict[str, Any]]:
        return [self.grant("grant", user_id(self.need("userName")), group_id(self.need("groupName")))]

    def remove_user_from_group(self) -> list[dict[str, Any]]:
        return [self.grant("revoke", user_id(self.need("userName")), group_id(self.need("groupName")))]

    def update_principal(self) -> list[dict[str, Any]]:  # never reached: skipped in _skip_reason
        return []

    # roles and their trust policies
    def grant(self, action: str, subject: str, target: str, res: str | None = None) -> dict[str, Any]:
        return {"action": action, "subject": subject, "target": target,
                "resource": self.res if res is None else res}

    def _trust_events(self, role: str, now: list[str], known: list[str] | None) -> list[dict[str, Any]]:
        before = set(known or ())
        out = [self.grant("revoke", p, role_target(role)) for p in sorted(before - set(now))]
        out += [self.grant("grant", p, role_target(role)) for p in now if p not in before]
        self.trust[(self.account, role)] = list(now)
        return out

    def create_role(self) -> list[dict[str, Any]]:
        role = self.need("roleName")
        doc = self.params.get("assumeRolePolicyDocument")
        if doc is None:
            doc = obj(self.response.get("role"), "responseElements.role").get("assumeRolePolicyDocument")
        events = [{"action": "define", "target": role_target(role)},
                  {"action": "join", "subject": role_principal(role)}]
        return events + self._trust_events(role, trust_principals(doc), None)

    def create_service_linked_role(self) -> list[dict[str, Any]]:
        role = obj(self.response.get("role"), "responseElements.role").get("roleName")
        service = self.need("aWSServiceName")
        if not isinstance(role, str) or not role:
            raise _Bad("responseElements.role.roleName is missing (the role AWS created)")
        events = [{"action": "define", "target": role_target(role)},
                  {"action": "join", "subject": role_principal(role)}]
        return events + self._trust_events(role, [service_id(service)], None)

    def update_assume_role_policy(self) -> list[dict[str, Any]]:
        role = self.need("roleName")
        known = self.trust.get((self.account, role))
        return self._trust_events(role, trust_principals(self.params.get("policyDocument")), known)

    def delete_role(self) -> list[dict[str, Any]]:
        role = self.need("roleName")
        known = self.trust.pop((self.account, role), [])
        out = [self.grant("revoke", p, role_target(role)) for p in known]
        return out + [{"action": "leave", "subject": role_principal(role)},
                      {"action": "retire", "target": role_target(role)}]

    # managed policies
    def create_policy(self) -> list[dict[str, Any]]:
        return [{"action": "define", "target": policy_id(self.need("policyName"))}]

    def delete_policy(self) -> list[dict[str, Any]]:
        return [{"action": "retire", "target": policy_id(arn_name(self.need("policyArn")))}]

    def policy(self, verb: str, kind: str) -> list[dict[str, Any]]:
        owner = self.need(f"{kind.lower()}Name")
        subject = {"User": user_id, "Group": group_id, "Role": role_principal}[kind](owner)
        action = "grant" if verb in ("Attach", "Put") else "revoke"
        if verb in ("Attach", "Detach"):
            target = policy_id(arn_name(self.need("policyArn")))
        else:
            target = inline_id(kind.lower(), owner, self.need("policyName"))
        return [self.grant(action, subject, target)]

    # instance profiles
    def create_instance_profile(self) -> list[dict[str, Any]]:
        return [{"action": "join", "subject": instance_profile_id(self.need("instanceProfileName"))}]

    def delete_instance_profile(self) -> list[dict[str, Any]]:
        return [{"action": "leave", "subject": instance_profile_id(self.need("instanceProfileName"))}]

    def add_role_to_instance_profile(self) -> list[dict[str, Any]]:
        return [self.grant("grant", instance_profile_id(self.need("instanceProfileName")),
                           role_target(self.need("roleName")))]

    def remove_role_from_instance_profile(self) -> list[dict[str, Any]]:
        return [self.grant("revoke", instance_profile_id(self.need("instanceProfileName")),
                           role_target(self.need("roleName")))]

    # credentials
    def credential(self, verb: str, kind: str) -> list[dict[str, Any]]:
        suffix, request_id, response_obj, response_id = CREDENTIALS[kind]
        made = self.response.get(response_obj) or {}
        made = made if isinstance(made, dict) else {}
        user = self.params.get("userName") or made.get("userName")
        if isinstance(user, str) and user:
            subject = user_id(user)
        elif self.actor and self.actor.startswith("user:"):
            subject = self.actor  # no user named: the caller's own credential
        else:
            raise _Bad("requestParameters.userName is missing and the caller is not an IAM user")
        ident = self.params.get(request_id) or made.get(response_id)
        res = f"{self.res}/{suffix}/{ident}" if ident else f"{self.res}/{suffix}"
        if verb == "Update":
            status = self.params.get("status")
            if status not in ("Active", "Inactive"):
                raise _Bad("requestParameters.status is neither Active nor Inactive")
            action = "grant" if status == "Active" else "revoke"
        else:
            action = "revoke" if verb == "Delete" else "grant"
        return [self.grant(action, subject, f"role:aws-credential/{suffix}", res)]

    def login_profile(self, action: str) -> list[dict[str, Any]]:
        user = self.params.get("userName")
        if isinstance(user, str) and user:
            subject = user_id(user)
        elif self.actor and self.actor.startswith("user:"):
            subject = self.actor
        else:
            raise _Bad("requestParameters.userName is missing and the caller is not an IAM user")
        return [self.grant(action, subject, "role:aws-credential/console-password")]


HANDLERS: dict[str, Any] = {
    "CreateUser": _Converter.create_user,
    "DeleteUser": _Converter.delete_user,
    "UpdateUser": _Converter.update_principal,
    "UpdateGroup": _Converter.update_principal,
    "CreateGroup": _Converter.create_group,
    "DeleteGroup": _Converter.delete_group,
    "AddUserToGroup": _Converter.add_user_to_group,
    "RemoveUserFromGroup": _Converter.remove_user_from_group,
    "CreateRole": _Converter.create_role,
    "CreateServiceLinkedRole": _Converter.create_service_linked_role,
    "UpdateAssumeRolePolicy": _Converter.update_assume_role_policy,
    "DeleteRole": _Converter.delete_role,
    "DeleteServiceLinkedRole": _Converter.delete_role,
    "CreatePolicy": _Converter.create_policy,
    "DeletePolicy": _Converter.delete_policy,
    "CreateInstanceProfile": _Converter.create_instance_profile,
    "DeleteInstanceProfile": _Converter.delete_instance_profile,
    "AddRoleToInstanceProfile": _Converter.add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile": _Converter.remove_role_from_instance_profile,
    "CreateLoginProfile": lambda self: self.login_profile("grant"),
    "DeleteLoginProfile": lambda self: self.login_profile("revoke"),
}

_PLAIN_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]00:?00)?$")


def event_time(value: Any) -> str:
    """``eventTime`` as ISO 8601 UTC with ``Z``; raises :class:`_Bad` when unreadable."""
    if not isinstance(value, str):
        raise _Bad("eventTime is missing")
    m = _PLAIN_TIME.match(value.strip())
    if m is None:
        raise _Bad(f"eventTime {value!r} is not an ISO 8601 UTC time")
    return f"{m.group(1)}T{m.group(2)}{m.group(3) or ''}Z"


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


def convert(paths: list[Path], ctx: Context) -> Iterator[dict[str, Any]]:
    """Yield native events for the IAM changes in ``paths`` (see the module docstring)."""
    changes: list[tuple[str, int, Record, dict[str, Any]]] = []
    for order, record in enumerate(panther_records(paths, "eventName", "AWS.CloudTrail", records_key="Records")):
        data = record.data
        if not isinstance(data, dict):
            ctx.problem(record, "expected a CloudTrail record (a JSON object)")
            continue
        if "digestStartTime" in data and "logFiles" in data:
            # a digest file (CloudTrail-Digest/, beside the logs in the bucket): hashes, no events
            ctx.skip(record, "digest file", "CloudTrail-Digest")
            continue
        name, source = data.get("eventName"), data.get("eventSource")
        if data.get("eventType") == "AwsCloudTrailInsight":
            ctx.skip(record, "insight event", str(name or "AwsCloudTrailInsight"))
            continue
        if not isinstance(name, str) or not name or not isinstance(source, str) or not source:
            ctx.problem(record, "not a CloudTrail record: eventName or eventSource is missing")
            continue
        if source != IAM:
            ctx.skip(record, "not IAM", name)
            continue
        reason = _skip_reason(data)
        if reason in UNCONVERTED:
            ctx.unconverted(record, reason, name)
            continue
        if reason is not None:
            ctx.skip(record, reason, name)
            continue
        try:
            stamp = data.get("eventTime")
            assumed = ctx.missing_time(record) if stamp is None else None
            # without --assume-time, event_time says "eventTime is missing"
            time = assumed if assumed is not None else event_time(stamp)
        except _Bad as exc:
            ctx.incomplete(record, name, f"{name}: {exc}")
            continue
        changes.append((time, order, record, data))
    # Time order, so that a trust policy's update is compared with the one before it.
    changes.sort(key=lambda c: (c[0], c[1]))
    convert_one = _Converter()
    seen: dict[str, tuple[str, str]] = {}   # eventID -> (digest, where)
    for time, _, record, data in changes:
        name = data["eventName"]
        digest = _digest(data)
        raw_id = data.get("eventID")
        reused = None
        if isinstance(raw_id, str) and raw_id.strip():
            base = f"cloudtrail-{raw_id.strip()}"
            first = seen.get(raw_id)
            if first is not None:
                if first[0] == digest:
                    ctx.skip(record, "duplicate delivery", name)
                    continue
                reused = first[1]
                base = f"{base}-{digest[:8]}"
            else:
                seen[raw_id] = (digest, record.where())
        else:
            base = f"cloudtrail-sha256-{digest[:16]}"
            if base in seen:
                ctx.skip(record, "duplicate delivery", name)
                continue
            seen[base] = (digest, record.where())
        identity = data.get("userIdentity")
        account = data.get("recipientAccountId") or (
            identity.get("accountId") if isinstance(identity, dict) else None)
        account = str(account) if account else ""
        try:
            actor = actor_of(identity)
            parts = convert_one(data, account, actor)
        except _Bad as exc:
            ctx.incomplete(record, name, f"{name}: {exc}")
            continue
        except Malformed as exc:
            ctx.problem(record, f"{name}: {exc}")
            continue
        if not parts:
            ctx.skip(record, "no change", name)
            continue
        session = None
        if isinstance(identity, dict) and identity.get("type") == "AssumedRole":
            arn = identity.get("arn") or ""
            session = arn.rsplit("/", 1)[-1] if isinstance(arn, str) and "/" in arn else None
        src = ctx.source(record, raw_id if isinstance(raw_id, str) else None, eventName=name,
                         requestID=data.get("requestID"), userAgent=data.get("userAgent"),
                         sourceIPAddress=data.get("sourceIPAddress"), session=session,
                         reused_event_id=reused)
        ctx.count(name)
        for n, part in enumerate(parts, 1):
            event: dict[str, Any] = {"id": base if len(parts) == 1 else f"{base}-{n}", "time": time}
            event.update(part)
            if actor:
                event["actor"] = actor
            event["source"] = dict(src)
            yield ctx.mapping.apply(data, event)
