"""Reading stored subtree hashes: what makes proofs and checkpoints O(log n).

Appends store the hash of every complete subtree (``ledger_nodes``; level 0 is the events' own
``leaf_hash``). Any RFC 6962 proof element or root is a right-fold of such subtrees
(``merkle.range_nodes``), so a proof or a checkpoint reads about 2·log2(n) rows, whatever the
size of the log: the ledger issue's "< 5 ms per item at 1M events".

This is a cache of values derived from the events: ``verify`` recomputes everything from the
events alone, and every proof is checked against a signed root before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from safemed.ledger import merkle
from safemed.ledger.errors import LedgerError
from safemed.ledger.merkle import Node

CHUNK = 500  # bound parameters per statement (far below SQLite's and PostgreSQL's limits)


def lookup(conn: Connection, wanted: set[Node]) -> dict[Node, bytes]:
    """The stored hashes of the given complete subtrees; a missing one is an error."""
    found: dict[Node, bytes] = {}
    for part in _chunks(sorted(node.pos for node in wanted if node.level == 0)):
        params = {f"p{i}": pos for i, pos in enumerate(part)}
        sql = f"SELECT seq, leaf_hash FROM ledger_events WHERE seq IN ({_marks(params)})"
        found.update((Node(0, int(seq)), bytes(value)) for seq, value in conn.execute(text(sql), params))
    # Plain SQL with one (level = L AND pos IN (…)) term per level: each term is a primary-key
    # lookup (a row-value IN over (level, pos) makes SQLite scan the table), and text() avoids
    # compiling a new Core statement for every proof shape.
    for part in _chunks(sorted(node for node in wanted if node.level > 0)):
        by_level: dict[int, dict[str, int]] = {}
        for i, node in enumerate(part):
            by_level.setdefault(node.level, {})[f"n{i}"] = node.pos
        terms = [f"(level = {level:d} AND pos IN ({_marks(names)}))" for level, names in by_level.items()]
        params = {name: pos for names in by_level.values() for name, pos in names.items()}
        sql = f"SELECT level, pos, hash FROM ledger_nodes WHERE {' OR '.join(terms)}"
        found.update((Node(int(level), int(pos)), bytes(value))
                     for level, pos, value in conn.execute(text(sql), params))
    missing = wanted - found.keys()
    if missing:
        node = min(missing)
        raise LedgerError(f"the stored Merkle tree lacks subtree level {node.level} position {node.pos} "
                          "(rows deleted?); run `safemed ledger verify`")
    return found


def frontier(conn: Connection, size: int) -> list[bytes]:
    """The right-edge subtree hashes of the tree of ``size`` leaves, largest first."""
    needed = merkle.range_nodes(0, size)
    table = lookup(conn, set(needed))
    return [table[node] for node in needed]


def root(conn: Connection, size: int) -> bytes:
    """MTH of the first ``size`` events, from stored subtrees."""
    return merkle.fold(frontier(conn, size)) if size else merkle.EMPTY_ROOT


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _marks(params: dict[str, int]) -> str:
    return ", ".join(f":{name}" for name in params)
