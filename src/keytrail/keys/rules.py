"""What a registry entry must be before ``keytrail key issue|rotate|revoke`` writes it.

Each rule mirrors a check the registry would otherwise fail later, so that an
edit never creates the finding it could have refused:

- the id is well formed (the keys schema's pattern) and new to the registry;
- the holder is a ``user:`` or ``svc:`` the directory knows and is active;
- the owner is a ``user:`` (the accountable human), known and active, and not the
  service that holds the key (``orphaned.key-without-owner``);
- the approver is known and active, and neither the holder nor the owner
  (``unexplained.self-approved-key``);
- every scope glob is visible text naming a target kind (``role:`` or ``group:``;
  ``*`` alone means every target);
- the key is valid for a bounded time: ``expires`` after ``not_before`` and in the
  future, and no longer than the policy allows (``max_validity`` of an enabled
  ``sprawl.long-lived-key`` rule, else :data:`DEFAULT_MAX_VALIDITY`);
- purpose and ticket are given, as visible text on one line.

Every problem is collected and reported together; nothing is written then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from keytrail.model import Directory, Key, Policy
from keytrail.textsafe import inline

#: How long a key may be valid when no enabled ``sprawl.long-lived-key`` rule says (one year).
DEFAULT_MAX_VALIDITY = 365 * 86_400_000_000
#: The check whose ``max_validity`` bounds a new key's validity.
LONG_LIVED = "sprawl.long-lived-key"
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")


@dataclass(frozen=True)
class Draft:
    """A key about to be written (times in epoch microseconds)."""

    id: str
    holder: str
    owner: str
    purpose: str
    ticket: str
    approved_by: str
    scope: tuple[str, ...]
    not_before: int
    expires: int
    replaces: str | None = None


def max_validity(policies: Iterable[Policy]) -> tuple[int, str]:
    """The longest validity the policies allow, and where that bound comes from."""
    from keytrail.timeutil import TimeFormatError, parse_duration

    bounds: list[tuple[int, str]] = []
    for policy in policies:
        for rule in policy.rules:
            if rule.enabled and rule.check == LONG_LIVED and "max_validity" in rule.params:
                value = rule.params["max_validity"]
                if isinstance(value, str):  # loaded policies hold it parsed (microseconds)
                    try:
                        value = parse_duration(value)
                    except TimeFormatError:
                        continue  # the policy loader reports a malformed parameter
                if isinstance(value, int) and not isinstance(value, bool):
                    bounds.append((value, f"rule {rule.id} of {policy.file}"))
    if not bounds:
        return DEFAULT_MAX_VALIDITY, "keytrail's default (no enabled sprawl.long-lived-key rule sets max_validity)"
    return min(bounds)


def _principal(role: str, ident: str, directory: Directory, kinds: tuple[str, ...]) -> str | None:
    from keytrail.ids import token_problem

    if not ident:
        option = "--approved-by" if role == "approver" else f"--{role}"
        return f"no {role}: give {option} ({' or '.join(k + ':NAME' for k in kinds)})"

    kind, colon, name = ident.partition(":")
    if not colon or kind not in kinds or not name:
        return f"{role} '{inline(ident)}': expected {' or '.join(k + ':NAME' for k in kinds)}"
    why = token_problem(name)
    if why is not None:
        return f"{role} '{inline(ident)}' {why}"
    principal = directory.principals.get(ident)
    if principal is None:
        return f"{role} '{inline(ident)}' is not in the directory ({directory.file or 'directory.yaml'})"
    if principal.status != "active":
        return f"{role} '{inline(ident)}' is {principal.status}; a key needs active people behind it"
    return None


def scope_problem(glob: str) -> str | None:
    """Why ``glob`` cannot stand in a key's scope, or None."""
    from keytrail.ids import token_problem
    from keytrail.selectorcheck import TARGETS, kind_problem

    why = kind_problem(glob, TARGETS)
    if why is not None:
        return f"scope {why}"
    if glob != "*":
        bad = token_problem(glob.partition(":")[2])
        if bad is not None:
            return f"scope '{inline(glob)}' {bad}"
    return None


def text_problem(option: str, value: str) -> str | None:
    """Why a free-text value (purpose, ticket, reason) cannot be written as given."""
    if not value.strip():
        return f"{option} is empty; say why the key exists and which ticket approved it"
    from keytrail.textsafe import is_inert

    if not is_inert(value):
        return f"{option} '{inline(value)}' holds a control or invisible character; write visible text on one line"
    return None


def problems(draft: Draft, keys: dict[str, Key], directory: Directory, policies: Iterable[Policy],
             now: int) -> list[str]:
    """Every reason ``draft`` cannot be added to ``keys``; empty when it can."""
    from keytrail.timeutil import format_time

    out: list[str] = []
    if not KEY_ID.fullmatch(draft.id):
        out.append(f"key id '{inline(draft.id)}': 1 to 128 letters, digits and . _ : / @ + -, "
                   "starting with a letter or digit")
    elif draft.id in keys:
        where = keys[draft.id].location
        out.append(f"key id '{inline(draft.id)}' is already in the registry"
                   + (f" ({where})" if where else "") + "; key ids are never reused")
    out += [p for p in (_principal("holder", draft.holder, directory, ("user", "svc")),
                        _principal("owner", draft.owner, directory, ("user",)),
                        _principal("approver", draft.approved_by, directory, ("user",))) if p]
    if draft.owner == draft.holder and draft.holder.startswith("svc:"):
        out.append(f"owner '{inline(draft.owner)}' is the service that holds the key; an automation key "
                   "needs an accountable human owner")
    for role, who in (("holder", draft.holder), ("owner", draft.owner)):
        if draft.approved_by == who:
            out.append(f"approver '{inline(who)}' is the key's {role}; a key is approved by someone else")
    if not draft.scope:
        out.append("no scope: give at least one --scope GLOB (e.g. role:prod-*)")
    for glob in draft.scope:
        why = scope_problem(glob)
        if why:
            out.append(why)
    for option, value in (("--purpose", draft.purpose), ("--ticket", draft.ticket)):
        why = text_problem(option, value)
        if why:
            out.append(why)
    if draft.expires <= draft.not_before:
        out.append(f"expires {format_time(draft.expires)} is not after not_before {format_time(draft.not_before)}")
    elif draft.expires <= now:
        out.append(f"expires {format_time(draft.expires)} is in the past; the key would never be valid")
    else:
        bound, source = max_validity(policies)
        if draft.expires - draft.not_before > bound:
            out.append(f"valid for {days(draft.expires - draft.not_before)} "
                       f"({format_time(draft.not_before)} to {format_time(draft.expires)}), longer than "
                       f"the {days(bound)} allowed by {source}; give an earlier --expires")
    return out


def days(us: int) -> str:
    """A validity in days, as people weigh it (``365 days``, ``about 487 days``)."""
    whole, rest = divmod(us, 86_400_000_000)
    return f"{whole} day{'s' if whole != 1 else ''}" if not rest else f"about {round(us / 86_400_000_000)} days"


def as_entry(draft: Draft) -> dict[str, Any]:
    """The registry entry of ``draft``, in the registry's field order (times as ISO 8601 text)."""
    from keytrail.timeutil import format_time

    entry: dict[str, Any] = {"id": draft.id}
    if draft.replaces:
        entry["replaces"] = draft.replaces
    entry.update({"holder": draft.holder, "owner": draft.owner, "purpose": draft.purpose,
                  "ticket": draft.ticket, "approved_by": draft.approved_by, "scope": list(draft.scope),
                  "not_before": format_time(draft.not_before), "expires": format_time(draft.expires),
                  "revoked_at": None})
    return entry
