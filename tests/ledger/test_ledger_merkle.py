"""The Merkle code against the published RFC 6962 vectors, and every proof up to 64 leaves.

Vectors: the eight-leaf tree of the Certificate Transparency reference tests, as published in
transparency-dev/merkle ``testonly/constants.go`` (roots, node hashes) and ``proof/verify_test.go``
(inclusion and consistency proofs; leaf numbers there are 1-based).
"""

from __future__ import annotations

import hashlib

import pytest

from safemed.ledger import merkle
from safemed.ledger.merkle import (
    EMPTY_ROOT,
    TreeBuilder,
    consistency_nodes,
    inclusion_nodes,
    leaf_hash,
    node_hash,
    resolve,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
LEAF_HASHES = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
)]
H = bytes.fromhex
INCLUSION = [  # (leaf index, tree size, proof)
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def all_nodes(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    """Every complete subtree hash, as the store keeps them."""
    table = {merkle.Node(0, i): h for i, h in enumerate(leaves)}
    builder = TreeBuilder()
    for h in leaves:
        table.update(builder.push(h))
    return table


def test_leaf_hashes_match_vectors() -> None:
    assert [leaf_hash(data) for data in LEAVES] == LEAF_HASHES


@pytest.mark.parametrize("size", range(9))
def test_roots_match_vectors(size: int) -> None:
    assert root_of(LEAF_HASHES[:size]) == ROOTS[size]
    assert naive_root(LEAF_HASHES[:size]) == ROOTS[size]


def test_empty_root() -> None:
    assert TreeBuilder().root() == EMPTY_ROOT == ROOTS[0]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    table = all_nodes(LEAF_HASHES)
    assert resolve(inclusion_nodes(index, size), table.__getitem__) == proof
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])
    assert not verify_inclusion(LEAF_HASHES[index], index + 1, size, proof, ROOTS[size])
    assert not verify_inclusion(LEAF_HASHES[index], index, size, proof[:-1], ROOTS[size])
    assert not verify_inclusion(LEAF_HASHES[index], index, size, [*proof, ROOTS[size]], ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    table = all_nodes(LEAF_HASHES)
    assert resolve(consistency_nodes(old, new), table.__getitem__) == proof
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    assert not verify_consistency(old, new, ROOTS[new], ROOTS[old], proof)
    assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1])
    assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], [])


def test_trivial_consistency() -> None:
    assert verify_consistency(0, 5, b"x", ROOTS[5], [])
    assert verify_consistency(3, 3, ROOTS[3], ROOTS[3], [])
    assert not verify_consistency(3, 3, ROOTS[3], ROOTS[4], [])
    assert not verify_consistency(4, 3, ROOTS[4], ROOTS[3], [])
    assert consistency_nodes(0, 7) == consistency_nodes(7, 7) == []


def test_all_proofs_up_to_64_leaves() -> None:
    """Every inclusion proof and every consistency proof for all m ≤ n ≤ 64, against MTH."""
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(64)]
    table = all_nodes(leaves)
    roots = [naive_root(leaves[:n]) for n in range(65)]
    for n in range(1, 65):
        builder = TreeBuilder()
        for h in leaves[:n]:
            builder.push(h)
        assert builder.root() == roots[n]
        for m in range(n):
            path = resolve(inclusion_nodes(m, n), table.__getitem__)
            assert verify_inclusion(leaves[m], m, n, path, roots[n]), (m, n)
            assert not verify_inclusion(leaves[(m + 1) % n], m, n, path, roots[n]) or n == 1
        for m in range(n + 1):
            path = resolve(consistency_nodes(m, n), table.__getitem__)
            assert verify_consistency(m, n, roots[m], roots[n], path), (m, n)
            if 0 < m < n:
                assert not verify_consistency(m, n, roots[m - 1], roots[n], path), (m, n)


def test_builder_resumes_from_frontier() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(37)]
    first = TreeBuilder()
    for h in leaves[:21]:
        first.push(h)
    resumed = TreeBuilder(21, first.frontier())
    made = {}
    for h in leaves[21:]:
        made.update(resumed.push(h))
    assert resumed.root() == naive_root(leaves)
    assert made == {node: value for node, value in all_nodes(leaves).items()
                    if node.level > 0 and ((node.pos + 1) << node.level) > 21}
    with pytest.raises(ValueError):
        TreeBuilder(21, first.frontier()[:1])
