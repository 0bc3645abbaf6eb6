"""Selectors that cannot select what they are written to: errors, found before evaluation.

A selector is a glob over ids or a mapping (:mod:`keytrail.selectors`). Ids are
``kind:name``, so an id glob that does not start with a kind written out in
full (``payments-approver``, ``prod-*``, ``*:admin``, ``rol:x``) matches no id
at all, and the rule holding it would silently find nothing. The one exception
is ``*`` alone: every id that can stand there (it can match too much, never
nothing; in a waiver it is the same as leaving ``subject`` or ``target`` out). The same
holds for a kind that can never stand where the selector is: targets are
``role:`` and ``group:`` ids, the subjects of ``forbid`` and ``limit`` are users
and services (a group's members are judged, not the group), ``require`` judges
direct grants, which users, services and groups hold. In a mapping, ``status``
only ever matches principals and ``privileged`` only roles and groups; an
``id`` whose kind contradicts ``kind``, or an attribute with an empty list of
accepted values, matches nothing.

Each of these is an **error** naming the place and, when a defined id fits,
"did you mean". Whether a well-formed selector matches anything the
organisation has is another question (a policy may be written ahead of the
organisation): ``keytrail lint`` answers it with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from glob import has_magic
from typing import Any

from keytrail.errors import Problem
from keytrail.yamlload import Locator

KINDS = ("user", "svc", "group", "role")
PRINCIPALS = ("user", "svc")
TARGETS = ("group", "role")
#: What a rule's selector selects, by its place: the kinds that can stand there.
SUBJECT_KINDS = {"forbid": PRINCIPALS, "limit": PRINCIPALS, "require": ("user", "svc", "group")}

#: The one glob without a kind: every id that can stand where it is. It cannot
#: silently match nothing, and says what it means.
ANY = "*"
_KIND_WORDS = {"user": "a user", "svc": "a service", "group": "a group", "role": "a role"}


def kind_problem(pattern: str, allowed: tuple[str, ...]) -> str | None:
    """Why id glob ``pattern`` can match no id of the ``allowed`` kinds, or None when it can."""
    if pattern == ANY:
        return None
    kind, colon, name = pattern.partition(":")
    if not colon:
        return f"{pattern!r} names no kind: ids are KIND:NAME"
    if kind not in KINDS:
        if has_magic(kind):
            return (f"{pattern!r}: the kind part {kind!r} must be written out ({_choices(allowed)}); "
                    "write one selector per kind, or a mapping with `kind:`")
        return f"{pattern!r}: {kind!r} is not a kind ({_choices(KINDS)})"
    if kind not in allowed:
        return f"{pattern!r} is {_KIND_WORDS[kind]}, which can never stand here ({_choices(allowed)} can)"
    if not name:
        return f"{pattern!r} has an empty name"
    return None


def _choices(kinds: Iterable[str]) -> str:
    names = [f"{k}:" for k in kinds]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def suggestion(pattern: str, allowed: tuple[str, ...], known: Iterable[str] | None) -> str:
    """`` (did you mean `role:x`?)`` for an id glob with a missing or wrong kind.

    With the ids the organisation defines (``known``), the kinds under which the
    name matches one; without, every allowed kind, so the author can choose.
    """
    from keytrail.selectors import glob_regex

    kind, colon, name = pattern.partition(":")
    if not colon:
        name = pattern
    elif kind in KINDS and kind not in allowed:
        return ""  # a real kind in the wrong place: prefixing another kind is no fix
    if not name or name == "*":
        return ""
    candidates = [f"{k}:{name}" for k in allowed]
    if known is not None:
        ids = list(known)
        fits = [c for c in candidates if any(glob_regex(c).match(i) for i in ids)]
        if not fits:
            return ""
        candidates = fits
    from keytrail.textsafe import inline

    shown = " or ".join(f"`{inline(c)}`" for c in candidates)
    return f" (did you mean {shown}?)"


def selector_problems(selector: Any, allowed: tuple[str, ...], loc: Locator, where: tuple[Any, ...],
                      known: Iterable[str] | None = None) -> Iterator[Problem]:
    """Errors of one schema-valid selector that stands where only ``allowed`` kinds can."""
    if isinstance(selector, str):
        yield from _id_problems(selector, allowed, loc, where, known)
        return
    if not isinstance(selector, dict):
        return
    kinds = selector.get("kind")
    named = [kinds] if isinstance(kinds, str) else list(kinds or [])
    for k in named:
        if k not in allowed:
            at = where + ("kind",) if isinstance(kinds, str) else where + ("kind", named.index(k))
            yield loc.problem(at, f"kind {k} can never stand here ({_choices(allowed)} can)")
    if "id" in selector:
        found = list(_id_problems(selector["id"], allowed, loc, where + ("id",), known))
        yield from found
        kind = selector["id"].partition(":")[0]
        if not found and named and kind not in named:
            yield loc.problem(where + ("id",), f"{selector['id']!r} is of kind {kind}, but `kind:` asks "
                              f"for {', '.join(named)}: nothing can match both")
    attributes = selector.get("attributes")
    for name, value in (attributes.items() if isinstance(attributes, dict) else ()):
        if value == []:
            yield loc.problem(where + ("attributes", name), f"attribute {name!r}: an empty list of "
                              "accepted values matches nothing")
    if "status" in selector and not set(allowed) & set(PRINCIPALS):
        yield loc.problem(where + ("status",), "`status` is a principal's; targets have none, "
                          "so this selector matches nothing")
    if "privileged" in selector and not set(allowed) & set(TARGETS):
        yield loc.problem(where + ("privileged",), "`privileged` is a role's or group's; "
                          f"{' and '.join(_KIND_WORDS[k][2:] + 's' for k in allowed)} have none")


def _id_problems(pattern: str, allowed: tuple[str, ...], loc: Locator, where: tuple[Any, ...],
                 known: Iterable[str] | None) -> Iterator[Problem]:
    why = kind_problem(pattern, allowed)
    if why is not None:
        yield loc.problem(where, why + suggestion(pattern, allowed, known))


def rule_selectors(kind: str, spec: Any, base: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any, tuple[str, ...]]]:
    """Every selector of a rule kind's spec: its path, the selector, and the kinds that can stand there."""
    if kind == "separation_of_duties":
        for j, members in enumerate(spec):
            for k, member in enumerate(members):
                yield base + (j, k), member, TARGETS
        return
    if "subject" in spec:
        yield base + ("subject",), spec["subject"], SUBJECT_KINDS[kind]
    if "target" in spec:
        yield base + ("target",), spec["target"], TARGETS


def rule_problems(kind: str, spec: Any, loc: Locator, base: tuple[Any, ...],
                  known: Iterable[str] | None = None) -> list[Problem]:
    """Every selector error of one rule kind's spec (see the module documentation)."""
    return [p for where, selector, allowed in rule_selectors(kind, spec, base)
            for p in selector_problems(selector, allowed, loc, where, known)]


def waiver_problems(raw: dict[str, Any], loc: Locator, where: tuple[Any, ...],
                    known: Iterable[str] | None = None) -> list[Problem]:
    """Errors of a waiver's ``subject`` and ``target`` globs (any kind can be a finding's subject)."""
    return [p for name in ("subject", "target") if isinstance(raw.get(name), str)
            for p in _id_problems(raw[name], KINDS, loc, where + (name,), known)]
