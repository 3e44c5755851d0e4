"""The ledger's tables (SQLAlchemy Core); the schema itself is created by ``migrations/``.

* ``ledger_events``: one row per event, numbered 0, 1, 2 … with no gaps. ``canonical`` is the
  RFC 8785 text that was hashed; ``leaf_hash`` its RFC 6962 leaf hash; ``event_type``,
  ``item_id`` and ``created_at`` are copies for indexing, checked against the text by ``verify``.
* ``ledger_nodes``: the hash of every complete subtree (level ≥ 1), written on append, so an
  inclusion or consistency proof reads O(log n) rows instead of rehashing the log.
* ``ledger_checkpoints``: signed (tree size, root hash) pairs, oldest first.
* ``ledger_meta``: the ledger's origin name and the public key it was created with.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

ID = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

metadata = MetaData()

events = Table(
    "ledger_events", metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("canonical", Text, nullable=False),
)

nodes = Table(
    "ledger_nodes", metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("pos", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "ledger_checkpoints", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)

meta = Table(
    "ledger_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
