"""The RFC 6962 / RFC 9162 Merkle tree of the ledger (the Certificate Transparency log shape).

``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left ‖ right)``; the root of ``n`` leaves is
MTH (RFC 9162 §2.1.1): split at the largest power of two ``k < n``, hash the two halves. Proofs
follow RFC 9162 §2.1.3 (inclusion, PATH) and §2.1.4 (consistency, SUBPROOF), verification the
iterative algorithms of §2.1.3.2 and §2.1.4.2.

The proof *generators* here do not hash anything themselves: they return, for each proof
element, the list of complete subtrees (:class:`Node` = level, index) whose right-fold gives that
element. The store keeps one hash per complete subtree, so a proof costs one lookup of
O(log n) stored hashes (``store.py``); :func:`range_nodes` is that decomposition.
:class:`TreeBuilder` computes the root of a stream of leaves with O(log n) memory (``verify``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class Node(NamedTuple):
    """A complete subtree: ``2**level`` leaves starting at leaf ``pos * 2**level``."""

    level: int
    pos: int


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees whose right-fold is MTH(D[start:end]).

    Valid for the ranges RFC 6962 recursion produces (``start`` aligned to a power of two at
    least ``end - start``): the greedy split into the largest powers of two, left to right.
    """
    nodes: list[Node] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        nodes.append(Node(size.bit_length() - 1, start // size))
        start += size
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right-fold subtree hashes into one: node(h0, node(h1, … node(h_{k-1}, h_k)))."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_nodes(index: int, size: int) -> list[list[Node]]:
    """PATH(index, D[size]) as subtree lists, leaf-side element first (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[list[Node]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(range_nodes(start + k, end))
            end = start + k
        else:
            path.append(range_nodes(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_nodes(old: int, new: int) -> list[list[Node]]:
    """PROOF(old, D[new]) as subtree lists (RFC 9162 §2.1.4.1); empty when old is 0 or new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    proof: list[list[Node]] = []
    start, end, complete = 0, new, True
    m = old
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(range_nodes(start + k, end))
            end = start + k
        else:
            proof.append(range_nodes(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(range_nodes(start, end))
    proof.reverse()
    return proof


class TreeBuilder:
    """Root of a stream of leaf hashes in O(log n) memory (the RFC 6962 right-edge stack).

    ``push`` returns the complete subtrees each leaf finishes, so a writer can store them.
    """

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        """Resume a tree of ``size`` leaves from its frontier: one hash per set bit of ``size``,
        largest subtree first."""
        levels = [bit for bit in range(size.bit_length()) if size >> bit & 1][::-1]
        if len(levels) != len(frontier):
            raise ValueError(f"a tree of size {size} needs {len(levels)} frontier hashes")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(levels, frontier, strict=True))

    def push(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Add one leaf hash; returns the new complete subtrees of level ≥ 1 with their hashes."""
        index = self.size
        self.size += 1
        stack = self._stack
        level, value = 0, leaf
        made: list[tuple[Node, bytes]] = []
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level += 1
            made.append((Node(level, index >> level), value))
        stack.append((level, value))
        return made

    def frontier(self) -> list[bytes]:
        """The hashes of the complete subtrees on the right edge, largest first."""
        return [value for _, value in self._stack]

    def root(self) -> bytes:
        """MTH of the leaves pushed so far (SHA-256 of nothing for an empty tree)."""
        return fold(self.frontier()) if self._stack else EMPTY_ROOT


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH over leaf *hashes*."""
    builder = TreeBuilder()
    for leaf in leaves:
        builder.push(leaf)
    return builder.root()


def resolve(paths: list[list[Node]], lookup: Callable[[Node], bytes]) -> list[bytes]:
    """Turn subtree lists into proof hashes with ``lookup`` (a dict's ``__getitem__`` will do)."""
    return [fold([lookup(node) for node in element]) for element in paths]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does ``path`` prove the tree of size ``old`` is a prefix of ``new``?"""
    if not 0 <= old <= new:
        return False
    if old == new:
        return not path and old_root == new_root
    if old == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if old & (old - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0
