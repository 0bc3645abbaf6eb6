"""Replay and the access graph on the edges of a history.

Histories are written as JSONL and read by the real loader (which sorts), then
folded by :func:`keytrail.replay.replay` and expanded by
:class:`keytrail.graph.AccessGraph`. Times are written as short day offsets
(``t(3)`` is 2026-03-03T00:00:00Z) so that orderings read at a glance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keytrail.graph import AccessGraph, path_ids
from keytrail.history import load_history
from keytrail.model import Event
from keytrail.replay import State, replay
from keytrail.timeutil import format_time, parse_time

END = parse_time("2026-12-31T00:00:00Z")


def t(day: int, hour: int = 0) -> str:
    """2026-03-01 plus ``day - 1`` days (t(1) is 1 March), at ``hour``."""
    return format_time(parse_time("2026-03-01T00:00:00Z") + ((day - 1) * 24 + hour) * 3_600_000_000) or ""


def us(day: int, hour: int = 0) -> int:
    return parse_time(t(day, hour))


def grant(ident: str, day: int, subject: str, target: str, resource: str = "",
          **extra: Any) -> dict[str, Any]:
    return {"id": ident, "time": t(day), "action": "grant", "subject": subject, "target": target,
            "resource": resource, **extra}


def revoke(ident: str, day: int, subject: str, target: str, resource: str = "") -> dict[str, Any]:
    return {"id": ident, "time": t(day), "action": "revoke", "subject": subject, "target": target,
            "resource": resource}


def event(ident: str, day: int, action: str, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "time": t(day), "action": action, **fields}


def load(tmp_path: Path, *files: list[dict[str, Any]]) -> list[Event]:
    """Write each list of events as one JSONL file (h0.jsonl, h1.jsonl ...) and load them in order."""
    paths = []
    for n, events in enumerate(files):
        path = tmp_path / f"h{n}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        paths.append(path)
    return load_history(paths, [p.name for p in paths]).events


def state_of(tmp_path: Path, *files: list[dict[str, Any]], as_of: int = END,
             since: int | None = None) -> State:
    return replay(load(tmp_path, *files), as_of, since)


def held(state: State) -> dict[tuple[str, str, str], str]:
    """Active grants -> the id of the event in force."""
    return {key: g.event.id for key, g in sorted(state.grants.items())}


# -- ordering -----------------------------------------------------------------------


def test_events_are_sorted_by_time_ties_keep_file_then_line_order(tmp_path: Path) -> None:
    first = [grant("a1", 5, "user:a", "role:x"), grant("a2", 1, "user:a", "role:y"),
             grant("a3", 5, "user:a", "role:z")]
    second = [grant("b1", 5, "user:b", "role:x"), grant("b2", 0, "user:b", "role:y"),
              grant("b3", 5, "user:b", "role:z")]
    events = load(tmp_path, first, second)
    assert [e.id for e in events] == ["b2", "a2", "a1", "a3", "b1", "b3"]
    assert [(e.file, e.line) for e in events] == [(1, 2), (0, 2), (0, 1), (0, 3), (1, 1), (1, 3)]


def test_file_order_is_the_order_given_not_the_name(tmp_path: Path) -> None:
    (tmp_path / "z.jsonl").write_text(json.dumps(grant("z1", 1, "user:a", "role:x")) + "\n")
    (tmp_path / "a.jsonl").write_text(json.dumps(revoke("a1", 1, "user:a", "role:x")) + "\n")
    events = load_history([tmp_path / "z.jsonl", tmp_path / "a.jsonl"], ["z.jsonl", "a.jsonl"]).events
    assert [e.id for e in events] == ["z1", "a1"]
    assert replay(events, END).grants == {}


def test_a_revoke_written_before_its_grant_but_later_in_time_applies(tmp_path: Path) -> None:
    state = state_of(tmp_path, [revoke("r", 3, "user:a", "role:x"), grant("g", 2, "user:a", "role:x")])
    assert held(state) == {}
    assert state.anomalies == []
    assert state.ended[("user:a", "role:x", "")].id == "r"


# -- grants and revokes -----------------------------------------------------------------


def test_revoke_of_something_never_granted_is_an_anomaly_not_dropped(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g", 1, "user:a", "role:x"),
                                revoke("r1", 2, "user:a", "role:y"),
                                revoke("r2", 3, "user:a", "role:x"),
                                revoke("r3", 4, "user:a", "role:x")])
    assert held(state) == {}
    assert [(e.id, "never granted" in why) for e, why in state.anomalies] == [("r1", True), ("r3", True)]
    assert "role:y" in state.anomalies[0][1] and "user:a" in state.anomalies[0][1]
    assert [e.id for e in state.events] == ["g", "r1", "r2", "r3"]
    assert state.ended[("user:a", "role:x", "")].id == "r3"


def test_regrant_refreshes_provenance_and_keeps_since(tmp_path: Path) -> None:
    state = state_of(tmp_path, [
        grant("g1", 1, "user:a", "role:x", key="pk-1", ticket="CHG-1", expires=t(30)),
        grant("g2", 20, "user:a", "role:x", key="pk-2", ticket="CHG-2", expires=t(90)),
    ])
    g = state.grants[("user:a", "role:x", "")]
    assert (g.event.id, g.event.key, g.event.ticket) == ("g2", "pk-2", "CHG-2")
    assert g.expires == us(90)
    assert g.since == us(1)


def test_revoke_then_regrant_starts_a_new_holding(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g1", 1, "user:a", "role:x"), revoke("r", 5, "user:a", "role:x"),
                                grant("g2", 9, "user:a", "role:x")])
    g = state.grants[("user:a", "role:x", "")]
    assert (g.event.id, g.since) == ("g2", us(9))
    assert state.ended[("user:a", "role:x", "")].id == "r"
    assert state.anomalies == []


def test_resources_are_separate_grants(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g1", 1, "user:a", "role:x", "aws:1"),
                                grant("g2", 2, "user:a", "role:x", "aws:2"),
                                grant("g3", 3, "user:a", "role:x"),
                                revoke("r", 4, "user:a", "role:x", "aws:1")])
    assert held(state) == {("user:a", "role:x", ""): "g3", ("user:a", "role:x", "aws:2"): "g2"}


def test_certify_marks_the_grant_and_certifying_nothing_is_an_anomaly(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g", 1, "user:a", "role:x"),
                                event("c1", 2, "certify", subject="user:a", target="role:x"),
                                event("c2", 3, "certify", subject="user:a", target="role:y")])
    assert state.grants[("user:a", "role:x", "")].certified.id == "c1"  # type: ignore[union-attr]
    assert [(e.id, "not held" in why) for e, why in state.anomalies] == [("c2", True)]


# -- targets ----------------------------------------------------------------------------


def test_grant_to_a_retired_role_is_kept_and_visible(tmp_path: Path) -> None:
    state = state_of(tmp_path, [event("d", 1, "define", target="role:x"),
                                event("x", 2, "retire", target="role:x"),
                                grant("g", 3, "user:a", "role:x")])
    assert held(state) == {("user:a", "role:x", ""): "g"}
    assert state.retired["role:x"].id == "x"
    assert "role:x" not in state.defined
    assert AccessGraph(state).targets("user:a") == {"role:x"}


def test_define_after_retire_brings_the_target_back(tmp_path: Path) -> None:
    state = state_of(tmp_path, [event("d1", 1, "define", target="role:x"),
                                event("x", 2, "retire", target="role:x"),
                                event("d2", 3, "define", target="role:x", owner="user:o")])
    assert state.defined["role:x"].id == "d2"
    assert state.defined["role:x"].get("owner") == "user:o"
    assert "role:x" not in state.retired


def test_retiring_a_role_does_not_revoke_its_grants(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g", 1, "user:a", "role:x"), event("x", 2, "retire", target="role:x")])
    assert held(state) == {("user:a", "role:x", ""): "g"}


# -- time -------------------------------------------------------------------------------


def test_as_of_cuts_the_history(tmp_path: Path) -> None:
    events = [grant("g1", 1, "user:a", "role:x"), grant("g2", 5, "user:a", "role:y"),
              revoke("r1", 6, "user:a", "role:x"), grant("g3", 7, "user:a", "role:z")]
    state = state_of(tmp_path, events, as_of=us(5))
    assert [e.id for e in state.events] == ["g1", "g2"]  # an event exactly at as_of counts
    assert held(state) == {("user:a", "role:x", ""): "g1", ("user:a", "role:y", ""): "g2"}
    assert state.ended == {}
    before = state_of(tmp_path, events, as_of=us(5) - 1)
    assert [e.id for e in before.events] == ["g1"]


def test_as_of_before_the_first_event_is_an_empty_state(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("g1", 3, "user:a", "role:x")], as_of=us(1))
    assert state.events == [] and state.grants == {} and state.window == []


def test_since_bounds_the_window_not_the_state(tmp_path: Path) -> None:
    events = [grant("g1", 1, "user:a", "role:x"), grant("g2", 5, "user:a", "role:y"),
              grant("g3", 7, "user:a", "role:z"), grant("g4", 9, "user:a", "role:w")]
    state = state_of(tmp_path, events, as_of=us(7), since=us(5))
    assert [e.id for e in state.window] == ["g3"]  # after since (exclusive), up to as_of (inclusive)
    assert len(state.grants) == 3
    assert state.since == us(5) and state.as_of == us(7)
    everything = state_of(tmp_path, events, as_of=us(7))
    assert [e.id for e in everything.window] == ["g1", "g2", "g3"]


# -- groups -----------------------------------------------------------------------------


def test_group_cycles_terminate_and_are_right(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("m", 1, "user:u", "group:a"),
                                grant("ab", 1, "group:a", "group:b"),
                                grant("bc", 1, "group:b", "group:c"),
                                grant("ca", 1, "group:c", "group:a"),
                                grant("r", 1, "group:b", "role:r", "aws:1")])
    graph = AccessGraph(state)
    user = graph.effective("user:u")
    assert sorted(user) == [("group:a", ""), ("group:b", ""), ("group:c", ""), ("role:r", "aws:1")]
    assert path_ids("user:u", user[("role:r", "aws:1")][0]) == ["user:u", "group:a", "group:b", "role:r"]
    for group in ("group:a", "group:b", "group:c"):
        held_by_group = graph.effective(group)
        assert (group, "") not in held_by_group, f"{group} holds itself"
        assert ("role:r", "aws:1") in held_by_group
        assert group not in graph.targets(group)
        assert (group, "") not in graph.entitlements(group)
    assert sorted(graph.effective("group:a")) == [("group:b", ""), ("group:c", ""), ("role:r", "aws:1")]
    assert graph.cycles() == [["group:a", "group:b", "group:c"]]


def test_a_group_granted_to_itself_does_not_hold_itself(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("self", 1, "group:a", "group:a"), grant("r", 1, "group:a", "role:r")])
    graph = AccessGraph(state)
    assert graph.entitlements("group:a") == {("role:r", "")}
    assert sorted(graph.effective("group:a")) == [("role:r", "")]


def test_two_group_cycle_through_membership_both_ways(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("ab", 1, "group:a", "group:b"), grant("ba", 1, "group:b", "group:a"),
                                grant("u", 1, "user:u", "group:b")])
    graph = AccessGraph(state)
    assert graph.entitlements("user:u") == {("group:a", ""), ("group:b", "")}
    assert graph.entitlements("group:a") == {("group:b", "")}


def test_nested_groups_three_deep_carry_the_resource_of_the_last_edge(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("m1", 1, "user:u", "group:g1", "okta:acme"),
                                grant("m2", 1, "group:g1", "group:g2"),
                                grant("m3", 1, "group:g2", "group:g3"),
                                grant("r1", 1, "group:g3", "role:deploy", "aws:111"),
                                grant("r2", 1, "group:g3", "role:deploy", "aws:222")])
    graph = AccessGraph(state)
    effective = graph.effective("user:u")
    assert sorted(effective) == [("group:g1", "okta:acme"), ("group:g2", ""), ("group:g3", ""),
                                 ("role:deploy", "aws:111"), ("role:deploy", "aws:222")]
    [path] = effective[("role:deploy", "aws:222")]
    assert [g.event.id for g in path] == ["m1", "m2", "m3", "r2"]
    assert path_ids("user:u", path) == ["user:u", "group:g1", "group:g2", "group:g3", "role:deploy"]
    assert ("role:deploy", "okta:acme") not in effective
    assert graph.entitlements("user:u") == set(effective)


def test_one_path_per_distinct_first_hop(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("d", 1, "user:u", "role:r"), grant("m1", 1, "user:u", "group:a"),
                                grant("m2", 1, "user:u", "group:b"), grant("ar", 1, "group:a", "role:r"),
                                grant("br", 1, "group:b", "role:r")])
    paths = AccessGraph(state).effective("user:u")[("role:r", "")]
    assert sorted(path_ids("user:u", p) for p in paths) == [
        ["user:u", "group:a", "role:r"], ["user:u", "group:b", "role:r"], ["user:u", "role:r"]]


def test_revoked_membership_cuts_what_came_through_it(tmp_path: Path) -> None:
    state = state_of(tmp_path, [grant("m", 1, "user:u", "group:a"), grant("ar", 1, "group:a", "role:r"),
                                revoke("rm", 2, "user:u", "group:a")])
    assert AccessGraph(state).entitlements("user:u") == set()
    assert AccessGraph(state).entitlements("group:a") == {("role:r", "")}


# -- joiners, movers, leavers -------------------------------------------------------------


def test_move_updates_attributes_and_records_before_and_after(tmp_path: Path) -> None:
    state = state_of(tmp_path, [
        event("j", 1, "join", subject="user:a", attributes={"department": "eng", "title": "engineer"}),
        event("m1", 5, "move", subject="user:a", attributes={"department": "payments"}),
        event("m2", 9, "move", subject="user:a", attributes={"title": "lead"}),
    ])
    assert state.attributes["user:a"] == {"department": "payments", "title": "lead"}
    first, second = state.moves["user:a"]
    assert (first.event.id, first.before, first.after) == (
        "m1", {"department": "eng", "title": "engineer"}, {"department": "payments", "title": "engineer"})
    assert (second.before["title"], second.after["title"]) == ("engineer", "lead")


def test_move_without_join_starts_from_nothing(tmp_path: Path) -> None:
    state = state_of(tmp_path, [event("m", 1, "move", subject="user:a", attributes={"department": "ops"})])
    [move] = state.moves["user:a"]
    assert (move.before, move.after) == ({}, {"department": "ops"})


def test_leave_then_join_is_a_returning_joiner(tmp_path: Path) -> None:
    history = [event("j1", 1, "join", subject="user:a", attributes={"department": "eng"}),
               event("l", 5, "leave", subject="user:a"),
               event("j2", 9, "join", subject="user:a", attributes={"department": "sales"})]
    gone = state_of(tmp_path, history, as_of=us(8))
    assert gone.left["user:a"].id == "l"
    back = state_of(tmp_path, history)
    assert "user:a" not in back.left
    assert back.joined["user:a"].id == "j2"
    assert back.attributes["user:a"] == {"department": "sales"}


def test_join_then_leave_stays_left(tmp_path: Path) -> None:
    state = state_of(tmp_path, [event("j", 1, "join", subject="user:a"),
                                event("l", 2, "leave", subject="user:a"),
                                grant("g", 3, "user:a", "role:x")])
    assert state.left["user:a"].id == "l"
    assert held(state) == {("user:a", "role:x", ""): "g"}  # access after leaving is kept, for checks to see


@pytest.mark.parametrize("as_of_day", [1, 2, 3])
def test_replay_is_a_pure_function_of_events_and_time(tmp_path: Path, as_of_day: int) -> None:
    events = load(tmp_path, [grant("g", 1, "user:a", "role:x"), revoke("r", 2, "user:a", "role:x"),
                             grant("g2", 3, "user:a", "role:x")])
    one, two = replay(events, us(as_of_day)), replay(events, us(as_of_day))
    assert held(one) == held(two)
    assert [e.id for e in one.events] == [e.id for e in events][:as_of_day]
