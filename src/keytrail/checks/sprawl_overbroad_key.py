"""A provisioning key's scope covers far more targets than it ever changed.

Why it matters: a key's ``scope`` is what whoever holds it can change
without further approval. A scope of ``*`` (every target, including those
created tomorrow) or a glob like ``group:*`` for a sync that manages two
groups means a leaked or misused key can grant anything it covers, and
``unexplained.key-out-of-scope`` never fires for it. Least privilege applies to
the keys that grant privileges too.

Fires: once per key valid as of ``--as-of`` (past its ``not_before``, not
expired or revoked) when

- its scope contains ``*``, whatever it changed: it covers targets nobody has
  created yet; or
- its scope globs match at least ``min_targets`` of the groups and roles that
  exist as of ``as_of`` (defined in the directory or the history, not
  retired), and the share of those it ever changed is below ``max_share``.

What a key changed is every ``grant``, ``revoke``, ``define``, ``retire`` and
``certify`` made under it at or before ``as_of``, over the whole history (a
key's scope is justified by what it did in its life, not in one quarter). The
message gives the share; the evidence lists the targets it changed and the
first of those it never did. The subject is the key's holder.

Does not fire: for keys whose scope matches fewer than ``min_targets``
targets (a narrow scope is what it should be, even if partly unused); for
keys that changed at least ``max_share`` of what they match; for keys expired
or revoked at or before ``as_of``, and for keys not yet valid (they have no
record to judge, unless their scope is ``*``).

Remediate: narrow the scope to the globs the key's purpose needs (the targets
it changed are a good start), with a new approval, or split a broad key into
one key per purpose.

Defaults: ``min_targets: 10``, ``max_share: 0.2``: a key allowed to change ten
or more targets that used fewer than one in five of them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import covered, live, targets, uses, valid_at
from keytrail.checks._util import deferred, key_facts
from keytrail.model import Finding, Key
from keytrail.view import View

ID = "sprawl.overbroad-key"
SEVERITY = "medium"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "min_targets": {
            "type": "integer", "minimum": 1, "default": 10,
            "description": "Only a scope that matches at least this many existing targets is "
                           "judged on its share."},
        "max_share": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.2,
            "description": "Fires when the key changed fewer than this share of the targets "
                           "its scope matches."},
    },
    "additionalProperties": False,
}

#: How many never-changed targets the evidence lists.
_LISTED = 20


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    minimum = params.get("min_targets", 10)
    share_limit = params.get("max_share", 0.2)
    universe = frozenset(targets(view))
    used = uses(view)
    for key_id in sorted(view.keys):
        key = view.keys[key_id]
        wildcard = "*" in key.scope
        if not (valid_at(key, view.as_of) or (wildcard and _not_yet(key, view.as_of))):
            continue
        matched = universe if wildcard else covered(view, key.scope)
        # What the key changed is small next to what it may change: intersect from its side.
        use = used.get(key_id)
        touched = use.targets & matched if use is not None else frozenset()
        share = len(touched) / len(matched) if matched else 0.0
        if not wildcard and (len(matched) < minimum or share >= share_limit):
            continue
        percent = f"{share:.0%}"
        if wildcard:
            text = (f"has scope * (every target, including any created later); it changed "
                    f"{len(touched)} of the {len(matched)} that exist ({percent})")
        else:
            text = (f"may change {len(matched)} targets ({', '.join(key.scope)}) but changed "
                    f"{len(touched)} of them ({percent})")
        yield Finding(
            message=f"key {key.id} (held by {key.holder}) {text}",
            subject=key.holder, key=key.id, location=key.location, ident=(key.id,),
            evidence=deferred(_evidence, key, wildcard, matched, touched, share))


def _evidence(key: Key, wildcard: bool, matched: frozenset[str], touched: frozenset[str],
              share: float) -> dict[str, Any]:
    """A finding's evidence, built when it is rendered: the targets changed and the first never changed."""
    return {"key": key_facts(key), "wildcard": wildcard, "matched": len(matched),
            "changed": sorted(touched), "share": round(share, 4),
            "never_changed": heapq.nsmallest(_LISTED, matched - touched)}


def _not_yet(key: Key, as_of: int) -> bool:
    """Whether the key is issued for later (its not_before is after ``as_of``) and not ended."""
    return key.not_before is not None and key.not_before > as_of and live(key, as_of)
