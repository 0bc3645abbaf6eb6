"""Groups that are members of themselves, directly or through other groups.

Why it matters: a membership cycle (``group:finance`` in ``group:finance``, or
``group:a`` in ``group:b`` in ``group:a``) makes every member of any group in
the cycle a member of all of them, so access granted to one group silently
reaches the members of the others, and removing one membership no longer
removes the access it seemed to give. No directory means this; it is a
mistake of nesting, or an attempt to make access hard to remove. keytrail's
access graph tolerates cycles (each group is expanded once), so without this
check nothing would say so.

Fires: once per cycle (a strongly connected set of groups over the active
group-in-group grants as of ``as_of``, or one group granted to itself), not
once per member. The finding's subject is the cycle's first group in sorted
order and its target the next group on the cycle; the evidence lists the
members (sorted) and one cycle through them, starting and ending at the
subject, with the grant behind each step. Several cycles sharing groups are one
finding (they form one strongly connected set).

Does not fire: for nesting without a cycle (``group:a`` in ``group:b`` in
``group:c``); for memberships revoked before ``as_of``; for a grant to a
role (roles hold no members).

Remediate: revoke the membership that closes the cycle (usually the most
recent grant in the evidence) under a key, and grant each group the access it
needs directly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, grant_chain
from keytrail.model import Finding, Grant, kind_of
from keytrail.view import View

ID = "sprawl.group-cycle"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def _edges(view: View) -> dict[str, dict[str, Grant]]:
    """Group-in-group memberships: member group -> containing group -> the (first) grant behind it."""
    edges: dict[str, dict[str, Grant]] = {}
    for subject in sorted(view.graph.direct):
        if kind_of(subject) != "group":
            continue
        for grant in view.graph.direct[subject]:
            if kind_of(grant.target) == "group":
                edges.setdefault(subject, {}).setdefault(grant.target, grant)
    return edges


def components(edges: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Strongly connected sets of two or more nodes, or of one node with an edge to itself.

    Tarjan's algorithm, iterative (a deep nesting must not hit the recursion limit),
    over nodes and successors in sorted order, so the result is deterministic; each
    set is sorted, and the sets are sorted by their first member.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in edges.get(node, {}):
                    found.append(sorted(members))
    return sorted(found)


def _cycle(edges: dict[str, dict[str, Grant]], members: list[str]) -> list[Grant]:
    """The grants of one shortest cycle from ``members[0]`` back to itself, inside the set."""
    start = members[0]
    inside = set(members)
    if start in edges.get(start, {}):
        return [edges[start][start]]
    previous: dict[str, Grant] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(edges.get(node, ())):
            if nxt not in inside:
                continue
            if nxt == start:
                path = [edges[node][start]]
                while node != start:
                    grant = previous[node]
                    path.append(grant)
                    node = grant.subject
                return path[::-1]
            if nxt not in previous:
                previous[nxt] = edges[node][nxt]
                queue.append(nxt)
    return []  # pragma: no cover - a strongly connected set always has a cycle through each member


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    edges = _edges(view)
    for members in components(edges):
        steps = _cycle(edges, members)
        first = steps[0]
        loop = " in ".join([s.subject for s in steps] + [first.subject])
        if len(members) == 1:
            message = f"{first.subject} is a member of itself"
        else:
            message = (f"{len(members)} groups are members of each other ({loop}): every member of "
                       "one holds the access of all")
        yield Finding(
            message=message, subject=first.subject, target=first.target, resource=first.resource,
            event=first.event, key=first.event.key,
            evidence={"members": members, "cycle": [s.subject for s in steps] + [first.subject],
                      "chain": [grant_chain(view, s) for s in steps]},
            location=view.location(first.event), ident=tuple(members))
