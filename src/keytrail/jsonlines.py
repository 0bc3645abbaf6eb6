"""JSON-lines files read a block of whole lines at a time: the snapshot's and the usage
files' reader (:func:`json_lines`), and the block reader the history's byte scan shares
(:func:`line_blocks`).

A block is parsed as one JSON array where that provably stands for reading it line by
line (:func:`_bulk`); any other block is read line by line with the history's own tests,
so every problem keeps its line and wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from keytrail.errors import InputError, Problem
from keytrail.history import MAX_LINE_BYTES, _duplicate_keys, _json_problem

#: Bytes of a JSON-lines file parsed at once by :func:`json_lines` (whole lines).
_BLOCK = 4 << 20


def json_lines(path: Path, display: str, problems: list[Problem]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line of a JSON-lines file that is at most
    MAX_LINE_BYTES long, parses, and writes no key twice; every other line adds its located
    problem to ``problems`` (the snapshot and usage readers; history has its own fast path).

    A block of whole lines at a time is parsed as one JSON array when :func:`_bulk` can vouch
    that it holds one flat object per line, none too long and none with a key twice (a
    snapshot of 471,620 lines: 2.8 s line by line, 0.9 s in blocks); any other block is read
    line by line, so every problem keeps its line and wording.
    """
    for first, data in _blocks(path, display):
        values = _bulk(data)
        if values is not None:
            yield from enumerate(values, first)
        else:
            yield from _exact_lines(_split(data, first), display, problems)


def _blocks(path: Path, display: str) -> Iterator[tuple[int, bytes]]:
    """(number of its first line, bytes) of each block of whole lines, the byte order mark of
    line 1 removed; the last block may lack its final line break."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}",
                         [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    first = 1
    with handle:
        for data in line_blocks(handle, _BLOCK):
            if first == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]  # a UTF-8 byte order mark, as some Windows tools write
            yield first, data
            first += data.count(b"\n")


def line_blocks(handle: BinaryIO, size: int) -> Iterator[bytes]:
    """The bytes of ``handle`` about ``size`` at a time, cut after a line break (a line longer
    than ``size`` is read on to its end); the last block may lack its final line break."""
    carry = b""
    while True:
        block = handle.read(size)
        data = carry + block
        if not block:
            if data:
                yield data
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]


def _split(data: bytes, first: int) -> Iterator[tuple[int, bytes]]:
    """:func:`iter_lines` over one block: each non-blank line, without its line break."""
    for number, raw in enumerate(data.split(b"\n"), first):
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        if raw and not raw.isspace():
            yield number, raw


def _bulk(data: bytes) -> list[Any] | None:
    """The block's lines parsed at once, or None when that cannot stand for line by line.

    Every line holds exactly one value: the block parses as an array with commas for line
    breaks (a blank or broken line, or two values on one line, do not) and the value count
    is the line count. No key is written twice: ``":`` occurs at least once per key written
    when no space, tab or carriage return comes between a key and its colon (refused here),
    so a total equal to the objects' keys means each line wrote each of its keys once and
    holds no nested object.
    """
    if b"\r" in data or b'" :' in data or b'"\t:' in data or may_hold_long_line(data):
        return None
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        values = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        return None
    if type(values) is not list or len(values) != body.count(b"\n") + 1:
        return None
    keys = 0
    for value in values:
        if type(value) is not dict:
            return None
        keys += len(value)
    return values if data.count(b'":') == keys else None


def may_hold_long_line(data: bytes) -> bool:
    """Whether a line of ``data`` (whole lines) may be longer than ``MAX_LINE_BYTES``.

    A line that long contains a whole aligned window of half that size, so a window without
    a line break is the sign; a line between half and the whole limit may show it too, and
    is then read by the exact path, which measures it.
    """
    window = MAX_LINE_BYTES // 2
    return any(data.find(b"\n", start, start + window) < 0 for start in range(0, len(data) - window, window))


def _exact_lines(lines: Iterable[tuple[int, bytes]], display: str, problems: list[Problem]
                 ) -> Iterator[tuple[int, Any]]:
    """The values of ``lines`` one at a time, each problem added to ``problems`` with its line."""
    for line, raw in lines:
        if len(raw) > MAX_LINE_BYTES:
            problems.append(Problem(display, line, 0, "", f"line is {len(raw):,} bytes long; "
                                    f"at most {MAX_LINE_BYTES:,} allowed"))
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(_json_problem(display, line, exc, raw))
            continue
        if type(obj) is dict:
            repeated = _duplicate_keys(raw, obj, display, line)
            if repeated:
                problems.extend(repeated)
                continue
        yield line, obj
