"""Record types added for curation keep the hashed form of the existing ones unchanged."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from safemed.ledger.canonical import canonical_json
from safemed.ledger.state import item_state
from safemed.records.curation import (
    ETHICS_SAFETY_DIMENSIONS,
    Adjudication,
    Assignment,
    Attempt,
    Edit,
    Escalation,
    EthicsScores,
    EventType,
    Flag,
    Item,
    LedgerEvent,
    RetentionDecision,
    Review,
    RubricScores,
    Trace,
    event_document,
    event_for,
)

P = "p-" + "ab" * 16
WHEN = "2025-01-01T00:00:00.000+00:00"
SCORES = RubricScores(medical_correctness=5, reasoning_structure=4, information_sufficiency=3,
                      terminology_language=2, clinical_utility=1)
# SHA-256 of the canonical event documents as written before the curation records were extended
GOLDEN = {
    "Item": "5873d1c8af8411c9ca714a7becf43c6d468b5488504f3ebc8d1fbf408fef0cbb",
    "Trace": "548054ac2033fb09da5b758bae1f35927504a21278a0f8b63e88407bc4f9f436",
    "Attempt": "d5e3d917bc2906571d049fe4125c803076b0522b3a352ffaa8da16ed2493b697",
    "Review": "ec9932aa094e1e593e618b4222a06b4b9ecc63b03e761ec97d17212518a58737",
    "Edit": "6545ea54ba6c0ba1111e579f2e3563dd38c36f48e0b3fd379ad7cf2671f027d1",
    "Escalation": "a1dda620a3058880bd6288a1adadc5389128805303f8bbea66ff3e5b1fd7fdb0",
    "Adjudication": "d34a3bd8966bf1c6b226763bd200554499291ccb24986e5e37821484b1f6bffb",
    "RetentionDecision": "6f53fba2b2d84d52c8f44e3f000f6ff38805092b246c9630d2e75288d4789549",
}


def _hash(record: object) -> str:
    event = event_for(record, actor="system", created_at=WHEN)  # type: ignore[arg-type]
    return hashlib.sha256(canonical_json(event_document(event, 0)).encode()).hexdigest()


def test_existing_records_hash_as_before() -> None:
    records = [Item(id="i1", question="Q?", options={"A": "a", "B": "b"}, gold="B", specialty="cardiology",
                    source="seed"),
               Trace(id="t1", item_id="i1", model="m", reasoning="r", answer="B"),
               Attempt(item_id="i1", number=1, answer="B", correct=True),
               Review(id="r1", item_id="i1", trace_id="t1", reviewer=P, specialty="cardiology", scores=SCORES,
                      seconds_spent=3),
               Edit(id="e1", item_id="i1", trace_id="t1", editor=P, before="a", after="b"),
               Escalation(item_id="i1", reason="x", failed_attempts=5),
               Adjudication(item_id="i1", decision="keep", reason="ok"),
               RetentionDecision(item_id="i1", retained=True, reason="ok")]
    assert {type(r).__name__: _hash(r) for r in records} == GOLDEN


def test_new_fields_are_hashed_when_used_and_read_back() -> None:
    item = Item(id="e1", question="Q?", options={"A": "a", "B": "b"}, gold="A", specialty="ethics", source="s",
                kind="ethics", dimension="informed_consent", derived_from="seed-1")
    event = event_for(item, actor="system", created_at=WHEN)
    assert event.payload["kind"] == "ethics" and event.payload["derived_from"] == "seed-1"
    stored = LedgerEvent(**event.model_dump(), seq=0)
    assert stored.record() == item
    review = Review(id="r", item_id="e1", trace_id="t", reviewer=P, specialty="ethics", rubric="ethics",
                    verdict="reject", seconds_spent=1,
                    scores=EthicsScores(ethical_soundness=1, harm_avoidance=2, respect_for_persons=3,
                                        legal_professional_compliance=4, communication=5))
    back = LedgerEvent(**event_for(review, actor=P, created_at=WHEN).model_dump(), seq=1).record()
    assert back == review and isinstance(back, Review) and isinstance(back.scores, EthicsScores)


def test_taxonomy_and_validation() -> None:
    assert len(ETHICS_SAFETY_DIMENSIONS) == 20
    assert {kind for kind, _ in ETHICS_SAFETY_DIMENSIONS.values()} == {"ethics", "safety"}
    with pytest.raises(ValidationError, match="unknown safety dimension"):
        Item(id="x", question="Q", options={"A": "a", "B": "b"}, gold="A", specialty="s", source="s",
             kind="safety", dimension="informed_consent")
    with pytest.raises(ValidationError, match="only ethics/safety items have a dimension"):
        Item(id="x", question="Q", options={"A": "a", "B": "b"}, gold="A", specialty="s", source="s",
             dimension="informed_consent")
    with pytest.raises(ValidationError, match="scores must be the ethics rubric's"):
        Review(id="r", item_id="e1", trace_id="t", reviewer=P, specialty="e", rubric="ethics", scores=SCORES,
               seconds_spent=1)


def test_assignment_and_flag_events_fold_into_state() -> None:
    records = [Item(id="i1", question="Q?", options={"A": "a", "B": "b"}, gold="B", specialty="c", source="s"),
               Assignment(item_id="i1", trace_id="t1", reviewer=P, specialty="c", round=1),
               Flag(item_id="i1", kind="near_duplicate", related="i0", detail="near duplicate of i0")]
    events = [LedgerEvent(**event_for(r, actor="system").model_dump(), seq=n) for n, r in enumerate(records)]
    assert [e.event_type for e in events] == [EventType.ITEM_IMPORTED, EventType.ASSIGNED, EventType.FLAGGED]
    state = item_state("i1", events)
    assert state.assignments[0].reviewer == P and state.flags[0].related == "i0" and state.status == "imported"
