"""The fast tree hashing against the simple reference (RFC 6962 as written), on random trees of many sizes.

The fast paths (leaf and node hashes from copied prefix states, batched levels,
audit paths recorded while the tree is built, blank lines found in C) must give
byte-identical roots, frontiers and proofs: sizes 0 and 1, powers of two and
their neighbours, and random sizes, fed in batches of random lengths.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from keytrail.integrity.merkle import Accumulator, leaf_hashes, root, root_from_path
from keytrail.integrity.scan import Cursor

_RNG = random.Random(20261203)
SIZES = sorted({0, 1, 2, 3} | {(1 << k) + d for k in range(1, 11) for d in (-1, 0, 1)}
               | {_RNG.randrange(4, 3000) for _ in range(12)})


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _mth(hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 section 2.1 writes it (recursive split at the largest power of two)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def _path(hashes: list[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 6962 section 2.1.1 writes it."""
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return [*_path(hashes[:k], m), _mth(hashes[k:])]
    return [*_path(hashes[k:], m - k), _mth(hashes[:k])]


def _random_leaves(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(rng.randrange(0, 300)) for _ in range(n)]


@pytest.mark.parametrize("n", SIZES)
def test_fast_roots_and_frontiers_equal_the_reference_for_every_size(n: int) -> None:
    rng = random.Random(n)
    leaves = _random_leaves(rng, n)
    hashes = leaf_hashes(leaves)
    assert hashes == [_leaf(x) for x in leaves]
    expected = _mth(hashes)
    acc = Accumulator()
    pos = 0
    while pos < n:
        step = rng.choice([1, 2, 3, 5, 64, 1000])
        acc.extend(hashes[pos:pos + step])
        pos += step
    assert root(hashes) == expected == acc.root()
    # The frontier is the compact range: it alone rebuilds the same tree and extends it.
    again = Accumulator.from_frontier(n, acc.frontier())
    assert again.root() == expected
    extra = leaf_hashes([b"next"])
    again.extend(extra)
    assert again.root() == _mth(hashes + extra)


@pytest.mark.parametrize("n", SIZES)
def test_recorded_audit_paths_equal_the_reference_for_every_size(n: int) -> None:
    rng = random.Random(-n - 1)
    leaves = _random_leaves(rng, n + 7)      # leaves past the proven size do not change the path
    hashes = leaf_hashes(leaves)
    watched = sorted({0, n - 1, n // 2, *(rng.randrange(n) for _ in range(4))}) if n else []
    acc = Accumulator()
    acc.prove_size = n
    pos = 0
    while pos < len(hashes):
        step = rng.choice([1, 2, 7, 64, 500])
        for index in watched:
            if pos <= index < pos + step:
                acc.watch(index)
        acc.extend(hashes[pos:pos + step])
        pos += step
    expected_root = _mth(hashes[:n])
    for index in watched:
        path = acc.path(index)
        assert path == _path(hashes[:n], index), (n, index)
        assert root_from_path(hashes[index], index, n, path) == expected_root


def test_a_path_is_not_given_before_the_tree_reaches_the_proven_size() -> None:
    hashes = leaf_hashes([bytes([i]) for i in range(10)])
    acc = Accumulator()
    acc.prove_size = 10
    acc.watch(3)
    acc.extend(hashes[:9])
    assert acc.path(3) is None               # the right subtree [8, 10) is not complete yet
    acc.extend(hashes[9:])
    assert acc.path(3) == _path(hashes, 3)   # near miss: complete, it is the reference path
    assert acc.path(4) is None               # a leaf nobody watched


def test_a_leaf_watched_after_it_went_by_gets_no_path() -> None:
    hashes = leaf_hashes([bytes([i]) for i in range(8)])
    acc = Accumulator()
    acc.prove_size = 8
    acc.extend(hashes[:5])
    acc.watch(2)                             # too late: its leaf is already in the tree
    acc.watch(5)                             # in time
    acc.extend(hashes[5:])
    assert acc.path(2) is None
    assert acc.path(5) == _path(hashes, 5)


@pytest.mark.parametrize("text", [
    b"a\n\nb\n",                  # an empty line
    b"a\n \t\nb\n",               # a whitespace-only line
    b"a\r\n\r\nb\r\n",            # an empty line with CRLF endings
    b"\xef\xbb\xbf\nb\n",         # a first line that is only a byte order mark
    b"a\nb\n \x0b\x0c",           # a last, unterminated whitespace-only line
    b"a\n b \nc\n",               # near miss: spaces around text make an event
    b"a\nb\nc\n",                 # near miss: no blank line at all
])
def test_blank_lines_are_found_and_left_out_as_the_simple_rule_says(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(text)
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    lines = [x[:-1] if x.endswith(b"\r") else x for x in lines]
    events = [x for x in lines if x and not x.isspace()]
    got: list[bytes] = []
    cursor = Cursor(path, "h.jsonl")
    try:
        seg = cursor.advance(len(text), 1, got.extend)
    finally:
        cursor.close()
    assert seg.events == len(events)
    assert got == [_leaf(x) for x in events]


def _random_history(rng: random.Random) -> bytes:
    """Event-like lines with the awkward cases mixed in: CRLF, blank and whitespace lines, a BOM, long lines."""
    lines = []
    for i in range(rng.randrange(0, 60)):
        kind = rng.random()
        if kind < 0.1:
            lines.append(rng.choice([b"", b" ", b"\t \r", b"\r", b"\x0b"]))
        else:
            body = b'{"id":"ev-%d","pad":"%s"}' % (i, b"x" * rng.choice([0, 3, 40, 200]))
            lines.append(body + (b"\r" if kind < 0.3 else b""))
    text = b"\n".join(lines) + rng.choice([b"\n", b"", b"\n{\"cut\":"])
    return (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + text


@pytest.mark.parametrize("seed", range(40))
def test_reads_cut_anywhere_give_the_same_lines_events_leaves_and_hashes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    import keytrail.integrity.scan as scan

    rng = random.Random(seed)
    text = _random_history(rng)
    path = tmp_path / "h.jsonl"
    path.write_bytes(text)
    # The simple rule, on the whole text at once.
    pieces = text.split(b"\n")
    terminated = text.endswith(b"\n")
    if terminated or not text:
        pieces.pop()
    body = [p[3:] if i == 0 and p.startswith(b"\xef\xbb\xbf") else p for i, p in enumerate(pieces)]
    body = [p[:-1] if p.endswith(b"\r") else p for p in body]
    events = [p for p in body if p and not p.isspace()]
    watch = b'"ev-7"'
    expected_found = [(n + 1, events.index(p), p) for n, p in enumerate(body) if watch in p and p in events]
    # The cursor, with reads of a few bytes so that lines, CRs and the watched id straddle them.
    monkeypatch.setattr(scan, "CHUNK", rng.choice([1, 2, 3, 7, 64]))
    got: list[bytes] = []
    marked: list[int] = []
    cursor = Cursor(path, "h.jsonl")
    try:
        seg = cursor.advance(len(text), 2, got.extend, watch=watch, mark=marked.append)
    finally:
        cursor.close()
    assert got == [_leaf(p) for p in events]
    assert (seg.lines, seg.events) == (len(pieces), len(events))
    assert seg.complete == (len(pieces) if terminated else max(len(pieces) - 1, 0))
    assert cursor.prefix_hash() == hashlib.sha256(text).hexdigest()
    groups = [pieces[i:i + 2] for i in range(0, len(pieces), 2)]
    raw = [b"\n".join(g) + (b"\n" if terminated or i + 1 < len(groups) else b"") for i, g in enumerate(groups)]
    assert seg.blocks == [hashlib.sha256(r).hexdigest()[:16] for r in raw]
    assert seg.found == expected_found
    assert marked == [index for _, index, _ in expected_found]
