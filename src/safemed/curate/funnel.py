"""The curation funnel and the work queues (``safemed curate status``; the datasheet's counts).

The funnel follows the paper's numbers (362K candidates → 311K retained): imported (seeds, and
derived variants counted apart) → deduplicated (not flagged as a near duplicate or
contaminated) → generated (has a trace) → reviewed → escalated (five strikes) → adjudicated →
retained / rejected. The queues say what is waiting for whom. Both are a handful of aggregate
queries over the read model (``cur_items``, ``cur_assignments``): no fold of the ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from safemed.curate.adjudicate import queue_condition
from safemed.curate.view import EXCLUDED, HAS_ITEM, OPEN, CurationView, I
from safemed.ledger.tables import cur_assignments


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def funnel(view: CurationView) -> dict[str, int]:
    """Counts of items at each stage (an item counts in every stage it reached)."""
    stages: dict[str, ColumnElement[bool]] = {
        "imported": ~I.derived,
        "derived": I.derived,
        "flagged_near_duplicate": I.near_duplicate,
        "flagged_contamination": I.contamination,
        "deduplicated": ~EXCLUDED,
        "generated": I.n_traces > 0,
        "correct_trace": I.accepted_trace_id.is_not(None),
        "reviewed": I.n_reviews > 0,
        "escalated": I.escalated,
        "adjudicated": I.adjudication.is_not(None),
        "retained": I.retained.is_(True),
        "rejected": I.retained.is_(False),
    }
    row = view.execute(select(*(_count(c).label(name) for name, c in stages.items())).where(HAS_ITEM)).one()
    return {name: int(value) for name, value in zip(stages, row, strict=True)}


def queues(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """What is waiting: traces to assign, reviews to do, items for the panel (escalated among them)."""
    panel = queue_condition(max_spread)
    items = view.execute(select(
        _count(I.accepted_trace_id.is_not(None) & (I.n_assignments == 0) & OPEN & ~EXCLUDED),
        _count(HAS_ITEM & panel), _count(HAS_ITEM & panel & I.escalated))).one()
    a = cur_assignments.c
    reviews = view.execute(select(func.count(), func.count(func.distinct(a.item_id))).where(a.state == "open")).one()
    return {
        "awaiting_assignment": int(items[0]),
        "awaiting_review": int(reviews[0]),
        "awaiting_review_items": int(reviews[1]),
        "awaiting_adjudication": int(items[1]),
        "escalated_awaiting_panel": int(items[2]),
    }


def status(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """Funnel, queues and the tree size they were read at."""
    return {"tree_size": view.tree_size, "funnel": funnel(view), "queues": queues(view, max_spread=max_spread)}
