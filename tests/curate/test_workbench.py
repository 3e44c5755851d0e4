"""The reviewer's workbench (curate.workbench): queue order, ownership, claiming, submission, on
SQLite and PostgreSQL, against real ledgers built by the demo."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import fields

import pytest

from safemed.curate import workbench
from safemed.curate.assign import AssignmentPlan, Reviewer, iter_assignments
from safemed.curate.demo import build_demo
from safemed.curate.view import append_consistent, open_view
from safemed.curate.workbench import (
    ReviewPage,
    Slot,
    queue_remaining,
    resolve_slot,
    review_page,
    reviewer_queue,
    submit,
)
from safemed.errors import DataError
from safemed.ledger import Ledger
from safemed.ledger.errors import LedgerError
from safemed.ledger.keys import LedgerKeys
from safemed.records.curation import RUBRIC_DIMENSIONS, EventType, event_for

from .helpers import SPECIALTIES as ALL

PEDS = ("Pediatrics",)


@pytest.fixture
def ledger(db_url: str, keys: LedgerKeys) -> Iterator[Ledger]:
    """The demo: rev1 (every specialty) assigned to every reviewable item but the conflict item."""
    with Ledger.open(db_url, keys=keys) as led:
        build_demo(led, keys, [("rev1", ALL)])
        yield led


def scores(value: int = 4) -> dict[str, int]:
    return dict.fromkeys(RUBRIC_DIMENSIONS, value)


def queue(ledger: Ledger, who: str, specialties: tuple[str, ...] = ALL, **kw: object) -> list[Slot]:
    with open_view(ledger) as view:
        return reviewer_queue(view, who, specialties, **kw)  # type: ignore[arg-type]


def review(ledger: Ledger, keys: LedgerKeys, key: str, who: str, specialties: tuple[str, ...] = ALL,
           **kw: object) -> object:
    args: dict[str, object] = {"scores": scores(), "verdict": "accept", "comment": "fine", "edited_reasoning": None,
                               "seconds_spent": 60, **kw}
    return submit(ledger, keys, key, who, specialties, **args)  # type: ignore[arg-type]


def test_queue_order_own_assignments_then_claimable_skips_last(ledger: Ledger, keys: LedgerKeys) -> None:
    rev1, rev3 = keys.pseudonym("rev1"), keys.pseudonym("rev3")
    mine = queue(ledger, rev1)
    assert [s.assigned for s in mine] == [True] * 10
    assert [s.order for s in mine] == sorted(s.order for s in mine)
    assert [s.item_id for s in mine][:3] == ["card-001", "card-003", "endo-001"]  # oldest first
    # a newcomer of pediatrics: the two pediatric items, each with one of two slots free, oldest first
    fresh = queue(ledger, rev3, PEDS)
    assert [(s.item_id, s.assigned) for s in fresh] == [("ped-001", False), ("ped-002", False)]
    assert all(s.key.startswith("c") and s.trace_id == f"{s.item_id}#t{1 if s.item_id == 'ped-001' else 2}"
               for s in fresh)
    # skipped slots come last; another reviewer's live lease fills the free slot
    assert [s.item_id for s in queue(ledger, rev3, PEDS, skip={fresh[0].key})] == ["ped-002", "ped-001"]
    assert [s.item_id for s in queue(ledger, rev3, PEDS, held={"ped-001": 1})] == ["ped-002"]
    assert queue(ledger, rev3, PEDS, claim=False) == []
    assert [s.item_id for s in queue(ledger, rev3, PEDS, limit=1)] == ["ped-001"]
    with open_view(ledger) as view:
        assert queue_remaining(view, rev1, ALL) == 10
        assert queue_remaining(view, rev3, PEDS) == 2
        assert queue_remaining(view, rev3, PEDS, claim=False) == 0
        assert queue_remaining(view, rev3, ALL) == 10  # 11 reviewable items; the conflict item is full
        assert queue_remaining(view, rev3, ALL, cap=4) == 4 and queue_remaining(view, rev3, ALL, cap=None) == 10
        assert queue_remaining(view, rev1, ALL, cap=0) == 10  # own assignments are always counted


def test_own_assignments_come_before_claimable_ones(ledger: Ledger, keys: LedgerKeys) -> None:
    rev3 = keys.pseudonym("rev3")
    roster = [Reviewer("rev3", rev3, frozenset({"pediatrics"}))]
    append_consistent(ledger, lambda view: [event_for(a, actor="system") for a in
                                            iter_assignments(view, roster, AssignmentPlan())])
    slots = queue(ledger, rev3, ALL)
    assert [(s.item_id, s.assigned) for s in slots[:3]] == [("ped-001", True), ("ped-002", True),
                                                            ("card-001", False)]
    assert all(s.key.startswith("a") for s in slots[:2]) and all(s.key.startswith("c") for s in slots[2:])
    assert slots[0].order < slots[1].order < slots[2].order
    # an own assignment is submitted without a new Assignment event; it then leaves the queue
    size = ledger.size()
    assert review(ledger, keys, slots[0].key, rev3).n_events == 1  # type: ignore[attr-defined]
    assert ledger.size() == size + 1
    assert slots[0].key not in {s.key for s in queue(ledger, rev3, ALL)}


def test_ownership_and_resolution(ledger: Ledger, keys: LedgerKeys) -> None:
    rev1, rev3 = keys.pseudonym("rev1"), keys.pseudonym("rev3")
    own = queue(ledger, rev1)[0]
    claimable = queue(ledger, rev3, PEDS)[0]
    with open_view(ledger) as view:
        assert resolve_slot(view, own.key, rev1, ALL) == own
        assert resolve_slot(view, own.key, rev3, ALL) is None          # someone else's assignment
        assert resolve_slot(view, claimable.key, rev3, PEDS) == claimable
        assert resolve_slot(view, claimable.key, rev3, ("cardiology",)) is None  # not their specialty
        assert resolve_slot(view, claimable.key, rev3, PEDS, claim=False) is None
        assert resolve_slot(view, claimable.key, rev1, ALL) is None    # rev1 holds an assignment there
        for bad in ("", "a", "x12", "a-1", "c1e3", "a99999"):
            assert resolve_slot(view, bad, rev1, ALL) is None
    with pytest.raises(DataError) as err:
        review(ledger, keys, own.key, rev3)
    assert err.value.field == "key" and "not one of your assignments" in err.value.problem


def test_review_page_is_blind(ledger: Ledger, keys: LedgerKeys) -> None:
    slot = queue(ledger, keys.pseudonym("rev1"))[0]
    with open_view(ledger) as view:
        page = review_page(view, slot)
        state = view.state(slot.item_id)
    assert state is not None and state.accepted_trace is not None
    assert page.reasoning == state.accepted_trace.reasoning and page.answer == "B" and page.gold == "B"
    assert page.dimensions == RUBRIC_DIMENSIONS and page.rubric == "clinical" and page.dimension is None
    assert {f.name for f in fields(ReviewPage)}.isdisjoint({"model", "parameters", "reviews", "scores"})
    assert "demo/bundled-traces" not in repr(page)


def test_submit_claim_appends_assignment_and_review_signed_and_idempotent(ledger: Ledger, keys: LedgerKeys) -> None:
    rev3 = keys.pseudonym("rev3")
    slot = queue(ledger, rev3, PEDS)[0]
    before = ledger.size()
    done = review(ledger, keys, slot.key, rev3, PEDS, comment="clear")
    assert done.created and done.n_events == 2  # type: ignore[attr-defined]
    assert ledger.size() == before + 2
    types = [e.event_type for e in ledger.events_for_item(slot.item_id)][-2:]
    assert types == [EventType.ASSIGNED, EventType.REVIEW_SUBMITTED]
    checkpoint = ledger.latest_checkpoint()
    assert checkpoint is not None and checkpoint.tree_size == ledger.size()  # signed in the same transaction
    again = review(ledger, keys, slot.key, rev3, PEDS, comment="clear")
    assert not again.created and again.n_events == 0  # type: ignore[attr-defined]
    assert again.review_id == done.review_id  # type: ignore[attr-defined]
    assert ledger.size() == before + 2
    with open_view(ledger) as view:  # the read-only check the app uses for a second tab's submit
        assert workbench.reviewed(view, slot.key, rev3) == done.review_id  # type: ignore[attr-defined]
        assert workbench.reviewed(view, slot.key, keys.pseudonym("rev4")) is None
        assert workbench.reviewed(view, "not-a-key", rev3) is None
    # the item now has its two reviewers: nobody else may claim it
    with pytest.raises(DataError, match="already has 2 reviewers"):
        review(ledger, keys, slot.key, keys.pseudonym("rev4"), PEDS)
    # an assignment's double submit is idempotent too
    own = queue(ledger, keys.pseudonym("rev1"))[0]
    first = review(ledger, keys, own.key, keys.pseudonym("rev1"))
    size = ledger.size()
    assert not review(ledger, keys, own.key, keys.pseudonym("rev1")).created  # type: ignore[attr-defined]
    assert ledger.size() == size and first.n_events == 1  # type: ignore[attr-defined]


def test_fix_needs_a_change_and_records_the_edit_with_its_diff(ledger: Ledger, keys: LedgerKeys) -> None:
    rev1 = keys.pseudonym("rev1")
    slot = queue(ledger, rev1)[0]
    with open_view(ledger) as view:
        original = review_page(view, slot).reasoning
    size = ledger.size()
    for unchanged in (None, original, original + "\n  ", "   "):
        with pytest.raises(DataError) as err:
            review(ledger, keys, slot.key, rev1, verdict="fix", edited_reasoning=unchanged)
        assert err.value.field == "edited_reasoning"
    with pytest.raises(DataError, match="choose fix"):
        review(ledger, keys, slot.key, rev1, verdict="accept", edited_reasoning=original + "\nExtra line.")
    with pytest.raises(DataError) as bad_verdict:
        review(ledger, keys, slot.key, rev1, verdict="maybe")
    assert bad_verdict.value.field == "verdict"
    with pytest.raises(DataError) as bad_score:
        review(ledger, keys, slot.key, rev1, scores={**scores(), "clinical_utility": 6})
    assert bad_score.value.field == "scores.clinical_utility"
    assert ledger.size() == size  # nothing of the refused submissions was written
    edited = original.replace("80–85%", "about 80%") + "\n\nCheck for right ventricular involvement (V4R)."
    done = review(ledger, keys, slot.key, rev1, verdict="fix", edited_reasoning=edited)
    assert done.n_events == 2  # type: ignore[attr-defined]
    state = ledger.item_state(slot.item_id)
    assert state.reviews[-1].verdict == "keep"
    edit = state.edits[-1]
    assert edit.editor == rev1 and edit.before == original and edit.after == edited.strip()
    assert "-" + next(ln for ln in original.splitlines() if "80–85%" in ln) in edit.diff.splitlines()
    assert "+Check for right ventricular involvement (V4R)." in edit.diff.splitlines()
    reject = queue(ledger, rev1)[0]
    review(ledger, keys, reject.key, rev1, verdict="reject", scores=scores(1))
    assert ledger.item_state(reject.item_id).reviews[-1].verdict == "reject"


def test_submit_needs_the_keyed_ledger(db_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(db_url, keys=keys) as led:
        build_demo(led, keys, [("rev1", ALL)])
        slot = queue(led, keys.pseudonym("rev1"))[0]
    with Ledger.open(db_url) as unkeyed, pytest.raises(LedgerError, match="signed"):
        review(unkeyed, keys, slot.key, keys.pseudonym("rev1"))
    with Ledger.open(db_url, keys=LedgerKeys.generate()) as wrong, pytest.raises(LedgerError):
        review(wrong, keys, slot.key, keys.pseudonym("rev1"))


def test_concurrent_claims_never_exceed_per_item(db_url: str, keys: LedgerKeys) -> None:
    """Five reviewers submit the same claimable slot at once: exactly ``per_item`` get it."""
    with Ledger.open(db_url, keys=keys) as led:
        build_demo(led, keys, [])  # no assignments: every slot is claimable
        slot = queue(led, keys.pseudonym("anyone"), PEDS)[0]
    barrier = threading.Barrier(5)
    results: dict[str, str] = {}

    def work(name: str) -> None:
        with Ledger.open(db_url, keys=keys) as mine:
            barrier.wait(timeout=30)
            try:
                got = review(mine, keys, slot.key, keys.pseudonym(name), PEDS)
                results[name] = "created" if got.created else "repeat"  # type: ignore[attr-defined]
            except DataError as exc:
                results[name] = f"refused: {exc.problem}"

    threads = [threading.Thread(target=work, args=(f"peer{n}",)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(v.split(":")[0] for v in results.values()) == ["created"] * 2 + ["refused"] * 3, results
    with Ledger.open(db_url, keys=keys) as led:
        state = led.item_state(slot.item_id)
        assert len(state.assignments) == 2 and len(state.reviews) == 2
        assert len({a.reviewer for a in state.assignments}) == 2
        assert led.verify().ok


def test_closed_item_refuses_reviews(ledger: Ledger, keys: LedgerKeys) -> None:
    from safemed.curate.casebook import decide

    # rev1 reviewed the conflict item card-002 with a colleague; once decided, nothing more is taken
    decide(ledger, keys, "card-002", decision="reject", reason="the flawed step", panel_member=keys.pseudonym("adj"),
           edited_reasoning=None)
    with open_view(ledger) as view:
        assert queue_remaining(view, keys.pseudonym("rev3"), ("cardiology",)) == 3
        slots = reviewer_queue(view, keys.pseudonym("rev3"), ("cardiology",))
    assert "card-002" not in {s.item_id for s in slots}
    with pytest.raises(DataError):
        review(ledger, keys, "c1", keys.pseudonym("rev3"), ("cardiology",))  # c1: card-002, the second seed
