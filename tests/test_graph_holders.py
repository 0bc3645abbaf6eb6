"""AccessGraph.holders: who reaches a target, in plain Python, as networkx's ancestors says."""

from __future__ import annotations

import random

from keytrail.graph import AccessGraph
from tests.conftest import AS_OF, REPO, report_of


def test_holders_agree_with_networkx_on_the_example() -> None:
    import networkx as nx

    graph = report_of(REPO / "examples" / "acme").view.graph
    targets = {g.target for g in graph.state.grants.values()} | {"role:nobody-holds-this"}
    for target in sorted(targets):
        expected = set(nx.ancestors(graph.nx, target)) if target in graph.nx else set()
        assert graph.holders(target) == expected, target


def test_holders_through_a_membership_cycle_never_include_the_target(make_project) -> None:  # type: ignore[no-untyped-def]
    import networkx as nx

    rng = random.Random(7)
    groups = [f"group:g{i}" for i in range(12)]
    events = []
    for n in range(40):  # random nesting, cycles included
        a, b = rng.sample(groups, 2)
        events.append({"time": f"2026-01-01T00:{n:02}:00Z", "action": "grant", "subject": a, "target": b})
    events += [{"time": "2026-01-02T00:00:00Z", "action": "grant", "subject": "user:ann", "target": groups[0]},
               {"time": "2026-01-02T00:00:00Z", "action": "grant", "subject": groups[5], "target": "role:r"}]
    root = make_project(directory={"principals": [{"id": "user:ann"}],
                                   "groups": [{"id": g} for g in groups], "roles": [{"id": "role:r"}]},
                        events=events)
    graph: AccessGraph = report_of(root, AS_OF).view.graph
    for target in groups + ["role:r"]:
        assert graph.holders(target) == set(nx.ancestors(graph.nx, target)), target
        assert target not in graph.holders(target)
