"""The retention rule: which reviewed items enter the training set (paper: 311K of 362K kept).

``safemed curate retain`` writes one :class:`RetentionDecision` per item it can decide, in one
transaction; items it cannot decide yet stay pending. The rule, in order:

1. the panel rejected the item → not retained;
2. the panel kept or edited it → retained (the panel's decision overrides the scores);
3. still awaiting the panel (escalated, or reviews that disagree) → pending;
4. fewer than ``min_reviews`` reviews (default 2) → pending;
5. reviewers agree to reject (every verdict given is ``reject``) → not retained;
6. otherwise retained iff the mean score of its reviews is ≥ the threshold on every dimension
   of its rubric (default 3 each; ``--threshold DIM=VALUE`` raises or lowers one).

Flagged items (near duplicates, contamination) never get traces unless generated with
``--include-flagged``, so they are never decided here; they stay visible in ``status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import or_

from safemed.curate.view import HAS_ITEM, CurationView, I
from safemed.ledger.state import ItemState
from safemed.records.curation import RetentionDecision


@dataclass(frozen=True)
class RetentionRule:
    """Thresholds on the mean review score per dimension, and how many reviews are needed."""

    min_score: float = 3.0
    thresholds: dict[str, float] = field(default_factory=dict)
    min_reviews: int = 2
    max_spread: int = 1

    def threshold(self, dimension: str) -> float:
        return self.thresholds.get(dimension, self.min_score)

    def describe(self) -> str:
        extra = "".join(f", {d} ≥ {v:g}" for d, v in sorted(self.thresholds.items()))
        return (f"mean of ≥{self.min_reviews} reviews ≥ {self.min_score:g} on every dimension{extra}; "
                "panel decisions override")


def decide(state: ItemState, rule: RetentionRule) -> RetentionDecision | None:
    """The decision for one item, or None while it is pending (see the module docstring)."""
    if state.item is None or state.retention is not None:
        return None
    adj = state.adjudication
    trace = state.latest_trace
    trace_id = trace.id if trace else None
    if adj is not None:
        retained = adj.decision != "reject"
        return RetentionDecision(item_id=state.item_id, retained=retained, trace_id=trace_id,
                                 reason=f"panel decision {adj.decision}: {adj.reason}")
    if state.escalations or state.disagreement(rule.max_spread):
        return None
    if len(state.reviews) < rule.min_reviews:
        return None
    verdicts = [r.verdict for r in state.reviews if r.verdict is not None]
    if verdicts and all(v == "reject" for v in verdicts):
        return RetentionDecision(item_id=state.item_id, retained=False, trace_id=trace_id,
                                 reason="the reviewers rejected it")
    means = state.mean_scores
    low = [f"{d} {m:.2f} < {rule.threshold(d):g}" for d, m in means.items() if m < rule.threshold(d)]
    if low:
        return RetentionDecision(item_id=state.item_id, retained=False, trace_id=trace_id,
                                 reason="mean score below the threshold: " + ", ".join(low))
    return RetentionDecision(item_id=state.item_id, retained=True, trace_id=trace_id,
                             reason=f"mean scores meet the rule ({len(state.reviews)} reviews)")


def iter_decisions(view: CurationView, rule: RetentionRule) -> Iterator[RetentionDecision]:
    """Decisions for every item that can be decided now, in ledger order, streamed: only items
    the panel decided or with enough reviews are read (an indexed query on the read model)."""
    candidates = view.states_where(HAS_ITEM, I.retained.is_(None),
                                   or_(I.adjudication.is_not(None), I.n_reviews >= rule.min_reviews))
    return (d for s in candidates if (d := decide(s, rule)) is not None)


def decide_all(view: CurationView, rule: RetentionRule) -> list[RetentionDecision]:
    """Decisions for every item that can be decided now, in ledger order."""
    return list(iter_decisions(view, rule))
