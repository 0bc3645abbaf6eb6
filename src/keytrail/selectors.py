"""Selectors: which principals or targets a policy rule is about.

A selector is a glob over the id (``role:prod-*``; globs, not regular
expressions, matched case-sensitively), or a mapping over ``id`` (a glob),
``kind``, ``status``, ``attributes`` (name to a value or a list of accepted
values) and ``privileged`` (roles). Every key given must match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fnmatch import translate
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from keytrail.model import kind_of

if TYPE_CHECKING:
    from keytrail.view import View

Predicate = Callable[["View", str], bool]


@lru_cache(maxsize=4096)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression for a glob."""
    return re.compile(translate(pattern))


def globs_regex(patterns: Iterable[str]) -> re.Pattern[str]:
    """One compiled expression matching a value that any of the globs matches.

    Not cached: a caller that tests many values against the same globs (a key's scope)
    compiles them once and keeps the result for the run. Thousands of keys with
    distinct scopes would otherwise cycle through ``glob_regex``'s bounded cache and
    recompile on every lookup. No globs give an expression that matches nothing.
    """
    alternatives = [f"(?:{translate(p)})" for p in patterns]
    return re.compile("|".join(alternatives) if alternatives else "(?!)")


def glob_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches the glob ``pattern`` (case-sensitive)."""
    return glob_regex(pattern).match(value) is not None


def _as_set(value: Any) -> set[Any]:
    return set(value) if isinstance(value, list) else {value}


def compile_selector(selector: Any) -> Predicate:
    """A predicate ``(view, id) -> bool`` for a selector; ``None`` selects everything."""
    if selector is None:
        return lambda view, ident: True
    if isinstance(selector, str):
        rx = glob_regex(selector)
        return lambda view, ident: rx.match(ident) is not None
    tests: list[Predicate] = []
    if "id" in selector:
        rx = glob_regex(selector["id"])
        tests.append(lambda view, ident: rx.match(ident) is not None)
    if "kind" in selector:
        kinds = _as_set(selector["kind"])
        tests.append(lambda view, ident: kind_of(ident) in kinds)
    if "status" in selector:
        statuses = _as_set(selector["status"])
        tests.append(lambda view, ident: _status(view, ident) in statuses)
    if "privileged" in selector:
        wanted = bool(selector["privileged"])
        tests.append(lambda view, ident: _privileged(view, ident) == wanted)
    for name, value in (selector.get("attributes") or {}).items():
        tests.append(_attribute_test(name, _as_set(value)))
    return lambda view, ident: all(t(view, ident) for t in tests)


def _attribute_test(name: str, accepted: set[Any]) -> Predicate:
    return lambda view, ident: _attribute(view, ident, name) in accepted


def _status(view: View, ident: str) -> str:
    """The directory's status, unless the history shows a later leave (a leaver is terminated)."""
    p = view.directory.principals.get(ident)
    if p is not None and p.status != "active":
        return p.status
    if ident in view.state.left:
        return "terminated"
    return p.status if p is not None else "unknown"


def _privileged(view: View, ident: str) -> bool:
    t = view.directory.target(ident)
    return bool(t and t.privileged)


def _attribute(view: View, ident: str, name: str) -> Any:
    t = view.directory.target(ident)
    if t is not None:
        return t.attributes.get(name)
    return view.attribute(ident, name)
