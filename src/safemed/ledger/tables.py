"""The ledger's tables (SQLAlchemy Core); the schema itself is created by ``migrations/``.

* ``ledger_events``: one row per event, numbered 0, 1, 2 … with no gaps. ``canonical`` is the
  RFC 8785 text that was hashed; ``leaf_hash`` its RFC 6962 leaf hash; ``event_type``,
  ``item_id`` and ``created_at`` are copies for indexing, checked against the text by ``verify``.
* ``ledger_nodes``: the hash of every complete subtree (level ≥ 1), written on append, so an
  inclusion or consistency proof reads O(log n) rows instead of rehashing the log.
* ``ledger_checkpoints``: signed (tree size, root hash) pairs, oldest first.
* ``ledger_meta``: the ledger's origin name and the public key it was created with.

The curation read model (``readmodel.py``; derived, never edited, rebuilt by ``ledger reindex``):

* ``cur_items``: one row per item: a summary of its state (status, counts, the accepted trace,
  flags, how far its reviews disagree, the panel's and the retention decision) and the ``seq`` of
  its ``item_imported`` event, whose payload holds the question;
* ``cur_assignments``: one row per assignment with its state (``open``, ``done`` once the
  reviewer reviewed that trace, ``closed`` once the item was adjudicated or decided) and the
  ``seq`` of the trace it routes, indexed for a reviewer's queue;
* ``cur_reviews``: one row per review (who, which trace, which rubric), for agreement and counts.

Payloads stay in ``ledger_events`` (read by ``seq`` or through the ``item_id`` index), so the read
model adds indexes and summaries, not a second copy of the texts.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
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

cur_items = Table(
    "cur_items", metadata,
    Column("item_id", String(200), primary_key=True),
    Column("ord", BigInteger, nullable=False),
    Column("item_seq", BigInteger, nullable=True),
    Column("kind", String(20), nullable=True),
    Column("specialty", String(200), nullable=True),
    Column("specialty_key", String(200), nullable=True),
    Column("language", String(8), nullable=True),
    Column("derived", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("n_traces", Integer, nullable=False),
    Column("accepted_trace_id", String(250), nullable=True),
    Column("accepted_trace_seq", BigInteger, nullable=True),
    Column("n_attempts", Integer, nullable=False),
    Column("n_failures", Integer, nullable=False),
    Column("n_assignments", Integer, nullable=False),
    Column("n_assigned_accepted", Integer, nullable=False),
    Column("n_reviews", Integer, nullable=False),
    Column("n_edits", Integer, nullable=False),
    Column("near_duplicate", Boolean, nullable=False),
    Column("contamination", Boolean, nullable=False),
    Column("escalated", Boolean, nullable=False),
    Column("score_spread", Integer, nullable=True),
    Column("verdict_conflict", Boolean, nullable=False),
    Column("distinct_edits", Integer, nullable=False),
    Column("adjudication", String(10), nullable=True),
    Column("retained", Boolean, nullable=True),
    Column("last_seq", BigInteger, nullable=False),
    Index("ix_cur_items_ord", "ord", unique=True),
    Index("ix_cur_items_status", "status", "ord"),
    Index("ix_cur_items_claim", "specialty_key", "n_assigned_accepted", "ord"),
)

cur_assignments = Table(
    "cur_assignments", metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("item_id", String(200), nullable=False),
    Column("trace_id", String(250), nullable=False),
    Column("trace_seq", BigInteger, nullable=True),
    Column("reviewer", String(80), nullable=False),
    Column("specialty", String(200), nullable=False),
    Column("round", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Index("ix_cur_assignments_queue", "reviewer", "state", "seq"),
    Index("ix_cur_assignments_item", "item_id"),
    Index("ix_cur_assignments_state", "state", "seq"),
)

cur_reviews = Table(
    "cur_reviews", metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("item_id", String(200), nullable=False),
    Column("trace_id", String(250), nullable=False),
    Column("reviewer", String(80), nullable=False),
    Column("specialty", String(200), nullable=False),
    Column("rubric", String(20), nullable=False),
    Index("ix_cur_reviews_item", "item_id"),
    Index("ix_cur_reviews_reviewer", "reviewer"),
)

READ_MODEL_TABLES = (cur_items, cur_assignments, cur_reviews)
"""The derived tables, in the order they are filled (and emptied in reverse)."""
