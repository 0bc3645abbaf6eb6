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


_META = frozenset("*?[")


def glob_kind(glob: str) -> tuple[str, str]:
    """How a glob can match without a regular expression: ``("literal", glob)`` when it has
    no wildcard, ``("prefix", head)`` for ``head*`` whose head has none (``group:eng-`` for
    ``group:eng-*``, ``""`` for ``*``), ``("other", glob)`` for every other glob."""
    if not _META.intersection(glob):
        return "literal", glob
    head = glob[:-1]
    if glob.endswith("*") and not _META.intersection(head):
        return "prefix", head
    return "other", glob


def split_globs(patterns: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """The literals, the heads of the ``prefix*`` globs and every other glob
    (:func:`glob_kind`), in the order given."""
    found: dict[str, list[str]] = {"literal": [], "prefix": [], "other": []}
    for pattern in patterns:
        kind, text = glob_kind(pattern)
        found[kind].append(text)
    return found["literal"], found["prefix"], found["other"]


class GlobSet:
    """Matches a value that any of its globs matches, as ``fnmatch`` globs do: the whole
    value, case-sensitively, ``*`` and ``?`` crossing every character (newlines too).

    Key scopes are mostly literals (``role:prod-admin``) and ``prefix*`` globs
    (``group:eng-*``, ``*``): those are one set lookup and one ``str.startswith``; only
    the other globs (``?``, ``[...]``, an inner ``*``) are compiled, into one expression.
    ``match`` follows ``re.Pattern.match``'s contract: a true value when a glob matches,
    else None.
    """

    __slots__ = ("_exact", "_prefixes", "_rx")

    def __init__(self, patterns: Iterable[str]) -> None:
        exact, prefixes, rest = split_globs(patterns)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._rx = re.compile("|".join(f"(?:{translate(p)})" for p in rest)).match if rest else None

    def match(self, value: str) -> bool | None:
        if value in self._exact or (self._prefixes and value.startswith(self._prefixes)):
            return True
        return True if self._rx is not None and self._rx(value) is not None else None


def globs_regex(patterns: Iterable[str]) -> GlobSet:
    """A matcher for a value that any of the globs matches (see :class:`GlobSet`); no globs
    match nothing.

    Registries repeat scopes across keys, so matchers are kept by their globs; the cache is
    bounded, and a miss costs little (only globs other than literals and ``prefix*`` are
    compiled), so thousands of distinct scopes never make a run recompile its way through.
    """
    return _globset(tuple(patterns))


@lru_cache(maxsize=16384)
def _globset(patterns: tuple[str, ...]) -> GlobSet:
    return GlobSet(patterns)


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
