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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.curate.view import CurationView, accepted_trace, is_excluded
from safemed.errors import DataError
from safemed.ledger.keys import LedgerKeys
from safemed.records.curation import RUBRICS, Assignment


@dataclass(frozen=True)
class Reviewer:
    """A roster entry: the person's id (outside the ledger only), pseudonym and specialties."""

    reviewer_id: str
    pseudonym: str
    specialties: frozenset[str]


def norm(specialty: str) -> str:
    """Specialties compare case- and space-insensitively."""
    return " ".join(specialty.casefold().split())


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
    """New assignments, and items that could not get enough reviewers of their specialty."""

    assignments: list[Assignment]
    short: dict[str, int]


def _tiebreak(seed: int, item_id: str, pseudonym: str) -> str:
    return hashlib.sha256(f"{seed}\0{item_id}\0{pseudonym}".encode()).hexdigest()


def plan_assignments(view: CurationView, roster: list[Reviewer], *, per_item: int = 2, seed: int = 0,
                     include_flagged: bool = False) -> AssignmentPlan:
    """Top every reviewable item up to ``per_item`` distinct reviewers of its specialty."""
    load: Counter[str] = Counter()
    for state in view.states.values():
        for a in state.assignments:
            load[a.reviewer] += 1
    plan = AssignmentPlan([], {})
    for state in view.states.values():
        trace = accepted_trace(state)
        if state.item is None or trace is None or state.escalations or state.adjudication or state.retention:
            continue
        if is_excluded(state) and not include_flagged:
            continue
        taken = {a.reviewer for a in state.assignments}
        current = sum(a.trace_id == trace.id for a in state.assignments)
        need = per_item - current
        if need <= 0:
            continue
        specialty = norm(state.item.specialty)
        candidates = sorted((r for r in roster if specialty in r.specialties and r.pseudonym not in taken),
                            key=lambda r: (load[r.pseudonym], _tiebreak(seed, state.item_id, r.pseudonym)))
        chosen = candidates[:need]
        for offset, reviewer in enumerate(chosen, start=1):
            plan.assignments.append(Assignment(item_id=state.item_id, trace_id=trace.id, reviewer=reviewer.pseudonym,
                                               specialty=state.item.specialty, round=len(state.assignments) + offset))
            load[reviewer.pseudonym] += 1
        if len(chosen) < need:
            plan.short[state.item_id] = need - len(chosen)
    return plan


def open_assignments(view: CurationView) -> list[Assignment]:
    """Assignments whose reviewer has not yet reviewed that trace (and the item is not closed)."""
    rows = []
    for state in view.states.values():
        if state.adjudication is not None or state.retention is not None:
            continue
        done = {(r.trace_id, r.reviewer) for r in state.reviews}
        rows += [a for a in state.assignments if (a.trace_id, a.reviewer) not in done]
    return rows


def queue_rows(view: CurationView, reviewer_ids: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The blinded review queue: one fillable row per open assignment (see the module docstring)."""
    rows = []
    for a in open_assignments(view):
        state = view.states[a.item_id]
        item = state.item
        trace = next((t for t in state.traces if t.id == a.trace_id), None)
        if item is None or trace is None:
            continue
        row: dict[str, Any] = {"item_id": item.id, "trace_id": trace.id}
        who = (reviewer_ids or {}).get(a.reviewer)
        row.update({"reviewer_id": who} if who is not None else {"reviewer": a.reviewer})
        row.update({"specialty": a.specialty, "kind": item.kind, "rubric": item.rubric,
                    "question": item.question, "options": item.options, "reasoning": trace.reasoning,
                    "answer": trace.answer, "scores": dict.fromkeys(RUBRICS[item.rubric]),
                    "verdict": None, "comment": "", "edited_reasoning": None, "seconds_spent": None})
        if item.dimension is not None:
            row["dimension"] = item.dimension
        rows.append(row)
    return rows
