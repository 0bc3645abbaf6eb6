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
concatenating bytes (measured in ``benchmarks/integrity.py`` and the module
history).
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

    def extend(self, hashes: list[bytes]) -> None:
        """Append leaves given by their leaf hashes."""
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
