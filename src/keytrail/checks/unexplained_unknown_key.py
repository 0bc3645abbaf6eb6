"""An access change was made under a key the registry does not know.

Why it matters: a key that is not registered has no holder, owner, purpose,
ticket, scope or validity on record, so the chain event → key → holder →
approval cannot be completed. It is a typo in a pipeline's configuration, a
key that was never registered (issued outside the process), or one deleted
from the registry while still in use.

Fires: for each change in the review window (``grant``, ``revoke``,
``define``, ``retire``, ``certify``) whose ``key`` is not empty and is not an
id in ``keys.yaml``. Key ids are compared exactly (case and spacing count:
``PK-7`` is not ``pk-7``). When a registered id looks like a typo of the
unknown one, the message suggests it (``did you mean "pk-2026-0042"?``): an id
equal but for case and separators (``PK_2026_0042``), or one edit away (a
character missing, extra, wrong, or two swapped); the closest by difflib's
ratio wins, ties going to the smaller id. The suggestion is only a hint and
never makes the finding go away.

Does not fire: for changes without a key (see ``unexplained.missing-key``);
for ``join``, ``move`` and ``leave`` (HR facts, not access changes); for
events before ``--since`` or after ``--as-of``. A registered key that is
expired, revoked or used out of scope is reported by the other
``unexplained.key-*`` checks, not here.

Remediate: register the key with its holder, owner, purpose, ticket, scope and
validity (if it was legitimately issued), or correct the key id the
provisioning path stamps; investigate changes made under keys nobody issued.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain, describe_change
from keytrail.model import Finding
from keytrail.view import View

ID = "unexplained.unknown-key"
SEVERITY = "high"
PARAMS = NO_PARAMS


_SEPARATORS = re.compile(r"[\s_.:/-]+")


def _normal(key: str) -> str:
    return _SEPARATORS.sub("-", key.strip()).lower()


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Suggester:
    """Registered ids that look like a typo of an unknown one.

    A symmetric-deletion index (every id and each id with one character
    removed) finds ids one edit away (and some two edits away) in time
    proportional to the unknown id's length, whatever the size of the
    registry; difflib only ranks the few candidates. Comparing every unknown
    id with every registered one costs seconds on a large organisation whose
    importer stamps unmapped keys.
    """

    def __init__(self, registered: Iterable[str]) -> None:
        self.normal: dict[str, list[str]] = {}
        self.near: dict[str, set[str]] = {}
        for ident in sorted(registered):
            self.normal.setdefault(_normal(ident), []).append(ident)
            for variant in _deletions(ident) | {ident}:
                self.near.setdefault(variant, set()).add(ident)

    def suggest(self, key: str) -> str | None:
        """The registered id closest to ``key``, if one looks like a typo of it."""
        candidates = set(self.normal.get(_normal(key), ()))
        if not candidates:
            for variant in _deletions(key) | {key}:
                candidates |= self.near.get(variant, set())
        if not candidates:
            return None
        score, best = min((-difflib.SequenceMatcher(None, key, c).ratio(), c) for c in candidates)
        # difflib's own default cutoff: short ids two edits apart are not typos.
        return best if -score >= 0.6 else None


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    suggester: Suggester | None = None
    # One suggestion per distinct unknown id: an unmapped importer key can
    # stamp hundreds of thousands of events.
    suggestions: dict[str, str | None] = {}
    for event in view.changes(ID):
        key = event.key
        if not key or key in view.keys:
            continue
        if key not in suggestions:
            if suggester is None:
                suggester = Suggester(view.keys)
            suggestions[key] = suggester.suggest(key)
        suggestion = suggestions[key]
        hint = f' (did you mean "{suggestion}"?)' if suggestion else ""
        evidence: dict[str, Any] = {"chain": [chain(view, event)]}
        if suggestion:
            evidence["did_you_mean"] = suggestion
        yield Finding(
            message=f"{describe_change(event)} was made under key {key}, which the key registry "
                    f"does not know{hint}",
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            key=key, evidence=evidence, location=view.location(event), ident=(event.id,))
