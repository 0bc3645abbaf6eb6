"""AccessGraph.paths_to and entitlements, held to a plain reference walk on random graphs.

The graph answers these per subject with shortcuts (the direct grant looked up by key,
the subject's group hops reused between calls, closures unioned in C, per-kind closure
sets). The reference below is the plain walk the shortcuts replaced: every direct grant
scanned, every hop's reach built as its own set. Random organisations with nested
groups, membership cycles, groups granted to themselves, several resources per target
and groups as subjects must give the same paths, in the same order, and the same sets.
"""

from __future__ import annotations

import random

import pytest

from keytrail.graph import AccessGraph, Entitlement, Path
from keytrail.model import Event, Grant, kind_of
from keytrail.replay import State

EVENT = Event("e", 0, "grant", None, None, "", None, None, None, None, None, None, 0, 1, None)


def reference_paths(graph: AccessGraph, subject: str, ent: Entitlement) -> list[Path]:
    out: list[Path] = []
    is_group = kind_of(subject) == "group"
    for grant in graph.direct.get(subject, ()):
        if grant.target != subject and (grant.target, grant.resource) == ent:
            out.append((grant,))
    for grant in graph.direct.get(subject, ()):
        if grant.target == subject or not grant.target.startswith("group:") or ent[0] == subject:
            continue
        path = graph.group_closure(grant.target).get(ent)
        if path is None:
            continue
        if is_group and any(g.target == subject for g in path):
            path = graph.path_avoiding(grant.target, subject, ent)
            if path is None:
                continue
        if all(p[0] is not grant for p in out):
            out.append((grant,) + path)
    return out


def reference_entitlements(graph: AccessGraph, subject: str) -> set[Entitlement]:
    held: set[Entitlement] = set()
    for _, reach in graph.hops(subject):
        held |= reach
    return held


def random_state(seed: int) -> State:
    rng = random.Random(seed)
    groups = [f"group:g{i}" for i in range(10)]
    roles = [f"role:r{i}" for i in range(8)]
    users = [f"user:u{i}" for i in range(12)] + ["svc:deploy"]
    resources = ["", "aws:1", "aws:2"]
    state = State(as_of=0, since=None, events=[], window_start=0)
    event = EVENT
    for _ in range(90):
        subject = rng.choice(users + groups)
        # Groups granted to groups (cycles too, and now and then to themselves) and roles.
        target = rng.choice(groups + roles + ([subject] if rng.random() < 0.05 else []))
        resource = rng.choice(resources)
        state.grants[(subject, target, resource)] = Grant(subject, target, resource, event, 0)
    return state


@pytest.mark.parametrize("seed", range(12))
def test_paths_and_entitlements_match_the_plain_walk(seed: int) -> None:
    state = random_state(seed)
    graph = AccessGraph(state)
    subjects = sorted(graph.direct)
    everything = sorted({(g.target, g.resource) for g in state.grants.values()}
                        | {(s, "") for s in subjects})
    rng = random.Random(seed)
    # Interleave subjects, as the checks do not always ask about one subject at a time.
    asks = [(s, e) for s in subjects for e in everything]
    rng.shuffle(asks)
    for subject, ent in asks[: len(asks) // 2] + sorted(asks[len(asks) // 2:]):
        assert graph.paths_to(subject, ent) == reference_paths(graph, subject, ent), (subject, ent)
    for subject in subjects:
        held = reference_entitlements(graph, subject)
        assert graph.entitlements(subject) == held, subject
        for kind in ("role", "group"):
            assert graph.entitlements(subject, kind) == {e for e in held if kind_of(e[0]) == kind}
        # Every entitlement held has a path, and nothing else has one (cycles included).
        assert {e for e in everything if graph.paths_to(subject, e)} | held == held


def test_a_group_never_reaches_itself_by_any_path_or_count() -> None:
    event = EVENT
    state = State(as_of=0, since=None, events=[], window_start=0)
    for subject, target in [("group:a", "group:b"), ("group:b", "group:a"), ("group:a", "group:a"),
                            ("group:b", "role:r"), ("user:u", "group:a")]:
        state.grants[(subject, target, "")] = Grant(subject, target, "", event, 0)
    graph = AccessGraph(state)
    assert graph.paths_to("group:a", ("group:a", "")) == []
    assert graph.entitlements("group:a") == {("group:b", ""), ("role:r", "")}
    assert graph.entitlements("group:a", "group") == {("group:b", "")}
    # The near miss: the user holds group:a, and both groups, through the cycle.
    assert graph.entitlements("user:u", "group") == {("group:a", ""), ("group:b", "")}
    [path] = graph.paths_to("user:u", ("role:r", ""))
    assert [g.target for g in path] == ["group:a", "group:b", "role:r"]


@pytest.mark.parametrize("seed", range(12))
def test_redundant_grant_candidates_are_what_two_first_hops_reach(seed: int) -> None:
    # sprawl.redundant-grant selects its candidates with set algebra over the closures; the
    # reference counts, per entitlement, the distinct first hops (hops() merged by target).
    from collections import Counter

    from keytrail.checks.sprawl_redundant_grant import _reached_twice

    graph = AccessGraph(random_state(seed))
    found = 0
    for subject in sorted(graph.direct):
        by_hop: dict[str, frozenset[Entitlement]] = {}
        for grant, reach in graph.hops(subject):
            by_hop[grant.target] = by_hop.get(grant.target, frozenset()) | reach
        counts: Counter[Entitlement] = Counter()
        for reach in by_hop.values():
            counts.update(reach)
        expected = sorted(ent for ent, n in counts.items() if n >= 2)
        assert _reached_twice(graph, subject, graph.direct[subject]) == expected, subject
        found += bool(expected)
    assert found >= 3  # the organisation does hold things twice
