"""The adjudication queue and the expert panel's decisions (paper: expert-panel adjudication).

An item lands in the queue when it is not yet adjudicated or decided and

* it was escalated (the model failed it five times), or
* two of its reviews score it more than ``max_spread`` (default 1) apart on any dimension, or
* one reviewer says keep and another reject, or
* two reviewers edited its reasoning differently.

The queue is an indexed query on the read model (``queue_condition``); each entry's reasons are
then read from the item's full state. ``safemed curate adjudicate`` lists the queue;
``--decisions FILE`` records the panel's decisions, one JSON object per line::

    {"item_id": "...", "decision": "keep" | "edit" | "reject", "reason": "...",
     "panel": ["dr.chen@example.org", ...], "edited_reasoning": "..."}

Panel ids are pseudonymised like reviewers. ``edit`` needs ``edited_reasoning`` (recorded as an
:class:`Edit` of the trace by the first panel member). An escalated item cannot simply be kept:
its trace's answer disagrees with the gold answer, so the panel edits the reasoning or rejects
it. The file is checked and appended in ONE transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement

from safemed.curate.view import HAS_ITEM, OPEN, CurationView, I, append_consistent
from safemed.errors import DataError
from safemed.jsonl import read_jsonl_objects
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.records.curation import (
    PSEUDONYM_PATTERN,
    Adjudication,
    CurationRecord,
    Edit,
    NewEvent,
    event_for,
)

DECISION_FIELDS = frozenset({"item_id", "decision", "reason", "panel", "edited_reasoning"})


@dataclass
class QueueEntry:
    """An item awaiting the panel, with why."""

    item_id: str
    reasons: list[str]
    trace_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "trace_id": self.trace_id, "reasons": self.reasons, **self.detail}


def panel_reasons(state: ItemState, max_spread: int = 1) -> list[str]:
    """Why an open item needs the panel: its escalations and its reviews' disagreements."""
    if state.item is None or state.closed:
        return []
    return [f"escalated: {e.reason}" for e in state.escalations] + state.disagreement(max_spread)


def queue_condition(max_spread: int = 1) -> ColumnElement[bool]:
    """The read-model condition of an item awaiting the panel (what :func:`panel_reasons` tests)."""
    return OPEN & (I.escalated | (I.score_spread > max_spread) | I.verdict_conflict | (I.distinct_edits > 1))


def queue_entry(state: ItemState, reasons: list[str]) -> QueueEntry:
    """An item's queue entry: why, and what the panel needs to see (reviews, answers, failures)."""
    assert state.item is not None
    trace = state.latest_trace
    reviews = [{"review_id": r.id, "reviewer": r.reviewer, "scores": r.scores.as_dict(),
                "verdict": r.verdict, "comment": r.comment} for r in state.reviews]
    detail: dict[str, Any] = {"specialty": state.item.specialty, "kind": state.item.kind,
                              "gold": state.item.gold, "trace_answer": trace.answer if trace else None,
                              "failed_attempts": state.failures, "reviews": reviews,
                              "edits": len(state.edits)}
    return QueueEntry(state.item_id, reasons, trace.id if trace else None, detail)


def iter_adjudication_queue(view: CurationView, *, max_spread: int = 1,
                            limit: int | None = None) -> Iterator[QueueEntry]:
    """Every item awaiting adjudication, in ledger order, streamed."""
    for state in view.states_where(HAS_ITEM, queue_condition(max_spread), limit=limit):
        reasons = panel_reasons(state, max_spread)
        if reasons:
            yield queue_entry(state, reasons)


def adjudication_queue(view: CurationView, *, max_spread: int = 1, limit: int | None = None) -> list[QueueEntry]:
    """Every item awaiting adjudication, in ledger order."""
    return list(iter_adjudication_queue(view, max_spread=max_spread, limit=limit))


def _panel(row: dict[str, Any], keys: LedgerKeys | None, path: Path, line: int) -> list[str]:
    panel = row.get("panel")
    if not isinstance(panel, list) or not panel or not all(isinstance(p, str) and p.strip() for p in panel):
        raise DataError(str(path), line, "panel", "must be a non-empty list of panel member ids")
    out = []
    for member in panel:
        if re.match(PSEUDONYM_PATTERN, member):
            out.append(member)
        elif keys is None:
            raise DataError(str(path), line, "panel", "real ids need the ledger key to be pseudonymised (--key)")
        else:
            out.append(keys.pseudonym(member.strip()))
    return out


def decision_records(row: dict[str, Any], view: CurationView, keys: LedgerKeys | None, path: Path, line: int,
                     max_spread: int = 1) -> list[CurationRecord]:
    """A checked decision row as an optional Edit and an Adjudication."""
    unknown = sorted(set(row) - DECISION_FIELDS)
    if unknown:
        raise DataError(str(path), line, unknown[0], f"unknown field (valid: {', '.join(sorted(DECISION_FIELDS))})")
    item_id = row.get("item_id")
    state = view.state(item_id) if isinstance(item_id, str) else None
    if state is None or not panel_reasons(state, max_spread):
        raise DataError(str(path), line, "item_id", f"{item_id!r} is not awaiting adjudication")
    decision = row.get("decision")
    if decision not in ("keep", "edit", "reject"):
        raise DataError(str(path), line, "decision", f"{decision!r} is not keep, edit or reject")
    reason = row.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise DataError(str(path), line, "reason", "missing or empty: say why")
    panel = _panel(row, keys, path, line)
    trace = state.latest_trace
    edited = row.get("edited_reasoning")
    if decision == "edit" and (not isinstance(edited, str) or not edited.strip()):
        raise DataError(str(path), line, "edited_reasoning", "an edit decision needs the edited reasoning")
    if decision == "keep" and state.escalations:
        raise DataError(str(path), line, "decision", "an escalated item's trace answers wrongly: edit it or reject it")
    records: list[CurationRecord] = []
    if decision == "edit" and isinstance(edited, str):
        if trace is None:
            raise DataError(str(path), line, "item_id", "the item has no trace to edit")
        before = state.current_reasoning or trace.reasoning
        records.append(Edit(id=f"{state.item_id}#adjudication-edit", item_id=state.item_id, trace_id=trace.id,
                            editor=panel[0], before=before, after=edited.strip()))
    records.append(Adjudication(item_id=state.item_id, decision=decision, reason=reason.strip(), panel=panel,
                                trace_id=trace.id if trace else None))
    return records


def _checked_decision(row: dict[str, Any], view: CurationView, keys: LedgerKeys | None, path: Path, line: int,
                      max_spread: int, seen: dict[str, int]) -> list[CurationRecord]:
    got = decision_records(row, view, keys, path, line, max_spread)
    item_id = str(row["item_id"])
    if item_id in seen:
        raise DataError(str(path), line, "item_id", f"second decision for {item_id!r} (first on line {seen[item_id]})")
    seen[item_id] = line
    return got


def import_decisions(ledger: Ledger, path: Path, keys: LedgerKeys | None, *, max_spread: int = 1) -> dict[str, int]:
    """Check every decision against the current queue, then append them in ONE transaction."""
    rows = list(read_jsonl_objects(path))
    records: list[CurationRecord] = []

    def build(view: CurationView) -> list[NewEvent]:
        seen: dict[str, int] = {}
        records.clear()
        for line, row in view.with_states(rows):
            records.extend(_checked_decision(row, view, keys, path, line, max_spread, seen))
        if not records:
            raise DataError(str(path), None, None, "no decisions in the file")
        return [event_for(r, actor=r.editor if isinstance(r, Edit) else r.panel[0] if isinstance(r, Adjudication)
                          else "system") for r in records]

    append_consistent(ledger, build)
    counts = {"keep": 0, "edit": 0, "reject": 0}
    for r in records:
        if isinstance(r, Adjudication):
            counts[r.decision] += 1
    return counts
