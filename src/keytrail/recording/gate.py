"""The key checks, applied to a change before it is written: the preventive control.

``keytrail check`` finds an unexplained change after the fact; ``keytrail
record`` refuses to write one. The proposed event is put before the very check
modules ``check`` runs (:data:`CHECKS`: unknown key, key not valid at the
change's time, target outside the key's scope, actor other than the key's
holder, self-grant or self-approval), with their default parameters and
whatever the project's policies enable or waive: the gate is the same for
every project. Each finding is a reason to refuse, in the check's own words.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast

from keytrail.model import CHANGE_ACTIONS, Event, Key, Location

#: The checks a recorded change must pass (unless --allow-unexplained).
CHECKS = ("unexplained.unknown-key", "unexplained.key-not-valid", "unexplained.key-out-of-scope",
          "unexplained.key-misuse", "unexplained.self-grant")


class _OneChange:
    """What a key check looks at (see keytrail.view.View), holding the one proposed change."""

    def __init__(self, event: Event, keys: dict[str, Key], where: Location) -> None:
        self.event = event
        self.keys = keys
        self.where = where
        self.memo: dict[Any, Any] = {}

    def changes(self, check: str | None = None) -> list[Event]:
        """The one proposed change, whichever check asks (as :meth:`keytrail.view.View.changes`)."""
        return [self.event] if self.event.action in CHANGE_ACTIONS else []

    def location(self, event: Event | None) -> Location | None:
        return None if event is None else self.where

    @cached_property
    def as_of(self) -> int:
        return self.event.time


def refusals(event: Event, keys: dict[str, Key], where: Location) -> list[tuple[str, str]]:
    """(check id, message) for every key check the proposed ``event`` fails."""
    from keytrail import checks
    from keytrail.view import View

    view = cast(View, _OneChange(event, keys, where))
    out: list[tuple[str, str]] = []
    for check_id in CHECKS:
        module = checks.get(check_id)
        out.extend((check_id, finding.message) for finding in module.check(view, checks.defaults(module)))
    return out
