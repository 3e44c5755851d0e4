"""An index for the review app's claimable slots: items of one specialty with too few reviewers.

Revision ID: 0003
Revises: 0002

The review app offers a reviewer, after their own assignments, the oldest open items of their
specialties that still have fewer than ``per_item`` reviewers assigned to the accepted trace (the
paper's independent reviewers per item). ``(specialty_key, n_assigned_accepted, ord)`` makes that
a range scan per specialty instead of a walk over every item in ledger order, so the queue stays
fast at 362K items however far the review has progressed.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_cur_items_claim", "cur_items", ["specialty_key", "n_assigned_accepted", "ord"])


def downgrade() -> None:
    op.drop_index("ix_cur_items_claim", table_name="cur_items")
