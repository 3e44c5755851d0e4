"""The reviewer's workbench: their queue, one blinded review page, one submission (paper: the
physicians' rubric scoring and editing of model-written chains of thought).

A reviewer works through **slots**. A slot is either

* an open assignment of theirs (``curate assign`` planned it; key ``a<assignment seq>``), or
* a *claimable* slot (key ``c<item ord>``): an open, unflagged, non-escalated item of one of
  their specialties whose accepted trace has fewer than ``per_item`` reviewers assigned and none
  of them is this reviewer. Submitting a claimable slot appends the :class:`Assignment` and the
  review in the same transaction, so self-service review keeps the paper's rule of ``per_item``
  independent reviewers per item, never the same reviewer twice.

Queries are indexed on the read model: a reviewer's assignments through
``ix_cur_assignments_queue`` (reviewer, state, seq); claimable slots through
``ix_cur_items_claim`` (specialty_key, n_assigned_accepted, ord), one range scan per specialty and
reviewer count, merged by ``ord`` (oldest first). Nothing here scans the item table, so the queue
stays fast at 362K items.

:func:`submit` checks a submission with the same code as ``import-reviews``
(:func:`~safemed.curate.reviews.review_records`) against the state it appends to
(:func:`~safemed.curate.view.append_consistent`): one transaction that ends by signing a
checkpoint. Submitting twice (two tabs, a retried request) appends nothing the second time.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select

from safemed.curate.assign import norm, open_assignments, queue_size
from safemed.curate.reviews import review_records
from safemed.curate.view import EXCLUDED, HAS_ITEM, OPEN, CurationView, I, append_consistent
from safemed.errors import DataError
from safemed.ledger.errors import LedgerError
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.ledger.tables import cur_assignments
from safemed.records.curation import RUBRICS, Assignment, NewEvent, Review, event_for

A = cur_assignments.c
SOURCE = "review submission"
CLAIM_ORDER = 1 << 52
"""Added to a claimable slot's ``ord`` for :attr:`Slot.order`, so they sort after own assignments."""

Verdict = Literal["accept", "fix", "reject"]
VERDICTS: dict[str, Literal["keep", "reject"]] = {"accept": "keep", "fix": "keep", "reject": "reject"}
"""The app's three choices → the review's recorded verdict (fix & accept keeps the edited trace)."""


@dataclass(frozen=True)
class Slot:
    """One unit of a reviewer's work: an assignment of theirs or a slot they may claim."""

    key: str
    item_id: str
    trace_id: str
    specialty: str
    assigned: bool
    order: int


def _assignment_slot(row: Mapping[str, Any]) -> Slot:
    return Slot(f"a{row['seq']}", row["item_id"], row["trace_id"], row["specialty"], True, int(row["seq"]))


def _claim_slot(row: Any) -> Slot:
    return Slot(f"c{row.ord}", row.item_id, row.accepted_trace_id, row.specialty, False, CLAIM_ORDER + int(row.ord))


def _claimable(pseudonym: str) -> list[ColumnElement[bool]]:
    """Conditions of an item whose accepted trace this reviewer may take a slot of (specialty and
    reviewer count are the index's range; these filter it)."""
    mine = select(A.seq).where(A.item_id == I.item_id, A.reviewer == pseudonym).exists()
    return [HAS_ITEM, I.accepted_trace_id.is_not(None), ~I.escalated, OPEN, ~EXCLUDED, ~mine]


def _keys(specialties: Collection[str]) -> list[str]:
    return sorted({norm(s) for s in specialties if s.strip()})


CLAIM_COLUMNS = (I.ord, I.item_id, I.accepted_trace_id, I.specialty, I.n_assigned_accepted)


def _claim_rows(view: CurationView, pseudonym: str, specialties: Collection[str], per_item: int,
                limit: int) -> list[Any]:
    """The oldest ``limit`` claimable items of the specialties: one index range per (specialty,
    reviewers assigned so far), merged by ``ord``."""
    ranges = []
    for specialty in _keys(specialties):
        for assigned in range(per_item):
            stmt = (select(*CLAIM_COLUMNS)
                    .where(I.specialty_key == specialty, I.n_assigned_accepted == assigned, *_claimable(pseudonym))
                    .order_by(I.ord).limit(limit))
            ranges.append(view.execute(stmt).all())
    return list(heapq.merge(*ranges, key=lambda row: int(row.ord)))[:limit]


def reviewer_queue(view: CurationView, pseudonym: str, specialties: Collection[str], *, per_item: int = 2,
                   limit: int = 20, held: Mapping[str, int] | None = None, skip: Collection[str] = (),
                   claim: bool = True) -> list[Slot]:
    """The reviewer's next slots, at most ``limit``: their open assignments oldest first, then
    (``claim``) the oldest claimable slots of their specialties; ``held`` maps item ids to live
    leases of *other* reviewers (they count as taken slots); ``skip`` are slot keys the reviewer
    skipped, returned after everything else."""
    held = held or {}
    skipped = set(skip)
    extra = len(skipped) + len(held)
    slots = [_assignment_slot(row) for row in open_assignments(view, pseudonym, limit=limit + len(skipped))]
    if claim and per_item > 0:
        for row in _claim_rows(view, pseudonym, specialties, per_item, limit + extra):
            if int(row.n_assigned_accepted) + held.get(row.item_id, 0) < per_item:
                slots.append(_claim_slot(row))
    fresh = [s for s in slots if s.key not in skipped]
    return (fresh + [s for s in slots if s.key in skipped])[:limit]


REMAINING_CAP = 500
""":func:`queue_remaining` counts at most this many claimable slots (a page shows "500+")."""


def queue_remaining(view: CurationView, pseudonym: str, specialties: Collection[str], *, per_item: int = 2,
                    claim: bool = True, cap: int | None = REMAINING_CAP) -> int:
    """How many slots the reviewer could still work on: all their open assignments plus the
    claimable items (one slot each; other reviewers' leases are not subtracted), of which at most
    ``cap`` are counted — each counted slot costs a row lookup, so an exact count over a large
    specialty would be a scan (``cap=None`` counts them all). A result of ``open + cap`` or more
    therefore means "at least"."""
    own = queue_size(view, pseudonym)
    claimable = 0
    if claim:
        for specialty in _keys(specialties):
            for assigned in range(per_item):
                if cap is not None and claimable >= cap:
                    break
                rows = (select(I.item_id).where(I.specialty_key == specialty, I.n_assigned_accepted == assigned,
                                                *_claimable(pseudonym)))
                if cap is not None:
                    rows = rows.limit(cap - claimable)
                claimable += int(view.execute(select(func.count()).select_from(rows.subquery())).scalar_one())
    return int(own) + claimable


def _parse(key: str) -> tuple[str, int] | None:
    if len(key) < 2 or key[0] not in "ac" or not key[1:].isdigit():
        return None
    return key[0], int(key[1:])


def resolve_slot(view: CurationView, key: str, pseudonym: str, specialties: Collection[str], *, per_item: int = 2,
                 claim: bool = True) -> Slot | None:
    """The slot ``key`` names if this reviewer may work on it now (their open assignment, or a
    slot they may claim); None otherwise — another reviewer's assignment included (ownership)."""
    parsed = _parse(key)
    if parsed is None:
        return None
    kind, number = parsed
    if kind == "a":
        row = view.execute(select(A.seq, A.item_id, A.trace_id, A.specialty)
                           .where(A.seq == number, A.reviewer == pseudonym, A.state == "open")).first()
        return None if row is None else _assignment_slot(row._mapping)
    specs = _keys(specialties)
    if not claim or not specs:
        return None
    row = view.execute(select(*CLAIM_COLUMNS).where(I.ord == number, I.specialty_key.in_(specs),
                                                    I.n_assigned_accepted < per_item,
                                                    *_claimable(pseudonym))).first()
    return None if row is None else _claim_slot(row)


@dataclass(frozen=True)
class ReviewPage:
    """What the review page shows: the item, the rubric and the accepted trace as generated.
    Blind by construction: no generator, no parameters, nobody else's scores, comments or edits."""

    slot: Slot
    question: str
    options: dict[str, str]
    gold: str
    language: str
    kind: str
    rubric: str
    dimensions: tuple[str, ...]
    dimension: str | None
    reasoning: str
    answer: str


def review_page(view: CurationView, slot: Slot) -> ReviewPage:
    """The page of one slot (from the item's events, through the ``item_id`` index)."""
    state = view.state(slot.item_id)
    trace = next((t for t in state.traces if t.id == slot.trace_id), None) if state else None
    if state is None or state.item is None or trace is None:
        raise DataError(SOURCE, None, "key", f"slot {slot.key!r} names no trace in the ledger")
    item = state.item
    return ReviewPage(slot, item.question, dict(item.options), item.gold, item.language, item.kind, item.rubric,
                      RUBRICS[item.rubric], item.dimension, trace.reasoning, trace.answer)


@dataclass(frozen=True)
class Submitted:
    """The outcome of :func:`submit`: the review's id, whether it was new, the events appended."""

    review_id: str
    created: bool
    n_events: int


def require_signing(ledger: Ledger, keys: LedgerKeys) -> None:
    """The app signs a checkpoint with every submission: the ledger must hold this very key."""
    if ledger.keys is None or ledger.keys.public_key != keys.public_key:
        raise LedgerError("review submissions are signed: open the ledger with its key (Ledger.open(url, keys=…))")
    ledger.check_key()


@dataclass
class _Target:
    """What a submission's key resolves to inside the appending snapshot."""

    state: ItemState
    trace_id: str
    claim: Assignment | None = None


def _target(view: CurationView, key: str, pseudonym: str, specialties: Collection[str], per_item: int,
            claim: bool) -> _Target:
    """The item and trace ``key`` names for this reviewer, with the Assignment to append first
    when it is a claimable slot; DataError naming ``key`` when they may not review it."""
    parsed = _parse(key)
    if parsed is None:
        raise DataError(SOURCE, None, "key", f"{key!r} is not a slot key")
    kind, number = parsed
    if kind == "a":
        row = view.execute(select(A.item_id, A.trace_id, A.reviewer).where(A.seq == number)).first()
        if row is None or row.reviewer != pseudonym:
            raise DataError(SOURCE, None, "key", f"{key!r} is not one of your assignments")
        item_id, trace_id = str(row.item_id), str(row.trace_id)
    else:
        found = view.execute(select(I.item_id, I.accepted_trace_id).where(I.ord == number, HAS_ITEM)).first()
        if found is None or found.accepted_trace_id is None:
            raise DataError(SOURCE, None, "key", f"{key!r} names no reviewable item")
        item_id, trace_id = str(found.item_id), str(found.accepted_trace_id)
    state = view.state(item_id)
    if state is None or state.item is None:  # pragma: no cover - the read model names only ledger items
        raise DataError(SOURCE, None, "key", f"{key!r} names no item in the ledger")
    target = _Target(state, trace_id)
    if kind == "a" or any(a.trace_id == trace_id and a.reviewer == pseudonym for a in state.assignments):
        return target
    if resolve_slot(view, key, pseudonym, specialties, per_item=per_item, claim=claim) is None:
        taken = sum(a.trace_id == trace_id for a in state.assignments)
        why = (f"the item already has {taken} reviewers" if taken >= per_item else
               "it is not open to you (specialty, flags, escalation, or you were assigned to it before)")
        raise DataError(SOURCE, None, "key", f"{key!r} cannot be claimed: {why}")
    target.claim = Assignment(item_id=item_id, trace_id=trace_id, reviewer=pseudonym, specialty=state.item.specialty,
                              round=len(state.assignments) + 1)
    return target


def _reviewed(state: ItemState, trace_id: str, pseudonym: str) -> str | None:
    return next((r.id for r in state.reviews if r.trace_id == trace_id and r.reviewer == pseudonym), None)


def reviewed(view: CurationView, key: str, pseudonym: str) -> str | None:
    """The id of this reviewer's review of the trace the slot ``key`` names, or None (read-only:
    how the app tells a second tab's submit of a finished slot from a slot that is not theirs)."""
    parsed = _parse(key)
    if parsed is None:
        return None
    kind, number = parsed
    if kind == "a":
        row = view.execute(select(A.item_id, A.trace_id).where(A.seq == number, A.reviewer == pseudonym)).first()
    else:
        row = view.execute(select(I.item_id, I.accepted_trace_id).where(I.ord == number, HAS_ITEM)).first()
    if row is None or row[1] is None:
        return None
    state = view.state(str(row[0]))
    return None if state is None else _reviewed(state, str(row[1]), pseudonym)


def _edit(verdict: Verdict, edited: str | None, reasoning: str) -> str | None:
    """The edited reasoning to record (None: unchanged); fix needs a change, accept allows none."""
    changed = edited is not None and edited.strip() != "" and edited.strip() != reasoning.strip()
    if verdict == "fix" and not changed:
        raise DataError(SOURCE, None, "edited_reasoning", "fix & accept needs an edit of the reasoning "
                        "(it is unchanged); choose accept to keep it as it is")
    if verdict == "accept" and changed:
        raise DataError(SOURCE, None, "edited_reasoning", "the reasoning was edited: choose fix & accept to "
                        "submit the edit, or undo it to accept the trace as it is")
    return edited if changed else None


def submit(ledger: Ledger, keys: LedgerKeys, key: str, pseudonym: str, specialties: Collection[str], *,
           scores: dict[str, int], verdict: Verdict, comment: str, edited_reasoning: str | None,
           seconds_spent: int, per_item: int = 2, claim: bool = True) -> Submitted:
    """Record one review of the slot ``key`` in ONE transaction ending with a signed checkpoint:
    the Assignment first when the slot was claimable, the Review, and an Edit when the reasoning
    changed. ``accept`` and ``fix`` record verdict keep (fix requires an edit), ``reject`` reject.
    If this reviewer already reviewed that trace nothing is appended (``created`` False).
    A slot that is not theirs, taken, or closed is a DataError naming the field."""
    require_signing(ledger, keys)
    if verdict not in VERDICTS:
        raise DataError(SOURCE, None, "verdict", f"{verdict!r} is not accept, fix or reject")
    outcome: dict[str, str] = {}

    def build(view: CurationView) -> list[NewEvent]:
        target = _target(view, key, pseudonym, specialties, per_item, claim)
        done = _reviewed(target.state, target.trace_id, pseudonym)
        if done is not None:
            outcome["review_id"] = done
            return []
        trace = next(t for t in target.state.traces if t.id == target.trace_id)
        row = {"item_id": target.state.item_id, "trace_id": trace.id, "reviewer": pseudonym, "scores": scores,
               "verdict": VERDICTS[verdict], "comment": comment, "seconds_spent": seconds_spent,
               "edited_reasoning": _edit(verdict, edited_reasoning, trace.reasoning)}
        events: list[NewEvent] = []
        if target.claim is not None:
            events.append(event_for(target.claim, actor=pseudonym))
            target.state.assignments.append(target.claim)  # this snapshot, as the Assignment makes it
        records = review_records(row, view, keys, Path(SOURCE), 1, set())
        review = records[0]
        assert isinstance(review, Review)
        outcome["review_id"] = review.id
        events += [event_for(r, actor=pseudonym) for r in records]
        return events

    appended = append_consistent(ledger, build)
    return Submitted(outcome["review_id"], len(appended) > 0, len(appended))
