"""Load: the history read by DuckDB into a typed table, or not at all.

The typed read is taken only when it can vouch for every line exactly as
:mod:`keytrail.history` would read it; otherwise :func:`load_history` returns
``None`` and the caller reads the whole history with the exact Python path, so
every error keeps its ``file:line:col`` and wording, and unknown fields are kept.

Two readers go over the same bytes at once: DuckDB's typed read straight into the event
table (``read.sql``: one pass, each row with the columns it is checked by), the checks
that need no scan and the view ``ev`` over it (``events.sql``) on a thread of its own, started
before the project's YAML is read (:func:`start`; DuckDB releases the GIL, so on two
cores its threads work while Python reads the YAML and scans); and Python's byte scan.
The table is kept only when the scan confirms it; a scan that refuses a file stops the
read.

What it proves, cheaply:

- **Lines are rows.** A C-speed scan of each file's bytes (``bytes.count`` and
  ``in`` searches per block) finds no blank or whitespace-only line, no
  carriage return, no byte order mark, no space after an object, no trailing
  comma: then row *n* of the file is line *n*, and the row count must equal the
  line count.
- **Every key was read, once, with the right type.** The scan counts ``":``
  (one per key, plus any inside strings) and ``":"`` (one per string value);
  the typed read counts the non-null fields it took. Equal counts mean no
  unknown field, no repeated key, no null, no number where text belongs; any
  spacing before a colon, or an escaped surrogate, sends the file to the exact
  path rather than being counted.
- **Values are valid.** Actions, required fields and times in the same pass as the
  read (``read.sql``, summed per file by ``files.sql``); identifiers on their *distinct* values (tens of thousands,
  not millions), all columns in one query (``ids.sql``), those its plain pattern
  cannot vouch for checked with :func:`keytrail.history.valid` (event ids, nearly all
  distinct, row by row: only those the pattern cannot vouch for come back).
- ``source`` (an importer's note of where the event came from) is read when it is a
  flat object, its keys and string values counted in DuckDB's minified text of it.
- Files whose events carry ``prev`` (a hash chain over the raw lines) go to the
  exact path, which hashes every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from keytrail.core.connect import Connection
from keytrail.core.queries import sql
from keytrail.history import MAX_LINE_BYTES, _good_ident, valid
from keytrail.jsonlines import line_blocks, may_hold_long_line

_BLOCK = 16 << 20
#: Byte pairs that make the key counts unreliable or a line not exactly one object: a
#: space after a quote (before a colon, or after a value), a space before a line end, a
#: trailing comma (DuckDB's parser accepts ``{"a":1,}``; JSON does not), two spaces after
#: a comma. Tabs, carriage returns and escaped surrogates (orjson refuses a lone one) are
#: looked for only when the block holds a tab or a backslash at all (a one-byte search is
#: many times faster than a two-byte one). A blank line, or one not starting with "{", is
#: found by comparing the counts of "\n" and "\n{". Arrays need no test: an array
#: anywhere changes a count or is not a scalar attribute.
_ODD = (b'" ', b" \n", b",}", b", }", b",  ")
#: A trailing comma is a comma, then spaces and tabs, then "}": the patterns above and
#: these cover every start of that run ("," then "}", " }", two spaces, " \t" or a tab).
_ODD_TAB = (b'"\t', b"\t\n", b",\t", b", \t")
_ODD_ESCAPE = (b"\\ud", b"\\uD")
#: The patterns of ``_ODD`` that hold a space, and a space after a key's colon (``": "``),
#: as one search: the pattern starts with the space and lookbehinds test the bytes before
#: it, so the search jumps from space to space (a lookbehind first would be tried at every
#: byte: ten times slower than the five searches it replaces).
_SPACED = re.compile(rb' (?:\n|(?<=" )|(?<=, )[ }]|(?<=": ))')
_SCALARS = (str, int, float, bool, type(None))
#: Each identifier column's kind for :func:`keytrail.history.valid` (``id``: an event id,
#: checked as :func:`keytrail.history._good_ident` checks it); ids.sql says which values
#: need the check.
_KINDS = {"subject": "subject", "target": "target", "actor": "principal", "approver": "principal",
          "owner": "principal", "key": "token", "ticket": "token", "resource": "resource"}
#: The columns whose values name a principal or a target (the lookalike warnings compare them).
_NAMES = frozenset(("subject", "target", "actor", "approver", "owner"))


@dataclass
class Scan:
    """What the byte scan of one file found."""

    lines: int
    keys: int       # occurrences of '":'
    strings: int    # occurrences of '":"'


def scan(path: Path) -> Scan | None:
    """Count a file's lines and keys; None when the typed read cannot be trusted with it."""
    lines = keys = strings = 0
    with path.open("rb") as handle:
        for data in line_blocks(handle, _BLOCK):
            if data[-1:] != b"\n":
                data += b"\n"  # the last line, without its line break
            newlines = data.count(b"\n")
            if data[:1] != b"{" or data.count(b"\n{") != newlines - 1 or may_hold_long_line(data):
                return None
            spaced = _odd(data)
            if spaced is None:
                return None
            lines += newlines
            keys += data.count(b'":')
            # A string value follows its key's colon directly or after one space (as
            # Python's json.dumps writes it); any other spacing makes the count differ.
            strings += data.count(b'":"') + (data.count(b'": "') if spaced else 0)
    return Scan(lines, keys, strings)


def _odd(data: bytes) -> bool | None:
    """None when the block holds one of the byte pairs that make it odd (``_ODD`` and the
    rest); otherwise whether it has a space after a key's colon (``": "``, to be counted).

    Spaces are rare in compact JSON lines (a reason's words), so one search that skips
    from space to space (``_SPACED``) stands for the four patterns that hold one; only a
    block written with spaced colons, where spaces are everywhere, is searched pattern by
    pattern. A one-byte test goes first where a pattern's byte is rare (one-byte searches
    are many times faster than two-byte ones).
    """
    if b"\r" in data or b",}" in data:
        return None
    if b"\t" in data and any(pattern in data for pattern in _ODD_TAB):
        return None
    if b"\\" in data and b"\\u" in data and any(pattern in data for pattern in _ODD_ESCAPE):
        return None
    found = _SPACED.search(data)
    if found is None:
        return False
    if found.group() != b" " or data[found.start() - 2:found.start()] != b'":':
        return None
    return None if any(pattern in data for pattern in _ODD) else True


@dataclass
class Loaded:
    """A history in the DuckDB view ``ev`` (see core/sql/events.sql)."""

    con: Connection
    files: list[str]
    identifiers: set[str]
    count: int


def load_history(con: Connection, paths: list[Path], displays: list[str],
                 pending: Pending | None = None) -> Loaded | None:
    """The history as the view ``ev``; None when any file needs the exact Python path.

    ``pending`` is the typed read already started (by :func:`start`, before the project's
    YAML was read); without it the read starts here. Either way DuckDB reads, checks and
    builds the table on its own threads (it releases the GIL) while Python scans the same
    bytes, and the table is kept only when the two agree.
    """
    if pending is None:
        pending = start(con, paths)
    scans = _scan_all(paths)
    if scans is None:
        pending.stop()
        return None
    typed = pending.join()
    if typed is None:
        return None  # bad JSON, an over-long line, a type DuckDB refuses: the exact path explains
    if len(typed.stats) != len(scans):
        return None
    for filename, n_rows, keys, strings in typed.stats:
        if filename not in scans:
            return None
        found = scans[filename][1]
        if n_rows != found.lines or keys != found.keys or strings != found.strings:
            return None
    identifiers = _valid_values(typed.values)
    if identifiers is None:
        return None
    return Loaded(con, list(displays), identifiers, typed.count)


def start(con: Connection, paths: list[Path], ahead: tuple[int, int | None] | None = None) -> Pending:
    """Start the typed read of ``paths`` on a thread of its own; with ``ahead`` (the replay's
    as-of and since), the thread then makes the results core/ahead.py lists."""
    return Pending(con, [str(path) for path in paths], ahead)


def _scan_all(paths: list[Path]) -> dict[str, tuple[int, Scan]] | None:
    """Each non-empty file's scan, keyed by the name DuckDB gives it; None when any is refused."""
    scans: dict[str, tuple[int, Scan]] = {}
    for index, path in enumerate(paths):
        try:
            found = scan(path)
        except OSError:
            return None  # the exact path says why, with the file's name
        if found is None:
            return None
        if found.lines:
            scans[str(path)] = (index, found)
    return scans


@dataclass
class Typed:
    """What the typed read found, for the scan to confirm."""

    stats: list[tuple[str, int, int, int]]   # per file with rows: name, rows, keys, string values
    values: list[tuple[str, str, bool]]      # ids.sql: column, value, whether Python must check it
    count: int


class Pending:
    """The typed read under way: ``read.sql``, the checks that need no scan, and the view ``ev``,
    run on a thread of its own; :meth:`join` gives what it found (None: not a history it can
    vouch for). With ``ahead`` the thread goes on to make the replay's results (core/ahead.py)
    while the caller works; the connection's other users wait for it (Connection.worker)."""

    def __init__(self, con: Connection, files: list[str], ahead: tuple[int, int | None] | None = None) -> None:
        import threading

        self.con = con
        self.error: BaseException | None = None
        self.typed: Typed | None = None
        self.stopped = False
        self.ahead = ahead
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(files,), name="keytrail-read", daemon=True)
        con.threads.append(self.thread)
        con.worker = self.thread
        self.thread.start()

    def _run(self, files: list[str]) -> None:
        try:
            self.typed = _typed(self.con, files, self)
        except BaseException as exc:  # handed to the caller's thread by join()
            self.error = exc
        finally:
            self.ready.set()
        if self.typed is not None and self.ahead is not None:
            from keytrail.core import ahead

            ahead.run(self.con, *self.ahead, lambda: self.stopped)

    def join(self) -> Typed | None:
        """What the typed read found, once it has (results made ahead may still be under way)."""
        self.ready.wait()
        if self.error is not None:
            if isinstance(self.error, self.con.error):
                return None  # DuckDB refused the input: the exact path reads it and explains
            raise self.error
        return self.typed

    def stop(self) -> None:
        """Interrupt the read (the scan refused the history) and wait for its thread."""
        self.stopped = True  # seen between two queries, where an interrupt would be missed
        self.con.db.interrupt()
        self.thread.join()


def _typed(con: Connection, files: list[str], pending: Pending) -> Typed | None:
    """Read every file into ``evt`` (read.sql), check what needs no scan, and define ``ev``;
    None when a check refuses (the history then goes to the exact path)."""
    stats: list[Any] = []
    if files:
        con.execute(sql("read"), {"files": files, "max": MAX_LINE_BYTES})
        stats = [] if pending.stopped else con.execute(sql("files")).fetchall()
    if pending.stopped:
        return None
    if not stats:
        con.execute("DROP TABLE IF EXISTS evt")
        con.execute(_EMPTY)
        _define_events(con, [])
        return Typed([], [], 0)
    extra_keys, extra_strings = _attribute_counts(con)
    if extra_keys is None or not _numbers_readable(con):
        return None
    firsts = [0] * len(files)
    counts = []
    for file, first, last, n, string_keys, object_keys, source_strings, refused in stats:
        if file is None or refused or last - first + 1 != n:
            return None
        firsts[file] = int(first)
        counts.append((files[file], n, string_keys + object_keys + extra_keys.get(file, 0),
                       string_keys + source_strings + extra_strings.get(file, 0)))
    _define_events(con, firsts)
    if pending.stopped:
        return None
    values = con.execute(sql("ids")).fetchall()
    return Typed(counts, values, sum(n for _, n, _, _ in counts))


def _define_events(con: Connection, firsts: list[int]) -> None:
    """The view ``ev`` over ``evt`` (events.sql), given each file's first rowid; kept on the
    connection too, where rows.ord_of packs an event's ord with them."""
    con.execute(sql("events").format(firsts="[" + ", ".join(str(int(n)) for n in firsts) + "]::BIGINT[]"))
    con.first_rows = firsts


_EMPTY = """CREATE TABLE evt (file INTEGER, id VARCHAR, time BIGINT, action VARCHAR, subject VARCHAR,
    target VARCHAR, resource VARCHAR, actor VARCHAR, key VARCHAR, approver VARCHAR, ticket VARCHAR,
    reason VARCHAR, expires BIGINT, attributes JSON, owner VARCHAR, source JSON)"""


def _attribute_counts(con: Connection) -> tuple[dict[int, int] | None, dict[int, int]]:
    """Keys and string values inside ``attributes`` per file (None: a value that is not a scalar)."""
    keys: dict[int, int] = {}
    strings: dict[int, int] = {}
    for file, text in con.execute("SELECT file, attributes FROM evt WHERE attributes IS NOT NULL").fetchall():
        try:
            value: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None, strings  # NaN, Infinity, a number past 64 bits: JSON (and orjson) refuse them
        if type(value) is not dict or not all(isinstance(v, _SCALARS) for v in value.values()):
            return None, strings
        keys[file] = keys.get(file, 0) + len(value)
        strings[file] = strings.get(file, 0) + sum(type(v) is str for v in value.values())
    return keys, strings


def _numbers_readable(con: Connection) -> bool:
    """Whether every ``source`` whose text holds a long number, ``NaN`` or ``Infinity`` still
    parses as JSON (orjson refuses numbers past 64 bits and the two words; so does the
    exact path): only those few rows are parsed here."""
    for (text,) in con.execute("SELECT source FROM evt WHERE regexp_matches(source, '[0-9]{16}|NaN|Infinity')"
                               ).fetchall():
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
    return True


def _valid_values(values: list[tuple[str, str, bool]]) -> set[str] | None:
    """Every identifier the history names, when every event id and identifier is valid (None
    otherwise), from ids.sql's rows: the distinct values of every column (of the event ids,
    only the odd ones), and whether its plain pattern vouched for each; the others are
    checked here with history.py's own tests."""
    identifiers: set[str] = set()
    for column, value, odd in values:
        if odd and not (_good_ident(value) if column == "id" else valid(_KINDS[column], value)):
            return None
        if column in _NAMES:
            identifiers.add(value)
    return identifiers
