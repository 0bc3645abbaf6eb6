"""What a check sees: the project, the replayed state and the access graph.

A :class:`View` is read-only and holds no configuration: checks get their
parameters separately and never touch files or the clock, so each check is a
pure function of ``(view, params)`` and can be tested alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from keytrail.graph import AccessGraph
from keytrail.model import (
    Directory,
    Event,
    Key,
    Location,
    Policy,
    SnapshotEntry,
    Waiver,
)
from keytrail.project import Project
from keytrail.replay import State
from keytrail.timeutil import format_date

#: How many chains each generation of the per-evaluation memo keeps (see :class:`ChainMemo`):
#: enough to share the chains of popular group grants, bounded so that memory stays flat.
#: Two generations of 25,000 hold at most as many chains as the single table of 50,000
#: they replace (measured on the benchmark M, 150,000 findings: 200,000 chains held 73 MB
#: more at the peak of writing the JSON than 50,000).
MEMO_LIMIT = 25_000


class ChainMemo:
    """The chains built so far, in two generations: when the newer one is full it becomes
    the older one and the oldest is dropped, and a chain found in the older one moves to
    the newer. Findings are rendered a rule at a time and, within one, a subject at a time,
    so a chain asked for again is usually asked for soon: starting afresh when full (as a
    single table would) would rebuild the chains of the popular group grants each time.
    """

    __slots__ = ("new", "old")

    def __init__(self) -> None:
        self.new: dict[Any, dict[str, Any]] = {}
        self.old: dict[Any, dict[str, Any]] = {}

    def get(self, key: Any, build: Callable[[View, Any], dict[str, Any]], view: View, item: Any
            ) -> dict[str, Any]:
        """The chain kept under ``key``, else ``build(view, item)``, kept in the newer generation
        (a chain found in the older one moves there too)."""
        found = self.new.get(key)
        if found is None:
            found = self.old.get(key)
            if found is None:
                found = build(view, item)
            self.keep(key, found)
        return found

    def keep(self, key: Any, value: dict[str, Any]) -> dict[str, Any]:
        """Remember ``value`` under ``key`` (in the newer generation) and return it."""
        if len(self.new) >= MEMO_LIMIT:
            self.old = self.new
            self.new = {}
        self.new[key] = value
        return value


class View:
    """Read-only access to everything a check may look at."""

    def __init__(self, project: Project, state: State, graph: AccessGraph) -> None:
        self.project = project
        self.state = state
        self.graph = graph
        #: What checks compute once and share (key uses, usage data); see checks._keys, checks._usage.
        self.memo: dict[Any, Any] = {}
        #: Evidence shared between findings (the chain of an event or a grant); see checks._util.
        self.chains = ChainMemo()

    # -- basics -------------------------------------------------------------

    @property
    def as_of(self) -> int:
        return self.state.as_of

    @property
    def since(self) -> int | None:
        return self.state.since

    @property
    def directory(self) -> Directory:
        return self.project.directory

    @property
    def keys(self) -> dict[str, Key]:
        return self.project.keys

    @property
    def snapshot(self) -> list[SnapshotEntry] | None:
        """The snapshot, when it fits ``as_of`` (see :mod:`keytrail.snapshot_fit`); else None."""
        return self.project.snapshot if self.snapshot_use.used else None

    @cached_property
    def snapshot_use(self) -> Any:
        """Whether the drift checks compare the snapshot, and why (a snapshot_fit.SnapshotUse)."""
        from keytrail.snapshot_fit import fit

        p = self.project
        return fit(p.snapshot_file if p.snapshot is not None else None, p.snapshot_time,
                   p.max_snapshot_age, self.as_of)

    @property
    def policies(self) -> list[Policy]:
        return self.project.policies

    @cached_property
    def waivers(self) -> list[Waiver]:
        return [w for p in self.project.policies for w in p.waivers]

    def location(self, event: Event | None) -> Location | None:
        """Where ``event`` was written (file and line), if it is an event."""
        return None if event is None else self.project.event_location(event)

    def snapshot_location(self, entry: SnapshotEntry) -> Location:
        return Location(self.project.snapshot_file or "snapshot.jsonl", entry.line)

    # -- events ---------------------------------------------------------------

    def changes(self, check: str | None = None) -> list[Event]:
        """Access changes in the review window (grant, revoke, define, retire, certify).

        ``check`` names the check asking: on a columnar run it gets only the changes
        its query in ``core/sql/checks/`` selects (a superset of those it flags; the
        check's own code still decides). On the Python path every check gets every
        change, computed once per view: half a dozen checks walk them.
        """
        narrow = getattr(self.state, "changes_for", None)
        if narrow is not None:
            return narrow(self, check)  # type: ignore[no-any-return]
        return self._changes

    @cached_property
    def _changes(self) -> list[Event]:
        return self.state.changes()

    # -- principals and targets ---------------------------------------------

    def inactive(self, principal: str) -> str | None:
        """Why ``principal`` is inactive (``terminated 2026-05-31``), or None when active."""
        p = self.directory.principals.get(principal)
        if p is not None and p.status != "active":
            when = p.terminated_at if p.status == "terminated" else p.suspended_at
            return f"{p.status} {format_date(when)}".strip()
        left = self.state.left.get(principal)
        if left is not None:
            return f"left {format_date(left.time)}"
        return None

    def attribute(self, principal: str, name: str) -> Any:
        """A principal's attribute: the directory's value, else the latest join/move value."""
        p = self.directory.principals.get(principal)
        if p is not None and name in p.attributes:
            return p.attributes[name]
        return self.state.attributes.get(principal, {}).get(name)

    def target_defined(self, target: str) -> bool:
        """Whether the directory defines ``target`` and the history has not retired it."""
        return self.directory.target(target) is not None and target not in self.state.retired

    @cached_property
    def active_principals(self) -> list[str]:
        """Ids of the directory's principals that are active, sorted."""
        return sorted(p for p in self.directory.principals if self.inactive(p) is None)
