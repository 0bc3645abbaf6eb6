"""The columnar replay folds a history into the same state as the Python replay.

``core/sql/fold.sql``, ``active.sql`` and ``anomalies.sql`` decide most entitlements
from per-entitlement aggregates and go back to the events only for the few with a
longer story; these tests hold every part of the state they build (active grants in
order, the grant in force, since when, the certification; the replay notes and ties;
the latest revokes) to :func:`keytrail.replay.replay`, on hand-written edge cases and
on many random histories dense in same-time events across two files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.core import EngineOptions
from keytrail.replay import State

pytest.importorskip("duckdb")

AS_OF = "2026-06-30T00:00:00Z"


def _write(root: Path, files: list[list[dict[str, Any]]]) -> Path:
    (root / "history").mkdir(parents=True)
    (root / "directory.yaml").write_text("principals: []\n")
    (root / "keys.yaml").write_text("keys: []\n")
    (root / "policies").mkdir()
    (root / "keytrail.yaml").write_text('directory: directory.yaml\nkeys: keys.yaml\n'
                                        'history: ["history/*.jsonl"]\npolicies: ["policies/"]\n')
    for n, events in enumerate(files):
        (root / "history" / f"h{n}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return root


#: Every entitlement the tests' histories can name, and some they never do.
_CANDIDATES = [(s, t, r) for s in ("user:a", "user:b", "user:c", "user:d", "user:e", "user:f", "user:g",
                                   "user:r", "svc:c", "user:u0", "user:u1", "user:u2", "user:nobody")
               for t in ("group:g", "role:r", "group:g0", "group:g1", "group:none")
               for r in ("", "db:x", "db:y")]


def _picture(state: State) -> dict[str, Any]:
    """Everything the fold decides, by event id."""
    # Asked first, before anything walks state.ended: the columnar core answers by one query.
    ended_for = {key: event.id for key, event in state.ended_for(_CANDIDATES).items()}
    one_by_one = {key: event.id for key in _CANDIDATES if (event := state.ended.get(key)) is not None}
    return {
        "ended_for": ended_for,
        "ended_one_by_one": one_by_one,
        "grants": [(key, g.event.id, g.since, g.certified.id if g.certified else None)
                   for key, g in state.grants.items()],
        "anomalies": [(event.id, note) for event, note in state.anomalies],
        "ties": [(event.id, note) for event, note in state.ties],
        "ended": [(key, event.id) for key, event in state.ended.items()],
        "ended_lookup": {key: state.ended.get(key).id for key in state.ended},  # type: ignore[union-attr]
    }


def _both(root: Path, as_of: str = AS_OF) -> tuple[dict[str, Any], dict[str, Any]]:
    pictures = []
    for engine in ("python", "columnar"):
        project = pipeline.load(root, engine=EngineOptions(engine=engine))
        assert (project.columnar is not None) == (engine == "columnar"), "the typed read must take it"
        pictures.append(_picture(pipeline.replay(project, as_of)))
        if project.columnar is not None:
            project.columnar.con.close()
    return pictures[0], pictures[1]


def _ev(n: int, day: int, action: str, subject: str = "user:a", target: str = "group:g",
        **more: Any) -> dict[str, Any]:
    return {"id": f"ev-{n}", "time": f"2026-01-{day:02d}T10:00:00Z", "action": action,
            "subject": subject, "target": target, **more}


def test_edge_cases_of_holding_fold_the_same_way(tmp_path: Path) -> None:
    events = [
        _ev(1, 1, "certify", "user:c"),                 # certified before any grant: not held
        _ev(2, 2, "grant", "user:c"),
        _ev(3, 3, "revoke", "user:r"),                  # revoked, never granted
        _ev(4, 4, "grant", "user:r"),
        _ev(5, 2, "grant", "user:d"), _ev(6, 3, "revoke", "user:d"),
        _ev(7, 4, "revoke", "user:d"),                  # a second revoke: already revoked
        _ev(8, 2, "grant", "user:e"), _ev(9, 3, "certify", "user:e"),
        _ev(10, 4, "revoke", "user:e"), _ev(11, 5, "certify", "user:e"),   # certified after revoke
        _ev(12, 6, "grant", "user:e"), _ev(13, 7, "grant", "user:e"),     # regranted, then again
        _ev(14, 2, "grant", "user:f"), _ev(15, 3, "grant", "user:f"),     # held twice: since the first
        _ev(16, 4, "certify", "user:f"),
        _ev(17, 2, "grant", "user:g", resource="db:x"), _ev(18, 2, "grant", "user:g", resource="db:y"),
    ]
    events.sort(key=lambda e: e["time"])
    python, columnar = _both(_write(tmp_path / "p", [events]))
    assert columnar == python
    grants = {key[0] + key[2]: rest for key, *rest in python["grants"]}
    assert grants["user:e"][0] == "ev-13" and grants["user:e"][2] is None  # certification before the revoke
    assert grants["user:f"][0] == "ev-15" and grants["user:f"][2] == "ev-16"
    assert [a for a, _ in python["anomalies"]] == ["ev-1", "ev-3", "ev-7", "ev-11"]


def test_a_history_without_revokes_or_certifications_folds_the_same_way(tmp_path: Path) -> None:
    # The near miss: nothing for anomalies.sql to find, every holding from the fold alone.
    events = [_ev(n, n, "grant", f"user:u{n % 3}", f"group:g{n % 2}") for n in range(1, 20)]
    python, columnar = _both(_write(tmp_path / "p", [events]))
    assert columnar == python
    assert python["anomalies"] == [] and len(python["grants"]) == 6


@pytest.mark.parametrize("seed", range(12))
def test_random_histories_fold_the_same_way(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files: list[list[dict[str, Any]]] = [[], []]
    n = 0
    for day in range(1, 29):
        for _ in range(rng.randrange(0, 9)):
            n += 1
            event = _ev(n, day, rng.choice(("grant", "grant", "revoke", "certify")),
                        rng.choice(("user:a", "user:b", "svc:c")), rng.choice(("group:g", "role:r")))
            if rng.random() < 0.3:
                event["resource"] = "db:x"
            rng.choice(files).append(event)   # same-time events in both files: ties
    python, columnar = _both(_write(tmp_path / "p", files), "2026-01-20T10:00:00Z")
    assert columnar == python
    assert python["grants"] or python["anomalies"]


# -- Results made ahead (core/ahead.py) ------------------------------------------------------
# `keytrail check` gives the load its as-of and since, and the typed read's thread makes the
# fold, the active grants, the notes and the key aggregates while Python reads the project.


def _history_for_ahead(root: Path) -> Path:
    rng = random.Random(7)
    files: list[list[dict[str, Any]]] = [[], []]
    for n in range(1, 120):
        event = _ev(n, rng.randrange(1, 29), rng.choice(("grant", "grant", "revoke", "certify")),
                    rng.choice(("user:a", "user:b", "svc:c")), rng.choice(("group:g", "role:r")),
                    key=rng.choice(("pk-1", "pk-2")), actor=rng.choice(("user:a", "user:b")))
        rng.choice(files).append(event)
    return _write(root, [sorted(f, key=lambda e: e["time"]) for f in files])


def _columnar(root: Path, as_of: str, ahead: tuple[str, str | None] | None) -> tuple[dict[str, Any], Any]:
    from keytrail.timeutil import parse_time

    times = None if ahead is None else (parse_time(ahead[0]), parse_time(ahead[1]) if ahead[1] else None)
    project = pipeline.load(root, engine=EngineOptions("columnar", ahead=times))
    assert project.columnar is not None
    state = pipeline.replay(project, as_of)
    picture = _picture(state)
    picture["key_uses"] = sorted((k, u.changes, u.last, sorted(u.targets)) for k, u in state.key_uses().items())
    picture["key_actors"] = {k: [tuple(a) for a in v] for k, v in state.key_actors().items()}
    picture["sharing_ids"] = [e.id for e in state.sharing_ids()]
    return picture, project.columnar.con


def test_results_made_ahead_are_those_made_when_asked(tmp_path: Path) -> None:
    root = _history_for_ahead(tmp_path / "p")
    asked, con = _columnar(root, "2026-01-20T10:00:00Z", None)
    assert con.made.keys() >= {"fold", "key_uses", "key_actors", "duplicates"}  # made when asked
    con.close()
    ahead, con = _columnar(root, "2026-01-20T10:00:00Z", ("2026-01-20T10:00:00Z", None))
    assert con.worker is None  # the replay's first query waited for the thread, then let it go
    con.close()
    assert ahead == asked
    assert asked["grants"] and asked["anomalies"] and asked["key_uses"] and asked["key_actors"]


def test_results_made_ahead_for_other_times_are_made_again(tmp_path: Path) -> None:
    # The near miss: made ahead for 20 January, asked for 10 January: not the rows of the 20th.
    root = _history_for_ahead(tmp_path / "p")
    asked, con = _columnar(root, "2026-01-10T10:00:00Z", None)
    con.close()
    other, con = _columnar(root, "2026-01-10T10:00:00Z", ("2026-01-20T10:00:00Z", None))
    con.close()
    assert other == asked
    later, con = _columnar(root, "2026-01-20T10:00:00Z", None)
    con.close()
    assert later != asked  # the two dates differ, so the comparison above could fail


def test_a_result_that_fails_ahead_is_made_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement that fails on the typed read's thread (out of memory, say) is not fatal
    there: it and those after it are made when asked, where an error is reported in its place."""
    import threading

    from keytrail.core import ahead

    root = _history_for_ahead(tmp_path / "p")
    asked, con = _columnar(root, "2026-01-20T10:00:00Z", None)
    con.close()
    statement = ahead._statement
    failed: list[str] = []

    def failing_ahead(name: str) -> str:
        if name == "anomalies" and threading.current_thread().name == "keytrail-read":
            failed.append(name)
            return "SELECT * FROM no_such_table"
        return statement(name)

    monkeypatch.setattr(ahead, "_statement", failing_ahead)
    made, con = _columnar(root, "2026-01-20T10:00:00Z", ("2026-01-20T10:00:00Z", None))
    con.close()
    assert failed == ["anomalies"]
    assert made == asked


def test_a_result_asked_while_it_is_being_made_ahead_is_made_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for before the load's thread has made it, a result waits for that thread rather
    than being made a second time."""
    import threading
    import time

    from keytrail.core import ahead
    from keytrail.timeutil import parse_time

    root = _history_for_ahead(tmp_path / "p")
    statement = ahead._statement
    made: list[tuple[str, str]] = []

    def slow(name: str) -> str:
        made.append((name, threading.current_thread().name))
        if threading.current_thread().name == "keytrail-read":
            time.sleep(0.05)  # still at it when the caller asks
        return statement(name)

    monkeypatch.setattr(ahead, "_statement", slow)
    as_of = parse_time("2026-01-20T10:00:00Z")
    project = pipeline.load(root, engine=EngineOptions("columnar", ahead=(as_of, None)))
    con = project.columnar.con
    assert ahead.result(con, "key_actors", as_of) == "key_actors"  # the last one made ahead
    assert [name for name, _ in made] == list(ahead.STATEMENTS)
    assert {thread for _, thread in made} == {"keytrail-read"}
    con.close()


def test_stopping_the_load_interrupts_a_result_being_made_ahead(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan refusing the history stops the load's thread at once, even in the middle of a
    result it makes ahead; every result is then left to be made when asked."""
    import threading
    import time

    from keytrail.core import ahead, load
    from keytrail.core.connect import Connection

    root = _history_for_ahead(tmp_path / "p")
    paths = sorted((root / "history").glob("*.jsonl"))
    statement = ahead._statement
    started = threading.Event()

    def endless(name: str) -> str:
        if name == "fold":
            started.set()  # minutes of work, unless interrupted
            return ("CREATE OR REPLACE TEMP TABLE fold AS "
                    "SELECT sum(range) + $as_of AS n FROM range(10000000000000)")
        return statement(name)

    monkeypatch.setattr(ahead, "_statement", endless)
    con = Connection(EngineOptions("columnar"), paths)
    pending = load.start(con, paths, ahead=(0, None))
    assert started.wait(timeout=30)
    time.sleep(0.2)  # inside the statement
    stopper = threading.Thread(target=pending.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=20)
    try:
        assert not stopper.is_alive(), "stop() did not interrupt the statement made ahead"
    finally:
        con.db.interrupt()  # a failed run must not leave DuckDB busy for hours
        stopper.join()
    assert not pending.thread.is_alive() and "fold" not in con.made
    con.close()
