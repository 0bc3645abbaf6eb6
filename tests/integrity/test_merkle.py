"""RFC 6962 hashing against the Certificate Transparency reference vectors, and proofs of any size."""

from __future__ import annotations

import hashlib
import random

import pytest

from keytrail.integrity.merkle import (
    EMPTY_ROOT,
    Accumulator,
    inclusion_path,
    leaf_hashes,
    packed_inclusion_path,
    root,
    root_from_path,
)

# The leaves and roots of the certificate-transparency reference tests (merkle_tree_test.cc),
# also used by Go's transparency-dev/merkle and Trillian.
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             b"\x50\x51\x52\x53\x54\x55\x56\x57", bytes(range(0x60, 0x70))]
CT_ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
CT_PATHS = {(0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
            (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]}


def _reference(hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 section 2.1 defines it (recursive split at the largest power of two)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _reference(hashes[:k]) + _reference(hashes[k:])).digest()


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(n: int) -> None:
    hashes = leaf_hashes(CT_LEAVES[:n])
    assert root(hashes).hex() == CT_ROOTS[n - 1]
    acc = Accumulator()
    for h in hashes:
        acc.extend([h])
    assert acc.root().hex() == CT_ROOTS[n - 1]


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == Accumulator().root()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(("index", "size"), sorted(CT_PATHS))
def test_inclusion_paths_match_the_vectors(index: int, size: int) -> None:
    hashes = leaf_hashes(CT_LEAVES[:size])
    path = inclusion_path(hashes, index)
    assert [h.hex() for h in path] == CT_PATHS[(index, size)]
    assert root_from_path(hashes[index], index, size, path) == bytes.fromhex(CT_ROOTS[size - 1])


def test_batches_of_any_size_give_the_rfc_root_and_every_proof_verifies() -> None:
    rng = random.Random(6962)
    for n in list(range(1, 70)) + [127, 128, 129, 1000]:
        hashes = leaf_hashes([str(i).encode() for i in range(n)])
        acc = Accumulator()
        i = 0
        while i < n:
            j = i + rng.randint(1, 9)
            acc.extend(hashes[i:j])
            i = j
        expected = _reference(hashes)
        assert root(hashes) == expected == acc.root(), n
        for m in {0, n // 2, n - 1, rng.randrange(n)}:
            path = inclusion_path(hashes, m)
            assert root_from_path(hashes[m], m, n, path) == expected
            assert packed_inclusion_path(b"".join(hashes) + b"\xff" * 64, n, m) == path  # trailing leaves ignored


def test_a_wrong_leaf_index_or_size_or_path_does_not_verify() -> None:
    hashes = leaf_hashes(CT_LEAVES)
    path = inclusion_path(hashes, 5)
    good = bytes.fromhex(CT_ROOTS[7])
    assert root_from_path(hashes[5], 5, 8, path) == good          # near miss: the true proof holds
    assert root_from_path(hashes[4], 5, 8, path) != good          # another leaf
    assert root_from_path(hashes[5], 4, 8, path) != good          # another index
    assert root_from_path(hashes[5], 5, 7, path) != bytes.fromhex(CT_ROOTS[6])  # the 7-leaf tree's root
    assert root_from_path(hashes[5], 5, 8, [*path, path[0]]) is None  # a path too long
    assert root_from_path(hashes[5], 5, 8, path[:-1]) != good     # a path cut short
    assert root_from_path(hashes[5], 8, 8, path) is None          # an index outside the tree
