"""One holder has two live provisioning keys that overlap in scope and validity.

Why it matters: each key is one approval for one purpose. Two keys of the
same holder that can change the same targets at the same time make every
change under either ambiguous (which approval, which purpose, which ticket
stands behind it?), double what must be rotated after a leak, and usually
mean a rotation that never retired the old key, or a second key requested
because nobody found the first.

Fires: once per pair of *live* keys (not expired or revoked as of
``--as-of``; keys issued for later count) with the same ``holder`` whose
validity periods overlap and whose scopes overlap: some existing group or
role matches both, or a glob of one matches a glob of the other as text
(``*`` overlaps everything; ``role:*`` overlaps ``role:prod-*``). The
finding's ``key`` is the later-issued key of the pair (later ``not_before``,
then id): usually the one that duplicated the other. The subject is the
holder; the evidence names both keys, the shared period and the shared
targets.

Does not fire: for a rotation that hands over cleanly, the old key revoked or
expired at or before the successor's ``not_before`` (validity periods are
half-open: a key revoked at 10:00 and one valid from 10:00 do not overlap);
for keys of different holders (two services, a service and its owner); for
keys of one holder whose scopes are disjoint (one for the ERP, one for
Okta); for keys that ended at or before ``as_of``.

Remediate: revoke the older key (or the newer, if it was issued by mistake),
or narrow the scopes so that each target has one key per holder; when
rotating, set the old key's ``revoked_at`` to the successor's ``not_before``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import combinations
from typing import Any

from keytrail.checks._keys import covered, end, live_keys
from keytrail.checks._util import NO_PARAMS, deferred, key_facts
from keytrail.model import Finding, Key
from keytrail.selectors import glob_kind, glob_match
from keytrail.timeutil import format_date, format_time
from keytrail.view import View

ID = "sprawl.duplicate-key"
SEVERITY = "low"
PARAMS = NO_PARAMS


#: How many shared targets the evidence lists.
_LISTED = 20


def _period(key: Key) -> tuple[int | None, int | None]:
    return key.not_before, end(key)


def _overlap(a: Key, b: Key) -> tuple[int | None, int | None] | None:
    """The period both keys are valid, ``(start, end)`` with None for unbounded, or None."""
    (sa, ea), (sb, eb) = _period(a), _period(b)
    start = sb if sa is None else sa if sb is None else max(sa, sb)
    stop = eb if ea is None else ea if eb is None else min(ea, eb)
    if start is not None and stop is not None and start >= stop:
        return None
    return start, stop


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    by_holder: dict[str, list[Key]] = {}
    for key in live_keys(view):
        by_holder.setdefault(key.holder, []).append(key)
    for holder in sorted(by_holder):
        if len(by_holder[holder]) < 2:
            continue
        ordered = sorted(by_holder[holder], key=lambda k: (k.not_before or 0, k.id))
        for old, new in combinations(ordered, 2):
            period = _overlap(old, new)
            if period is None:
                continue
            # Pairs intersect each key's target set, matched once per glob (see _keys.covered).
            shared = covered(view, old.scope) & covered(view, new.scope)
            # Globs are compared as text only when no existing target decides it: compiling
            # every scope of a large registry costs more than the rest of the check.
            if not shared and not _overlapping_globs(old, new):
                continue
            start, stop = period
            when = (f"from {format_date(start)}" if start is not None else "from the start") + (
                f" to {format_date(stop)}" if stop is not None else " with no end")
            what = f"{len(shared)} existing target{'s' if len(shared) != 1 else ''}"
            if shared:
                what += f" ({', '.join(_first(shared, 3))}{', ...' if len(shared) > 3 else ''})"
            yield Finding(
                message=f"{holder} holds two keys that overlap: {old.id} and {new.id} can both "
                        f"change {what}, both valid {when}",
                subject=holder, key=new.id, location=new.location, ident=(old.id, new.id),
                evidence=deferred(_evidence, old, new, shared, period))


def _first(names: frozenset[str], n: int) -> list[str]:
    """The ``n`` smallest of ``names``, sorted (``min`` runs in C; a big set is not sorted whole)."""
    if len(names) <= 64:
        return sorted(names)[:n]
    rest = set(names)
    out: list[str] = []
    while rest and len(out) < n:
        out.append(min(rest))
        rest.discard(out[-1])
    return out


def _meets(glob: str, other: str) -> bool:
    """Whether ``other`` matches ``glob`` as text; a prefix glob (``role:prod-*``) needs no regex."""
    kind, text = glob_kind(glob)
    if kind == "prefix":
        return other.startswith(text)
    if kind == "literal":
        return glob == other
    return glob_match(glob, other)


def _overlapping_globs(a: Key, b: Key) -> list[str]:
    """The globs of either key that the other key's scope matches as text (``*`` matches ``role:x-*``)."""
    return sorted({g for g in b.scope if any(_meets(h, g) for h in a.scope)}
                  | {g for g in a.scope if any(_meets(h, g) for h in b.scope)})


def _evidence(old: Key, new: Key, shared: frozenset[str],
              period: tuple[int | None, int | None]) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: both keys, the shared period and targets."""
    return {"keys": [key_facts(old), key_facts(new)], "overlapping_globs": _overlapping_globs(old, new),
            "shared_targets": len(shared), "shared": heapq.nsmallest(_LISTED, shared),
            "overlap": {"start": format_time(period[0]), "end": format_time(period[1])}}
