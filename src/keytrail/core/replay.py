"""Replay over columns: the fold as a hash aggregate, and only what the checks read as objects.

The state is the same :class:`keytrail.replay.State` the Python path builds, filled
from queries (``core/sql/fold.sql``, ``active.sql``, ``ended.sql``,
``anomalies.sql``, ``ties.sql``): the active grants with the events behind them,
the lifecycle (replayed in Python by the same code, over the few join, move,
leave, define and retire events), the replay notes (worded by the same functions),
and the tie notes (decided by :mod:`keytrail.ties` over the candidate rows).
The events themselves stay in the table: ``state.events`` is a
:class:`~keytrail.core.rows.LazyEvents`, and each event-scanning check gets its
rows from its query in ``core/sql/checks/`` (:meth:`ColumnarState.changes_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from keytrail.core import ahead
from keytrail.core.connect import Connection, engine_errors
from keytrail.core.load import Loaded
from keytrail.core.queries import condition, sql
from keytrail.core.rows import LazyEvents, by_ord, decoded, events, paused_gc
from keytrail.model import Event, Grant
from keytrail.replay import (
    ActorUse,
    EventRef,
    GrantKey,
    KeyUse,
    State,
    _lifecycle,
    add_ties,
    certify_note,
    revoke_note,
)

if TYPE_CHECKING:
    from keytrail.view import View

#: The checks whose rows come from a query in core/sql/checks/ (the file is named by the id).
NARROWED = frozenset({"unexplained.missing-key", "unexplained.unknown-key", "unexplained.key-not-valid",
                      "unexplained.key-out-of-scope", "unexplained.key-misuse", "unexplained.self-grant"})


class ColumnarState(State):
    """A :class:`State` whose events stay in DuckDB (see the module docstring)."""

    loaded: Loaded
    _keys_ready: bool = False
    _narrowed: dict[str, list[Event]] | None = None
    _all_changes: list[Event] | None = None

    def _params(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "since": self.since}

    def changes_for(self, view: View, check: str | None) -> list[Event]:
        """The changes ``check`` may flag: its query's rows (every change for other callers)."""
        con = self.loaded.con
        if check not in NARROWED:
            if self._all_changes is None:
                self._all_changes = events(con, condition("changes"), self._params())
            return self._all_changes
        if self._narrowed is None:
            self._key_tables(view)
            self._narrowed = self._flagged()
        return self._narrowed[check]

    def _flagged(self) -> dict[str, list[Event]]:
        """Every narrowing check's rows, from one pass over the events (core/sql/flagged.sql):
        six queries scanned the history six times and built shared rows once per check."""
        order = sorted(NARROWED)
        conditions = [f"({condition('checks/' + check)})" for check in order]
        text = sql("flagged").format(changes=condition("changes"), any=" OR ".join(conditions),
                                     flags=", ".join(f"coalesce({c}, false)" for c in conditions))
        found: dict[str, list[Event]] = {check: [] for check in order}
        lists = [found[check] for check in order]
        cursor = self.loaded.con.execute(text, self._params())
        with paused_gc():
            for event, flags in decoded(cursor, {}):
                for flag, rows in zip(flags, lists, strict=True):
                    if flag:
                        rows.append(event)
        return found

    def sharing_ids(self) -> list[Event]:
        con = self.loaded.con
        table = ahead.result(con, "duplicates", self.as_of)
        ords = [row[0] for row in con.execute(f"SELECT ord FROM {table}").fetchall()]
        found = by_ord(con, ords)
        return [found[o] for o in sorted(ords)]

    def ended_for(self, keys: Iterable[GrantKey]) -> dict[GrantKey, Event]:
        with engine_errors(self.loaded.con):
            return self.ended.many(keys)  # type: ignore[attr-defined, no-any-return]

    def last_revokes(self, targets: set[str]) -> dict[str, Event]:
        con = self.loaded.con
        if not targets:
            return {}
        rows = con.execute("SELECT target, max(last_revoke) FROM fold WHERE last_revoke IS NOT NULL "
                           "AND target IN (SELECT unnest(?::VARCHAR[])) GROUP BY target",
                           [sorted(targets)]).fetchall()
        found = by_ord(con, [o for _, o in rows])
        return {target: found[o] for target, o in rows}

    def _key_tables(self, view: View) -> None:
        """The key registry as a table (validity windows), and the (key, target) pairs out of scope."""
        if self._keys_ready:
            return
        from keytrail.checks.unexplained_key_not_valid import valid_window
        from keytrail.checks.unexplained_key_out_of_scope import Scopes
        from keytrail.selectors import split_globs

        con = self.loaded.con
        # One statement per table, the rows as bound lists: executemany ran one INSERT per key.
        windows = [valid_window(k) for k in view.keys.values()]
        con.execute("CREATE OR REPLACE TEMP TABLE keys AS SELECT unnest($ids::VARCHAR[]) AS id, "
                    "unnest($holders::VARCHAR[]) AS holder, unnest($starts::BIGINT[]) AS valid_from, "
                    "unnest($ends::BIGINT[]) AS valid_to",
                    {"ids": [k.id for k in view.keys.values()], "holders": [k.holder for k in view.keys.values()],
                     "starts": [w[0] for w in windows], "ends": [w[1] for w in windows]})
        plain: list[tuple[str, str, bool]] = []
        for key in view.keys.values():
            literals, prefixes, _ = split_globs(key.scope)
            plain += [(key.id, glob, False) for glob in literals] + [(key.id, head, True) for head in prefixes]
        con.execute("CREATE OR REPLACE TEMP TABLE scope_plain AS SELECT unnest($keys::VARCHAR[]) AS key, "
                    "unnest($globs::VARCHAR[]) AS glob, unnest($prefixes::BOOLEAN[]) AS prefix",
                    {"keys": [r[0] for r in plain], "globs": [r[1] for r in plain],
                     "prefixes": [r[2] for r in plain]})
        ahead.result(con, "key_targets", self.as_of, self.since)
        pairs = con.execute(sql("scope_candidates")).fetchall()
        outside = Scopes(view.keys).outside
        missed = [pair for pair in pairs if outside(*pair)]
        con.execute("CREATE OR REPLACE TEMP TABLE scope_miss AS SELECT unnest($keys::VARCHAR[]) AS pair_key, "
                    "unnest($targets::VARCHAR[]) AS pair_target",
                    {"keys": [p[0] for p in missed], "targets": [p[1] for p in missed]})
        self._keys_ready = True

    # -- per-key aggregates (the key hygiene checks): GROUP BY queries, then only the
    # events a finding names, by ord.

    @property
    def history_start(self) -> int | None:
        with engine_errors(self.loaded.con):
            return self.loaded.con.execute(sql("history_start"), {"as_of": self.as_of}).fetchone()[0]  # type: ignore[no-any-return]

    def events_at(self, refs: Iterable[EventRef]) -> dict[EventRef, Event]:
        with engine_errors(self.loaded.con):
            return by_ord(self.loaded.con, sorted(set(refs)))

    def key_uses(self) -> dict[str, KeyUse]:
        with engine_errors(self.loaded.con):
            table = ahead.result(self.loaded.con, "key_uses", self.as_of)
            rows = self.loaded.con.execute(f"SELECT * FROM {table}").fetchall()
        return {key: KeyUse(n, last, last_time, frozenset(targets or ()))
                for key, n, last, last_time, targets in rows}

    def key_actors(self) -> dict[str, list[ActorUse]]:
        with engine_errors(self.loaded.con):
            table = ahead.result(self.loaded.con, "key_actors", self.as_of, self.since)
            rows = self.loaded.con.execute(f"SELECT * FROM {table} ORDER BY key, first").fetchall()
        out: dict[str, list[ActorUse]] = {}
        for key, actor, n, first, last in rows:  # by key, then by first use
            out.setdefault(key, []).append(ActorUse(actor, n, first, last))
        return out


class LazyEnded(Mapping[GrantKey, Event]):
    """``State.ended`` (the latest revoke of each entitlement) without building every revoke:
    a lookup asks the fold for one entitlement; walking them all builds them all, once."""

    def __init__(self, con: Connection) -> None:
        self._con = con
        self._all: dict[GrantKey, Event] | None = None

    def _every(self) -> dict[GrantKey, Event]:
        if self._all is None:
            ords = [row[0] for row in self._con.execute(sql("ended")).fetchall()]
            found = by_ord(self._con, ords)
            self._all = {}
            for o in ords:
                event = found[o]
                self._all[(event.subject, event.target, event.resource)] = event  # type: ignore[index]
        return self._all

    def many(self, keys: Iterable[GrantKey]) -> dict[GrantKey, Event]:
        """The latest revoke of each of ``keys`` that has one, by one query (or the built table)."""
        wanted = list(dict.fromkeys(keys))
        if self._all is not None or not wanted:
            every = self._all or {}
            return {key: every[key] for key in wanted if key in every}
        rows = self._con.execute(sql("ended_for"), {"subjects": [k[0] for k in wanted],
                                                    "targets": [k[1] for k in wanted],
                                                    "resources": [k[2] for k in wanted]}).fetchall()
        found = by_ord(self._con, [row[0] for row in rows])
        by_key = {(e.subject, e.target, e.resource): e for e in found.values()}
        return {key: by_key[key] for key in wanted if key in by_key}  # type: ignore[index]

    def get(self, key: GrantKey, default: Any = None) -> Any:
        return self.many([key]).get(key, default)

    def __getitem__(self, key: GrantKey) -> Event:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[GrantKey]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


def replay(loaded: Loaded, as_of: int, since: int | None) -> ColumnarState:
    """The state as of ``as_of`` (window after ``since``), as :func:`keytrail.replay.replay` gives it."""
    con = loaded.con
    params = {"as_of": as_of}
    upto = con.execute("SELECT count(*) FILTER (WHERE time <= $as_of), "
                       "count(*) FILTER (WHERE time <= $since) FROM ev",
                       {"as_of": as_of, "since": since if since is not None else -(1 << 62)}).fetchone()
    everything = LazyEvents(con, "time <= $as_of", params, upto[0])
    start = 0 if since is None else min(upto[1], upto[0])
    state = ColumnarState(as_of, since, everything, start)
    state.loaded = loaded
    ahead.result(con, "fold", as_of)
    ahead.result(con, "active", as_of)
    pool: dict[str, str] = {}  # one string object per distinct value, across every query below
    grants = state.grants
    with paused_gc():
        for event, (since_time,) in decoded(con.execute(sql("grants")), pool):
            key = cast(GrantKey, (event.subject, event.target, event.resource))
            # Mostly the grant in force began the holding: one int object for both times.
            grants[key] = Grant(*key, event, event.time if since_time == event.time else since_time)
    for event in events(con, "ord IN (SELECT certified FROM active)", {}, pool):
        grants[(event.subject, event.target, event.resource)].certified = event  # type: ignore[index]
    # Only the fold (ended, last revokes) is asked again after the replay.
    ahead.drop(con, "active")
    state.ended = LazyEnded(con)  # type: ignore[assignment]
    for event in events(con, f"ord IN (SELECT ord FROM {ahead.result(con, 'anomalies', as_of)})", {}, pool):
        state.anomalies.append((event, revoke_note(event) if event.action == "revoke" else certify_note(event)))
    lifecycle = events(con, "time <= $as_of AND action IN ('join', 'move', 'leave', 'define', 'retire')",
                       params, pool)
    for event in lifecycle:
        _lifecycle(state, event)
    if len(loaded.files) > 1:
        tied = events(con, "ord IN (" + sql("ties").rstrip().rstrip(";") + ")", params, pool)
        add_ties(state, tied, loaded.files)
    return state
