"""The access graph: who holds what, directly and through nested groups.

Nodes are principals, groups and roles; an edge ``subject -> target`` stands
for the active grants between them, one per resource, each carrying its
provenance (the :class:`~keytrail.model.Grant`). Effective access expands
group membership: a member of ``group:a`` holds everything ``group:a`` holds,
through any depth of nesting; cycles are tolerated (each group is expanded
once per path search), never looped on.

For speed, the closure of every group is computed once (a breadth-first
search over the group-to-group subgraph, which is small even for large
organisations) and reused for each member. The full networkx graph, used for
explanations and "who reaches Y", is built on first use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from operator import attrgetter
from typing import TYPE_CHECKING

from keytrail.model import Grant, kind_of
from keytrail.replay import State

if TYPE_CHECKING:
    import networkx as nx

Entitlement = tuple[str, str]          # (target, resource)
Path = tuple[Grant, ...]               # the grants from the subject to the entitlement


class AccessGraph:
    """Effective access over the active grants of a :class:`State`."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.direct: dict[str, list[Grant]] = {}
        for grant in state.grants.values():
            self.direct.setdefault(grant.subject, []).append(grant)
        for grants in self.direct.values():
            grants.sort(key=_BY_ENTITLEMENT)
        self._closure: dict[str, dict[Entitlement, Path]] = {}
        self._closure_sets: dict[str, frozenset[Entitlement]] = {}
        self._kind_sets: dict[tuple[str, str], frozenset[Entitlement]] = {}
        # The group grants of the subject asked last (see _group_hops): checks ask
        # about one subject's entitlements in a row, so one entry is all the reuse
        # there is, and memory stays flat however many subjects there are.
        self._hops_of: tuple[str, list[tuple[Grant, dict[Entitlement, Path]]]] = ("", [])
        self._effective: dict[str, dict[Entitlement, list[Path]]] = {}
        self._nx: nx.MultiDiGraph | None = None
        self._held_by: dict[str, set[str]] | None = None  # target -> subjects granted it directly

    # -- effective access -------------------------------------------------

    def group_closure(self, group: str) -> dict[Entitlement, Path]:
        """Everything ``group`` holds, directly or through nested groups: one shortest path each."""
        cached = self._closure.get(group)
        if cached is not None:
            return cached
        reach: dict[Entitlement, Path] = {}
        seen = {group}
        queue: deque[tuple[str, Path]] = deque([(group, ())])
        while queue:
            node, path = queue.popleft()
            for grant in self.direct.get(node, ()):
                ent = (grant.target, grant.resource)
                if ent in reach or grant.target == group:
                    continue
                step = path + (grant,)
                reach[ent] = step
                if kind_of(grant.target) == "group" and grant.target not in seen:
                    seen.add(grant.target)
                    queue.append((grant.target, step))
        self._closure[group] = reach
        return reach

    def effective(self, subject: str) -> dict[Entitlement, list[Path]]:
        """Every entitlement ``subject`` holds, with one path per distinct first hop (see :meth:`paths_to`)."""
        cached = self._effective.get(subject)
        if cached is not None:
            return cached
        out: dict[Entitlement, list[Path]] = {}
        for ent in sorted(self.entitlements(subject)):
            paths = self.paths_to(subject, ent)
            if paths:  # reached only by looping back through the subject group: not held
                out[ent] = paths
        self._effective[subject] = out
        return out

    def paths_to(self, subject: str, ent: Entitlement) -> list[Path]:
        """The paths by which ``subject`` holds ``ent``: the direct grant, then one per group
        first hop, each the shortest route from it.

        A group never holds itself, and a route from a group that loops back
        through the group itself is replaced by one that avoids it, or dropped.
        This is what evidence for a single finding needs; :meth:`effective`
        gives it for every entitlement.
        """
        cached = self._effective.get(subject)
        if cached is not None:
            return cached.get(ent, [])
        target, resource = ent
        if target == subject:
            return []  # a group does not hold itself, directly or through a cycle
        # The active grants are keyed (subject, target, resource): at most one direct grant.
        grant = self.state.grants.get((subject, target, resource))
        out: list[Path] = [] if grant is None else [(grant,)]
        is_group = kind_of(subject) == "group"
        for grant, reach in self._group_hops(subject):
            path = reach.get(ent)
            if path is None:
                continue
            if is_group and any(g.target == subject for g in path):
                path = self.path_avoiding(grant.target, subject, ent)
                if path is None:
                    continue
            # Never the direct grant again: a group's closure never holds the group itself.
            out.append((grant,) + path)
        return out

    def _group_hops(self, subject: str) -> list[tuple[Grant, dict[Entitlement, Path]]]:
        """``subject``'s direct grants of groups (never of itself), each with the group's closure."""
        last, hops = self._hops_of
        if last == subject and subject:
            return hops
        hops = [(g, self.group_closure(g.target)) for g in self.direct.get(subject, ())
                if g.target != subject and g.target.startswith("group:")]
        self._hops_of = (subject, hops)
        return hops

    def path_avoiding(self, start: str, avoid: str, ent: Entitlement) -> Path | None:
        """The shortest path of grants from group ``start`` to ``ent`` that avoids group ``avoid``."""
        seen = {start, avoid}
        queue: deque[tuple[str, Path]] = deque([(start, ())])
        while queue:
            node, path = queue.popleft()
            for grant in self.direct.get(node, ()):
                step = path + (grant,)
                if (grant.target, grant.resource) == ent:
                    return step
                if grant.target.startswith("group:") and grant.target not in seen:
                    seen.add(grant.target)
                    queue.append((grant.target, step))
        return None

    def closure_set(self, group: str) -> frozenset[Entitlement]:
        """The entitlements of :meth:`group_closure` as a set, cached (cheap to union)."""
        cached = self._closure_sets.get(group)
        if cached is None:
            cached = frozenset(self.group_closure(group))
            self._closure_sets[group] = cached
        return cached

    def hops(self, subject: str) -> list[tuple[Grant, frozenset[Entitlement]]]:
        """For each direct grant of ``subject``: the grant and everything it leads to (itself included).

        This is the fast form of effective access: checks that only count or
        compare entitlements union these sets in C instead of building paths.
        """
        out = []
        # A group reaching itself through a cycle does not hold itself.
        is_group = kind_of(subject) == "group"
        for grant in self.direct.get(subject, ()):
            if grant.target == subject:
                continue  # a group granted to itself does not hold itself
            own = frozenset(((grant.target, grant.resource),))
            if grant.target.startswith("group:"):
                reach = self.closure_set(grant.target)
                if reach:
                    own = own | reach
                if is_group:
                    own = frozenset(e for e in own if e[0] != subject)
            out.append((grant, own))
        return out

    def entitlements(self, subject: str, kind: str | None = None) -> set[Entitlement]:
        """The (target, resource) pairs ``subject`` effectively holds; with ``kind``
        (``role``, ``group``), only those whose target is of that kind.

        The union of :meth:`hops`, without a set per hop: the direct entitlements,
        then each group's closure unioned in C.
        """
        prefix = None if kind is None else kind + ":"
        held: set[Entitlement] = set()
        for grant in self.direct.get(subject, ()):
            target = grant.target
            if target == subject:
                continue  # a group granted to itself does not hold itself
            if prefix is None or target.startswith(prefix):
                held.add((target, grant.resource))
            if target.startswith("group:"):
                held |= self.closure_set(target) if prefix is None else self.kind_set(target, kind or "")
        if kind_of(subject) == "group":
            # A group reaching itself through a cycle does not hold itself.
            return {e for e in held if e[0] != subject}
        return held

    def kind_set(self, group: str, kind: str) -> frozenset[Entitlement]:
        """The entitlements of :meth:`closure_set` whose target is of ``kind``, cached."""
        cached = self._kind_sets.get((group, kind))
        if cached is None:
            prefix = kind + ":"
            cached = frozenset(e for e in self.closure_set(group) if e[0].startswith(prefix))
            self._kind_sets[(group, kind)] = cached
        return cached

    def targets(self, subject: str) -> set[str]:
        """The targets ``subject`` effectively holds, whatever the resource."""
        return {t for t, _ in self.entitlements(subject)}

    def principals(self) -> Iterator[str]:
        """Every user or service holding at least one direct grant, sorted."""
        return (s for s in sorted(self.direct) if kind_of(s) in ("user", "svc"))

    # -- networkx view ----------------------------------------------------

    @property
    def nx(self) -> nx.MultiDiGraph:
        """The grants as a networkx multigraph (one edge per resource), built on first use."""
        if self._nx is None:
            import networkx as nx

            g = nx.MultiDiGraph()
            for grant in self.state.grants.values():
                g.add_edge(grant.subject, grant.target, key=grant.resource, grant=grant)
            self._nx = g
        return self._nx

    def holders(self, target: str) -> set[str]:
        """Every subject that reaches ``target``, directly or through groups (never ``target``
        itself, even in a membership cycle). A walk over the grants in reverse, in plain Python:
        the usage checks ask this on small projects, which must not import networkx."""
        if self._held_by is None:
            held_by: dict[str, set[str]] = {}
            for grant in self.state.grants.values():
                held_by.setdefault(grant.target, set()).add(grant.subject)
            self._held_by = held_by
        found: set[str] = set()
        todo = [target]
        while todo:
            for subject in self._held_by.get(todo.pop(), ()):
                if subject not in found:
                    found.add(subject)
                    todo.append(subject)
        found.discard(target)
        return found

    def paths(self, subject: str, target: str, limit: int = 20) -> list[Path]:
        """Every simple path (as grants) from ``subject`` to ``target``, shortest first, at most ``limit``."""
        g = self.nx
        if subject not in g or target not in g:
            return []
        import networkx as nx

        found: list[Path] = []
        for nodes in nx.all_simple_edge_paths(g, subject, target, cutoff=16):
            found.append(tuple(g.edges[u, v, k]["grant"] for u, v, k in nodes))
            if len(found) >= limit * 5:
                break
        found.sort(key=lambda p: (len(p), [_grant_order(x) for x in p]))
        return found[:limit]

    def cycles(self) -> list[list[str]]:
        """Group membership cycles (each as a sorted list of groups)."""
        import networkx as nx

        groups = self.nx.subgraph([n for n in self.nx if kind_of(n) == "group"])
        return sorted(sorted(c) for c in nx.strongly_connected_components(groups) if len(c) > 1)


def _grant_order(grant: Grant) -> tuple[str, str]:
    return (grant.target, grant.resource)


#: :func:`_grant_order` in C, for sorting every subject's grants.
_BY_ENTITLEMENT = attrgetter("target", "resource")


def path_ids(subject: str, path: Path) -> list[str]:
    """The node ids along a path, starting with the subject."""
    return [subject] + [g.target for g in path]


def describe_path(subject: str, path: Path) -> str:
    """``user:a -> group:b -> role:c``."""
    return " -> ".join(path_ids(subject, path))


__all__ = ["AccessGraph", "Entitlement", "Path", "path_ids", "describe_path"]
