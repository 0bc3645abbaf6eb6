"""Shared by the key hygiene checks: when a key is live, and how the history used it.

Time semantics, common to every check over the registry itself:

- a key's validity is ``[not_before, end)`` where ``end`` is the earlier of
  ``expires`` and ``revoked_at`` (see ``unexplained.key-not-valid``); a key
  without ``not_before`` is valid from the beginning of the history;
- a key is *live* as of ``as_of`` when its validity has not ended by then: it
  is valid now, or issued for later (not yet valid). Expired and revoked keys
  are not live: they can no longer authorise anything;
- a key is *in the review window* when its validity has not ended by the
  window's start (``--since``; the whole history when there is none);
- a key's *uses* are the access changes made under it at or before
  ``as_of``, over the whole history (not only the window): a key used last
  year was used.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from keytrail.checks.unexplained_key_not_valid import valid_window
from keytrail.model import Key
from keytrail.replay import KeyUse
from keytrail.selectors import glob_kind, glob_regex
from keytrail.timeutil import format_date
from keytrail.view import View

# Beyond any time an event can carry (the same bound unexplained.key-not-valid uses).
_OPEN = 1 << 62


def end(key: Key) -> int | None:
    """When the key stops being valid (the earlier of expires and revoked_at), or None: never."""
    last = valid_window(key)[1]
    return None if last >= _OPEN else last


def live(key: Key, as_of: int) -> bool:
    """Whether the key can still authorise a change at or after ``as_of`` (valid or not yet valid)."""
    last = end(key)
    return last is None or last > as_of


def valid_at(key: Key, time: int) -> bool:
    """Whether the key is valid at ``time``."""
    start, last = valid_window(key)
    return start <= time < last


def in_window(key: Key, since: int | None) -> bool:
    """Whether the key was valid at some time after ``since`` (always, without a window)."""
    last = end(key)
    return since is None or last is None or last > since


def live_keys(view: View) -> list[Key]:
    """The registry's live keys as of the view's ``as_of``, by id."""
    return [view.keys[k] for k in sorted(view.keys) if live(view.keys[k], view.as_of)]


def validity(key: Key, as_of: int) -> str:
    """``valid until 2026-12-31``, ``not valid before 2026-10-01``, ``valid with no expiry``: for messages."""
    last = end(key)
    if key.not_before is not None and key.not_before > as_of:
        until = f" until {format_date(last)}" if last is not None else " with no expiry"
        return f"not valid before {format_date(key.not_before)} (then valid{until})"
    return f"valid until {format_date(last)}" if last is not None else "valid with no expiry"


def uses(view: View) -> dict[str, KeyUse]:
    """How the history used each key id at or before ``as_of``: the number of access changes
    made under it, the last of them and the targets they changed (``State.key_uses``).

    Built once per evaluation and kept in the view's memo: several key checks read it.
    The state aggregates (one pass on the Python path, one query on the columnar one), so
    no check walks the history event by event.
    """
    found = view.memo.get(_USES)
    if found is None:
        found = view.memo[_USES] = view.state.key_uses()
    return found  # type: ignore[no-any-return]


_USES: Any = ("keytrail.checks._keys", "uses")


def targets(view: View) -> list[str]:
    """The groups and roles that exist as of ``as_of``: defined in the directory or the
    history, and not retired since; sorted (built once per evaluation)."""
    found = view.memo.get(_TARGETS)
    if found is None:
        retired = view.state.retired
        known = {*view.directory.groups, *view.directory.roles, *view.state.defined}
        found = view.memo[_TARGETS] = sorted(t for t in known if t not in retired)
    return found  # type: ignore[no-any-return]


_TARGETS: Any = ("keytrail.checks._keys", "targets")


def covered(view: View, scope: tuple[str, ...]) -> frozenset[str]:
    """The existing targets (:func:`targets`) that a scope's globs match.

    Registries repeat the same globs across many keys (``group:*``, ``role:prod-*``), so
    each glob's targets are found once per evaluation and a scope is their union. A
    literal is one lookup and a ``prefix*`` glob one binary search in the sorted targets;
    only other globs scan them.
    """
    whole = view.memo.get(("keytrail.checks._keys", "scope", scope))
    if whole is not None:
        return whole  # type: ignore[no-any-return]
    universe = targets(view)
    out: set[str] = set()
    for glob in scope:
        memo_key = ("keytrail.checks._keys", "glob", glob)
        found = view.memo.get(memo_key)
        if found is None:
            found = view.memo[memo_key] = _glob_targets(universe, glob)
        out |= found
    result = view.memo[("keytrail.checks._keys", "scope", scope)] = frozenset(out)
    return result


def _glob_targets(universe: list[str], glob: str) -> frozenset[str]:
    """The targets of the sorted ``universe`` that one glob matches."""
    kind, head = glob_kind(glob)
    if kind == "literal":
        i = bisect_left(universe, glob)
        return frozenset(universe[i:i + 1]) if universe[i:i + 1] == [glob] else frozenset()
    if kind == "prefix":
        start = stop = bisect_left(universe, head)
        while stop < len(universe) and universe[stop].startswith(head):
            stop += 1
        return frozenset(universe[start:stop])
    match = glob_regex(glob).match
    return frozenset(t for t in universe if match(t))
