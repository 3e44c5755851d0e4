"""The adjudicator's casebook (curate.casebook) on SQLite and PostgreSQL: paging, the case view,
one decision at a time, idempotency."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safemed.curate.casebook import adjudication_count, adjudication_page, case, decide
from safemed.curate.demo import build_demo
from safemed.curate.view import open_view
from safemed.errors import DataError
from safemed.ledger import Ledger
from safemed.ledger.keys import LedgerKeys
from safemed.records.curation import RUBRIC_DIMENSIONS, EventType

from .helpers import SPECIALTIES as ALL


@pytest.fixture
def ledger(db_url: str, keys: LedgerKeys) -> Iterator[Ledger]:
    with Ledger.open(db_url, keys=keys) as led:
        build_demo(led, keys, [("rev1", ALL), ("rev2", ALL)])
        yield led


def test_pages_and_count(ledger: Ledger) -> None:
    with open_view(ledger) as view:
        assert adjudication_count(view) == 2
        first = adjudication_page(view, limit=1)
        assert [e.item_id for e in first] == ["card-002"]
        second = adjudication_page(view, limit=1, after=first[-1].item_id)
        assert [e.item_id for e in second] == ["endo-002"]
        assert adjudication_page(view, limit=1, after="endo-002") == []
        assert adjudication_page(view, after="no-such-item") == []
        assert [e.item_id for e in adjudication_page(view)] == ["card-002", "endo-002"]
        # a wider tolerance of score spread still leaves the keep/reject conflict
        assert adjudication_count(view, max_spread=4) == 2
        assert adjudication_page(view, max_spread=4)[0].reasons == ["keep/reject conflict"]


def test_case_shows_reviews_side_by_side_without_pseudonyms(ledger: Ledger, keys: LedgerKeys) -> None:
    with open_view(ledger) as view:
        conflict = case(view, "card-002")
        escalated = case(view, "endo-002")
        assert case(view, "nope") is None
    assert conflict is not None and escalated is not None
    assert conflict.dimensions == RUBRIC_DIMENSIONS and conflict.gold == "C" and not conflict.closed
    assert "keep/reject conflict" in conflict.reasons
    assert [c.label for c in conflict.reviews] == ["Reviewer 1", "Reviewer 2"]
    keep, reject = conflict.reviews
    assert keep.verdict == "keep" and keep.edited is None and keep.diff == ""
    assert reject.verdict == "reject" and reject.edited is not None and reject.seconds_spent == 310
    assert reject.diff.startswith("--- before") and any(line.startswith("-2. Aspirin") for line in
                                                          reject.diff.splitlines())
    assert keys.pseudonym("rev1") not in repr(conflict) and keys.pseudonym("rev2") not in repr(conflict)
    assert conflict.attempts == [(1, "C", True)]
    assert escalated.attempts == [(n, a, False) for n, a in enumerate("BCDBC", start=1)]
    assert escalated.reviews == [] and escalated.reasons[0].startswith("escalated:")
    assert escalated.answer == "C"  # the latest (fifth) wrong attempt is what the panel edits or rejects


def test_decide_is_one_signed_transaction_and_idempotent(ledger: Ledger, keys: LedgerKeys) -> None:
    panel = keys.pseudonym("adj1")
    size = ledger.size()
    assert decide(ledger, keys, "card-002", decision="reject", reason="step 2 is false", panel_member=panel,
                  edited_reasoning=None)
    assert ledger.size() == size + 1
    checkpoint = ledger.latest_checkpoint()
    assert checkpoint is not None and checkpoint.tree_size == size + 1
    state = ledger.item_state("card-002")
    assert state.adjudication is not None and state.adjudication.panel == [panel]
    assert ledger.events_for_item("card-002")[-1].actor == panel
    # the same decision again (a second tab, a retry): nothing appended
    assert not decide(ledger, keys, "card-002", decision="reject", reason="step 2 is false", panel_member=panel,
                      edited_reasoning=None)
    assert ledger.size() == size + 1
    with pytest.raises(DataError) as err:
        decide(ledger, keys, "card-002", decision="keep", reason="changed my mind", panel_member=panel,
               edited_reasoning=None)
    assert err.value.field == "decision" and "already decided" in err.value.problem
    with open_view(ledger) as view:
        assert adjudication_count(view) == 1
        closed = case(view, "card-002")
    assert closed is not None and closed.closed and closed.decision == "reject" and closed.reasons == []


def test_decide_checks_like_import_decisions(ledger: Ledger, keys: LedgerKeys) -> None:
    panel = keys.pseudonym("adj1")
    size = ledger.size()
    cases = [("endo-002", "keep", "fine", None, "decision"),         # an escalated trace answers wrongly
             ("endo-002", "edit", "fix it", None, "edited_reasoning"),
             ("endo-002", "reject", "  ", None, "reason"),
             ("card-001", "keep", "fine", None, "item_id"),          # not awaiting the panel
             ("nope", "keep", "fine", None, "item_id")]
    for item, decision, reason, edited, field in cases:
        with pytest.raises(DataError) as err:
            decide(ledger, keys, item, decision=decision, reason=reason,  # type: ignore[arg-type]
                   panel_member=panel, edited_reasoning=edited)
        assert err.value.field == field, (item, decision)
    assert ledger.size() == size
    fixed = "<think>\nExophthalmos with a diffuse goitre and thyrotoxicosis: Graves disease.\n</think>\n\nAnswer: A"
    assert decide(ledger, keys, "endo-002", decision="edit", reason="corrected to Graves disease",
                  panel_member=panel, edited_reasoning=fixed)
    events = ledger.events_for_item("endo-002")[-2:]
    assert [e.event_type for e in events] == [EventType.EDIT_MADE, EventType.ADJUDICATED]
    assert ledger.item_state("endo-002").current_reasoning == fixed
    assert not decide(ledger, keys, "endo-002", decision="edit", reason="again", panel_member=panel,
                      edited_reasoning=fixed + "\n")
    with pytest.raises(DataError, match="already decided"):
        decide(ledger, keys, "endo-002", decision="edit", reason="other text", panel_member=panel,
               edited_reasoning="something else")
