"""Reading raw records: JSON documents (one object, ``{"Records": [...]}``, a list), JSON
lines, or YAML (multi-document), gzipped or not.

:func:`read_records` yields each record with where it came from, so that a converted event
keeps its ``source`` (file, line or index) and a problem names the place. Unreadable input
(not JSON, cut gzip, a record nested too deeply) is an :class:`InputError` naming the place.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem


@dataclass(frozen=True)
class Record:
    """One raw record and where it came from."""

    data: Any
    file: str
    line: int = 0     # JSON lines / YAML documents: the line; 0 when unknown
    index: int = 0    # the position in its file (0-based)
    item: int | None = None  # the position in its line, when a line holds a document of records

    def where(self) -> str:
        item = f"[{self.item}]" if self.item is not None else ""
        return (f"{self.file}:{self.line}" if self.line else f"{self.file}[{self.index}]") + item

    def place(self) -> tuple[str, int, int, int | None]:
        return self.file, self.line, self.index, self.item


def located(record: Record, message: str, level: str = "error") -> Problem:
    path = "" if record.line else f"[{record.index}]"
    if record.item is not None:
        path += f"[{record.item}]"
    return Problem(record.file, record.line, 0, path, message, level)



def open_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def _open_binary(path: Path) -> Any:
    """The file as a binary stream, decompressed when it is gzipped."""
    handle = path.open("rb")
    if handle.peek(2)[:2] == b"\x1f\x8b":
        handle.close()
        return gzip.open(path, "rb")
    return handle


_READ_ERRORS = (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)


def read_records(paths: Iterable[Path], display: Any = str, records_key: str | tuple[str, ...] | None = None,
                 yaml_ok: bool = False) -> Iterator[Record]:
    """Yield every record of every input file; unreadable input raises :class:`InputError`.

    JSON lines are read line by line, so a file of any size streams. A JSON
    document (an object or list spread over lines) is read whole: an object
    with ``records_key`` (``Records`` for CloudTrail; or the first of several keys,
    such as ``("value", "records")``) yields its items, a list
    its items, any other object is one record; a line holding such a document
    (``{"Records": [...]}`` on one line) yields its items too. YAML
    (multi-document, ``List`` kinds flattened by the importer) when ``yaml_ok``.
    """
    for path in paths:
        shown = display(path)
        try:
            yield from _file_records(path, shown, records_key, yaml_ok)
        except _READ_ERRORS as exc:
            raise InputError(f"{shown}: cannot read", [Problem(shown, 0, 0, "", f"cannot read: {exc}")]) from None


def _file_records(path: Path, shown: str, records_key: str | tuple[str, ...] | None, yaml_ok: bool) -> Iterator[Record]:
    with _open_binary(path) as handle:
        first, number = b"", 0
        for first in handle:
            number += 1
            if number == 1 and first.startswith(b"\xef\xbb\xbf"):
                first = first[3:]
            if first.strip():
                break
        head = first.lstrip()[:1]
        if head not in (b"{", b"["):
            if yaml_ok and head:
                yield from _yaml_records(open_text(path), shown)
                return
            if head:
                raise InputError(f"{shown}: not JSON", [Problem(shown, number, 1, "", "expected JSON or JSON lines")])
            return  # an empty file holds no records
        try:
            value = orjson.loads(first)
        except orjson.JSONDecodeError:
            value = None
        if value is None:  # the first line is not a whole value: a document over several lines
            text = first + handle.read()
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                yield from _json_lines(text.splitlines(keepends=True), shown, number)
                return
            yield from _items(doc, shown, 0, records_key, whole=True)
            return
        rest, gap = handle.readline(), 1
        while rest and not rest.strip():
            rest, gap = handle.readline(), gap + 1
        if not rest:  # one value in the whole file: a document
            yield from _items(value, shown, 0, records_key, whole=True)
            return
        yield from _items(value, shown, number, records_key, whole=False, index=0)
        yield from _json_lines(_chain_line(rest, handle), shown, number + gap, first_index=1,
                               records_key=records_key)


def _chain_line(line: bytes, handle: Any) -> Iterator[bytes]:
    yield line
    yield from handle


def _items(value: Any, shown: str, line: int, records_key: str | tuple[str, ...] | None, whole: bool,
           index: int = 0) -> Iterator[Record]:
    """The records of one JSON value: a document's items, or the value itself."""
    items = None
    if records_key and isinstance(value, dict):
        keys = (records_key,) if isinstance(records_key, str) else records_key
        items = next((value[k] for k in keys if isinstance(value.get(k), list)), None)
    if items is None and whole and isinstance(value, list):
        items = value
    if isinstance(items, list):
        if whole:
            yield from (_shallow(Record(item, shown, 0, i)) for i, item in enumerate(items))
        else:
            yield from (_shallow(Record(item, shown, line, index, i)) for i, item in enumerate(items))
        return
    yield _shallow(Record(value, shown, line, index))


#: How deeply a record may nest. The JSON reader accepts 1,024 levels, but hashing a
#: record and writing its event (orjson) stop at 255, and Python's own recursion not much
#: later; no real export comes near either.
MAX_DEPTH = 254


def _shallow(record: Record) -> Record:
    """``record``, or a located :class:`InputError` when it nests deeper than :data:`MAX_DEPTH`."""
    data = record.data
    if not isinstance(data, (dict, list)):
        return record
    try:  # the fast path: orjson measures in C while writing (it refuses only past 254 levels)
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS, default=str)
        return record
    except TypeError:  # too deep, or a value orjson cannot write (an integer past 64 bits)
        pass
    if nesting(data, MAX_DEPTH) > MAX_DEPTH:
        raise InputError(f"{record.file}: nested too deeply", [located(
            record, f"a value nested more than {MAX_DEPTH} levels deep: refused (no real export nests so deep)")])
    return record


def nesting(value: Any, stop: int) -> int:
    """How deeply ``value`` nests (a scalar 0, ``[]`` 1, ``[[]]`` 2), counted up to ``stop`` + 1.

    Iterative, so that a hostile depth cannot exhaust the stack while it is measured.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > stop:
                return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _json_lines(lines: Iterable[bytes], shown: str, start: int, first_index: int = 0,
                records_key: str | tuple[str, ...] | None = None) -> Iterator[Record]:
    """One record per non-blank line; every unparsable line is located, and the file fails."""
    problems: list[Problem] = []
    index = first_index
    number = start - 1
    for number, line in enumerate(lines, start):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if len(problems) < 50:
                problems.append(Problem(shown, number, getattr(exc, "colno", 0) or 0, "",
                                        f"invalid JSON: {exc.msg}"))
            index += 1
            continue
        yield from _items(value, shown, number, records_key, whole=False, index=index)
        index += 1
    if problems:
        raise InputError(f"{shown}: invalid JSON lines", problems)


def _yaml_records(text: str, shown: str) -> Iterator[Record]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        index = 0
        for node in yaml.compose_all(text, Loader=loader):
            if node is None:
                continue
            data = yaml.load(yaml.serialize(node), Loader=loader)  # noqa: S506 - the safe loader
            yield _shallow(Record(data, shown, node.start_mark.line + 1, index))
            index += 1
    except RecursionError:  # PyYAML composes recursively: a hostile depth exhausts the stack
        raise InputError(f"{shown}: nested too deeply", [Problem(
            shown, 0, 0, "", f"a YAML value nested more than {MAX_DEPTH} levels deep: refused")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(f"{shown}: invalid YAML", [Problem(shown, (mark.line + 1) if mark else 0,
                                                            (mark.column + 1) if mark else 0, "",
                                                            f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:  # a reader error: a character YAML does not allow (NUL, a control)
        line = text.count("\n", 0, getattr(exc, "position", 0) or 0) + 1
        raise InputError(f"{shown}: invalid YAML", [Problem(shown, line, 0, "",
                                                            f"not JSON or YAML: {exc}".splitlines()[0])]) from None
