"""Load: the history read by DuckDB into a typed table, or not at all.

The typed read is taken only when it can vouch for every line exactly as
:mod:`keytrail.history` would read it; otherwise :func:`load_history` returns
``None`` and the caller reads the whole history with the exact Python path, so
every error keeps its ``file:line:col`` and wording, and unknown fields are kept.

What it proves, cheaply:

- **Lines are rows.** A C-speed scan of each file's bytes (``bytes.count`` and
  one regular expression per block) finds no blank or whitespace-only line, no
  carriage return, no byte order mark, no space after an object: then row *n*
  of the file is line *n*, and the row count must equal the line count.
- **Every key was read, once, with the right type.** The scan counts ``":``
  (one per key, plus any inside strings) and ``":"`` (one per string value);
  the typed read counts the non-null fields it took. Equal counts mean no
  unknown field, no repeated key, no null, no number where text belongs; any
  spacing before a colon, or an escaped surrogate, sends the file to the exact
  path rather than being counted.
- **Values are valid.** Actions, required fields and times by one query;
  identifiers on their *distinct* values (tens of thousands, not millions),
  with :func:`keytrail.history.valid`.
- ``source`` (an importer's note of where the event came from) is read when it is a
  flat object, its keys and string values counted in DuckDB's minified text of it.
- Files whose events carry ``prev`` (a hash chain over the raw lines) go to the
  exact path, which hashes every line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from keytrail.core.connect import Connection
from keytrail.core.queries import sql
from keytrail.history import MAX_LINE_BYTES, _good_ident, valid

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
_ODD_TAB = (b'"\t', b"\t\n", b",\t")
_ODD_ESCAPE = (b"\\ud", b"\\uD")
_SCALARS = (str, int, float, bool, type(None))
#: (column, kind for history.valid, a regular expression that the ASCII values every
#: generator and importer writes match, and the longest length it accepts).
_VISIBLE = r"[!-~]([ -~]*[!-~])?"
_IDS = (("subject", "subject", rf"(user|svc|group):{_VISIBLE}", 512),
        ("target", "target", rf"(group|role):{_VISIBLE}", 512),
        ("actor", "principal", rf"(user|svc):{_VISIBLE}", 512),
        ("approver", "principal", rf"(user|svc):{_VISIBLE}", 512),
        ("owner", "principal", rf"(user|svc):{_VISIBLE}", 512),
        ("key", "token", rf"({_VISIBLE})?", 1024),
        ("ticket", "token", rf"({_VISIBLE})?", 1024),
        ("resource", "resource", rf"({_VISIBLE})?", 1024))


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
        carry = b""
        while True:
            block = handle.read(_BLOCK)
            data = carry + block
            if not block:
                if not data:
                    break
                data += b"\n"  # the last line, without its line break
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            data, carry = data[:cut], data[cut:]
            newlines = data.count(b"\n")
            if data[:1] != b"{" or data.count(b"\n{") != newlines - 1 or _odd(data) or _long(data):
                return None
            lines += newlines
            keys += data.count(b'":')
            # A string value follows its key's colon directly or after one space (as
            # Python's json.dumps writes it); any other spacing makes the count differ.
            strings += data.count(b'":"') + data.count(b'": "')
            if not block:
                break
    return Scan(lines, keys, strings)


def _long(data: bytes) -> bool:
    """Whether a line may be longer than ``MAX_LINE_BYTES`` (DuckDB's own limit is not exact).

    A line that long contains a whole aligned window of half that size, so a window without
    a line break is the sign; a line between half and the whole limit may show it too, and
    is then read by the exact path, which measures it.
    """
    window = MAX_LINE_BYTES // 2
    return any(data.find(b"\n", start, start + window) < 0 for start in range(0, len(data) - window, window))


def _odd(data: bytes) -> bool:
    if b"\r" in data or any(pattern in data for pattern in _ODD):
        return True
    if b"\t" in data and any(pattern in data for pattern in _ODD_TAB):
        return True
    return b"\\u" in data and any(pattern in data for pattern in _ODD_ESCAPE)


@dataclass
class Loaded:
    """A history in the DuckDB table ``ev`` (see core/sql/events.sql)."""

    con: Connection
    files: list[str]
    identifiers: set[str]
    count: int


def load_history(con: Connection, paths: list[Path], displays: list[str]) -> Loaded | None:
    """The history as the table ``ev``; None when any file needs the exact Python path."""
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
    con.execute("CREATE TEMP TABLE files (filename VARCHAR, idx INTEGER, first_row BIGINT)")
    if not scans:
        con.execute(_EMPTY)
        return Loaded(con, list(displays), set(), 0)
    try:
        con.execute(sql("read"), [list(scans), MAX_LINE_BYTES])
    except con.error:
        return None  # bad JSON, an over-long line, a type DuckDB refuses: the exact path explains
    stats = con.execute(sql("files")).fetchall()
    extra_keys, extra_strings = _attribute_counts(con)
    if extra_keys is None:
        return None
    if len(stats) != len(scans):
        return None
    rows = []
    for (filename, first, last, n, string_keys, object_keys, source_strings, chained, two_extras,
         odd_sources) in stats:
        index, found = scans[filename]
        if (chained or two_extras or odd_sources or n != found.lines or last - first + 1 != n
                or found.keys != string_keys + object_keys + extra_keys.get(filename, 0)
                or found.strings != string_keys + source_strings + extra_strings.get(filename, 0)):
            return None
        rows.append((filename, index, first))
    if con.execute(sql("invalid")).fetchone()[0] or not _numbers_readable(con):
        return None
    if not _valid_values(con):
        return None
    con.db.executemany("INSERT INTO files VALUES (?, ?, ?)", rows)
    identifiers = {row[0] for row in con.execute(sql("ids")).fetchall()}
    con.execute(sql("events"))
    con.execute("DROP TABLE raw")
    count = con.execute("SELECT count(*) FROM ev").fetchone()[0]
    return Loaded(con, list(displays), identifiers, count)


_EMPTY = """CREATE TABLE ev (ord HUGEINT, file INTEGER, line BIGINT, id VARCHAR, time BIGINT,
    action VARCHAR, subject VARCHAR, target VARCHAR, resource VARCHAR, actor VARCHAR, key VARCHAR,
    approver VARCHAR, ticket VARCHAR, reason VARCHAR, expires BIGINT, attributes JSON, owner VARCHAR,
    source JSON)"""


def _attribute_counts(con: Connection) -> tuple[dict[str, int] | None, dict[str, int]]:
    """Keys and string values inside ``attributes`` per file (None: a value that is not a scalar)."""
    keys: dict[str, int] = {}
    strings: dict[str, int] = {}
    for filename, text in con.execute("SELECT filename, attributes FROM raw WHERE attributes IS NOT NULL"
                                      ).fetchall():
        try:
            value: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None, strings  # NaN, Infinity, a number past 64 bits: JSON (and orjson) refuse them
        if type(value) is not dict or not all(isinstance(v, _SCALARS) for v in value.values()):
            return None, strings
        keys[filename] = keys.get(filename, 0) + len(value)
        strings[filename] = strings.get(filename, 0) + sum(type(v) is str for v in value.values())
    return keys, strings


def _numbers_readable(con: Connection) -> bool:
    """Whether every ``source`` whose text holds a long number, ``NaN`` or ``Infinity`` still
    parses as JSON (orjson refuses numbers past 64 bits and the two words; so does the
    exact path): only those few rows are parsed here."""
    for (text,) in con.execute("SELECT source FROM raw WHERE regexp_matches(source, '[0-9]{16}|NaN|Infinity')"
                               ).fetchall():
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
    return True


def _valid_values(con: Connection) -> bool:
    """Whether every event id and identifier is valid; only values the SQL pattern cannot vouch
    for (not plain ASCII, or not matching) are checked one by one, with history.py's own tests."""
    odd = con.execute("SELECT DISTINCT id FROM raw WHERE NOT regexp_full_match(id, ?) OR length(id) > 256",
                      [_VISIBLE]).fetchall()
    if not all(_good_ident(row[0]) for row in odd):
        return False
    for column, kind, pattern, longest in _IDS:
        # Distinct first: the pattern then runs once per value, not once per event.
        odd = con.execute(f"SELECT v FROM (SELECT DISTINCT {column} AS v FROM raw) "
                          "WHERE v IS NOT NULL AND (NOT regexp_full_match(v, ?) OR length(v) > ?)",
                          [pattern, longest]).fetchall()
        if not all(valid(kind, row[0]) for row in odd):
            return False
    return True
