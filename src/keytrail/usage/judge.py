"""Which usage a review may rely on, and the last use of each grant and account.

The rules (documented in ``docs/usage.md``):

- **Fit.** A record is used only when it was collected at or before ``as_of``
  and at most ``max_staleness`` before it. Other records are left out, as if
  absent, and the report says which and why: stale usage never makes access
  look unused.
- **Coverage.** A grant is judged only when usage covers it; absent usage is
  never read as "unused". Usage of (subject, target, resource) covers that
  grant; service records (AWS access advisor) cover a role whose directory
  permissions name only services the subject has records for (``*`` needs a
  record of every service, as access advisor lists them all); a group's grant
  is covered by the group's own record, or else by a record of every member
  that reaches the group (a use by any member is a use of the group's grant);
  a membership (a subject in a group) is covered by its own record, or else
  by records of everything the group grants (using what the group grants is
  using the membership).
- **Last use** is the latest use among the covering records; null (never used)
  only when every one of them says so.
- **Sign-ins** stand for a principal's account in one system: every direct
  grant of the subject on the record's ``resource`` whose target matches the
  record's ``targets`` globs (all, when it has none).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from keytrail.model import Grant
from keytrail.timeutil import DAY, format_duration, format_time
from keytrail.usage.load import UsageRecord

#: Default parameters of the unused-access checks.
DEFAULT_UNUSED_FOR = 90 * DAY
DEFAULT_MAX_STALENESS = 7 * DAY


@dataclass(frozen=True)
class Use:
    """The last use of a grant or an account, as the covering records say."""

    last_used: int | None  # None: never used in the systems' tracking periods
    collected_at: int      # the oldest collection among the covering records (the age shown)
    sources: tuple[str, ...]
    records: tuple[UsageRecord, ...] = ()

    def age(self, as_of: int) -> int:
        """How old the usage data behind this use is, as of ``as_of``."""
        return as_of - self.collected_at


def _combine(records: Iterable[UsageRecord]) -> Use | None:
    found = list(records)
    if not found:
        return None
    if len(found) == 1:  # the common case, on every grant of a large organisation: no sorting
        r = found[0]
        return Use(r.last_used, r.collected_at, (r.source,), (r,))
    used = [r.last_used for r in found if r.last_used is not None]
    return Use(max(used) if used else None, min(r.collected_at for r in found),
               tuple(sorted({r.source for r in found})), tuple(found))


def _merge(uses: list[Use]) -> Use:
    last: int | None = None
    oldest = uses[0].collected_at
    sources: set[str] = set()
    for u in uses:
        if u.last_used is not None and (last is None or u.last_used > last):
            last = u.last_used
        oldest = min(oldest, u.collected_at)
        sources.update(u.sources)
    return Use(last, oldest, tuple(sorted(sources)), tuple(r for u in uses for r in u.records))


@dataclass
class Usage:
    """The usage records that fit ``as_of``, indexed; and those left out, for the report."""

    as_of: int
    max_staleness: int
    configured: bool
    entitlement: dict[tuple[str, str, str], list[UsageRecord]] = field(default_factory=dict)
    service: dict[tuple[str, str], dict[str, list[UsageRecord]]] = field(default_factory=dict)
    signin: dict[str, list[UsageRecord]] = field(default_factory=dict)
    #: (reads, source, collected_at) -> records used / left out as stale / left out as collected
    #: after as_of; ``reads`` is ``access`` (entitlement and service records) or ``sign-in``
    used: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    stale: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    future: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    #: grant_use results: the check and the report's note both ask for every grant
    _cache: dict[tuple[str, str, str], Use | None] = field(default_factory=dict)
    _holders: dict[str, list[str]] = field(default_factory=dict)
    _direct: dict[tuple[str, str, str], Use] | None = None

    @classmethod
    def of(cls, records: list[UsageRecord] | None, as_of: int, max_staleness: int) -> Usage:
        usage = cls(as_of, max_staleness, records is not None)
        for r in records or ():
            key = ("sign-in" if r.level == "sign-in" else "access", r.source, r.collected_at)
            if r.collected_at > as_of:
                usage.future[key] += 1
                continue
            if as_of - r.collected_at > max_staleness:
                usage.stale[key] += 1
                continue
            usage.used[key] += 1
            if r.target:
                usage.entitlement.setdefault((r.subject, r.target, r.resource), []).append(r)
            elif r.service:
                usage.service.setdefault((r.subject, r.resource), {}).setdefault(r.service.lower(), []).append(r)
            else:
                usage.signin.setdefault(r.subject, []).append(r)
        return usage

    # -- grants ---------------------------------------------------------------

    def grant_use(self, view: Any, grant: Grant) -> Use | None:
        """The last use of a held grant, or None when usage does not cover it."""
        key = (grant.subject, grant.target, grant.resource)
        if key not in self._cache:
            self._cache[key] = self._use(view, *key, depth=0) if self.entitlement or self.service else None
        return self._cache[key]

    def _use(self, view: Any, subject: str, target: str, resource: str, depth: int) -> Use | None:
        if self._direct is None:  # each entitlement's records combined once, not once per question
            self._direct = {key: use for key, records in self.entitlement.items()
                            if (use := _combine(records)) is not None}
        direct = self._direct.get((subject, target, resource))
        if direct is not None:
            return direct
        if self.service:
            by_service = self._service_use(view, subject, target, resource)
            if by_service is not None:
                return by_service
        if depth > 0:
            return None
        if subject.startswith("group:"):
            members = self._members(view, subject)
            uses = [self._use(view, m, target, resource, depth + 1) for m in members]
            if members and all(u is not None for u in uses):
                return _merge([u for u in uses if u is not None])
        if target.startswith("group:"):
            reached = sorted(view.graph.closure_set(target) - {(target, resource)})
            uses = [self._use(view, subject, t, r, depth + 1) for t, r in reached]
            if reached and all(u is not None for u in uses):
                return _merge([u for u in uses if u is not None])
        return None

    def _members(self, view: Any, group: str) -> list[str]:
        """The users and services that reach ``group`` (directly or through nested groups), once per group."""
        found = self._holders.get(group)
        if found is None:
            found = self._holders[group] = sorted(m for m in view.graph.holders(group) - {group}
                                                  if not m.startswith("group:"))
        return found

    def _service_use(self, view: Any, subject: str, target: str, resource: str) -> Use | None:
        services = self.service.get((subject, resource))
        role = view.directory.roles.get(target) if services else None
        if role is None or not role.permissions or services is None:
            return None
        needed = services_of(role.permissions)
        if needed is None:  # '*' or NotAction: every service the data lists
            needed = set(services)
        if not needed or not needed <= set(services):
            return None
        return _combine(r for name in sorted(needed) for r in services[name])

    # -- accounts ---------------------------------------------------------------

    def accounts(self, view: Any) -> list[tuple[str, str, Use, list[Grant]]]:
        """Each (subject, resource) with sign-in usage: its last sign-in and the direct grants it stands for."""
        by_subject: dict[str, list[Grant]] = {}
        for grant in view.state.grants.values():
            if grant.subject in self.signin:
                by_subject.setdefault(grant.subject, []).append(grant)
        out = []
        for subject in sorted(self.signin):
            by_resource: dict[str, list[UsageRecord]] = {}
            for r in self.signin[subject]:
                by_resource.setdefault(r.resource, []).append(r)
            for resource in sorted(by_resource):
                records = by_resource[resource]
                held = sorted((g for g in by_subject.get(subject, ()) if g.resource == resource
                               and any(_covers(r, g.target) for r in records)),
                              key=lambda g: (g.target, g.resource))
                use = _combine(records)
                assert use is not None
                out.append((subject, resource, use, held))
        return out

    def signin_covers(self, grant: Grant) -> bool:
        return self.signin_use(grant) is not None

    def signin_use(self, grant: Grant) -> Use | None:
        """The subject's last sign-in to the system that holds ``grant``, or None when unknown."""
        return _combine(r for r in self.signin.get(grant.subject, ())
                        if r.resource == grant.resource and _covers(r, grant.target))

    # -- the report -------------------------------------------------------------

    def relied_on(self, reads: str) -> bool:
        """Whether any record of kind ``reads`` (``access`` or ``sign-in``) fits the review."""
        return any(key[0] == reads for key in self.used)

    def notes(self, uncovered: Counter[str], label: str, reads: str) -> list[str]:
        """What the report says about the usage behind ``label`` (a rule that reads records of
        kind ``reads``): which data was used, which was left out and why, and how many held
        grants no usage covers."""
        if not self.configured:
            return [f"{label}: no usage data configured (usage: in keytrail.yaml): unused access was not checked"]
        limit = format_duration(self.max_staleness)
        out = []
        kind = "sign-in" if reads == "sign-in" else "usage"

        def mine(counts: Counter[tuple[str, str, int]]) -> list[tuple[tuple[str, int], int]]:
            return sorted(((source, when), n) for (what, source, when), n in counts.items() if what == reads)

        if not any(key[0] == reads for key in (*self.used, *self.stale, *self.future)):
            out.append(f"{label}: the usage data holds no {kind} records: nothing was judged")
        for (source, when), n in mine(self.used):
            out.append(f"{label}: used {n:,} {kind} record(s) from {source} collected {format_time(when)} "
                       f"({age_text(self.as_of - when)} before {format_time(self.as_of)})")
        for (source, when), n in mine(self.stale):
            out.append(f"{label}: left out {n:,} {kind} record(s) from {source} collected {format_time(when)}, "
                       f"{age_text(self.as_of - when)} before {format_time(self.as_of)} (max_staleness {limit}): "
                       "older usage is never read as unused")
        for (source, when), n in mine(self.future):
            out.append(f"{label}: left out {n:,} {kind} record(s) from {source} collected {format_time(when)}, "
                       f"after {format_time(self.as_of)}")
        if uncovered:
            total = sum(uncovered.values())
            parts = ", ".join(f"{_place(k)} {v:,}" for k, v in sorted(uncovered.items(), key=lambda kv: (-kv[1], kv[0]))[:8])
            more = f", and {len(uncovered) - 8} more" if len(uncovered) > 8 else ""
            out.append(f"{label}: {total:,} held grant(s) have no usage data that fits, so whether they are used "
                       f"was not judged ({parts}{more})")
        return out


def _place(resource: str) -> str:
    from keytrail.textsafe import inline

    return inline(resource) if resource else "unscoped"


def _covers(record: UsageRecord, target: str) -> bool:
    return not record.targets or any(fnmatchcase(target, glob) for glob in record.targets)


def services_of(permissions: Iterable[str]) -> set[str] | None:
    """The service namespaces of a role's allowed actions (``s3:GetObject`` -> ``s3``); None
    when it allows every service (``*``, a ``NotAction``)."""
    out: set[str] = set()
    for p in permissions:
        if p.startswith("Deny:"):
            continue
        if p == "*" or p.startswith("NotAction:"):
            return None
        if ":" in p:
            out.add(p.split(":", 1)[0].lower())
    return out


def age_text(us: int) -> str:
    from keytrail.snapshot_fit import _age as age

    return age(us)
