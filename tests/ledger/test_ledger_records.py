"""Curation records: validation, pseudonyms, events and their hashed documents; the key file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from safemed.ledger.keys import KeyFileError, LedgerKeys, load_keys, load_or_create_keys, pseudonymise
from safemed.records.curation import (
    RUBRIC_DIMENSIONS,
    Edit,
    EventType,
    Item,
    LedgerEvent,
    Review,
    RubricScores,
    event_for,
    unified_diff,
)

SCORES = {name: 3 for name in RUBRIC_DIMENSIONS}


def test_rubric_has_the_papers_five_dimensions() -> None:
    assert RUBRIC_DIMENSIONS == ("medical_correctness", "reasoning_structure", "information_sufficiency",
                                 "terminology_language", "clinical_utility")
    assert RubricScores(**SCORES).as_tuple() == (3, 3, 3, 3, 3)
    with pytest.raises(ValidationError):
        RubricScores(**{**SCORES, "clinical_utility": 6})


def test_reviews_carry_pseudonyms_not_names() -> None:
    who = pseudonymise(b"s" * 32, "dr.jane.doe@hospital.org")
    assert who.startswith("p-") and "jane" not in who
    assert who == pseudonymise(b"s" * 32, "dr.jane.doe@hospital.org")
    assert who != pseudonymise(b"t" * 32, "dr.jane.doe@hospital.org")
    Review(id="r", item_id="i", trace_id="t", reviewer=who, specialty="x", scores=RubricScores(**SCORES),
           seconds_spent=1)
    with pytest.raises(ValidationError):
        Review(id="r", item_id="i", trace_id="t", reviewer="Jane Doe", specialty="x",
               scores=RubricScores(**SCORES), seconds_spent=1)


def test_edit_keeps_a_matching_diff() -> None:
    who = pseudonymise(b"s" * 32, "x")
    edit = Edit(id="e", item_id="i", trace_id="t", editor=who, before="a\nb\n", after="a\nc\n")
    assert edit.diff == unified_diff("a\nb\n", "a\nc\n") and "-b" in edit.diff and "+c" in edit.diff
    with pytest.raises(ValidationError):
        Edit(id="e", item_id="i", trace_id="t", editor=who, before="a", after="b", diff="bogus")


def test_item_gold_must_be_an_option() -> None:
    with pytest.raises(ValidationError):
        Item(id="i", question="q", options={"A": "a", "B": "b"}, gold="C", specialty="s", source="s")


def test_event_document_round_trip() -> None:
    item = Item(id="i1", question="q", options={"A": "a", "B": "b"}, gold="B", specialty="s", source="s")
    new = event_for(item, actor="system", created_at="2025-01-01T00:00:00.000+00:00")
    assert new.event_type is EventType.ITEM_IMPORTED and new.item_id == "i1"
    event = LedgerEvent(seq=4, **dict(new))
    doc = event.document()
    assert doc["seq"] == 4 and doc["v"] == 1
    assert LedgerEvent.from_document(doc) == event
    assert event.record() == item


def test_key_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "k" / "ledger.key"
    keys, created = load_or_create_keys(path)
    assert created and path.stat().st_mode & 0o777 == 0o600
    again = load_keys(path)
    assert again.public_key == keys.public_key and again.pseudonym("x") == keys.pseudonym("x")
    assert load_or_create_keys(path)[1] is False
    with pytest.raises(KeyFileError, match="already exists"):
        LedgerKeys.generate().save(path)
    with pytest.raises(KeyFileError, match="no ledger key file"):
        load_keys(tmp_path / "missing.key")
    (tmp_path / "bad.key").write_text("{}")
    with pytest.raises(KeyFileError, match="not a valid ledger key file"):
        load_keys(tmp_path / "bad.key")
