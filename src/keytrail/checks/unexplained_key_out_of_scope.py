"""An access change was made under a key to a target outside the key's scope.

Why it matters: a key's ``scope`` lists the targets it was approved to grant
or revoke (``[role:prod-*, group:eng-*]``). A change outside it was never
approved by whoever issued the key: a pipeline doing more than it should, a
key borrowed for a job it was not meant for, or a scope nobody updated.

Fires: for each change in the review window (``grant``, ``revoke``,
``define``, ``retire``, ``certify``) under a registered key whose ``target``
matches none of the key's scope globs. Globs use ``*``, ``?`` and ``[...]``,
match the whole target id and are case-sensitive; ``*`` matches every target.
Scope is about targets only: the resource of a scoped grant is not compared.

Does not fire: for events without a target; for unknown keys (see
``unexplained.unknown-key``) or missing ones (``unexplained.missing-key``);
for ``join``, ``move`` and ``leave``; for events before ``--since`` or after
``--as-of``. Whether the key was still valid is ``unexplained.key-not-valid``'s
question, so an out-of-scope change under a revoked key fires both.

Remediate: undo the change, or re-make it under a key whose scope covers it;
if the key's purpose legitimately grew, widen its scope in ``keys.yaml`` with
a new approval.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from keytrail.checks._util import NO_PARAMS, chain, describe_change, key_facts
from keytrail.model import Finding, Key
from keytrail.selectors import GlobSet, globs_regex
from keytrail.view import View

ID = "unexplained.key-out-of-scope"
SEVERITY = "high"
PARAMS = NO_PARAMS


def in_scope(key: Key, target: str) -> bool:
    """Whether ``target`` matches one of the key's scope globs."""
    return globs_regex(key.scope).match(target) is not None


class Scopes:
    """Whether a change under a key falls outside the key's scope (each scope compiled once
    for the run: large registries hold more distinct globs than a bounded cache keeps)."""

    def __init__(self, keys: Mapping[str, Key]) -> None:
        self.keys = keys
        self.compiled: dict[str, GlobSet] = {}

    def outside(self, key_id: str, target: str) -> bool:
        """Whether a change of ``target`` under ``key_id`` is out of scope (an unknown key is not:
        that is unexplained.unknown-key's finding)."""
        key = self.keys.get(key_id)
        if key is None:
            return False
        rx = self.compiled.get(key.id)
        if rx is None:
            rx = self.compiled[key.id] = globs_regex(key.scope)
        return rx.match(target) is None


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    keys = view.keys
    # Histories repeat the same (key, target) pairs many times over: each pair is decided
    # once (whether it fires).
    fires: dict[tuple[str, str], bool] = {}
    outside = Scopes(keys).outside
    for event in view.changes(ID):
        if not event.key or not event.target:
            continue
        pair = (event.key, event.target)
        fire = fires.get(pair)
        if fire is None:
            fire = fires[pair] = outside(event.key, event.target)
        if not fire:
            continue
        key = keys[event.key]
        yield Finding(
            message=f"{describe_change(event)} is outside the scope of key {key.id} "
                    f"({', '.join(key.scope) or 'empty scope'})",
            subject=event.subject, target=event.target, resource=event.resource, event=event,
            key=key.id, evidence={"chain": [chain(view, event)], "key": key_facts(key)},
            location=view.location(event), ident=(event.id,))
