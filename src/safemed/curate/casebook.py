"""The adjudicator's casebook: the panel queue a page at a time, one case with every review side by
side, and one decision (paper: expert-panel adjudication of disagreements and five-strike
escalations).

The queue is ``curate adjudicate``'s (:func:`~safemed.curate.adjudicate.queue_condition`,
:func:`~safemed.curate.adjudicate.panel_reasons`), paged by ledger order (keyset on ``ord``).
A :class:`Case` shows the item, the trace under dispute, the model's attempts and each review as
a column labelled "Reviewer 1", "Reviewer 2" … (pseudonyms are not shown to the panel either),
with the reviewer's edited reasoning and its diff against the trace. :func:`decide` records one
decision with the same checks as ``curate adjudicate --decisions``
(:func:`~safemed.curate.adjudicate.decision_records`), in one signed transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from safemed.curate.adjudicate import QueueEntry, decision_records, panel_reasons, queue_condition, queue_entry
from safemed.curate.view import HAS_ITEM, CurationView, I, append_consistent
from safemed.curate.workbench import require_signing
from safemed.errors import DataError
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.store import Ledger
from safemed.records.curation import RUBRICS, Adjudication, Edit, NewEvent, event_for

SOURCE = "adjudication decision"


def adjudication_page(view: CurationView, *, limit: int = 50, after: str | None = None,
                      max_spread: int = 1) -> list[QueueEntry]:
    """Up to ``limit`` items awaiting the panel, in ledger order, starting after item ``after``
    (the last item of the previous page; an unknown id gives an empty page)."""
    conditions = [HAS_ITEM, queue_condition(max_spread)]
    if after is not None:
        start = view.execute(select(I.ord).where(I.item_id == after)).scalar()
        if start is None:
            return []
        conditions.append(I.ord > start)
    entries = []
    for state in view.states_where(*conditions, limit=limit):
        reasons = panel_reasons(state, max_spread)
        if reasons:
            entries.append(queue_entry(state, reasons))
    return entries


def adjudication_count(view: CurationView, *, max_spread: int = 1) -> int:
    """How many items await the panel (one indexed count on the read model)."""
    return view.count(HAS_ITEM, queue_condition(max_spread))


@dataclass(frozen=True)
class ReviewColumn:
    """One review as the panel sees it; ``edited``/``diff``: the reviewer's edit of the reasoning
    (None / empty when they did not edit), the diff against the trace as generated."""

    label: str
    specialty: str
    scores: dict[str, int]
    verdict: str | None
    comment: str
    seconds_spent: int
    edited: str | None
    diff: str


@dataclass(frozen=True)
class Case:
    """Everything the panel needs to decide one item. ``reasons`` is empty once it is closed;
    ``decision`` is the panel's decision when there is one."""

    item_id: str
    question: str
    options: dict[str, str]
    gold: str
    specialty: str
    rubric: str
    dimensions: tuple[str, ...]
    reasons: list[str]
    reasoning: str
    answer: str
    attempts: list[tuple[int, str, bool]]
    reviews: list[ReviewColumn]
    closed: bool
    decision: str | None = None


def case(view: CurationView, item_id: str, *, max_spread: int = 1) -> Case | None:
    """The case of one item (None when the ledger has no such item)."""
    state = view.state(item_id)
    if state is None or state.item is None:
        return None
    item, trace = state.item, state.latest_trace
    columns = []
    for n, review in enumerate(state.reviews, start=1):
        edit = next((e for e in reversed(state.edits) if e.editor == review.reviewer and e.trace_id == review.trace_id
                     and e.field == "reasoning" and e.id == f"{review.id}-edit"), None)
        columns.append(ReviewColumn(f"Reviewer {n}", review.specialty, review.scores.as_dict(), review.verdict,
                                    review.comment, review.seconds_spent, edit.after if edit else None,
                                    edit.diff if edit else ""))
    return Case(item.id, item.question, dict(item.options), item.gold, item.specialty, item.rubric,
                RUBRICS[item.rubric], panel_reasons(state, max_spread), trace.reasoning if trace else "",
                trace.answer if trace else "", [(a.number, a.answer, a.correct) for a in state.attempts], columns,
                state.closed, state.adjudication.decision if state.adjudication else None)


def decide(ledger: Ledger, keys: LedgerKeys, item_id: str, *, decision: Literal["keep", "edit", "reject"],
           reason: str, panel_member: str, edited_reasoning: str | None, max_spread: int = 1) -> bool:
    """Record the panel's decision on one item (an Edit first for ``edit``) in ONE signed
    transaction; True when appended. Deciding again identically appends nothing (False); a
    different decision on a decided item, or a decision on an item not awaiting the panel, is a
    DataError naming the field."""
    require_signing(ledger, keys)

    def build(view: CurationView) -> list[NewEvent]:
        state = view.state(item_id)
        if state is None or state.item is None:
            raise DataError(SOURCE, None, "item_id", f"unknown item {item_id!r}")
        done = state.adjudication
        if done is not None:
            same_text = decision != "edit" or (edited_reasoning or "").strip() == (state.current_reasoning or "")
            if done.decision == decision and same_text:
                return []
            raise DataError(SOURCE, None, "decision", f"{item_id!r} was already decided: {done.decision} "
                            f"({done.reason})")
        row = {"item_id": item_id, "decision": decision, "reason": reason, "panel": [panel_member],
               "edited_reasoning": edited_reasoning if decision == "edit" else None}
        records = decision_records(row, view, keys, Path(SOURCE), 1, max_spread)
        return [event_for(r, actor=r.editor if isinstance(r, Edit) else r.panel[0] if isinstance(r, Adjudication)
                          else "system") for r in records]

    return len(append_consistent(ledger, build)) > 0
