"""The adjudication queue and the expert panel's decisions (paper: expert-panel adjudication).

An item lands in the queue when it is not yet adjudicated or decided and

* it was escalated (the model failed it five times), or
* two of its reviews score it more than ``max_spread`` (default 1) apart on any dimension, or
* one reviewer says keep and another reject, or
* two reviewers edited its reasoning differently.

``safemed curate adjudicate`` lists the queue; ``--decisions FILE`` records the panel's
decisions, one JSON object per line::

    {"item_id": "...", "decision": "keep" | "edit" | "reject", "reason": "...",
     "panel": ["dr.chen@example.org", ...], "edited_reasoning": "..."}

Panel ids are pseudonymised like reviewers. ``edit`` needs ``edited_reasoning`` (recorded as an
:class:`Edit` of the trace by the first panel member). An escalated item cannot simply be kept:
its trace's answer disagrees with the gold answer, so the panel edits the reasoning or rejects
it. The file is checked and appended in ONE transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.curate.seeds import read_jsonl_objects
from safemed.curate.view import CurationView, append_consistent
from safemed.errors import DataError
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


def disagreement(state: ItemState, max_spread: int = 1) -> list[str]:
    """Why the reviews of an item disagree (empty when they do not, or there are fewer than two)."""
    if len(state.reviews) < 2:
        return []
    reasons = []
    dims = list(state.reviews[0].scores.as_dict())
    spread = {d: max(r.scores.as_dict()[d] for r in state.reviews) - min(r.scores.as_dict()[d] for r in state.reviews)
              for d in dims}
    wide = [d for d in dims if spread[d] > max_spread]
    if wide:
        reasons.append(f"scores more than {max_spread} apart on " + ", ".join(f"{d} ({spread[d]})" for d in wide))
    verdicts = {r.verdict for r in state.reviews if r.verdict is not None}
    if len(verdicts) > 1:
        reasons.append("keep/reject conflict")
    edits = {e.after for e in state.edits if e.field == "reasoning"}
    if len(edits) > 1:
        reasons.append(f"{len(edits)} different edits of the reasoning")
    return reasons


def adjudication_queue(view: CurationView, *, max_spread: int = 1) -> list[QueueEntry]:
    """Every item awaiting adjudication, in ledger order."""
    queue = []
    for state in view.states.values():
        if state.item is None or state.adjudication is not None or state.retention is not None:
            continue
        reasons = [f"escalated: {e.reason}" for e in state.escalations] + disagreement(state, max_spread)
        if reasons:
            trace = state.latest_trace
            reviews = [{"review_id": r.id, "reviewer": r.reviewer, "scores": r.scores.as_dict(),
                        "verdict": r.verdict, "comment": r.comment} for r in state.reviews]
            detail: dict[str, Any] = {"specialty": state.item.specialty, "kind": state.item.kind,
                                      "gold": state.item.gold, "trace_answer": trace.answer if trace else None,
                                      "failed_attempts": state.failures, "reviews": reviews,
                                      "edits": len(state.edits)}
            queue.append(QueueEntry(state.item_id, reasons, trace.id if trace else None, detail))
    return queue


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


def decision_records(row: dict[str, Any], view: CurationView, queued: set[str], keys: LedgerKeys | None,
                     path: Path, line: int) -> list[CurationRecord]:
    """A checked decision row as an optional Edit and an Adjudication."""
    unknown = sorted(set(row) - DECISION_FIELDS)
    if unknown:
        raise DataError(str(path), line, unknown[0], f"unknown field (valid: {', '.join(sorted(DECISION_FIELDS))})")
    item_id = row.get("item_id")
    if not isinstance(item_id, str) or item_id not in queued:
        raise DataError(str(path), line, "item_id", f"{item_id!r} is not awaiting adjudication")
    state = view.states[item_id]
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
        records.append(Edit(id=f"{item_id}#adjudication-edit", item_id=item_id, trace_id=trace.id, editor=panel[0],
                            before=before, after=edited.strip()))
    records.append(Adjudication(item_id=item_id, decision=decision, reason=reason.strip(), panel=panel,
                                trace_id=trace.id if trace else None))
    return records


def import_decisions(ledger: Ledger, path: Path, keys: LedgerKeys | None, *, max_spread: int = 1) -> dict[str, int]:
    """Check every decision against the current queue, then append them in ONE transaction."""
    rows = list(read_jsonl_objects(path))
    records: list[CurationRecord] = []

    def build(view: CurationView) -> list[NewEvent]:
        queued = {entry.item_id for entry in adjudication_queue(view, max_spread=max_spread)}
        seen: dict[str, int] = {}
        records.clear()
        for line, row in rows:
            got = decision_records(row, view, queued, keys, path, line)
            item_id = str(row["item_id"])
            if item_id in seen:
                raise DataError(str(path), line, "item_id",
                                f"second decision for {item_id!r} (first on line {seen[item_id]})")
            seen[item_id] = line
            records.extend(got)
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
