"""The curation funnel and the work queues (``safemed curate status``; the datasheet's counts).

The funnel follows the paper's numbers (362K candidates → 311K retained): imported (seeds, and
derived variants counted apart) → deduplicated (not flagged as a near duplicate or
contaminated) → generated (has a trace) → reviewed → escalated (five strikes) → adjudicated →
retained / rejected. The queues say what is waiting for whom.
"""

from __future__ import annotations

from typing import Any

from safemed.curate.adjudicate import adjudication_queue
from safemed.curate.assign import open_assignments
from safemed.curate.view import CurationView, accepted_trace, is_excluded


def funnel(view: CurationView) -> dict[str, int]:
    """Counts of items at each stage (an item counts in every stage it reached)."""
    states = [s for s in view.states.values() if s.item is not None]
    flags = [f for s in states for f in s.flags]
    return {
        "imported": sum(s.item is not None and s.item.derived_from is None for s in states),
        "derived": sum(s.item is not None and s.item.derived_from is not None for s in states),
        "flagged_near_duplicate": len({f.item_id for f in flags if f.kind == "near_duplicate"}),
        "flagged_contamination": len({f.item_id for f in flags if f.kind == "contamination"}),
        "deduplicated": sum(not is_excluded(s) for s in states),
        "generated": sum(bool(s.traces) for s in states),
        "correct_trace": sum(accepted_trace(s) is not None for s in states),
        "reviewed": sum(bool(s.reviews) for s in states),
        "escalated": sum(bool(s.escalations) for s in states),
        "adjudicated": sum(s.adjudication is not None for s in states),
        "retained": sum(s.retention is not None and s.retention.retained for s in states),
        "rejected": sum(s.retention is not None and not s.retention.retained for s in states),
    }


def queues(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """What is waiting: traces to assign, reviews to do, items for the panel (escalated among them)."""
    awaiting_assignment = [s.item_id for s in view.states.values()
                           if accepted_trace(s) is not None and not s.assignments and s.retention is None
                           and s.adjudication is None and not is_excluded(s)]
    open_reviews = open_assignments(view)
    adjudication = adjudication_queue(view, max_spread=max_spread)
    escalated = [e.item_id for e in adjudication if any(r.startswith("escalated") for r in e.reasons)]
    return {
        "awaiting_assignment": len(awaiting_assignment),
        "awaiting_review": len(open_reviews),
        "awaiting_review_items": len({a.item_id for a in open_reviews}),
        "awaiting_adjudication": len(adjudication),
        "escalated_awaiting_panel": len(escalated),
    }


def status(view: CurationView, *, max_spread: int = 1) -> dict[str, Any]:
    """Funnel, queues and the tree size they were read at."""
    return {"tree_size": view.tree_size, "funnel": funnel(view), "queues": queues(view, max_spread=max_spread)}
