"""The curation read model: cur_items, cur_assignments, cur_reviews (derived from the events).

Revision ID: 0002
Revises: 0001

Creates the tables of ``safemed.ledger.tables`` (their columns are listed here, as a shipped
revision must not change when the tables module does) and fills them from the events already in
the ledger, so an existing ledger's read model is complete the moment it is upgraded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cur_items",
        sa.Column("item_id", sa.String(200), primary_key=True),
        sa.Column("ord", sa.BigInteger, nullable=False),
        sa.Column("item_seq", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("specialty", sa.String(200), nullable=True),
        sa.Column("specialty_key", sa.String(200), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("derived", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n_traces", sa.Integer, nullable=False),
        sa.Column("accepted_trace_id", sa.String(250), nullable=True),
        sa.Column("accepted_trace_seq", sa.BigInteger, nullable=True),
        sa.Column("n_attempts", sa.Integer, nullable=False),
        sa.Column("n_failures", sa.Integer, nullable=False),
        sa.Column("n_assignments", sa.Integer, nullable=False),
        sa.Column("n_assigned_accepted", sa.Integer, nullable=False),
        sa.Column("n_reviews", sa.Integer, nullable=False),
        sa.Column("n_edits", sa.Integer, nullable=False),
        sa.Column("near_duplicate", sa.Boolean, nullable=False),
        sa.Column("contamination", sa.Boolean, nullable=False),
        sa.Column("escalated", sa.Boolean, nullable=False),
        sa.Column("score_spread", sa.Integer, nullable=True),
        sa.Column("verdict_conflict", sa.Boolean, nullable=False),
        sa.Column("distinct_edits", sa.Integer, nullable=False),
        sa.Column("adjudication", sa.String(10), nullable=True),
        sa.Column("retained", sa.Boolean, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_cur_items_ord", "cur_items", ["ord"], unique=True)
    op.create_index("ix_cur_items_status", "cur_items", ["status", "ord"])
    op.create_table(
        "cur_assignments",
        sa.Column("seq", ID, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("trace_id", sa.String(250), nullable=False),
        sa.Column("trace_seq", sa.BigInteger, nullable=True),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
    )
    op.create_index("ix_cur_assignments_queue", "cur_assignments", ["reviewer", "state", "seq"])
    op.create_index("ix_cur_assignments_item", "cur_assignments", ["item_id"])
    op.create_index("ix_cur_assignments_state", "cur_assignments", ["state", "seq"])
    op.create_table(
        "cur_reviews",
        sa.Column("seq", ID, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("trace_id", sa.String(250), nullable=False),
        sa.Column("reviewer", sa.String(80), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("rubric", sa.String(20), nullable=False),
    )
    op.create_index("ix_cur_reviews_item", "cur_reviews", ["item_id"])
    op.create_index("ix_cur_reviews_reviewer", "cur_reviews", ["reviewer"])

    from safemed.ledger.readmodel import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.execute("DELETE FROM ledger_meta WHERE key = 'read_model_size'")
    for table in ("cur_reviews", "cur_assignments", "cur_items"):
        op.drop_table(table)
