"""RFC 6962 / RFC 9162 Merkle tree hashing: roots, an append-only accumulator, inclusion proofs.

A leaf hash is ``SHA-256(0x00 || leaf)`` and an interior node ``SHA-256(0x01 ||
left || right)``; the tree over ``n`` leaves splits at the largest power of two
smaller than ``n`` (RFC 6962 section 2.1). That tree is the same as pairing the
nodes of each level from the left and carrying an unpaired last node up
unchanged, which is what the code does: a level at a time, in batches.

Speed: the cost is one SHA-256 call per leaf and about one per node, so the
per-call overhead decides. Copying a hash object already fed the one-byte
prefix (``0x00`` or ``0x01``) and updating it with the leaf, or with the two
children, is measurably cheaper than ``sha256(prefix + data)``: creating a
hash object from nothing costs OpenSSL more than copying one, and it saves
concatenating bytes (docs/integrity.md, "Speed"; ``benchmarks/integrity.py``).
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

LEAF, NODE = b"\x00", b"\x01"
#: The root of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = sha256(b"").digest()


#: Hash objects already fed the leaf and node prefixes; each hash starts from a copy.
_LEAF_STATE, _NODE_STATE = sha256(LEAF), sha256(NODE)


def leaf_hashes(leaves: list[bytes]) -> list[bytes]:
    """The leaf hash of each leaf."""
    start = _LEAF_STATE.copy
    out: list[bytes] = []
    append = out.append
    for leaf in leaves:
        h = start()
        h.update(leaf)
        append(h.digest())
    return out


def _pairs(nodes: list[bytes]) -> list[bytes]:
    """The parents of a level's nodes paired from the left (an unpaired last node is left out)."""
    start = _NODE_STATE.copy
    out: list[bytes] = []
    append = out.append
    it = iter(nodes)
    for a, b in zip(it, it, strict=False):  # an unpaired last node ends the zip
        h = start()
        h.update(a)
        h.update(b)
        append(h.digest())
    return out


def root(hashes: list[bytes]) -> bytes:
    """The Merkle tree hash of leaves given by their leaf hashes."""
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > 1:
        parents = _pairs(level)
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


class Accumulator:
    """An append-only tree that gives its root at any size without keeping its leaves.

    ``pending[h]`` is the root of a complete subtree of ``2**h`` leaves waiting for
    its right sibling (the set bits of the size, as in a compact range). Leaves
    are added in batches, each level hashed in one comprehension.
    """

    def __init__(self, keep: bool = False) -> None:
        self.size = 0
        self.pending: list[bytes | None] = []
        #: Every leaf hash, 32 bytes each end to end, when asked to keep them (for inclusion
        #: proofs): a third of the memory a list of bytes objects would take.
        self.leaves: bytearray | None = bytearray() if keep else None
        #: The size of the tree whose audit paths :meth:`watch` records (None: records nothing).
        self.prove_size: int | None = None
        self._recorders: dict[int, _Recorder] = {}

    def watch(self, index: int) -> None:
        """Record the audit path of leaf ``index`` in the tree of ``prove_size`` leaves as the leaves go by.

        Call it before the batch holding that leaf is added; :meth:`path` gives
        the path once the tree reached ``prove_size``. Memory stays O(log n):
        no leaf hash is kept.
        """
        if self.prove_size is not None and self.size <= index < self.prove_size and index not in self._recorders:
            self._recorders[index] = _Recorder(index, self.prove_size)

    def path(self, index: int) -> list[bytes] | None:
        """The audit path recorded for leaf ``index`` (None when not watched or not complete yet)."""
        recorder = self._recorders.get(index)
        return recorder.path() if recorder is not None else None

    def extend(self, hashes: list[bytes]) -> None:
        """Append leaves given by their leaf hashes."""
        if not hashes:
            return
        if self._recorders:
            # Stop at each size where a recorder reads the frontier (and the leaf that comes next).
            base, stop, pos = self.size, self.size + len(hashes), 0
            while True:
                at = min((s for r in self._recorders.values()
                          if (s := r.next_stop()) is not None and self.size <= s < stop), default=None)
                if at is None:
                    break
                self._extend(hashes[pos:at - base])
                pos = at - base
                for recorder in self._recorders.values():
                    if recorder.next_stop() == at:
                        recorder.take(self.pending, hashes[pos])
            if pos:
                hashes = hashes[pos:]
        self._extend(hashes)

    def _extend(self, hashes: list[bytes]) -> None:
        if not hashes:
            return
        if self.leaves is not None:
            self.leaves += b"".join(hashes)
        self.size += len(hashes)
        level, height = hashes, 0
        while level:
            if height == len(self.pending):
                self.pending.append(None)
            waiting = self.pending[height]
            nodes = [waiting, *level] if waiting is not None else level
            odd = len(nodes) % 2
            self.pending[height] = nodes[-1] if odd else None
            level = _pairs(nodes)
            height += 1

    def frontier(self) -> list[bytes]:
        """The roots of the complete subtrees the tree is made of, smallest first (its compact range).

        With the size, they are all a checkpoint needs to extend the tree later
        without the old leaves; they fold to the root, so a wrong frontier for a
        signed root would take a SHA-256 collision.
        """
        return [node for node in self.pending if node is not None]

    @classmethod
    def from_frontier(cls, size: int, frontier: list[bytes]) -> Accumulator:
        """The tree of ``size`` leaves whose compact range is ``frontier`` (ValueError when they do not fit)."""
        if len(frontier) != bin(size).count("1"):
            raise ValueError("the frontier does not fit the size")
        acc = cls()
        acc.size = size
        nodes = iter(frontier)
        acc.pending = [next(nodes) if size >> h & 1 else None for h in range(size.bit_length())]
        return acc

    def root(self) -> bytes:
        """The root of the tree of every leaf added so far."""
        acc: bytes | None = None
        for node in self.pending:  # lowest level first: the right edge of the tree
            if node is not None:
                acc = node if acc is None else sha256(NODE + node + acc).digest()
        return acc if acc is not None else EMPTY_ROOT


class _Recorder:
    """The audit path of one leaf, read off the tree as it is built (RFC 6962 section 2.1.1).

    In the tree of ``size`` leaves, the sibling at height ``h`` of leaf ``i`` is
    the complete subtree left of it when bit ``h`` of ``i`` is set, and otherwise
    the subtree of the ``2**h`` leaves that follow the node holding ``i``, cut at
    ``size`` (none when it would start at or past ``size``). The left ones are the
    tree's frontier just before leaf ``i``. A right one over leaves ``lo`` to
    ``hi`` is the frontier's levels below ``h`` just before leaf ``hi - 1`` (the
    compact range of ``lo`` to ``hi - 1``, as ``lo`` is a multiple of ``2**h``),
    folded with that last leaf: a few hashes each, nothing hashed twice.
    """

    def __init__(self, index: int, size: int) -> None:
        self.index, self.size = index, size
        self.left: dict[int, bytes] | None = None
        self.ranges = [(h, start, min(start + (1 << h), size)) for h in range(size.bit_length())
                       if not index >> h & 1 and (start := ((index >> h) + 1) << h) < size]
        self.right: dict[int, bytes] = {}
        self._next = 0

    def next_stop(self) -> int | None:
        """The tree size at which :meth:`take` must see the frontier next (None: done)."""
        if self.left is None:
            return self.index
        if self._next < len(self.ranges):
            return self.ranges[self._next][2] - 1
        return None

    def take(self, pending: list[bytes | None], leaf: bytes) -> None:
        """Read what the path needs from the frontier ``pending``, with ``leaf`` the next leaf."""
        if self.left is None:
            self.left = {h: node for h, node in enumerate(pending) if node is not None}
            return
        h = self.ranges[self._next][0]
        acc = leaf
        for node in pending[:h]:  # lowest level first: right to left
            if node is not None:
                acc = sha256(NODE + node + acc).digest()
        self.right[h] = acc
        self._next += 1

    def path(self) -> list[bytes] | None:
        if self.left is None or self._next < len(self.ranges):
            return None
        return [self.left[h] if self.index >> h & 1 else self.right[h] for h in range(self.size.bit_length())
                if self.index >> h & 1 or h in self.right]


def inclusion_path(hashes: list[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``hashes`` (RFC 6962 section 2.1.1)."""
    return _path(lambda lo, hi: hashes[lo:hi], len(hashes), index)


def packed_inclusion_path(packed: bytes | bytearray, size: int, index: int) -> list[bytes]:
    """:func:`inclusion_path` over the first ``size`` leaf hashes stored end to end in ``packed``."""
    def span(lo: int, hi: int) -> list[bytes]:
        return [bytes(packed[i:i + 32]) for i in range(lo * 32, hi * 32, 32)]

    return _path(span, size, index)


def _path(span: Any, size: int, index: int) -> list[bytes]:
    if not 0 <= index < size:
        raise IndexError(index)
    path: list[bytes] = []
    lo, hi = 0, size
    # Descend from the root; siblings are found top-down and reported bottom-up.
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if index - lo < k:
            path.append(root(span(lo + k, hi)))
            hi = lo + k
        else:
            path.append(root(span(lo, lo + k)))
            lo += k
    path.reverse()
    return path


def root_from_path(leaf_hash: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """The root an inclusion path leads to (RFC 9162 section 2.1.3.2), or None when it cannot fit."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = sha256(NODE + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
