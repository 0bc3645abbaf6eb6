"""What ``keytrail lint`` adds to the checks of loading: what the organisation does not have, and waiver expiry.

A well-formed selector, waiver or key scope that matches nothing the
organisation knows is a **warning** (a policy may be written ahead of the
organisation): a selector, a waiver's ``subject`` or ``target``, a selector's
attribute name or value, a check parameter naming an attribute
(``peer_attribute``), a ``forbid`` resource glob (only the history knows
resources), an approver, a key's holder.
"Known" is the directory first and, only when something is missing from it, the
history too (every id an event names, every attribute a join or move sets), so
the history is read only when needed.

A waiver that has expired at ``--as-of`` no longer waives anything: an
**error** (the findings it covered fail ``check`` again, reported as
``policy.expired-waiver``). One expiring within :data:`EXPIRY_WARNING`: a
warning. A waiver with no ``subject``, ``target`` or ``resource`` waives every
finding of its rule, present and future (so does one whose globs are only
``*`` or ``KIND:*``): a warning asking to narrow it (or disable the rule, which
says so openly). So is a waiver approved by its own subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import get_close_matches
from glob import has_magic
from pathlib import Path
from typing import Any

from keytrail.errors import KeytrailError, Problem
from keytrail.model import Directory
from keytrail.policy import PolicyDocument, kind_of_rule
from keytrail.selectorcheck import kind_problem, rule_selectors
from keytrail.selectors import glob_regex
from keytrail.textsafe import inline
from keytrail.timeutil import DAY, TimeFormatError, format_date, parse_time
from keytrail.yamlload import Locator

#: A waiver expiring within this long after ``--as-of`` is warned about.
EXPIRY_WARNING = 30 * DAY


@dataclass
class Known:
    """The ids and attributes the organisation has: the directory's, then the history's when asked."""

    directory: Directory
    history: tuple[list[Path], list[str]] | None = None
    _ids: set[str] = field(default_factory=set)
    _attributes: dict[str, set[Any]] = field(default_factory=dict)
    _resources: set[str] = field(default_factory=set)
    _history_read: bool = False

    def __post_init__(self) -> None:
        d = self.directory
        self._ids = {*d.principals, *d.groups, *d.roles}
        entries: list[Any] = [*d.principals.values(), *d.groups.values(), *d.roles.values()]
        for entry in entries:
            for name, value in entry.attributes.items():
                self._attributes.setdefault(name, set()).update(_values(value))

    def read_history(self) -> bool:
        """Add the history's ids and attributes, once; False when there is none to read."""
        if self._history_read or not self.history or not self.history[0]:
            return False
        self._history_read = True
        from keytrail.history import load_history

        try:
            events = load_history(*self.history).events
        except KeytrailError:
            return False  # `keytrail check` reports a broken history; the directory is what lint knows
        for e in events:
            self._ids.update(i for i in (e.subject, e.target, e.actor, e.approver) if i)
            self._resources.add(e.resource)
            attributes = e.get("attributes")
            if isinstance(attributes, dict):
                for name, value in attributes.items():
                    self._attributes.setdefault(name, set()).update(_values(value))
        return True

    def matches(self, pattern: str) -> bool:
        """Whether id glob ``pattern`` matches an id the directory or the history names."""
        if self._match(pattern):
            return True
        return self.read_history() and self._match(pattern)

    def _match(self, pattern: str) -> bool:
        if not has_magic(pattern):
            return pattern in self._ids
        rx = glob_regex(pattern)
        return any(rx.match(i) for i in self._ids)

    def attribute(self, name: str) -> set[Any] | None:
        """The values attribute ``name`` takes anywhere, or None when nothing has it."""
        if name not in self._attributes:
            self.read_history()
        return self._attributes.get(name)

    def resource_matches(self, pattern: str) -> bool:
        """Whether resource glob ``pattern`` matches a resource the history grants on (only it knows them)."""
        self.read_history()
        rx = glob_regex(pattern)
        return any(rx.match(r) for r in self._resources)

    def ids(self) -> list[str]:
        """Every id known so far, sorted."""
        return sorted(self._ids)

    def attribute_names(self) -> list[str]:
        """Every attribute name known so far, sorted."""
        return sorted(self._attributes)


def _matches_all(pattern: Any) -> bool:
    """``*``, or ``KIND:*``: a waiver glob that leaves out nothing (of its kind)."""
    return pattern == "*" or (isinstance(pattern, str) and pattern.endswith(":*") and pattern.count("*") == 1
                              and not any(c in pattern for c in "?["))


def _values(value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, (str, int, float, bool)) or v is None]


def policy_warnings(document: PolicyDocument, known: Known | None, as_of: int) -> Iterator[Problem]:
    """Problems of one policy file beyond loading: waiver expiry; names the organisation lacks."""
    if document.policy is None:
        return
    data, loc = document.data, document.locator
    if known is not None:
        for i in sorted(document.rules):
            raw = data["rules"][i]
            kind = kind_of_rule(raw)
            if kind == "use":
                yield from _parameter_problems(raw, ("rules", i), loc, known)
            else:
                for where, selector, allowed in rule_selectors(kind, raw[kind], ("rules", i, kind)):
                    yield from _selector_problems(selector, allowed, where, loc, known)
                resource = raw[kind].get("resource") if kind == "forbid" else None
                if resource is not None and known.history and not known.resource_matches(resource):
                    yield loc.problem(("rules", i, kind, "resource"), f"resource {resource!r} matches no "
                                      "resource the history grants access on", "warning")
    for i in sorted(document.waivers):
        raw = data["waivers"][i]
        yield from _waiver_problems(raw, ("waivers", i), loc, known, as_of)


def _parameter_problems(raw: dict[str, Any], where: tuple[Any, ...], loc: Locator,
                        known: Known) -> Iterator[Problem]:
    """A check parameter naming an attribute (``peer_attribute``) that nobody has: the check finds nothing."""
    for name, value in (raw.get("with") or {}).items():
        if name.endswith("_attribute") and isinstance(value, str) and known.attribute(value) is None:
            from keytrail.schemas import did_you_mean

            yield loc.problem(where + ("with", name), f"no principal, group or role has attribute {value!r}, "
                              f"so {raw['use']} finds nothing{did_you_mean(value, known.attribute_names())}",
                              "warning")


def _waiver_problems(raw: dict[str, Any], where: tuple[Any, ...], loc: Locator, known: Known | None,
                     as_of: int) -> Iterator[Problem]:
    try:
        expires = parse_time(raw["expires"])
    except TimeFormatError:
        return  # already an error
    rule = raw["rule"]
    if expires <= as_of:
        yield loc.problem(where + ("expires",), f"waiver for rule {rule} expired {format_date(expires)}: "
                          "it no longer waives anything (renew it with a new approval and expiry, "
                          "or remove it)")
    elif expires - as_of <= EXPIRY_WARNING:
        days = -(-(expires - as_of) // DAY)
        yield loc.problem(where + ("expires",), f"waiver for rule {rule} expires "
                          f"{format_date(expires)}, in {days} day{'s' if days != 1 else ''}: renew it "
                          "(a new approval and expiry) or fix the findings it covers", "warning")
    if not any(raw.get(k) is not None and not _matches_all(raw[k]) for k in ("subject", "target", "resource")):
        yield loc.problem(where, f"waiver waives every finding of rule {rule}, present and future: "
                          "narrow it with `subject`, `target` or `resource` (or disable the rule openly "
                          "with `enabled: false`)", "warning")
    if raw.get("subject") == raw["approved_by"]:
        yield loc.problem(where + ("approved_by",), f"waiver for rule {rule} is approved by its own subject "
                          f"{inline(raw['approved_by'])}: an exception needs someone else's approval", "warning")
    if known is None:
        return
    for name in ("subject", "target"):
        pattern = raw.get(name)
        if isinstance(pattern, str) and pattern != "*" and not known.matches(pattern):
            yield loc.problem(where + (name,), f"waiver {name} {pattern!r} matches nothing the directory "
                              f"or the history knows, so it waives nothing{_did_you_mean(pattern, known.ids())}",
                              "warning")
    if raw["approved_by"] not in known.directory.principals:
        yield unknown_principal(raw["approved_by"], "approver", where + ("approved_by",), loc,
                                known.directory)


def key_problems(data: dict[str, Any], loc: Locator, directory: Directory, as_of: int) -> Iterator[Problem]:
    """Warnings about a valid key registry: people and scopes the directory does not know.

    Only keys still valid at ``as_of`` are compared with the directory: a key
    revoked or expired is the record of past changes, and may rightly name a
    role since retired or a person since removed.
    """
    targets = sorted([*directory.roles, *directory.groups])
    matched: dict[str, bool] = {}
    for i, raw in enumerate(data.get("keys") or []):
        ends = [parse_time(raw[k]) for k in ("expires", "revoked_at") if raw.get(k) is not None]
        if any(end <= as_of for end in ends):
            continue
        for name, what in (("holder", "holder"), ("owner", "owner"), ("approved_by", "approver")):
            who = raw.get(name)
            if who is not None and who not in directory.principals:
                yield unknown_principal(who, what, ("keys", i, name), loc, directory)
        for j, pattern in enumerate(raw.get("scope") or []):
            if pattern not in matched:
                rx = glob_regex(pattern)
                matched[pattern] = any(rx.match(t) for t in targets)
            if not matched[pattern]:
                hint = "" if has_magic(pattern) else _did_you_mean(pattern, targets)
                yield loc.problem(("keys", i, "scope", j), f"scope {pattern!r} matches no role or group "
                                  f"the directory defines{hint}", "warning")


def unknown_principal(who: str, what: str, where: tuple[Any, ...], loc: Locator,
                      directory: Directory) -> Problem:
    hint = _did_you_mean(who, directory.principals)
    return loc.problem(where, f"{what} {inline(who)} is not in the directory{hint}", "warning")


def _selector_problems(selector: Any, allowed: tuple[str, ...], where: tuple[Any, ...], loc: Locator,
                       known: Known) -> Iterator[Problem]:
    if isinstance(selector, dict):
        for name, value in (selector.get("attributes") or {}).items():
            yield from _attribute_problems(name, value, where + ("attributes", name), loc, known)
        if "id" not in selector:
            return
        pattern, where = selector["id"], where + ("id",)
    else:
        pattern = selector
    if pattern == "*" or kind_problem(pattern, allowed) is not None or known.matches(pattern):
        return  # matches everything, or already an error
    kind = pattern.partition(":")[0]
    what = {"user": "user", "svc": "service", "group": "group", "role": "role"}.get(kind, "id")
    if has_magic(pattern):
        yield loc.problem(where, f"{pattern!r} matches no {what} the directory or the history knows",
                          "warning")
    else:
        hint = _did_you_mean(pattern, known.ids())
        yield loc.problem(where, f"{inline(pattern)} is not a {what} the directory or the history knows{hint}",
                          "warning")


def _attribute_problems(name: str, value: Any, where: tuple[Any, ...], loc: Locator,
                        known: Known) -> Iterator[Problem]:
    values = known.attribute(name)
    if values is None:
        names = known.attribute_names()
        from keytrail.schemas import did_you_mean

        yield loc.problem(where, f"no principal, group or role has attribute {name!r}, so this selector "
                          f"matches nothing{did_you_mean(name, names)}", "warning")
        return
    wanted = value if isinstance(value, list) else [value]
    missing = [v for v in wanted if v not in values]
    if missing and len(missing) == len(wanted):
        shown = sorted(str(v) for v in values if v is not None)
        hint = get_close_matches(str(missing[0]), shown, n=1, cutoff=0.6)
        yield loc.problem(where, f"no principal, group or role has {name} = "
                          f"{', '.join(repr(v) for v in missing)}, so this selector matches nothing"
                          + (f' (did you mean "{inline(hint[0])}"?)' if hint else ""), "warning")


def _did_you_mean(ident: str, known: Iterable[str]) -> str:
    """`` (did you mean "user:alice"?)``, comparing names of the same kind only.

    Every id of a kind shares its ``user:`` prefix; compared whole, any two
    short ids look alike ("user:dave" and "user:alice").
    """
    kind, _, name = ident.partition(":")
    names = {k.partition(":")[2]: k for k in known if k.partition(":")[0] == kind}
    close = get_close_matches(name, sorted(names), n=1, cutoff=0.6)  # as schemas.did_you_mean
    return f' (did you mean "{inline(names[close[0]])}"?)' if close else ""
