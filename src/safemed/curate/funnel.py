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


FUNNEL: dict[str, ColumnElement[bool]] = {
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
"""Funnel stage → the condition on an imported item of having reached it."""


def _queue_conditions(max_spread: int) -> dict[str, ColumnElement[bool]]:
    panel = queue_condition(max_spread)
    return {"awaiting_assignment": I.accepted_trace_id.is_not(None) & (I.n_assignments == 0) & OPEN & ~EXCLUDED,
            "awaiting_adjudication": HAS_ITEM & panel, "escalated_awaiting_panel": HAS_ITEM & panel & I.escalated}


def _item_counts(view: CurationView, conditions: dict[str, ColumnElement[bool]]) -> dict[str, int]:
    """How many items meet each condition, in ONE scan of ``cur_items``."""
    row = view.execute(select(*(_count(c).label(name) for name, c in conditions.items()))).one()
    return {name: int(value) for name, value in zip(conditions, row, strict=True)}


def _funnel_conditions() -> dict[str, ColumnElement[bool]]:
    return {name: HAS_ITEM & condition for name, condition in FUNNEL.items()}


def _queues(view: CurationView, counts: dict[str, int]) -> dict[str, Any]:
    a = cur_assignments.c
    reviews = view.execute(select(func.count(), func.count(func.distinct(a.item_id))).where(a.state == "open")).one()
    return {"awaiting_assignment": counts["awaiting_assignment"], "awaiting_review": int(reviews[0]),
            "awaiting_review_items": int(reviews[1]), "awaiting_adjudication": counts["awaiting_adjudication"],
            "escalated_awaiting_panel": counts["escalated_awaiting_panel"]}


def funnel(view: CurationView) -> dict[str, int]:
    """Counts of items at each stage (an item counts in every stage it reached)."""
    return _item_counts(view, _funnel_conditions())


def queues(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """What is waiting: traces to assign, reviews to do, items for the panel (escalated among them)."""
    return _queues(view, _item_counts(view, _queue_conditions(max_spread)))


def status(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """Funnel, queues and the tree size they were read at (the funnel and the item queues in one scan)."""
    counts = _item_counts(view, {**_funnel_conditions(), **_queue_conditions(max_spread)})
    return {"tree_size": view.tree_size, "funnel": {name: counts[name] for name in FUNNEL},
            "queues": _queues(view, counts)}
