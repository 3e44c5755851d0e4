"""Routing traces to reviewers (paper: 160 physicians in 14 specialties, each item scored by
independent reviewers), and the blinded review queue they work from.

``safemed curate assign --roster reviewers.csv`` gives each item with an accepted trace
``per_item`` (default 2) reviewers whose specialty is the item's, never the same reviewer twice
for one item, least-loaded first (ties broken by a seeded hash, so a rerun plans the same).
The roster is a CSV ``reviewer_id,specialty`` (a reviewer may have several rows); reviewer ids are
turned into keyed-HMAC pseudonyms before anything is written, and the id → pseudonym map never
enters the ledger.

``safemed curate export-queue --out queue.jsonl`` writes one row per open assignment: item and
trace ids, the reviewer, the rubric, the question and the trace's reasoning and answer — blind to
the generator (no model name, no parameters) and to other reviewers (no scores, comments or edits
of anyone else). Filled in (``scores``, ``comment``, ``verdict``, ``edited_reasoning``), the same
rows are what ``safemed curate import-reviews`` reads.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from safemed.curate.view import EXCLUDED, HAS_ITEM, OPEN, CurationView, I
from safemed.errors import DataError
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.state import specialty_key
from safemed.ledger.tables import cur_assignments, cur_items, events
from safemed.records.curation import RUBRICS, Assignment, Item, Trace


@dataclass(frozen=True)
class Reviewer:
    """A roster entry: the person's id (outside the ledger only), pseudonym and specialties."""

    reviewer_id: str
    pseudonym: str
    specialties: frozenset[str]


def norm(specialty: str) -> str:
    """Specialties compare case- and space-insensitively."""
    return specialty_key(specialty)


def read_roster(path: Path, keys: LedgerKeys) -> list[Reviewer]:
    """Reviewers from a CSV with columns ``reviewer_id`` and ``specialty`` (one row per pair)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"reviewer_id", "specialty"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(str(path), 1, sorted(missing)[0], "missing column (need reviewer_id,specialty)")
            specialties: dict[str, set[str]] = {}
            for row in reader:
                line = reader.line_num
                rid, spec = (row.get("reviewer_id") or "").strip(), (row.get("specialty") or "").strip()
                if not rid:
                    raise DataError(str(path), line, "reviewer_id", "missing or empty")
                if not spec:
                    raise DataError(str(path), line, "specialty", "missing or empty")
                specialties.setdefault(rid, set()).add(norm(spec))
    except OSError as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc.strerror or exc}") from exc
    if not specialties:
        raise DataError(str(path), None, None, "no reviewers in the roster")
    return [Reviewer(rid, keys.pseudonym(rid), frozenset(specs)) for rid, specs in specialties.items()]


@dataclass
class AssignmentPlan:
    """What a planning pass did: how many assignments, and the items short of reviewers of their
    specialty (``short``: the first :data:`SHORT_SHOWN` of them; ``n_short``: all)."""

    assignments: list[Assignment] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)
    n_short: int = 0
    n_assignments: int = 0
    items: set[str] = field(default_factory=set)
    reviewers: set[str] = field(default_factory=set)


SHORT_SHOWN = 100


def _tiebreak(seed: int, item_id: str, pseudonym: str) -> str:
    return hashlib.sha256(f"{seed}\0{item_id}\0{pseudonym}".encode()).hexdigest()


def iter_assignments(view: CurationView, roster: list[Reviewer], plan: AssignmentPlan, *, per_item: int = 2,
                     seed: int = 0, include_flagged: bool = False, keep: bool = False) -> Iterator[Assignment]:
    """Top every reviewable item up to ``per_item`` distinct reviewers of its specialty, streamed
    in ledger order (counts go into ``plan``; ``keep`` also keeps the assignments there)."""
    a = cur_assignments.c
    load: Counter[str] = Counter(dict(view.execute(select(a.reviewer, func.count()).group_by(a.reviewer)).all()))
    conditions = [HAS_ITEM, I.accepted_trace_id.is_not(None), ~I.escalated, OPEN, I.n_assigned_accepted < per_item]
    if not include_flagged:
        conditions.append(~EXCLUDED)
    for state in view.states_where(*conditions):
        trace = state.accepted_trace
        if state.item is None or trace is None:  # pragma: no cover - the conditions exclude these
            continue
        taken = {x.reviewer for x in state.assignments}
        need = per_item - sum(x.trace_id == trace.id for x in state.assignments)
        specialty = norm(state.item.specialty)
        candidates = sorted((r for r in roster if specialty in r.specialties and r.pseudonym not in taken),
                            key=lambda r: (load[r.pseudonym], _tiebreak(seed, state.item_id, r.pseudonym)))
        chosen = candidates[:need]
        for offset, reviewer in enumerate(chosen, start=1):
            assignment = Assignment(item_id=state.item_id, trace_id=trace.id, reviewer=reviewer.pseudonym,
                                    specialty=state.item.specialty, round=len(state.assignments) + offset)
            load[reviewer.pseudonym] += 1
            plan.n_assignments += 1
            plan.items.add(state.item_id)
            plan.reviewers.add(reviewer.pseudonym)
            if keep:
                plan.assignments.append(assignment)
            yield assignment
        if len(chosen) < need:
            plan.n_short += 1
            if len(plan.short) < SHORT_SHOWN:
                plan.short[state.item_id] = need - len(chosen)


def plan_assignments(view: CurationView, roster: list[Reviewer], *, per_item: int = 2, seed: int = 0,
                     include_flagged: bool = False) -> AssignmentPlan:
    """The whole plan at once (``iter_assignments`` with the assignments kept)."""
    plan = AssignmentPlan()
    for _ in iter_assignments(view, roster, plan, per_item=per_item, seed=seed, include_flagged=include_flagged,
                              keep=True):
        pass
    return plan


def open_assignments(view: CurationView, reviewer: str | None = None, *, limit: int | None = None,
                     after_seq: int = -1) -> list[dict[str, Any]]:
    """Open assignments (the reviewer has not yet reviewed that trace, the item is not closed),
    oldest first: ``seq``, ``item_id``, ``trace_id``, ``reviewer``, ``specialty``, ``round``;
    one reviewer's queue when ``reviewer`` is given (an index range scan)."""
    a = cur_assignments.c
    stmt = select(a.seq, a.item_id, a.trace_id, a.trace_seq, a.reviewer, a.specialty, a.round).where(
        a.state == "open", a.seq > after_seq)
    if reviewer is not None:
        stmt = stmt.where(a.reviewer == reviewer)
    stmt = stmt.order_by(a.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row) for row in view.execute(stmt).mappings()]


def next_assignment(view: CurationView, reviewer: str) -> dict[str, Any] | None:
    """A reviewer's next open assignment (the oldest), or None when their queue is empty."""
    rows = open_assignments(view, reviewer, limit=1)
    return rows[0] if rows else None


def queue_size(view: CurationView, reviewer: str | None = None) -> int:
    """How many open assignments (of one reviewer, or of everyone)."""
    a = cur_assignments.c
    stmt = select(func.count()).select_from(cur_assignments).where(a.state == "open")
    if reviewer is not None:
        stmt = stmt.where(a.reviewer == reviewer)
    return int(view.execute(stmt).scalar_one())


def queue_rows(view: CurationView, reviewer_ids: dict[str, str] | None = None, *,
               reviewer: str | None = None) -> Iterator[dict[str, Any]]:
    """The blinded review queue: one fillable row per open assignment (see the module docstring),
    streamed in assignment order with the question and trace read by ``seq``."""
    a = cur_assignments.c
    item_event, trace_event = aliased(events), aliased(events)
    after = -1
    while True:
        stmt = (select(a.seq, a.reviewer, a.specialty, item_event.c.canonical, trace_event.c.canonical)
                .join(cur_items, I.item_id == a.item_id)
                .join(item_event, item_event.c.seq == I.item_seq)
                .join(trace_event, trace_event.c.seq == a.trace_seq)
                .where(a.state == "open", a.seq > after).order_by(a.seq).limit(500))
        if reviewer is not None:
            stmt = stmt.where(a.reviewer == reviewer)
        rows = view.execute(stmt).all()
        if not rows:
            return
        for _seq, who_pseudonym, specialty, item_json, trace_json in rows:
            item = Item.model_validate(json.loads(item_json)["payload"])
            trace = Trace.model_validate(json.loads(trace_json)["payload"])
            yield _queue_row(item, trace, who_pseudonym, specialty, reviewer_ids)
        after = int(rows[-1][0])


def _queue_row(item: Item, trace: Trace, pseudonym: str, specialty: str,
               reviewer_ids: dict[str, str] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"item_id": item.id, "trace_id": trace.id}
    who = (reviewer_ids or {}).get(pseudonym)
    row.update({"reviewer_id": who} if who is not None else {"reviewer": pseudonym})
    row.update({"specialty": specialty, "kind": item.kind, "rubric": item.rubric,
                "question": item.question, "options": item.options, "reasoning": trace.reasoning,
                "answer": trace.answer, "scores": dict.fromkeys(RUBRICS[item.rubric]),
                "verdict": None, "comment": "", "edited_reasoning": None, "seconds_spent": None})
    if item.dimension is not None:
        row["dimension"] = item.dimension
    return row
