"""Reading history files the way a checkpoint covers them: byte ranges of whole lines.

A :class:`Cursor` moves through one file from one checkpoint's end to the
next, in big reads: it keeps the SHA-256 of the bytes so far (a prefix hash),
counts lines and events, hashes each event line into a Merkle leaf, and hashes
groups of lines into the short ``blocks`` that locate a change. Leaves are the
exact line bytes without the line ending (``\\n`` or ``\\r\\n``; a UTF-8 byte
order mark on the first line is dropped, as the history reader does); blank
lines are covered by the file hash but are not events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from keytrail.errors import InputError, Problem
from keytrail.integrity.merkle import leaf_hashes

#: Bytes read at a time: large enough for hashing speed, small enough for flat memory.
CHUNK = 8 << 20
#: At most this many ``blocks`` per file and checkpoint (their size grows with the segment).
MAX_BLOCKS = 256
_BOM = b"\xef\xbb\xbf"


def block_size(lines: int) -> int:
    """Lines per block for a segment of ``lines`` lines: one line each for up to 256 lines."""
    return max(1, -(-lines // MAX_BLOCKS))


@dataclass
class Segment:
    """What one advance read: its lines, events and block hashes."""

    start_line: int                 # the file line number of the segment's first line
    lines: int = 0                  # lines read (the last may lack its line ending)
    complete: int = 0               # of which end with a line feed
    events: int = 0
    blocks: list[str] = field(default_factory=list)
    found: list[tuple[int, int, bytes]] = field(default_factory=list)  # (line, leaf index, raw) of watched lines


class Cursor:
    """A position in one history file, with everything a checkpoint records up to it."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.offset = 0
        self.lines = 0
        self.events = 0
        self.hasher = hashlib.sha256()
        self.diverged = False
        self._handle: BinaryIO | None = None

    def size(self) -> int | None:
        """The file's size now, or None when it does not exist (or is not a file)."""
        try:
            return self.path.stat().st_size if self.path.is_file() else None
        except OSError:
            return None

    def _open(self) -> BinaryIO:
        if self._handle is None:
            try:
                self._handle = self.path.open("rb")
            except OSError as exc:
                raise InputError(f"{self.display}: cannot read", [Problem(
                    self.display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def complete_end(self) -> int:
        """The end of the file's last complete line (an unfinished last line is not sealed)."""
        size = self.size() or 0
        handle = self._open()
        pos = size
        while pos > self.offset:
            start = max(self.offset, pos - (1 << 20))
            handle.seek(start)
            found = handle.read(pos - start).rfind(b"\n")
            if found >= 0:
                return start + found + 1
            pos = start
        return self.offset

    def hash_to(self, end: int) -> None:
        """Hash on up to byte ``end`` (or the end of the file) without looking at lines: hashing speed."""
        handle = self._open()
        handle.seek(self.offset)
        while self.offset < end:
            data = handle.read(min(CHUNK, end - self.offset))
            if not data:
                break
            self.hasher.update(data)
            self.offset += len(data)

    def count_lines(self, end: int) -> int:
        """How many line feeds lie between the cursor and ``end`` (a fast pre-pass)."""
        handle = self._open()
        handle.seek(self.offset)
        left, count = end - self.offset, 0
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            count += data.count(b"\n")
            left -= len(data)
        return count

    def advance(self, end: int, block: int, sink: Callable[[list[bytes]], Any] | None,
                leaf_base: int = 0, watch: bytes | None = None,
                mark: Callable[[int], Any] | None = None) -> Segment:
        """Read up to byte ``end`` (or the end of the file), updating every count and hash.

        ``sink`` receives the leaf hashes of the events read, in order; ``watch``
        (bytes to look for) collects the lines holding it, with their leaf index
        (``leaf_base`` for the segment's first event); ``mark`` is told each such
        index before ``sink`` receives its leaf.
        """
        handle = self._open()
        handle.seek(self.offset)
        seg = Segment(start_line=self.lines + 1)
        blocks = _Blocks(block, seg.blocks)
        carry = b""
        left = end - self.offset
        while True:
            data = handle.read(min(CHUNK, left)) if left > 0 else b""
            left -= len(data)
            self.hasher.update(data)
            self.offset += len(data)
            final = left <= 0 or not data
            # Split the read as it is and join the line it cut (``carry``) to its first piece:
            # no copy of the whole read.
            parts = data.split(b"\n")
            if carry:
                parts[0] = carry + parts[0]
            if not final:
                carry, terminated = parts.pop(), True  # the line the next read goes on with
            else:
                carry, terminated = b"", parts[-1] == b""
                if terminated:
                    parts.pop()  # the empty piece after the last line feed
            if parts:
                # Every line lies in this read except the first, which may have begun in the last one.
                blocks.add(parts, terminated)
                self._account(parts, (data, parts[0]), terminated, seg, sink, leaf_base, watch, mark)
            if final:
                break
        blocks.finish()
        return seg

    def _account(self, parts: list[bytes], hay: tuple[bytes, bytes], terminated: bool, seg: Segment,
                 sink: Callable[[list[bytes]], Any] | None, leaf_base: int, watch: bytes | None,
                 mark: Callable[[int], Any] | None) -> None:
        """Count a batch of lines and hash its events into leaves (``hay``: bytes holding every line)."""
        count = len(parts)
        first_line = self.lines + 1
        if self.lines == 0 and parts and parts[0].startswith(_BOM):
            parts = [parts[0][3:], *parts[1:]]
        # The common case is checked once per batch, in C: no carriage return, no blank line.
        if any(b"\r" in h for h in hay):
            leaves = [p[:-1] if p[-1:] == b"\r" else p for p in parts]
        else:
            leaves = parts
        # The watched bytes are looked for in the whole batch first, in C: a line-by-line
        # loop only runs over the rare batch that holds them.
        if watch is not None and any(watch in h for h in hay):
            index = leaf_base + seg.events
            for offset, leaf in enumerate(leaves):
                if leaf and not leaf.isspace():
                    if watch in leaf:
                        seg.found.append((first_line + offset, index, leaf))
                        if mark is not None:
                            mark(index)
                    index += 1
        # Blank lines are rare: found in C (all() stops at an empty line, isspace at the
        # first non-space byte of each line) before a Python loop filters them out.
        if not all(leaves) or any(map(bytes.isspace, leaves)):
            leaves = [leaf for leaf in leaves if leaf and not leaf.isspace()]
        if sink is not None and leaves:
            sink(leaf_hashes(leaves))
        self.lines += count
        self.events += len(leaves)
        seg.lines += count
        seg.complete += count if terminated else count - 1
        seg.events += len(leaves)

    def prefix_hash(self) -> str:
        """Hex SHA-256 of the bytes read so far."""
        return self.hasher.copy().hexdigest()


class _Blocks:
    """Short hashes of groups of ``size`` lines (with their line feeds), appended to ``out``."""

    def __init__(self, size: int, out: list[str]) -> None:
        self.size = size
        self.out = out
        self.hasher = hashlib.sha256()
        self.fill = 0

    def add(self, parts: list[bytes], terminated: bool) -> None:
        pos, count = 0, len(parts)
        while pos < count:
            take = min(self.size - self.fill, count - pos)
            tail = b"\n" if terminated or pos + take < count else b""
            self.hasher.update(b"\n".join(parts[pos:pos + take]))
            self.hasher.update(tail)
            self.fill += take
            pos += take
            if self.fill == self.size:
                self.finish()

    def finish(self) -> None:
        if self.fill:
            self.out.append(self.hasher.hexdigest()[:16])
            self.hasher = hashlib.sha256()
            self.fill = 0
