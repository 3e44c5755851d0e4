"""Synthetic curation events for the ledger tests (also used by the worker processes)."""

from __future__ import annotations

from collections.abc import Iterator

from safemed.ledger.keys import pseudonymise
from safemed.records.curation import (
    Adjudication,
    Edit,
    Item,
    NewEvent,
    RetentionDecision,
    Review,
    RubricScores,
    Trace,
    event_for,
)

PSEUDONYM_KEY = b"k" * 32


def reviewer(n: int) -> str:
    return pseudonymise(PSEUDONYM_KEY, f"physician-{n}")


def item_events(i: int, reviews: int = 2, prefix: str = "item") -> Iterator[NewEvent]:
    """An item, a trace and ``reviews`` reviews (the benchmark's shape)."""
    item_id = f"{prefix}-{i:07d}"
    yield event_for(Item(id=item_id, question=f"Question {i}: which drug?", options={"A": "x", "B": "y"},
                         gold="A", specialty="cardiology", source="synthetic"), actor="system")
    yield event_for(Trace(id=f"{item_id}-t1", item_id=item_id, model="tiny-model",
                          parameters={"temperature": 0.7, "seed": i}, reasoning="Because x.", answer="A"),
                    actor="tiny-model")
    for r in range(reviews):
        who = reviewer(i * 7 + r)
        yield event_for(Review(id=f"{item_id}-r{r}", item_id=item_id, trace_id=f"{item_id}-t1", reviewer=who,
                               specialty="cardiology",
                               scores=RubricScores(medical_correctness=5, reasoning_structure=4,
                                                   information_sufficiency=4, terminology_language=5,
                                                   clinical_utility=3),
                               comment="fine", seconds_spent=60 + r), actor=who)


def full_lifecycle(item_id: str) -> list[NewEvent]:
    """Every event type for one item, ending in retention."""
    editor, panel = reviewer(1), [reviewer(2), reviewer(3)]
    return [
        event_for(Item(id=item_id, question="Q?", options={"A": "a", "B": "b"}, gold="B", specialty="neuro",
                       source="s"), actor="system"),
        event_for(Trace(id="t1", item_id=item_id, model="m", reasoning="r1", answer="A"), actor="m"),
        event_for(Review(id="r1", item_id=item_id, trace_id="t1", reviewer=editor, specialty="neuro",
                         scores=RubricScores(medical_correctness=2, reasoning_structure=3,
                                             information_sufficiency=3, terminology_language=4,
                                             clinical_utility=2), seconds_spent=120), actor=editor),
        event_for(Edit(id="e1", item_id=item_id, trace_id="t1", editor=editor, before="r1", after="r1 fixed"),
                  actor=editor),
        event_for(Adjudication(item_id=item_id, decision="edit", reason="fixed by edit", panel=panel,
                               trace_id="t1"), actor=panel[0]),
        event_for(RetentionDecision(item_id=item_id, retained=True, reason="adjudicated", trace_id="t1"),
                  actor="system"),
    ]
