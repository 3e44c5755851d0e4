"""The rating tables (SQLAlchemy Core), in the same database as the ledger, and their locking.

* ``rt_tasks``: one row per task (kind, raters per unit, specialties, dimensions, seed);
* ``rt_units``: the units of each task in presentation order, the responses already in the order
  raters see them (A, B) and the hidden ``sources`` in the same order; ``n_labels`` counts the
  unit's labels (a cache of ``rt_labels`` kept in the same transaction, checked by ``verify``);
* ``rt_leases``: which rater holds which unit until when (a unit is reserved while someone rates it);
* ``rt_labels``: the labels, append-only and hash-chained (``chain.py``), numbered 0, 1, 2 …; gold
  answers are labels of the reserved task id ``gold``;
* ``rt_gold``: the hidden gold quality-control items with their known verdict — kept here, outside
  the curation ledger, so they can never reach an exported training set.

The tables are created when missing. Four app workers may start at once, so the creation runs
under the database's write lock (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL advisory lock), and a
creator that still loses a race re-checks instead of failing. Every write takes the same kind of
lock (:func:`write_lock`): label numbers stay consecutive and a lease is never granted twice.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Connection

from safemed.ledger import db

metadata = MetaData()

GOLD_TASK = "gold"
"""The task id under which gold answers are chained with the other labels (no task has it)."""

WRITE_LOCK = 7218146511  # PostgreSQL advisory lock keys (the ledger's migration lock is 7218146501)
CREATE_LOCK = 7218146512

tasks = Table(
    "rt_tasks", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("instructions", Text, nullable=False),
    Column("raters_per_unit", Integer, nullable=False),
    Column("specialties", Text, nullable=False),  # JSON list
    Column("config", Text, nullable=False),  # JSON: dimensions, anchors
    Column("seed", BigInteger, nullable=False),
    Column("n_units", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
)

units = Table(
    "rt_units", metadata,
    Column("task_id", String(40), primary_key=True),
    Column("unit_id", String(200), primary_key=True),
    Column("ord", Integer, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("responses", Text, nullable=False),  # JSON list, presentation order
    Column("sources", Text, nullable=False),  # JSON list, same order (hidden from raters)
    Column("meta", Text, nullable=False),  # JSON object (export only)
    Column("specialty", String(100)),
    Column("n_labels", Integer, nullable=False),
    Index("ix_rt_units_ord", "task_id", "ord"),
)

leases = Table(
    "rt_leases", metadata,
    Column("task_id", String(40), primary_key=True),
    Column("unit_id", String(200), primary_key=True),
    Column("rater", String(100), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Index("ix_rt_leases_rater", "task_id", "rater"),
)

labels = Table(
    "rt_labels", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("task_id", String(40), nullable=False),
    Column("unit_id", String(200), nullable=False),
    Column("rater", String(100), nullable=False),
    Column("label", Text, nullable=False),  # canonical JSON
    Column("seconds_spent", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("task_id", "unit_id", "rater", name="uq_rt_labels_once"),
    Index("ix_rt_labels_rater", "rater", "task_id"),
)

gold = Table(
    "rt_gold", metadata,
    Column("id", String(200), primary_key=True),
    Column("ord", Integer, nullable=False),
    Column("specialty", String(100), nullable=False),
    Column("expected", String(8), nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON of the whole row, note and expected included
    Column("imported_at", String(40), nullable=False),
    Index("ix_rt_gold_specialty", "specialty", "ord"),
)

def ensure_tables(engine: Engine) -> None:
    """Create the rating tables that are missing; safe when several processes start at once."""
    db.create_missing_tables(engine, metadata, CREATE_LOCK)


def write_lock(engine: Engine, key: int = WRITE_LOCK) -> AbstractContextManager[Connection]:
    """One transaction holding the rating write lock; commits on success, rolls back on error.

    SQLite: ``BEGIN IMMEDIATE`` through the ledger engine's ``ledger_write`` option (an engine from
    ``safemed.ledger.db.make_engine``). PostgreSQL: a transaction-scoped advisory lock, so rating
    writes queue among themselves without touching the ledger's own lock.
    """
    return db.advisory_write_transaction(engine, key)
