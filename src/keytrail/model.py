"""The domain objects every other module speaks in.

Directory entries, keys, policies and findings are frozen dataclasses. History
events are :class:`Event` named tuples: there can be millions of them, and a
tuple of interned strings and integers costs a fraction of a dict or a
dataclass instance. Times are epoch microseconds (see :mod:`keytrail.timeutil`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
CATEGORIES = ("sprawl", "orphaned", "unexplained", "policy")

#: Actions that change access or the catalogue of targets: each must be keyed.
CHANGE_ACTIONS = frozenset({"grant", "revoke", "define", "retire", "certify"})
#: Joiner / mover / leaver facts from the HR feed.
LIFECYCLE_ACTIONS = frozenset({"join", "move", "leave"})
ACTIONS = CHANGE_ACTIONS | LIFECYCLE_ACTIONS

def kind_of(identifier: str) -> str:
    """The kind prefix of a ``kind:name`` identifier (``user``, ``svc``, ``group``, ``role``)."""
    return identifier.partition(":")[0]


class Location(NamedTuple):
    """Where something was written: a path relative to the project root, 1-based line and column.

    A named tuple rather than a dataclass: reports create one per finding.
    """

    path: str
    line: int = 0
    column: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "line": max(self.line, 1)}
        if self.column:
            out["column"] = self.column
        return out

    def __str__(self) -> str:
        text = self.path
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text


@dataclass(frozen=True, slots=True)
class Principal:
    """A person (``user:``) or an automated service (``svc:``) from the directory."""

    id: str
    name: str = ""
    email: str = ""
    status: str = "active"
    manager: str | None = None
    owner: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    terminated_at: int | None = None
    suspended_at: int | None = None
    location: Location | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.id)


@dataclass(frozen=True, slots=True)
class Target:
    """A group or role the directory defines."""

    id: str
    name: str = ""
    description: str = ""
    owner: str | None = None
    privileged: bool = False
    permissions: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    location: Location | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.id)


@dataclass(frozen=True, eq=False)
class Directory:
    """The current truth about principals and targets."""

    principals: Mapping[str, Principal] = field(default_factory=dict)
    groups: Mapping[str, Target] = field(default_factory=dict)
    roles: Mapping[str, Target] = field(default_factory=dict)
    file: str = ""

    def target(self, identifier: str) -> Target | None:
        """The group or role named ``identifier``, if defined."""
        return self.roles.get(identifier) or self.groups.get(identifier)

    def knows(self, identifier: str) -> bool:
        """Whether ``identifier`` is a principal, group or role of the directory."""
        return identifier in self.principals or identifier in self.groups or identifier in self.roles


@dataclass(frozen=True, slots=True)
class Key:
    """A provisioning key from the registry."""

    id: str
    holder: str
    owner: str | None = None
    purpose: str = ""
    ticket: str = ""
    approved_by: str | None = None
    scope: tuple[str, ...] = ()
    not_before: int | None = None
    expires: int | None = None
    revoked_at: int | None = None
    location: Location | None = None
    #: The key this one succeeds (``replaces:``; ``keytrail key rotate`` links them).
    replaces: str | None = None


class Event(NamedTuple):
    """One history event. ``file`` indexes the project's history files; ``line`` is 1-based.

    ``extra`` holds every field beyond the common ones (``attributes``, ``prev``,
    ``owner``, importer ``source`` and unknown fields), or ``None``: unknown
    fields are kept and shown, never dropped.
    """

    id: str
    time: int
    action: str
    subject: str | None
    target: str | None
    resource: str
    actor: str | None
    key: str | None
    approver: str | None
    ticket: str | None
    reason: str | None
    expires: int | None
    file: int
    line: int
    extra: dict[str, Any] | None

    def get(self, name: str, default: Any = None) -> Any:
        """A field beyond the common ones (``attributes``, ``prev``, ...)."""
        return self.extra.get(name, default) if self.extra else default


class SnapshotEntry(NamedTuple):
    """One line of the snapshot: access as observed in the real system (``extra``: its other fields)."""

    subject: str
    target: str
    resource: str
    line: int
    extra: dict[str, Any] | None = None


class Grant:
    """An active (subject, target, resource) entitlement and its provenance.

    ``event`` is the grant event currently in force (a re-grant replaces it);
    ``since`` is when the current, uninterrupted holding began; ``certified``
    is the latest ``certify`` event for it, if any. Built by replay, read-only
    afterwards.
    """

    __slots__ = ("subject", "target", "resource", "event", "since", "certified")

    def __init__(self, subject: str, target: str, resource: str, event: Event, since: int) -> None:
        self.subject = subject
        self.target = target
        self.resource = resource
        self.event = event
        self.since = since
        self.certified: Event | None = None

    @property
    def entitlement(self) -> tuple[str, str]:
        return (self.target, self.resource)

    @property
    def expires(self) -> int | None:
        return self.event.expires

    def __repr__(self) -> str:
        return f"Grant({self.subject!r}, {self.target!r}, {self.resource!r}, event={self.event.id!r})"


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check reports, before the engine stamps rule, severity and fingerprint.

    ``evidence`` is a mapping, or a function returning one: checks with many
    findings build it only when the finding is rendered (see checks._util).
    ``ident`` lists the parts beyond (subject, target, resource) that make the
    finding distinct and stable (an event id, a waiver's rule); never counts or
    wording, so that fingerprints survive unrelated changes.
    """

    message: str
    subject: str | None = None
    target: str | None = None
    resource: str = ""
    event: Event | None = None
    key: str | None = None
    evidence: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict, hash=False)
    location: Location | None = None
    ident: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # further targets the finding is about (a conflicting pair's second)

    def evidence_data(self) -> Mapping[str, Any]:
        """The evidence as a mapping, built now if it was deferred."""
        return self.evidence() if callable(self.evidence) else self.evidence


# A run builds one Finding and one Reported per finding, millions at scale. The __init__
# dataclass writes for a frozen class sets each field through object.__setattr__ (a
# global, an attribute and a call per field); these store through the slots' own
# descriptors instead, in half the time. Same parameters, defaults and values: the
# classes stay frozen (assignment still raises), and eq, hash, repr and replace() are
# the dataclass's own.
_FINDING_SET = tuple(Finding.__dict__[name].__set__ for name in (
    "message", "subject", "target", "resource", "event", "key", "evidence", "location", "ident",
    "also"))


def _finding_init(self: Finding, message: str, subject: str | None = None, target: str | None = None,
                  resource: str = "", event: Event | None = None, key: str | None = None,
                  evidence: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
                  location: Location | None = None, ident: tuple[str, ...] = (),
                  also: tuple[str, ...] = ()) -> None:
    s_message, s_subject, s_target, s_resource, s_event, s_key, s_evidence, s_location, s_ident, \
        s_also = _FINDING_SET
    s_message(self, message)
    s_subject(self, subject)
    s_target(self, target)
    s_resource(self, resource)
    s_event(self, event)
    s_key(self, key)
    s_evidence(self, {} if evidence is None else evidence)  # the field's default_factory
    s_location(self, location)
    s_ident(self, ident)
    s_also(self, also)


_finding_init.__name__, _finding_init.__qualname__ = "__init__", "Finding.__init__"
Finding.__init__ = _finding_init  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class Waiver:
    """An approved, expiring exception to one rule."""

    rule: str
    reason: str
    approved_by: str
    expires: int
    subject: str | None = None
    target: str | None = None
    resource: str | None = None
    ticket: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule: a built-in check (``use``) or a declarative kind."""

    id: str
    kind: str                  # "use", "separation_of_duties", "forbid", "require", "limit"
    check: str                 # the check id, or the kind as the findings name it
    severity: str | None       # None: the check's default
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""
    controls: tuple[str, ...] = ()
    policy: str = ""
    enabled: bool = True
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy file: metadata, rules and waivers."""

    name: str
    file: str
    description: str = ""
    controls: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    waivers: tuple[Waiver, ...] = ()


@dataclass(frozen=True, slots=True)
class Reported:
    """A finding as the engine reports it: stamped, fingerprinted, maybe waived.

    ``digest`` is the fingerprint's SHA-256 as 32 bytes, half the size of its
    text: a large organisation has hundreds of thousands of findings.
    """

    rule: str
    check: str
    category: str
    severity: str
    finding: Finding
    digest: bytes
    waived: Waiver | None = None
    controls: tuple[str, ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        """``sha256:`` and the digest in hex: the finding's stable identity in every output."""
        return "sha256:" + self.digest.hex()

    @property
    def subject(self) -> str | None:
        return self.finding.subject

    @property
    def target(self) -> str | None:
        return self.finding.target

    def sort_key(self) -> tuple[Any, ...]:
        f = self.finding
        return (-SEVERITY_RANK[self.severity], CATEGORIES.index(self.category), self.rule,
                f.subject or "", f.target or "", f.resource, f.event.id if f.event else "",
                self.digest)


_REPORTED_SET = tuple(Reported.__dict__[name].__set__ for name in (
    "rule", "check", "category", "severity", "finding", "digest", "waived", "controls"))


def _reported_init(self: Reported, rule: str, check: str, category: str, severity: str,
                   finding: Finding, digest: bytes, waived: Waiver | None = None,
                   controls: tuple[str, ...] = ()) -> None:
    s_rule, s_check, s_category, s_severity, s_finding, s_digest, s_waived, s_controls = _REPORTED_SET
    s_rule(self, rule)
    s_check(self, check)
    s_category(self, category)
    s_severity(self, severity)
    s_finding(self, finding)
    s_digest(self, digest)
    s_waived(self, waived)
    s_controls(self, controls)


_reported_init.__name__, _reported_init.__qualname__ = "__init__", "Reported.__init__"
Reported.__init__ = _reported_init  # type: ignore[method-assign]
